//! `--compare-openssl`: runs `openssl speed` for the sector size and reads its figure.

use std::process::Command;

use ebsim_io::SectorSize;

use crate::CliError;

/// The `openssl speed` command line for one sector size.
pub(super) fn openssl_args(ss: SectorSize) -> Vec<String> {
    [
        "openssl",
        "speed",
        "-seconds",
        "2",
        "-bytes",
        &ss.get().to_string(),
        "-evp",
        "aes-256-xts",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Fails early, before anything is measured, when `openssl` cannot run.
pub(super) fn check_openssl() -> Result<(), CliError> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(_) => Err(CliError::Tool(
            "`openssl version` failed; --compare-openssl needs a working openssl".into(),
        )),
        Err(e) => Err(CliError::Tool(format!(
            "--compare-openssl needs the openssl command on PATH ({e}); install OpenSSL or drop the flag"
        ))),
    }
}

/// Runs `openssl speed` for one sector size and returns its bytes per second.
pub(super) fn run_openssl(ss: SectorSize) -> Result<f64, CliError> {
    let args = openssl_args(ss);
    let out = Command::new(&args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| CliError::Tool(format!("cannot run openssl: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Tool(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        CliError::Tool(format!(
            "no aes-256-xts figure in the output of `{}`",
            args.join(" ")
        ))
    })
}

/// Finds the `aes-256-xts` row of `openssl speed` output and returns its last figure in
/// bytes per second (OpenSSL prints thousands of bytes per second, suffixed `k`).
fn parse_openssl_speed(out: &str) -> Option<f64> {
    out.lines().rev().find_map(|line| {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        if !name.eq_ignore_ascii_case("aes-256-xts") {
            return None;
        }
        let last = words.last()?;
        let (num, mult) = match last.strip_suffix(['k', 'K']) {
            Some(n) => (n, 1000.0),
            None => (last, 1.0),
        };
        num.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map(|x| x * mult)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_output_is_parsed() {
        let out = "version: 3.0.19\nbuilt on: ...\nThe 'numbers' are in 1000s of bytes per second processed.\n\
                   type           4096 bytes\nAES-256-XTS    6512345.67k\n";
        assert_eq!(parse_openssl_speed(out), Some(6_512_345_670.0));
        let multi = "type 16 bytes 64 bytes\naes-256-xts 100.00k 200.50k\n";
        assert_eq!(parse_openssl_speed(multi), Some(200_500.0));
        assert_eq!(parse_openssl_speed("no figures here\n"), None);
        assert_eq!(parse_openssl_speed("aes-256-xts garbage\n"), None);
    }
}
