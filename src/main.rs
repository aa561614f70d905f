//! The `ebsim` binary: parses the command line and hands it to `ebsim-cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match ebsim_cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            err.report();
            ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
        }
    }
}
