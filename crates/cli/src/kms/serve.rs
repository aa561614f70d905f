//! `ebsim serve` and `ebsim kms serve`: one endpoint for every API of the data dir (KMS in
//! JSON 1.1, IAM, STS and EC2 in the Query protocol), routed by the SigV4 scope's service name.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Subcommand};
use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_client::{EndpointRecord, publish_endpoint, withdraw_endpoint};
use ebsim_kms_server::{CredentialMode, KmsServer, ServerConfig};

use crate::common::{DataDir, data_dir};
use crate::{CliError, GlobalArgs};

/// `ebsim kms …`
#[derive(Debug, Args)]
pub struct KmsArgs {
    #[command(subcommand)]
    command: KmsCommand,
}

#[derive(Debug, Subcommand)]
enum KmsCommand {
    /// Serve the data dir's KMS over the AWS KMS JSON 1.1 protocol (SigV4-verified), for
    /// aws-cli, boto3, the AWS SDKs and other `ebsim` commands; the same server as
    /// `ebsim serve` (IAM and STS included), on port 4599 by default.
    ///
    /// Prints `listening on ADDR` as its first line, publishes its URL in DIR/kms/endpoint
    /// (other ebsim commands on the data dir route to it), and stops cleanly on
    /// SIGINT/SIGTERM. Example: `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws kms
    /// list-keys --endpoint-url http://127.0.0.1:4599 --region us-west-2`.
    Serve(ServeArgs),
}

/// The options of `ebsim serve` and `ebsim kms serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:PORT or HOST:PORT such as localhost:0 (default 127.0.0.1:4566
    /// for `ebsim serve`, 127.0.0.1:4599 for `ebsim kms serve`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", value_parser = crate::args::parse_listen)]
    listen: Option<SocketAddr>,
    /// Allow listening on a non-loopback address (exposes the endpoint to the network).
    #[arg(long)]
    allow_remote: bool,
    /// Which access keys are accepted: `default` (the built-in test/test and every key ebsim
    /// issued), `any-as-root` (any key, as moto and LocalStack do: a 12-digit access key id
    /// is that account's root, any other the default account's), `strict` (only keys ebsim
    /// issued, e.g. by `ebsim iam root-credentials`; test/test is refused).
    #[arg(long, default_value = "default", value_name = "MODE")]
    credentials: CredentialMode,
    /// Size of the on-disk audit trail (DIR/audit/kms-audit.jsonl and its four rotated
    /// files; e.g. 80MiB, at least 64KiB). Beyond it the oldest records are dropped, with a
    /// warning on stderr; `ebsim audit` says how many.
    #[arg(
        long,
        env = "EBSIM_AUDIT_MAX_SIZE",
        default_value = "80MiB",
        value_name = "SIZE",
        value_parser = parse_trail_size
    )]
    audit_max_size: u64,
    /// Where EC2's snapshots are kept: the data dir (default), or `s3://bucket/prefix`
    /// (endpoint and credentials from the usual AWS variables; builds with s3-snapshots).
    #[arg(long, value_name = "LOCATION", env = "EBSIM_SNAPSHOT_STORE")]
    snapshot_store: Option<String>,
}

/// An audit trail size: a size with an optional binary suffix, at least
/// [`ebsim_kms::MIN_TRAIL_BYTES`].
fn parse_trail_size(s: &str) -> Result<u64, String> {
    let n = crate::args::parse_size(s)?;
    if n < ebsim_kms::MIN_TRAIL_BYTES {
        return Err(format!(
            "the audit trail must be at least {} KiB",
            ebsim_kms::MIN_TRAIL_BYTES / 1024
        ));
    }
    Ok(n)
}

/// Runs `ebsim kms …`.
pub(crate) fn run(global: &GlobalArgs, args: &KmsArgs) -> Result<(), CliError> {
    match &args.command {
        KmsCommand::Serve(a) => serve(global, a, KMS_SERVE_PORT),
    }
}

/// `ebsim serve`'s default port.
pub(crate) const SERVE_PORT: u16 = 4566;
/// `ebsim kms serve`'s default port.
const KMS_SERVE_PORT: u16 = 4599;

/// Runs the server of the data dir until SIGINT/SIGTERM, on `args.listen` or else
/// 127.0.0.1:`default_port`.
pub(crate) fn serve(
    global: &GlobalArgs,
    args: &ServeArgs,
    default_port: u16,
) -> Result<(), CliError> {
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)));
    let dir = data_dir(global, DataDir::Create)?;
    let kms_config = KmsConfig::default()
        .account(global.account().as_str())
        .region(global.region())
        .audit_trail_bytes(args.audit_max_size);
    let kms = Arc::new(Kms::open(&dir, kms_config)?);
    let config = ServerConfig::new(listen)
        .allow_remote(args.allow_remote)
        .credentials(args.credentials);
    // The server owns the data dir's EC2 state while it runs (docs/formats.md, "One data
    // dir, several processes").
    let location =
        ebsim_snapshot::StoreLocation::parse(args.snapshot_store.as_deref().unwrap_or_default())?;
    let ec2 = ebsim_ec2::Ec2::open(&dir, kms.clone(), global.region())
        .map_err(CliError::Tool)?
        .with_snapshot_store(location);
    // One EC2 service answers both EC2 (Query) and the EBS direct APIs (REST-JSON).
    let ec2 = Arc::new(ec2);
    let workspaces = ebsim_ec2::WorkspacesService::open(&dir, kms.clone(), global.region());
    let server = KmsServer::bind(kms.clone(), config)?
        .with_ec2(ec2.clone())
        .with_rest(ec2)
        .with_json(Arc::new(workspaces));
    let addr = server.local_addr()?;
    let url = endpoint_url(addr);
    // The record names this process, which holds the data dir's lock: clients check both,
    // then have the server prove that it holds the service credential.
    let record = EndpointRecord::for_this_process(&url)
        .and_then(|r| publish_endpoint(&dir, &r).map(|()| r))
        .map_err(CliError::io(
            "publish",
            ebsim_kms_client::endpoint_file(&dir),
        ))?;
    let result = run_until_signal(server, addr);
    withdraw_endpoint(&dir, &record);
    drop(kms);
    result
}

fn run_until_signal(server: KmsServer<Kms>, addr: SocketAddr) -> Result<(), CliError> {
    let runtime = ebsim_kms_server::runtime()?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let sig = |k| signal(k).map_err(CliError::Signal);
        let mut int = sig(SignalKind::interrupt())?;
        let mut term = sig(SignalKind::terminate())?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {addr}");
            let _ = out.flush();
        }
        server
            .run(async move {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            })
            .await
            .map_err(CliError::from)
    })
}

/// The URL clients use; a wildcard bind is reached through loopback.
fn endpoint_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            "127.0.0.1".to_owned()
        } else {
            "[::1]".to_owned()
        }
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{ip}:{}", addr.port())
}
