//! The `ebsim` binary: parses the command line, installs the log subscriber, and hands the
//! command to `ebsim-cli`.
//!
//! Diagnostics are `tracing` events printed on stderr, one line each, as `error: …`,
//! `warning: …`, `info: …`: errors and warnings always, more with `-v` (info: connections and
//! progress), `-vv` (debug) or `-vvv` (trace). `RUST_LOG`, when set, decides instead
//! (`RUST_LOG=ebsim_nbd=info` shows only the NBD server's connection lines).

use std::fmt;
use std::process::ExitCode;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// One line per event: `error: MESSAGE`, `warning: MESSAGE`, `info: MESSAGE`; debug and trace
/// lines also name their module (`debug ebsim_nbd::conn: …`).
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        match *meta.level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            Level::INFO => write!(writer, "info: ")?,
            Level::DEBUG => write!(writer, "debug {}: ", meta.target())?,
            Level::TRACE => write!(writer, "trace {}: ", meta.target())?,
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `RUST_LOG` when set (and valid), else the level `-v` asks for.
fn filter(verbose: u8) -> EnvFilter {
    if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some()
        && let Ok(f) = EnvFilter::try_from_default_env()
    {
        return f;
    }
    EnvFilter::new(match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    })
}

fn exit(err: &ebsim_cli::CliError) -> ExitCode {
    err.report();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
}

fn main() -> ExitCode {
    let cli = match ebsim_cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => return exit(&err),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter(cli.global.verbose))
        .event_format(Lines)
        .init();
    match ebsim_cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit(&err),
    }
}
