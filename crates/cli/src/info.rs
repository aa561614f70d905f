use ebsim_io::Backend;

use crate::{CliError, GlobalArgs};

/// Arguments of `ebsim info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {}

pub(crate) fn run(global: &GlobalArgs, _args: &InfoArgs) -> Result<(), CliError> {
    let backends: Vec<(&str, bool)> = Backend::ALL
        .iter()
        .map(|b| (b.name(), b.is_available()))
        .collect();
    let data_dir = global.data_dir();
    if global.json {
        let obj = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "xts_backend": Backend::detect().name(),
            "backends": backends.iter().map(|(n, a)| serde_json::json!({"name": n, "available": a})).collect::<Vec<_>>(),
            "data_dir": data_dir,
            "kms_endpoint": global.kms_endpoint,
        });
        println!("{obj}");
    } else {
        println!("ebsim {}", env!("CARGO_PKG_VERSION"));
        println!("xts backend:  {}", Backend::detect());
        for (name, available) in backends {
            println!(
                "  {name:<8} {}",
                if available {
                    "available"
                } else {
                    "not supported on this CPU"
                }
            );
        }
        println!("data dir:     {}", data_dir.display());
        println!(
            "kms:          {}",
            global
                .kms_endpoint
                .as_deref()
                .unwrap_or("embedded (state in the data dir)")
        );
    }
    Ok(())
}
