//! What the server needs from the KMS service: the one backend trait and credential type of
//! `ebsim-kms-api`.

pub use ebsim_kms_api::{Backend, Credential as ServerCredential};

use crate::sigv4::SigningSecret;

impl SigningSecret for ServerCredential {
    fn secret(&self) -> &str {
        &self.secret
    }
}
