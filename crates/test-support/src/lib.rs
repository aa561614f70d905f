//! Helpers shared by the tests of the ebsim workspace (a dev-dependency only, never
//! published):
//!
//! - [`ebsim`]: the built `ebsim` binary on a data dir, and its servers (`kms serve`,
//!   `volume serve`) as child processes stopped when dropped; with the `cli` feature, the
//!   same command lines run in process through `ebsim_cli::run`.
//! - [`process`]: child processes that print `listening on ADDR` first, moto's server, free
//!   ports.
//! - [`http`]: KMS requests signed with SigV4 as the AWS SDKs sign them, sent over HTTP.
//! - [`tools`]: aws-cli and boto3 scripts with a clean AWS environment.
//! - [`tls`] (feature `tls`): a CA, server and client certificates for TLS tests.
//! - [`kms_double`] (feature `kms-double`): a grant-aware KMS double, in process or behind
//!   an HTTP endpoint, and a data dir that reaches it with a service credential.
//!
//! ```no_run
//! use ebsim_test_support::ebsim::Ebsim;
//!
//! // In an integration test of the root package: Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).
//! let ebsim = Ebsim::new("target/debug/ebsim").data_dir("/tmp/ebsim-example");
//! let stdout = ebsim.ok(&["key", "create", "--description", "test key"]);
//! assert!(stdout.contains("arn:aws:kms:"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod ebsim;
pub mod http;
#[cfg(feature = "kms-double")]
pub mod kms_double;
pub mod process;
#[cfg(feature = "tls")]
pub mod tls;
pub mod tools;
