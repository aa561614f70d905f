//! The EBS control plane: CreateVolume (grant + wrapped data key), DeleteVolume (retire the
//! grant, remove the files), attach (Decrypt as the EC2 infrastructure role through the
//! volume's grant) and the control-plane attachment state.

use ebsim_io::SectorSize;
use ebsim_kms_api::types::grants::{
    CreateGrantRequest, GrantConstraints, ListRetirableGrantsRequest, RetireGrantRequest,
};
use ebsim_kms_api::types::keys::DescribeKeyRequest;
use ebsim_kms_client::{EncryptionContext, Identity, KmsClient};
use ebsim_volume::{
    AttachedVolume, NewVolume, VolumeMetadata, VolumeOwner, VolumeRoot, VolumeState, new_volume_id,
};

use crate::error::{ControlPlaneError, kms_err};

/// Attempts of the attach-time Decrypt over the in-process transport.
const ATTACH_ATTEMPTS: u32 = 3;

/// The key EBS uses when none is named.
pub const DEFAULT_EBS_KEY: &str = "alias/aws/ebs";
/// The default account root (the principal calling EC2 when none is named).
pub const DEFAULT_CALLER: &str = ebsim_kms_api::id::DEFAULT_ROOT;

/// The account of an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:…`).
pub fn arn_account(arn: &str) -> Option<&str> {
    ebsim_kms_api::id::arn_account(arn)
}

/// The principal EBS decrypts a volume's data key as at attach time: the EC2 infrastructure
/// role session named after the volume, in the caller's account.
///
/// AWS names the session after the *instance* the volume is attached to; ebsim has no
/// instances, and a volume-scoped session keeps each grant usable by exactly one volume, so
/// the session name is the volume id.
pub fn ec2_infrastructure_principal(account: &str, volume_id: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/aws:ec2-infrastructure/{volume_id}")
}

/// The principal a volume's grant is made for and its attach decrypts as: the EC2
/// infrastructure session named after the volume, in the account of the volume's key.
///
/// Derived from the key ARN, which KMS checks against the ciphertext blob at every Decrypt
/// (a key ARN edited in metadata.json fails there), never from a principal stored in a file.
pub fn attach_principal(key_arn: &str, volume_id: &str) -> String {
    let account = arn_account(key_arn).unwrap_or(ebsim_kms_api::id::DEFAULT_ACCOUNT);
    ec2_infrastructure_principal(account, volume_id)
}

/// What [`Ebs::force_delete_volume`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedDelete {
    /// The grants it found by the volume's name and retired (none when the metadata was
    /// readable: the volume's own grant was retired as DeleteVolume does).
    pub retired_grants: Vec<String>,
    /// Whether the volume's metadata could be read (then it was an ordinary delete).
    pub metadata_was_readable: bool,
}

/// What CreateVolume needs.
#[derive(Debug, Clone)]
pub struct CreateVolumeRequest {
    /// Size in bytes (a non-zero multiple of the sector size).
    pub size_bytes: u64,
    /// Sector size (4096 by default).
    pub sector_size: SectorSize,
    /// Key id, ARN, alias or alias ARN (`alias/aws/ebs` when `None`).
    pub key_id: Option<String>,
    /// The owning WorkSpace user and directory (adds the WorkSpaces context pair).
    pub owner: Option<VolumeOwner>,
    /// The principal calling EC2 (the account root when `None`).
    pub caller: Option<String>,
    /// The key as already described by the requester (WorkSpaces describes it as the admin);
    /// when `None`, EBS calls DescribeKey on behalf of the caller.
    pub key_info: Option<KeyInfo>,
}

impl CreateVolumeRequest {
    /// A plain volume of `size_bytes` with 4096-byte sectors under `alias/aws/ebs`.
    pub fn new(size_bytes: u64) -> Self {
        Self {
            size_bytes,
            sector_size: SectorSize::S4096,
            key_id: None,
            owner: None,
            caller: None,
            key_info: None,
        }
    }
}

/// What DescribeKey says about a key, as far as EBS cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key ARN.
    pub arn: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, …
    pub key_spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, …
    pub key_usage: String,
    /// `Enabled`, `Disabled`, …
    pub key_state: String,
}

/// The EBS control plane over one KMS client and one set of volumes.
#[derive(Debug, Clone)]
pub struct Ebs {
    client: KmsClient,
    volumes: VolumeRoot,
    region: String,
}

impl Ebs {
    /// EBS in `region` (e.g. `us-west-2`), calling KMS through `client`.
    pub fn new(client: KmsClient, volumes: VolumeRoot, region: impl Into<String>) -> Self {
        Self {
            client,
            volumes,
            region: region.into(),
        }
    }

    /// The KMS client.
    pub fn client(&self) -> &KmsClient {
        &self.client
    }

    /// The volumes.
    pub fn volumes(&self) -> &VolumeRoot {
        &self.volumes
    }

    /// `ec2.<region>.amazonaws.com`, the `kms:ViaService` of EBS's forwarded calls.
    pub fn via_service(&self) -> String {
        format!("ec2.{}.amazonaws.com", self.region)
    }

    fn on_behalf_of(&self, caller: &str) -> Identity {
        Identity::OnBehalfOf {
            principal: caller.to_owned(),
            via_service: self.via_service(),
        }
    }

    /// DescribeKey as `identity`.
    ///
    /// # Errors
    /// The KMS error, or [`ControlPlaneError::Protocol`].
    pub fn describe_key(
        &self,
        identity: &Identity,
        key_id: &str,
    ) -> Result<KeyInfo, ControlPlaneError> {
        let out = self
            .client
            .send(
                identity,
                &DescribeKeyRequest {
                    key_id: Some(key_id.to_owned()),
                    ..Default::default()
                },
            )
            .map_err(|e| kms_err("DescribeKey", key_id, e))?;
        let m = out.key_metadata;
        if m.arn.is_empty() {
            return Err(ControlPlaneError::Protocol {
                operation: "DescribeKey",
                message: "no KeyMetadata.Arn".into(),
            });
        }
        let or = |v: String, default: &str| if v.is_empty() { default.to_owned() } else { v };
        Ok(KeyInfo {
            arn: m.arn,
            key_spec: or(
                m.key_spec,
                &or(m.customer_master_key_spec, "SYMMETRIC_DEFAULT"),
            ),
            key_usage: or(m.key_usage, "ENCRYPT_DECRYPT"),
            key_state: m.key_state,
        })
    }

    /// CreateVolume: DescribeKey (symmetric keys only), CreateGrant for this volume's EC2
    /// infrastructure session (Decrypt, constrained to `aws:ebs:id` = the volume), then
    /// GenerateDataKeyWithoutPlaintext (64 bytes) under the volume's encryption context — all
    /// on behalf of the caller via `ec2.<region>.amazonaws.com` — and records the volume.
    /// If anything fails after the grant was made, the grant is retired again.
    ///
    /// # Errors
    /// [`ControlPlaneError::NotSymmetric`], a KMS error naming the operation, or a volume error.
    pub fn create_volume(
        &self,
        req: &CreateVolumeRequest,
    ) -> Result<VolumeMetadata, ControlPlaneError> {
        let caller = req
            .caller
            .clone()
            .unwrap_or_else(|| DEFAULT_CALLER.to_owned());
        let who = self.on_behalf_of(&caller);
        let key_id = req
            .key_id
            .clone()
            .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
        let key = match &req.key_info {
            Some(k) => k.clone(),
            None => self.describe_key(&who, &key_id)?,
        };
        // Calls allowed through a grant must name the key by its ARN.
        let key_id = if req.key_info.is_some() {
            key.arn.clone()
        } else {
            key_id
        };
        if key.key_spec != "SYMMETRIC_DEFAULT" || key.key_usage != "ENCRYPT_DECRYPT" {
            return Err(ControlPlaneError::NotSymmetric {
                key_arn: key.arn,
                key_spec: key.key_spec,
                key_usage: key.key_usage,
            });
        }
        let volume_id = new_volume_id();
        let context = match &req.owner {
            Some(o) => EncryptionContext::workspaces(&volume_id, &o.user_sid, &o.directory_id)?,
            None => EncryptionContext::ebs(&volume_id)?,
        };
        let grantee = attach_principal(&key.arn, &volume_id);
        // The grant's constraint is the volume's whole context, so a WorkSpace volume's grant
        // is at least as strict as the WorkSpace's own grant (its parent).
        let grant = self
            .client
            .send(
                &who,
                &CreateGrantRequest {
                    key_id: Some(key.arn.clone()),
                    grantee_principal: Some(grantee.clone()),
                    retiring_principal: Some(caller.clone()),
                    operations: Some(vec!["Decrypt".to_owned()]),
                    constraints: Some(GrantConstraints {
                        encryption_context_subset: Some(context.as_map().clone()),
                        encryption_context_equals: None,
                    }),
                    name: Some(volume_id.clone()),
                    ..Default::default()
                },
            )
            .map_err(|e| kms_err("CreateGrant", &key.arn, e))?;
        if grant.grant_id.is_empty() {
            return Err(ControlPlaneError::Protocol {
                operation: "CreateGrant",
                message: "no GrantId".into(),
            });
        }
        let grant_id = grant.grant_id;
        let result = (|| {
            let wrapped = self
                .client
                .generate_wrapped_data_key(&who, &key_id, &context)
                .map_err(|e| kms_err("GenerateDataKeyWithoutPlaintext", &key_id, e))?;
            Ok::<_, ControlPlaneError>(self.volumes.create(NewVolume {
                volume_id: volume_id.clone(),
                size_bytes: req.size_bytes,
                sector_size: req.sector_size,
                kms_key_arn: wrapped.key_arn,
                wrapped_key: wrapped.ciphertext_blob,
                context: context.clone(),
                grant_id: Some(grant_id.clone()),
                grantee_principal: Some(grantee.clone()),
                retiring_principal: Some(caller.clone()),
                owner: req.owner.clone(),
            })?)
        })();
        if result.is_err() {
            let _ = self.retire_grant(&who, &key.arn, &grant_id);
        }
        result
    }

    fn retire_grant(
        &self,
        who: &Identity,
        key_arn: &str,
        grant_id: &str,
    ) -> Result<(), ControlPlaneError> {
        self.client
            .send(
                who,
                &RetireGrantRequest {
                    key_id: Some(key_arn.to_owned()),
                    grant_id: Some(grant_id.to_owned()),
                    ..Default::default()
                },
            )
            .map(|_| ())
            .map_err(|e| kms_err("RetireGrant", key_arn, e))
    }

    /// DeleteVolume: refused while the volume is attached (control plane or a process);
    /// retires the volume's grant (as its retiring principal), then removes its files.
    ///
    /// # Errors
    /// [`ControlPlaneError::VolumeAttached`], a volume error (`InUse`, `NotFound`), or the
    /// RetireGrant failure (the files are then kept).
    pub fn delete_volume(
        &self,
        volume_id: &str,
        caller: Option<&str>,
    ) -> Result<(), ControlPlaneError> {
        let meta = self.volumes.load(volume_id)?;
        if meta.state == VolumeState::InUse {
            return Err(ControlPlaneError::VolumeAttached {
                volume_id: volume_id.to_owned(),
                attached_to: meta.attached_to.unwrap_or_else(|| "an instance".into()),
            });
        }
        // Fail early (and keep the grant) if a process has it attached.
        if self.volumes.is_attached(volume_id)? {
            return Err(ebsim_volume::VolumeError::InUse(volume_id.to_owned()).into());
        }
        if let Some(grant_id) = &meta.grant_id {
            let retiring = caller
                .or(meta.retiring_principal.as_deref())
                .unwrap_or(DEFAULT_CALLER);
            let who = self.on_behalf_of(retiring);
            match self.retire_grant(&who, &meta.kms_key_arn, grant_id) {
                Ok(()) => {}
                // Already retired or revoked: nothing left to retire.
                Err(e) if e.kms_error_type().map(|t| t.name()) == Some("NotFoundException") => {}
                Err(e) => return Err(e),
            }
        }
        self.volumes.delete(volume_id)?;
        Ok(())
    }

    /// DeleteVolume of a volume whose `metadata.json` cannot be read (corrupt, truncated):
    /// finds the volume's grant by its name (the volume id) among the grants the caller may
    /// retire (ListRetirableGrants), retires it, then removes the files. A readable volume is
    /// deleted as [`Ebs::delete_volume`] does. Refused while a process has it attached.
    ///
    /// # Errors
    /// A volume error (`NotFound`, `InUse`), or the KMS failure of ListRetirableGrants or
    /// RetireGrant (the files are then kept).
    pub fn force_delete_volume(
        &self,
        volume_id: &str,
        caller: Option<&str>,
    ) -> Result<ForcedDelete, ControlPlaneError> {
        match self.volumes.load(volume_id) {
            Ok(_) => {
                self.delete_volume(volume_id, caller)?;
                return Ok(ForcedDelete {
                    retired_grants: Vec::new(),
                    metadata_was_readable: true,
                });
            }
            Err(ebsim_volume::VolumeError::CorruptMetadata { .. })
            | Err(ebsim_volume::VolumeError::Fs { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if self.volumes.is_locked(volume_id)? {
            return Err(ebsim_volume::VolumeError::InUse(volume_id.to_owned()).into());
        }
        let retiring = caller.unwrap_or(DEFAULT_CALLER);
        let who = self.on_behalf_of(retiring);
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        // Bounded: at most 1,000 pages of 100 grants.
        for _ in 0..1000 {
            let page = self
                .client
                .send(
                    &who,
                    &ListRetirableGrantsRequest {
                        retiring_principal: Some(retiring.to_owned()),
                        limit: Some(100),
                        marker: marker.clone(),
                        ..Default::default()
                    },
                )
                .map_err(|e| kms_err("ListRetirableGrants", retiring, e))?;
            found.extend(
                page.grants
                    .into_iter()
                    .filter(|g| g.name.as_deref() == Some(volume_id))
                    .map(|g| (g.key_id, g.grant_id)),
            );
            match page.next_marker {
                Some(next) if page.truncated && marker.as_deref() != Some(next.as_str()) => {
                    marker = Some(next);
                }
                _ => break,
            }
        }
        let mut retired = Vec::new();
        for (key_arn, grant_id) in found {
            match self.retire_grant(&who, &key_arn, &grant_id) {
                Ok(()) => retired.push(grant_id),
                Err(e) if e.kms_error_type().map(|t| t.name()) == Some("NotFoundException") => {}
                Err(e) => return Err(e),
            }
        }
        self.volumes.delete_files(volume_id)?;
        Ok(ForcedDelete {
            retired_grants: retired,
            metadata_was_readable: false,
        })
    }

    /// Attaches a volume in this process: Decrypt of its wrapped key under its stored context,
    /// as the EC2 infrastructure role session through the volume's grant.
    ///
    /// # Errors
    /// A volume error: `InUse`, `NotFound`, `CorruptMetadata`, or `Kms` naming the KMS error
    /// (disabled key, retired grant, …) and what it means; nothing on disk changes.
    pub fn attach(&self, volume_id: &str) -> Result<AttachedVolume, ControlPlaneError> {
        self.attach_as(volume_id, None)
    }

    /// [`Ebs::attach`], decrypting as `principal` when given: the EC2 infrastructure session
    /// of the instance the EC2 state names for the volume's attachment, through the
    /// attachment's grant (docs/key-flow.md, "Attach to an instance").
    ///
    /// # Errors
    /// As [`Ebs::attach`].
    pub fn attach_as(
        &self,
        volume_id: &str,
        principal: Option<&str>,
    ) -> Result<AttachedVolume, ControlPlaneError> {
        let meta = self.volumes.load(volume_id)?;
        // Who EBS acts as is derived here or given by the EC2 state, never read from
        // metadata.json (a file anyone with write access to the data dir could edit):
        // docs/security.md, "Storage and the command line".
        let who = Identity::Principal(match principal {
            Some(p) => p.to_owned(),
            None => attach_principal(&meta.kms_key_arn, volume_id),
        });
        let key_arn = meta.kms_key_arn.clone();
        // The key's region, whichever region this control plane runs in.
        let client = &match ebsim_kms_api::id::Arn::parse(&key_arn)
            .and_then(|a| ebsim_kms_api::Region::parse(a.region))
        {
            Some(r) => self.client.in_region(r),
            None => self.client.clone(),
        };
        // The HTTP transport retries by itself; the in-process one gets the same bounded
        // retries here (throttling, internal errors).
        let attempts = if client.is_http() { 1 } else { ATTACH_ATTEMPTS };
        Ok(self.volumes.attach_with(volume_id, |blob, ctx| {
            // `ctx` names the volume, or for a volume restored from a snapshot its lineage's
            // first volume or re-keying copy (docs/formats.md, "Snapshots").
            let mut attempt = 1;
            loop {
                match client.decrypt_data_key_with(&who, blob, ctx, Some(&key_arn)) {
                    Err(e) if e.is_retryable() && attempt < attempts => {
                        std::thread::sleep(std::time::Duration::from_millis(5 << attempt));
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })?)
    }

    /// Records the control-plane attachment (`in-use`, attached to `target`) or its end.
    ///
    /// # Errors
    /// A volume error.
    pub fn set_attachment(
        &self,
        volume_id: &str,
        target: Option<&str>,
    ) -> Result<VolumeMetadata, ControlPlaneError> {
        let mut meta = self.volumes.load(volume_id)?;
        meta.state = if target.is_some() {
            VolumeState::InUse
        } else {
            VolumeState::Available
        };
        meta.attached_to = target.map(str::to_owned);
        self.volumes.update(&meta)?;
        Ok(meta)
    }
}
