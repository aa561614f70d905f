//! `ebsim key import`: bring your own key material (docs/usage.md, "Bringing your own key").
//! The whole flow of AWS's documented procedure: a key of origin `EXTERNAL` (made unless one
//! is named), a wrapping public key and import token (GetParametersForImport), the material
//! (read from a file or generated here), wrapped with the public key as AWS documents it
//! (RSA-OAEP, or an AES key wrapped with RSA-OAEP and the material under RFC 5649 AES key
//! wrap with padding), and ImportKeyMaterial.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded as _};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use ebsim_kms_client::{Identity, KmsClient};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{date, s};
use crate::common::print_json;
use crate::output_file::Output;
use crate::{CliError, GlobalArgs};

/// The largest material file read (an RSA_4096 private key in PKCS #8 DER is about 2.4 KB).
const MATERIAL_MAX: u64 = 4096;
const DAY: f64 = 86_400.0;

/// `ebsim key import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The key of origin EXTERNAL to import into (id or ARN); without it a new one is created
    /// (with --key-spec, --key-usage, --description).
    key: Option<String>,
    /// The spec of the key created: SYMMETRIC_DEFAULT (default), HMAC_256, RSA_2048,
    /// ECC_NIST_P256, …
    #[arg(long, conflicts_with = "key")]
    key_spec: Option<String>,
    /// The usage of the key created (required for every spec but SYMMETRIC_DEFAULT).
    #[arg(long, conflicts_with = "key")]
    key_usage: Option<String>,
    /// The description of the key created.
    #[arg(long, default_value = "", conflicts_with = "key")]
    description: String,
    /// The material, raw bytes in FILE: 32 bytes for a symmetric key, the key bytes of an
    /// HMAC key, the PKCS #8 DER private key of an asymmetric key. Without it, new material
    /// is generated.
    #[arg(long, value_name = "FILE")]
    material: Option<PathBuf>,
    /// Write the generated material to FILE (mode 0600) to import it again later; without
    /// it, generated material cannot be imported again once it expires or is deleted.
    #[arg(long, value_name = "FILE", conflicts_with = "material")]
    save_material: Option<PathBuf>,
    /// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 (default) or
    /// RSA_AES_KEY_WRAP_SHA_1 (the RSA_AES ones wrap material of any size, RSA private keys
    /// too).
    #[arg(long, default_value = "RSA_AES_KEY_WRAP_SHA_256")]
    wrapping_algorithm: String,
    /// RSA_2048, RSA_3072 or RSA_4096.
    #[arg(long, default_value = "RSA_4096")]
    wrapping_key_spec: String,
    /// The material expires this many days from now (simulated time, 1 to 365); without it,
    /// it never expires.
    #[arg(long, value_name = "DAYS")]
    valid_for_days: Option<u32>,
    /// NEW_KEY_MATERIAL (new material for a symmetric key, current after `ebsim key rotate`)
    /// or EXISTING_KEY_MATERIAL (the same material again).
    #[arg(long)]
    import_type: Option<String>,
    /// A description of the material (symmetric keys).
    #[arg(long)]
    material_description: Option<String>,
}

/// Wraps `material` with the DER SubjectPublicKeyInfo `public` for `algorithm`.
fn wrap(public: &[u8], algorithm: &str, material: &[u8]) -> Result<Vec<u8>, CliError> {
    let bad = |what: &str| CliError::InvalidArgument(format!("cannot wrap the material: {what}"));
    let key = PublicEncryptingKey::from_der(public)
        .ok()
        .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
        .ok_or_else(|| bad("the wrapping public key does not parse"))?;
    let oaep = if algorithm.ends_with("SHA_1") {
        &OAEP_SHA1_MGF1SHA1
    } else {
        &OAEP_SHA256_MGF1SHA256
    };
    let rsa = |plain: &[u8]| -> Result<Vec<u8>, CliError> {
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key
            .encrypt(oaep, plain, &mut out, None)
            .map_err(|_| bad("it is too long for RSA-OAEP; use an RSA_AES_KEY_WRAP algorithm"))?
            .len();
        out.truncate(n);
        Ok(out)
    };
    match algorithm {
        "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" => rsa(material),
        "RSA_AES_KEY_WRAP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_256" => {
            let mut aes = Zeroizing::new([0u8; 32]);
            rand::Rng::fill_bytes(&mut rand::rng(), aes.as_mut());
            let mut out = rsa(aes.as_ref())?;
            let kek = AesKek::new(&AES_256, aes.as_ref()).map_err(|_| bad("AES key"))?;
            let mut buf = vec![0u8; material.len() + 16];
            let n = kek
                .wrap_with_padding(material, &mut buf)
                .map_err(|_| bad("AES key wrap"))?
                .len();
            out.extend_from_slice(&buf[..n]);
            Ok(out)
        }
        other => Err(CliError::InvalidArgument(format!(
            "--wrapping-algorithm {other}: use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1"
        ))),
    }
}

fn read_material(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut out = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(MATERIAL_MAX + 1).read_to_end(&mut out))
        .map_err(CliError::io("read the key material", path))?;
    if out.is_empty() || out.len() as u64 > MATERIAL_MAX {
        return Err(CliError::InvalidArgument(format!(
            "{}: key material must be 1 to {MATERIAL_MAX} bytes",
            path.display()
        )));
    }
    Ok(out)
}

/// New material for a key of `spec` and `usage`.
fn generate(spec: &str, usage: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if spec == "SYMMETRIC_DEFAULT" {
        let mut m = Zeroizing::new(vec![0u8; 32]);
        rand::Rng::fill_bytes(&mut rand::rng(), m.as_mut_slice());
        return Ok(m);
    }
    let parsed = ebsim_kms::asym::Spec::parse(spec).ok_or_else(|| {
        CliError::InvalidArgument(format!("no material can be generated for key spec {spec}"))
    })?;
    let key = ebsim_kms::asym::PrivateKey::generate(parsed, usage == "KEY_AGREEMENT")
        .map_err(|_| CliError::InvalidArgument(format!("key generation for {spec} failed")))?;
    Ok(Zeroizing::new(key.stored().to_vec()))
}

/// Runs `ebsim key import`.
pub(crate) fn import(global: &GlobalArgs, kms: &KmsClient, a: &ImportArgs) -> Result<(), CliError> {
    if let Some(d) = a.valid_for_days
        && !(1..=365).contains(&d)
    {
        return Err(CliError::InvalidArgument(
            "--valid-for-days must be 1 to 365".into(),
        ));
    }
    // Check the arguments and read the files before any call.
    const ALGORITHMS: [&str; 4] = [
        "RSAES_OAEP_SHA_256",
        "RSAES_OAEP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
    ];
    if !ALGORITHMS.contains(&a.wrapping_algorithm.as_str()) {
        return Err(CliError::InvalidArgument(format!(
            "--wrapping-algorithm {}: use one of {}",
            a.wrapping_algorithm,
            ALGORITHMS.join(", ")
        )));
    }
    if !["RSA_2048", "RSA_3072", "RSA_4096"].contains(&a.wrapping_key_spec.as_str()) {
        return Err(CliError::InvalidArgument(format!(
            "--wrapping-key-spec {}: use RSA_2048, RSA_3072 or RSA_4096",
            a.wrapping_key_spec
        )));
    }
    let read = a.material.as_deref().map(read_material).transpose()?;
    let mut save = a
        .save_material
        .as_deref()
        .map(|p| Output::prepare(p, "key material"))
        .transpose()?;
    let me = Identity::Default;
    let meta = match &a.key {
        Some(key) => kms.call(&me, "DescribeKey", json!({"KeyId": key}))?["KeyMetadata"].clone(),
        None => {
            let mut req = json!({"Origin": "EXTERNAL", "Description": a.description});
            if let Some(s) = &a.key_spec {
                req["KeySpec"] = json!(s);
            }
            if let Some(u) = &a.key_usage {
                req["KeyUsage"] = json!(u);
            }
            kms.call(&me, "CreateKey", req)?["KeyMetadata"].clone()
        }
    };
    let arn = s(&meta["Arn"]).to_owned();
    let params = kms.call(
        &me,
        "GetParametersForImport",
        json!({"KeyId": arn, "WrappingAlgorithm": a.wrapping_algorithm,
               "WrappingKeySpec": a.wrapping_key_spec}),
    )?;
    let b64 = |v: &Value, what: &str| {
        B64.decode(v.as_str().unwrap_or_default()).map_err(|_| {
            CliError::InvalidArgument(format!("the {what} KMS answered is not base64"))
        })
    };
    let public = b64(&params["PublicKey"], "public key")?;
    let token = params["ImportToken"].clone();
    let generated = read.is_none();
    let material = match read {
        Some(m) => m,
        None => generate(s(&meta["KeySpec"]), s(&meta["KeyUsage"]))?,
    };
    let wrapped = wrap(&public, &a.wrapping_algorithm, &material)?;
    let mut req = json!({
        "KeyId": arn,
        "ImportToken": token,
        "EncryptedKeyMaterial": B64.encode(&wrapped),
    });
    match a.valid_for_days {
        Some(days) => {
            // The simulated time of the call: the parameters are valid for 24 hours from it.
            let now = params["ParametersValidTo"].as_f64().unwrap_or_default() - DAY;
            req["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
            req["ValidTo"] = json!(now + f64::from(days) * DAY);
        }
        None => req["ExpirationModel"] = json!("KEY_MATERIAL_DOES_NOT_EXPIRE"),
    }
    if let Some(t) = &a.import_type {
        req["ImportType"] = json!(t);
    }
    if let Some(d) = &a.material_description {
        req["KeyMaterialDescription"] = json!(d);
    }
    let out = kms.call(&me, "ImportKeyMaterial", req)?;
    if let Some(o) = save.as_mut() {
        o.commit(&material)?;
    }
    drop(material);
    let after = kms.call(&me, "DescribeKey", json!({"KeyId": arn}))?["KeyMetadata"].clone();
    let saved = a.save_material.as_ref().map(|p| p.display().to_string());
    if global.json {
        return print_json(&json!({
            "KeyId": arn,
            "KeyMaterialId": out.get("KeyMaterialId"),
            "KeyState": after["KeyState"],
            "ExpirationModel": after.get("ExpirationModel"),
            "ValidTo": after.get("ValidTo"),
            "WrappingAlgorithm": a.wrapping_algorithm,
            "WrappingKeySpec": a.wrapping_key_spec,
            "MaterialGenerated": generated,
            "MaterialSavedTo": saved,
        }));
    }
    outln!("Imported key material into {arn}")?;
    if let Some(id) = out["KeyMaterialId"].as_str() {
        outln!("KeyMaterial: {id}")?;
    }
    outln!("KeyState:    {}", s(&after["KeyState"]))?;
    match after.get("ValidTo") {
        Some(v) => outln!("Expires:     {}", date(v))?,
        None => outln!("Expires:     never")?,
    }
    if generated {
        match saved {
            Some(p) => outln!("Material:    generated, saved to {p} (0600)")?,
            None => outln!(
                "Material:    generated and not kept (use --save-material to import it again)"
            )?,
        }
    }
    Ok(())
}
