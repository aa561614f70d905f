//! The words the demo uses, each explained in a sentence or two (`ebsim demo --glossary`, and
//! the end of the demo).

/// (term, explanation), in the order a reader meets them.
pub(crate) const GLOSSARY: &[(&str, &str)] = &[
    (
        "KMS key",
        "The key that never leaves KMS. It only wraps and unwraps data keys; a customer managed key is one the account creates and controls (its key policy, rotation, disabling).",
    ),
    (
        "key policy",
        "The JSON document attached to a KMS key saying who may do what with it. Its \"Enable IAM User Permissions\" statement hands the decision to the account's IAM policies.",
    ),
    (
        "IAM policy",
        "A policy attached to a user or role (an identity policy). A call is allowed when the key policy allows it, directly or by handing over to IAM, and nothing denies it.",
    ),
    (
        "grant",
        "A permission attached to one key for one grantee: which operations it may call and under which encryption context (its constraint). Grants let services act without editing the key policy.",
    ),
    (
        "child grant",
        "A grant made by a grantee whose own grant allows CreateGrant. It can only be as narrow or narrower than its parent; EBS's per-volume grants are children of the WorkSpace's grant.",
    ),
    (
        "retiring principal",
        "The principal allowed to retire (delete) a grant when it is no longer needed, e.g. at terminate.",
    ),
    (
        "encryption context",
        "Key/value pairs sent with every call that wraps or unwraps a data key. They are bound into the ciphertext as additional authenticated data (AAD): unwrapping needs the very same pairs. They also appear in the trail, saying why the key was used.",
    ),
    (
        "data key",
        "The key that encrypts a volume's sectors: 512 bits here, two AES-256 keys for XTS. Its plaintext exists only in the memory of whoever serves the volume.",
    ),
    (
        "wrapped key",
        "A data key encrypted under the KMS key (a ciphertext blob). It is stored next to the volume and is useless without a Decrypt that KMS allows.",
    ),
    (
        "WithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext returns only the wrapped copy of a new data key, so the caller that creates the volume never holds the plaintext.",
    ),
    (
        "key material",
        "The secret bits behind a KMS key. Rotation adds new material; old material is kept, and every wrapped key names the material that wrapped it.",
    ),
    (
        "XTS",
        "XTS-AES-256, the disk-encryption mode: each sector is encrypted with the data key and its sector number, so equal sectors look different on disk.",
    ),
    (
        "SID",
        "The security identifier of the WorkSpace's user in the directory (S-1-5-21-…). With the directory id it forms the aws:workspaces:sid-directoryid context pair.",
    ),
    (
        "assumed-role",
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is a session of a role: ROLE says who acts (aws:ec2-infrastructure is EC2's infrastructure), SESSION what it acts for (a WorkSpace or volume).",
    ),
    (
        "via",
        "The AWS service that forwarded a call on someone's behalf (kms:ViaService): via workspaces… for the admin's calls through WorkSpaces, via ec2… for calls EBS makes.",
    ),
];

/// The glossary as (term, text) rows.
pub(crate) fn rows() -> Vec<(String, String)> {
    GLOSSARY
        .iter()
        .map(|(t, e)| ((*t).to_owned(), (*e).to_owned()))
        .collect()
}
