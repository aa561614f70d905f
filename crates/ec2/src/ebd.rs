//! Encryption by default, per account and region (as docs/ec2.md tells
//! it): Enable/Disable/GetEbsEncryptionByDefault, Get/Modify/ResetEbsDefaultKmsKeyId.
//! GetEbsDefaultKmsKeyId answers the literal `alias/aws/ebs` until a key is set.

use ebsim_iam::QueryError;
use ebsim_iam::xml;
use ebsim_kms_api::types::keys::DescribeKeyRequest;

use crate::error::invalid_value;
use crate::params;
use crate::service::{Cx, Ec2};
use crate::state::Scope;
use crate::volumes::{DEFAULT_EBS_KEY, MAX_KEY_ID};

impl Ec2 {
    pub(crate) fn encryption_by_default(
        &self,
        cx: &Cx<'_>,
        action: &str,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let ebd = &mut scope.encryption_by_default;
        let respond = |f: &dyn Fn(&mut xml::XmlWriter)| {
            xml::response(ebsim_iam::QueryService::Ec2, action, cx.rid, |w| f(w))
        };
        match action {
            "EnableEbsEncryptionByDefault" | "DisableEbsEncryptionByDefault" => {
                ebd.enabled = action.starts_with("Enable");
                let on = ebd.enabled;
                Ok(respond(&|w| w.bool("ebsEncryptionByDefault", on)))
            }
            "GetEbsEncryptionByDefault" => {
                let on = ebd.enabled;
                Ok(respond(&|w| {
                    w.bool("ebsEncryptionByDefault", on);
                    w.text("sseType", "sse-ebs");
                }))
            }
            "GetEbsDefaultKmsKeyId" => {
                let key = ebd
                    .kms_key_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
                Ok(respond(&|w| w.text("kmsKeyId", &key)))
            }
            "ModifyEbsDefaultKmsKeyId" => {
                let key_id = params::required(cx.req, "KmsKeyId", MAX_KEY_ID)?;
                // The key must exist and be a symmetric encryption key (DescribeKey on behalf
                // of the caller); the answer names it by its ARN.
                let meta = self
                    .kms_in(cx)
                    .send(
                        &cx.on_behalf(),
                        &DescribeKeyRequest {
                            key_id: Some(key_id.to_owned()),
                            ..Default::default()
                        },
                    )
                    .map_err(|e| {
                        invalid_value(format!(
                            "Invalid KMS key {}: {e}",
                            ebsim_iam::names::echo(key_id)
                        ))
                    })?
                    .key_metadata;
                let spec = if meta.key_spec.is_empty() {
                    "SYMMETRIC_DEFAULT"
                } else {
                    &meta.key_spec
                };
                if spec != "SYMMETRIC_DEFAULT" {
                    return Err(invalid_value(format!(
                        "The KMS key {} is not a symmetric encryption key ({spec}).",
                        meta.arn
                    )));
                }
                ebd.kms_key_id = Some(meta.arn.clone());
                Ok(respond(&|w| w.text("kmsKeyId", &meta.arn)))
            }
            "ResetEbsDefaultKmsKeyId" => {
                ebd.kms_key_id = None;
                Ok(respond(&|w| w.text("kmsKeyId", DEFAULT_EBS_KEY)))
            }
            other => Err(QueryError::invalid_action(other)),
        }
    }
}
