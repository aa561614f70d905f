//! Steps 7–9 and the four lessons of the WorkSpaces story: the encryption context, a disabled
//! key, an RSA key, and a rotation.

use ebsim_kms_client::{EncryptionContext, Identity};
use ebsim_workspaces::LaunchRequest;
use serde_json::json;

use super::report::{Kind, Section, str_at};
use super::story::{Ctx, DIRECTORY, SID, code_of, new_step, policy_with};
use crate::CliError;

const PAYLOAD: &[u8] = b"Quarterly report: this text is encrypted in data.img";
const OFFSET: u64 = 1_000_000;

/// The wrapped data key of a volume.
fn wrapped_key(cx: &Ctx<'_>, meta: &ebsim_volume::VolumeMetadata) -> Result<Vec<u8>, CliError> {
    meta.wrapped_key().map_err(|reason| {
        CliError::Volume(ebsim_volume::VolumeError::CorruptMetadata {
            path: cx
                .dir
                .join("volumes")
                .join(&meta.volume_id)
                .join("metadata.json"),
            reason,
        })
    })
}

fn outcome_of<T, E: std::fmt::Display>(
    r: &Result<T, E>,
    code: impl Fn(&E) -> Option<String>,
) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => code(e).unwrap_or_else(|| e.to_string()),
    }
}

/// Steps 7 (I/O) and 8 (reboot).
pub(crate) fn io_and_reboot(cx: &mut Ctx<'_>) -> Result<(Section, Section), CliError> {
    let ws = &cx.ws.workspace_id;
    cx.sim
        .workspaces()
        .with_volumes(ws, |_root, user| user.write_at(OFFSET, PAYLOAD))??;
    let img = cx
        .dir
        .join("volumes")
        .join(&cx.ws.user_volume_id)
        .join("data.img");
    let on_disk = std::fs::read(&img).map_err(CliError::io("read", &img))?;
    let plain = on_disk.windows(PAYLOAD.len()).any(|w| w == PAYLOAD);
    let mut s7 = new_step(
        7,
        format!(
            "EBS encrypts every sector with XTS-AES-256 under the data key. {} bytes written to the user volume at offset {OFFSET}; its data.img holds {}.",
            PAYLOAD.len(),
            if plain {
                "PLAINTEXT (unexpected!)"
            } else {
                "only ciphertext"
            }
        ),
    );
    s7.text(img.display().to_string());
    s7.notes.push("XTS-AES-256 I/O: no KMS call".into());
    cx.sim.workspaces().reboot(ws)?;
    let calls = cx.trail.take()?;
    let mut back = vec![0u8; PAYLOAD.len()];
    cx.sim
        .workspaces()
        .with_volumes(ws, |_root, user| user.read_at(OFFSET, &mut back))??;
    let mut s8 = new_step(
        8,
        format!(
            "Reboot: the plaintext keys left memory; EBS read the wrapped keys from the metadata again and repeated steps 5 and 6. Read back: {}.",
            if back == PAYLOAD {
                "the same bytes"
            } else {
                "DIFFERENT bytes"
            }
        ),
    );
    s8.notes.push("reboot".into());
    s8.calls(calls);
    Ok((s7, s8))
}

/// Lesson 1: another volume id in the context.
pub(crate) fn context(cx: &mut Ctx<'_>) -> Result<Section, CliError> {
    let mut s = Section::new(
        Kind::Lesson(1),
        "the encryption context is part of the ciphertext",
    );
    let meta = cx.sim.ebs().volumes().load(&cx.ws.user_volume_id)?;
    let mut ctx = meta.encryption_context.clone();
    ctx.insert("aws:ebs:id".into(), "vol-0000000000000000f".into());
    let blob = wrapped_key(cx, &meta)?;
    let attempt =
        cx.client
            .decrypt_data_key(&Identity::Default, &blob, &EncryptionContext::from_map(ctx));
    let outcome = outcome_of(&attempt, |e| Some(code_of(e)));
    drop(attempt);
    s.text(format!("The account root, whom the key policy allows everything, asks for the user volume's data key with another aws:ebs:id. KMS authorizes the call first (the key policy allows it), then opens the ciphertext, which fails: the context is bound into it. Result: {outcome}."));
    s.outcome = Some(outcome);
    s.calls(cx.trail.take()?);
    Ok(s)
}

/// Lesson 2: a disabled key.
pub(crate) fn disabled(cx: &mut Ctx<'_>) -> Result<Section, CliError> {
    let mut s = Section::new(
        Kind::Lesson(2),
        "a disabled key: attached volumes keep working, the next attach fails",
    );
    s.notes.push("key disabled".into());
    let key = cx.key_arn.clone();
    cx.client
        .call(&Identity::Default, "DisableKey", json!({"KeyId": key}))?;
    let mut back = vec![0u8; PAYLOAD.len()];
    let io = cx
        .sim
        .workspaces()
        .with_volumes(&cx.ws.workspace_id, |_r, user| {
            user.write_at(0, b"still writing")
                .and_then(|()| user.read_at(OFFSET, &mut back))
        })?;
    s.text(format!(
        "Key disabled. I/O on the attached volume {}: the data key is already in memory.",
        if io.is_ok() { "still works" } else { "failed" }
    ));
    let failed = cx.sim.workspaces().reboot(&cx.ws.workspace_id);
    let outcome = outcome_of(&failed, |e| e.kms_error_type().map(|t| t.name().to_owned()));
    s.text(format!(
        "Reboot: {}",
        match &failed {
            Ok(_) => "succeeded (unexpected!)".to_owned(),
            Err(e) => e.to_string(),
        }
    ));
    cx.client
        .call(&Identity::Default, "EnableKey", json!({"KeyId": key}))?;
    cx.sim.workspaces().start(&cx.ws.workspace_id)?;
    s.text("Key enabled again; the WorkSpace starts (both attaches succeed).");
    s.outcome = Some(outcome);
    s.calls(cx.trail.take()?);
    Ok(s)
}

/// Lesson 3: an RSA key cannot encrypt a WorkSpace.
pub(crate) fn rsa(cx: &mut Ctx<'_>) -> Result<Section, CliError> {
    let mut s = Section::new(Kind::Lesson(3), "an RSA key cannot encrypt a WorkSpace");
    let users = json!({"Sid": "Allow use of the key", "Effect": "Allow",
        "Principal": {"AWS": cx.admin}, "Action": ["kms:DescribeKey"], "Resource": "*"});
    let created = cx.client.call(
        &Identity::Default,
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT",
            "Description": "ebsim demo: an asymmetric key"}),
    )?;
    let rsa = str_at(&created, &["KeyMetadata", "Arn"])
        .unwrap_or_default()
        .to_owned();
    let policy = policy_with(&cx.client, &rsa, users)?;
    cx.client.call(
        &Identity::Default,
        "PutKeyPolicy",
        json!({"KeyId": rsa, "PolicyName": "default", "Policy": policy.to_string()}),
    )?;
    let mut req = LaunchRequest::new(SID, DIRECTORY);
    req.key_id = Some(rsa.clone());
    req.admin = Some(cx.admin.clone());
    let launched = cx.sim.workspaces().launch(&req);
    let refused = match &launched {
        Ok(_) => "launched (unexpected!)".to_owned(),
        Err(e) => e.to_string(),
    };
    let outcome = match &launched {
        Ok(_) => "ok".to_owned(),
        Err(ebsim_workspaces::ControlPlaneError::NotSymmetric { .. }) => "NotSymmetric".to_owned(),
        Err(e) => e.to_string(),
    };
    let direct = cx.client.call(
        &Identity::Default,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": rsa, "NumberOfBytes": 64}),
    );
    let kms_says = outcome_of(&direct, |e| Some(code_of(e)));
    s.text(format!("An RSA_2048 key (usage ENCRYPT_DECRYPT) is made, and the admin launches a WorkSpace with it. WorkSpaces reads the key's spec and refuses: {refused}."));
    s.text(format!("Why: EBS wraps each volume's data key with a symmetric key, through GenerateDataKeyWithoutPlaintext, which only symmetric keys support. Asked directly, KMS answers {kms_says}. An RSA key can only encrypt a few hundred bytes that its caller sends, and its public half is usable outside KMS, where no grant or context applies."));
    s.outcome = Some(outcome);
    s.calls(cx.trail.take()?);
    Ok(s)
}

/// Lesson 4: RotateKeyOnDemand; the old volume still attaches.
pub(crate) fn rotation(cx: &mut Ctx<'_>) -> Result<Section, CliError> {
    let mut s = Section::new(
        Kind::Lesson(4),
        "a rotated key still opens the volumes made before the rotation",
    );
    s.notes.push("rotate".into());
    let meta = cx.sim.ebs().volumes().load(&cx.ws.user_volume_id)?;
    let blob = wrapped_key(cx, &meta)?;
    let material = ebsim_kms::internal::parse_blob(&blob)
        .map(|b| b.material_id_string())
        .unwrap_or_default();
    cx.client.call(
        &Identity::Default,
        "RotateKeyOnDemand",
        json!({"KeyId": cx.key_arn}),
    )?;
    let listed = cx.client.call(
        &Identity::Default,
        "ListKeyRotations",
        json!({"KeyId": cx.key_arn, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    )?;
    let state_of = |id: &str| {
        listed["Rotations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["KeyMaterialId"] == *id)
            .and_then(|r| r["KeyMaterialState"].as_str())
            .unwrap_or("unknown")
            .to_owned()
    };
    let current = listed["Rotations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["KeyMaterialState"] == "CURRENT")
        .and_then(|r| r["KeyMaterialId"].as_str())
        .unwrap_or_default()
        .to_owned();
    let reboot = cx.sim.workspaces().reboot(&cx.ws.workspace_id);
    let outcome = outcome_of(&reboot, |e| e.kms_error_type().map(|t| t.name().to_owned()));
    s.text("The account root rotates the key now (RotateKeyOnDemand): new key material becomes current, and new data keys are wrapped under it.");
    s.table(
        12,
        vec![
            (
                "user volume".into(),
                format!(
                    "{} was made before the rotation; its wrapped key names material",
                    cx.ws.user_volume_id
                ),
            ),
            ("".into(), material.clone()),
            ("".into(), format!("now {}", state_of(&material))),
            ("current".into(), current),
        ],
    );
    s.text(format!("Reboot (attach again): {}. A wrapped key names the material that wrapped it, and KMS keeps every material of a key, so Decrypt uses the old material for old volumes. Rotation changes what wraps new data keys; it re-encrypts nothing.", if outcome == "ok" { "both volumes attach" } else { outcome.as_str() }));
    s.outcome = Some(outcome);
    s.calls(cx.trail.take()?);
    Ok(s)
}

/// Step 9: terminate, and the old wrapped key is useless.
pub(crate) fn terminate(cx: &mut Ctx<'_>) -> Result<Section, CliError> {
    let root_meta = cx.sim.ebs().volumes().load(&cx.ws.root_volume_id)?;
    let blob = wrapped_key(cx, &root_meta)?;
    cx.sim.workspaces().terminate(&cx.ws.workspace_id)?;
    let useless = cx.client.decrypt_data_key(
        &Identity::Principal(root_meta.grantee_principal.clone().unwrap_or_default()),
        &blob,
        &root_meta.context(),
    );
    let outcome = match &useless {
        Ok(_) => "it still unwraps (unexpected!)".to_owned(),
        Err(e) => code_of(e),
    };
    drop(useless);
    let mut s = new_step(
        9,
        "Terminate: the volumes are deleted; EBS retires the volume grants and WorkSpaces the WorkSpace's grant (each as its retiring principal).",
    );
    s.notes.push("terminate".into());
    s.text(format!("Afterwards EBS tries the old root volume's wrapped key: {outcome}. No grant is left that lets anyone but the key's owners unwrap it."));
    s.calls(cx.trail.take()?);
    Ok(s)
}
