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
            "account": global.account(),
            "region": global.region(),
        });
        outln!("{obj}")?;
    } else {
        outln!("ebsim {}", env!("CARGO_PKG_VERSION"))?;
        outln!("xts backend:  {}", Backend::detect())?;
        for (name, available) in backends {
            outln!(
                "  {name:<8} {}",
                if available {
                    "available"
                } else {
                    "not supported on this CPU"
                }
            )?;
        }
        outln!("data dir:     {}", data_dir.display())?;
        outln!("account:      {}", global.account())?;
        outln!("region:       {}", global.region())?;
        outln!(
            "kms:          {}",
            global
                .kms_endpoint
                .as_deref()
                .unwrap_or("embedded (state in the data dir)")
        )?;
    }
    Ok(())
}
