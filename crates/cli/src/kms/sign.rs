//! `ebsim key sign|verify|public-key|mac|verify-mac`: the operations of asymmetric and HMAC
//! keys (docs/usage.md, "Signing and MACs").

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use ebsim_kms::types::asym::{
    GenerateMacRequest, GetPublicKeyRequest, SignRequest, VerifyMacRequest, VerifyRequest,
};
use ebsim_kms::types::{Blob, SecretBlob};
use ebsim_kms_client::{Identity, KmsClient};
use serde_json::json;

use crate::common::print_json;
use crate::{CliError, GlobalArgs};

/// The most bytes a message may have (KMS refuses more with ValidationException); a file is
/// read up to one byte past it, so an oversized one is refused by KMS, not read whole.
const MESSAGE_MAX: u64 = 4096;
/// The most bytes a signature or MAC file may have (`CiphertextType`).
const SIGNATURE_MAX: u64 = 6144;

/// Where a message comes from.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct MessageArgs {
    /// The message, as text.
    #[arg(long)]
    message: Option<String>,
    /// The message, read from FILE (`-` for stdin; at most 4096 bytes).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
}

/// `ebsim key sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The key (id, ARN, alias name or alias ARN).
    key: String,
    /// Signing algorithm: RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ECDSA_SHA_256,
    /// ED25519_SHA_512, ED25519_PH_SHA_512, ML_DSA_SHAKE_256, …
    #[arg(long)]
    algorithm: String,
    /// RAW (the message itself), DIGEST (its hash) or EXTERNAL_MU (ML-DSA's mu).
    #[arg(long, default_value = "RAW")]
    message_type: String,
    #[command(flatten)]
    message: MessageArgs,
    /// Write the raw signature to FILE instead of printing it in base64.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `ebsim key verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The key (id, ARN, alias name or alias ARN).
    key: String,
    /// Signing algorithm the signature was made with.
    #[arg(long)]
    algorithm: String,
    /// RAW, DIGEST or EXTERNAL_MU.
    #[arg(long, default_value = "RAW")]
    message_type: String,
    #[command(flatten)]
    message: MessageArgs,
    /// The signature, base64.
    #[arg(
        long,
        conflicts_with = "signature_file",
        required_unless_present = "signature_file"
    )]
    signature: Option<String>,
    /// The signature, raw bytes in FILE.
    #[arg(long, value_name = "FILE")]
    signature_file: Option<PathBuf>,
}

/// `ebsim key public-key`.
#[derive(Debug, Args)]
pub(crate) struct PublicKeyArgs {
    /// The key (id, ARN, alias name or alias ARN).
    key: String,
    /// Write the DER SubjectPublicKeyInfo to FILE instead of printing it as PEM.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `ebsim key mac`.
#[derive(Debug, Args)]
pub(crate) struct MacArgs {
    /// The HMAC key (id, ARN, alias name or alias ARN).
    key: String,
    /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the key spec's).
    #[arg(long)]
    algorithm: String,
    #[command(flatten)]
    message: MessageArgs,
}

/// `ebsim key verify-mac`.
#[derive(Debug, Args)]
pub(crate) struct VerifyMacArgs {
    /// The HMAC key (id, ARN, alias name or alias ARN).
    key: String,
    /// The MAC algorithm.
    #[arg(long)]
    algorithm: String,
    #[command(flatten)]
    message: MessageArgs,
    /// The MAC, base64.
    #[arg(long)]
    mac: String,
}

/// Reads at most `max + 1` bytes of `path` (`-`: stdin).
fn read_bounded(path: &Path, max: u64, what: &'static str) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().lock().take(max + 1).read_to_end(&mut out)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max + 1).read_to_end(&mut out))
    };
    read.map_err(CliError::io(what, path))?;
    Ok(out)
}

fn message(m: &MessageArgs) -> Result<Option<SecretBlob>, CliError> {
    let bytes = match (&m.message, &m.input) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(path)) => read_bounded(path, MESSAGE_MAX, "read the message")?,
        (None, None) => {
            return Err(CliError::InvalidArgument(
                "give --message or --input".into(),
            ));
        }
    };
    Ok(Some(SecretBlob::from(bytes)))
}

fn base64_arg(text: &str, what: &str) -> Result<Blob, CliError> {
    B64.decode(text.trim())
        .map(Blob)
        .map_err(|_| CliError::InvalidArgument(format!("the {what} is not base64")))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(CliError::io("write the output file", path))
}

/// PEM text of a DER SubjectPublicKeyInfo.
fn pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----");
    out
}

/// Runs `ebsim key sign`.
pub(crate) fn sign(global: &GlobalArgs, kms: &KmsClient, a: &SignArgs) -> Result<(), CliError> {
    let out = kms.send(
        &Identity::Default,
        &SignRequest {
            key_id: Some(a.key.clone()),
            message: message(&a.message)?,
            message_type: Some(a.message_type.clone()),
            signing_algorithm: Some(a.algorithm.clone()),
            ..Default::default()
        },
    )?;
    if let Some(path) = &a.output {
        write_file(path, &out.signature.0)?;
    }
    if global.json {
        return print_json(&json!({
            "KeyId": out.key_id,
            "Signature": B64.encode(&out.signature.0),
            "SigningAlgorithm": out.signing_algorithm,
        }));
    }
    if a.output.is_none() {
        outln!("{}", B64.encode(&out.signature.0))?;
    }
    Ok(())
}

/// Runs `ebsim key verify`: exit status 0 when the signature verifies; a signature that
/// does not is KMSInvalidSignatureException.
pub(crate) fn verify(global: &GlobalArgs, kms: &KmsClient, a: &VerifyArgs) -> Result<(), CliError> {
    let signature = match (&a.signature, &a.signature_file) {
        (Some(text), _) => base64_arg(text, "signature")?,
        (None, Some(path)) => Blob(read_bounded(path, SIGNATURE_MAX, "read the signature")?),
        (None, None) => {
            return Err(CliError::InvalidArgument(
                "give --signature or --signature-file".into(),
            ));
        }
    };
    let out = kms.send(
        &Identity::Default,
        &VerifyRequest {
            key_id: Some(a.key.clone()),
            message: message(&a.message)?,
            message_type: Some(a.message_type.clone()),
            signature: Some(signature),
            signing_algorithm: Some(a.algorithm.clone()),
            ..Default::default()
        },
    )?;
    if global.json {
        return print_json(&json!({
            "KeyId": out.key_id,
            "SignatureValid": out.signature_valid,
            "SigningAlgorithm": out.signing_algorithm,
        }));
    }
    outln!("signature valid ({})", out.signing_algorithm)
}

/// Runs `ebsim key public-key`.
pub(crate) fn public_key(
    global: &GlobalArgs,
    kms: &KmsClient,
    a: &PublicKeyArgs,
) -> Result<(), CliError> {
    let out = kms.send(
        &Identity::Default,
        &GetPublicKeyRequest {
            key_id: Some(a.key.clone()),
            ..Default::default()
        },
    )?;
    if let Some(path) = &a.output {
        write_file(path, &out.public_key.0)?;
    }
    if global.json {
        return print_json(&serde_json::to_value(&out).map_err(|e| {
            CliError::InvalidArgument(format!("the answer does not serialize: {e}"))
        })?);
    }
    if a.output.is_none() {
        outln!("{}", pem(&out.public_key.0))?;
    }
    Ok(())
}

/// Runs `ebsim key mac`.
pub(crate) fn mac(global: &GlobalArgs, kms: &KmsClient, a: &MacArgs) -> Result<(), CliError> {
    let out = kms.send(
        &Identity::Default,
        &GenerateMacRequest {
            key_id: Some(a.key.clone()),
            message: message(&a.message)?,
            mac_algorithm: Some(a.algorithm.clone()),
            ..Default::default()
        },
    )?;
    if global.json {
        return print_json(&json!({
            "KeyId": out.key_id,
            "Mac": B64.encode(&out.mac.0),
            "MacAlgorithm": out.mac_algorithm,
        }));
    }
    outln!("{}", B64.encode(&out.mac.0))
}

/// Runs `ebsim key verify-mac`: exit status 0 when the MAC matches; a mismatch is
/// KMSInvalidMacException.
pub(crate) fn verify_mac(
    global: &GlobalArgs,
    kms: &KmsClient,
    a: &VerifyMacArgs,
) -> Result<(), CliError> {
    let out = kms.send(
        &Identity::Default,
        &VerifyMacRequest {
            key_id: Some(a.key.clone()),
            message: message(&a.message)?,
            mac_algorithm: Some(a.algorithm.clone()),
            mac: Some(base64_arg(&a.mac, "MAC")?),
            ..Default::default()
        },
    )?;
    if global.json {
        return print_json(&json!({
            "KeyId": out.key_id,
            "MacValid": out.mac_valid,
            "MacAlgorithm": out.mac_algorithm,
        }));
    }
    outln!("MAC valid ({})", out.mac_algorithm)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_at_64_columns() {
        let p = pem(&[0u8; 100]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END PUBLIC KEY-----"));
    }

    #[test]
    fn files_are_read_up_to_one_byte_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, vec![1u8; 10_000]).unwrap();
        assert_eq!(
            read_bounded(&path, MESSAGE_MAX, "read").unwrap().len(),
            4097
        );
        assert!(base64_arg("!!", "MAC").is_err());
    }
}
