//! The AWS KMS JSON 1.1 HTTP front end of ebsim, with SigV4 verification.
//!
//! Every request is `POST /` with `X-Amz-Target: TrentService.<Operation>` and a JSON body;
//! the signature is verified by re-signing the received request with `aws-sigv4`, the signer
//! becomes the [`ebsim_kms::Caller`], and the operation goes to [`Backend::call`]. Errors
//! go back as the real service sends them (`__type`, `message`/`Message`, status 400 or 500).
//! Requests whose credential scope names `iam`, `sts` or `ec2` are Query-protocol calls with XML
//! answers (docs/iam.md; EC2 through a [`QueryHandler`], docs/ec2.md). `X-Amz-Target: EbsimAdmin.<Operation>` reaches the admin operations, and `POST /ebsim/reset`
//! the admin operation `Reset` (loopback clients only).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo<B: ebsim_kms_server::Backend>(kms: Arc<B>) -> Result<(), Box<dyn std::error::Error>> {
//! use ebsim_kms_server::{KmsServer, ServerConfig};
//! let server = KmsServer::bind(kms, ServerConfig::new("127.0.0.1:0".parse()?))?;
//! let handle = server.spawn()?;
//! println!("listening on {}", handle.addr());
//! handle.shutdown()?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod backend;
mod body;
mod json;
mod query;
mod rest;
mod server;
pub mod sigv4;
pub mod trust;
mod wire;

// The public interface is:
pub use backend::{Backend, ServerCredential};
pub use ebsim_kms_api::CredentialMode;
pub use json::{JsonError, JsonHandler};
pub use rest::{MAX_REST_BODY, RestHandler, RestRequest, RestResponse};
pub use server::{
    KmsServer, MOTO_RESET_PATH, PING_BODY, PING_PATH, PRINCIPAL_HEADER, QueryHandler, RESET_PATH,
    ServerConfig, ServerError, ServerHandle, VIA_SERVICE_HEADER, runtime,
};
pub use wire::{CONTENT_TYPE, WireError};
