//! The `ebsim` binary: parses the command line and hands it to `ebsim-cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    match ebsim_cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            err.report();
            ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
        }
    }
}

/// `ebsim audit --json | head` closes stdout early; `println!` then panics with "failed printing
/// to stdout". Like a process that takes SIGPIPE, exit quietly (status 141) instead of printing
/// a panic message; every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
