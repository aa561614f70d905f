//! The bodies of the general path with their plaintext wiped (docs/kms.md, "Plaintext in
//! memory"), and `Kms` as the `Backend` the servers serve.

use super::*;

/// Whether a member of a request or response carries plaintext: `Plaintext` (Encrypt,
/// Decrypt, GenerateDataKey, GenerateRandom), `PrivateKeyPlaintext`, `Message` (GenerateMac,
/// Sign, Verify), `SharedSecret` (DeriveSharedSecret).
fn carries_plaintext(member: &str) -> bool {
    member.contains("Plaintext")
        || member == "Message"
        || member == "SharedSecret"
        || member == "KeyStorePassword"
}

/// Wipes the text of the members of `m` that carry plaintext, then drops it.
pub(super) fn wipe_plaintext(mut m: Map<String, Value>) {
    for (name, v) in &mut m {
        if carries_plaintext(name)
            && let Value::String(s) = v
        {
            zeroize::Zeroize::zeroize(s);
        }
        // A custom key store's proxy secret.
        if name == "XksProxyAuthenticationCredential"
            && let Some(Value::String(s)) = v.get_mut("RawSecretAccessKey")
        {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

/// An answer of the general path as its body: written into a buffer of its exact size (a
/// growing buffer would leave copies of a plaintext in freed memory), then the plaintext
/// members of the value are wiped (docs/kms.md, "Plaintext in memory").
pub(super) fn wiped_body(out: Value) -> Vec<u8> {
    let body = ebsim_kms_api::to_wiped_vec(&out)
        .map_or_else(|_| b"{}".to_vec(), |mut b| std::mem::take(&mut *b));
    if let Value::Object(m) = out {
        wipe_plaintext(m);
    }
    body
}

impl ebsim_kms_api::Backend for Kms {
    fn call(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        Kms::call(self, caller, operation, body)
    }

    fn admin(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        Kms::admin(self, caller, operation, body)
    }

    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        Kms::lookup_access_key(self, access_key_id)
    }

    fn service_access_key_id(&self) -> Option<String> {
        Kms::service_access_key_id(self).map(str::to_owned)
    }

    fn lookup_session(&self, access_key_id: &str) -> Option<ebsim_kms_api::SessionCredential> {
        Kms::lookup_session(self, access_key_id)
    }

    fn query(
        &self,
        caller: &Caller,
        service: ebsim_iam::QueryService,
        request: &ebsim_iam::QueryRequest,
        request_id: &str,
    ) -> Result<Vec<u8>, ebsim_iam::QueryError> {
        Kms::query(self, caller, service, request, request_id)
    }

    fn default_account(&self) -> String {
        self.config.account.clone()
    }

    fn may_block(&self, operation: &str) -> bool {
        Kms::may_block(self, operation)
    }
}
