//! What the server needs from the KMS service: operations, admin operations, credentials.

use ebsim_kms::{Caller, KmsError};
use zeroize::Zeroizing;

use crate::sigv4::SigningSecret;

/// A credential the server verifies signatures with.
pub struct ServerCredential {
    /// The principal ARN the credential signs as.
    pub principal: String,
    /// The secret access key.
    pub secret: Zeroizing<String>,
    /// Whether this is the data dir's service credential (may act for other principals).
    pub is_service: bool,
}

impl std::fmt::Debug for ServerCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCredential")
            .field("principal", &self.principal)
            .field("is_service", &self.is_service)
            .finish_non_exhaustive()
    }
}

impl SigningSecret for ServerCredential {
    fn secret(&self) -> &str {
        &self.secret
    }
}

/// The KMS service behind the endpoint.
pub trait Backend: Send + Sync + 'static {
    /// A KMS operation by its AWS name, JSON 1.1 body in and out.
    ///
    /// # Errors
    /// The KMS error to send back.
    fn call(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError>;
    /// An admin operation (clock, faults, IAM, audit).
    ///
    /// # Errors
    /// The KMS error to send back.
    fn admin(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError>;
    /// The credential for an access key id.
    fn lookup_access_key(&self, access_key_id: &str) -> Option<ServerCredential>;
    /// Whether a call of `operation` may block its thread (persistence, an injected latency):
    /// the server then runs it on the blocking pool instead of an async worker. By default,
    /// what the operation table says.
    fn may_block(&self, operation: &str) -> bool {
        ebsim_kms::ops::operation(operation).is_none_or(|o| o.blocking)
    }
    /// The access key id of the data dir's service credential, if the backend has one.
    fn service_access_key_id(&self) -> Option<String> {
        None
    }
    /// The proof that this server holds the service credential
    /// ([`ebsim_kms::trust::endpoint_proof`] of `challenge` for `host`), if it has one.
    fn endpoint_proof(&self, host: &str, challenge: &[u8]) -> Option<[u8; 32]> {
        let id = self.service_access_key_id()?;
        let credential = self.lookup_access_key(&id).filter(|c| c.is_service)?;
        Some(ebsim_kms::trust::endpoint_proof(
            credential.secret.as_bytes(),
            host,
            challenge,
        ))
    }
}

impl Backend for ebsim_kms::Kms {
    fn call(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        ebsim_kms::Kms::call(self, caller, operation, body)
    }

    fn admin(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        ebsim_kms::Kms::admin(self, caller, operation, body)
    }

    fn service_access_key_id(&self) -> Option<String> {
        ebsim_kms::Kms::service_access_key_id(self).map(str::to_owned)
    }

    fn may_block(&self, operation: &str) -> bool {
        ebsim_kms::Kms::may_block(self, operation)
    }

    fn lookup_access_key(&self, access_key_id: &str) -> Option<ServerCredential> {
        ebsim_kms::Kms::lookup_access_key(self, access_key_id).map(|c| ServerCredential {
            principal: c.principal,
            secret: Zeroizing::new(c.secret.expose().to_owned()),
            is_service: c.is_service,
        })
    }
}
