//! The policies KMS writes itself: the default key policy and the AWS managed key policies.

/// The key policy `CreateKey` gives a key when the request has no `Policy`: the account root
/// may do everything, which delegates to the account's IAM policies. Formatting is the
/// service's, byte for byte.
pub fn default_key_policy(account_id: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account_id}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// The key policy of an AWS managed key (`alias/aws/ebs`, `alias/aws/workspaces`), or `None`
/// for a service this simulator has no managed key for.
///
/// - `"ebs"`: `"Id" : "auto-ebs-2"`, as the service writes it: every principal of the account
///   may use the key through EBS (`kms:ViaService` `ec2.<region>.amazonaws.com`, the name
///   EBS requests carry), and the account root gets read access to the key's metadata.
/// - `"workspaces"`: `"Id" : "auto-workspaces-1"`, the same two statements with
///   `kms:ViaService` allowing **both** `workspaces.<region>.amazonaws.com` and
///   `ec2.<region>.amazonaws.com`. A WorkSpace's root and user volumes are EBS volumes, and
///   the Decrypt on attach and the data-key generation arrive from EBS, i.e. via ec2; with
///   only the workspaces name the WorkSpace could never start.
///
/// Direct calls (no via-service) by anyone, including the root, get only the metadata
/// operations: crypto on a managed key outside its service is AccessDenied by ordinary
/// evaluation.
pub fn aws_managed_key_policy(service: &str, account: &str, region: &str) -> Option<String> {
    let (id, label, via) = match service {
        "ebs" => (
            "auto-ebs-2",
            "EBS",
            format!("\"ec2.{region}.amazonaws.com\""),
        ),
        "workspaces" => (
            "auto-workspaces-1",
            "WorkSpaces",
            format!("[ \"workspaces.{region}.amazonaws.com\", \"ec2.{region}.amazonaws.com\" ]"),
        ),
        _ => return None,
    };
    Some(format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "{id}",
  "Statement" : [ {{
    "Sid" : "Allow access through {label} for all principals in the account that are authorized to use {label}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : {via}
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  }} ]
}}"#
    ))
}
