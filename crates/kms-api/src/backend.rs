//! The one interface to a KMS: what the HTTP server serves and what the in-process client
//! calls, and the credential the server verifies signatures with.

use zeroize::Zeroizing;

use crate::error::{Caller, KmsError};

/// The content type of every KMS request and response: AWS JSON 1.1.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Header naming the operation of a request: `TrentService.<Operation>` (or
/// `EbsimAdmin.<Operation>` for an admin operation).
pub const TARGET_HEADER: &str = "x-amz-target";
/// Header naming the principal a service credential acts for.
pub const PRINCIPAL_HEADER: &str = "x-ebsim-principal";
/// Header naming the forwarding service a service credential claims (`kms:ViaService`).
pub const VIA_SERVICE_HEADER: &str = "x-ebsim-via-service";

/// A credential the server verifies signatures with: who signs with it and its secret.
pub struct Credential {
    /// The principal ARN the credential signs as.
    pub principal: String,
    /// The secret access key.
    pub secret: Zeroizing<String>,
    /// Whether this is the data dir's service credential (may act for other principals).
    pub is_service: bool,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("is_service", &self.is_service)
            .finish_non_exhaustive()
    }
}

/// The session behind a temporary access key (`ASIA…`): its credential, the token a request
/// signed with it must carry, and whether it has expired on the simulated clock.
pub struct SessionCredential {
    /// Who signs with it and its secret.
    pub credential: Credential,
    /// The session token.
    pub token: Zeroizing<String>,
    /// Whether it is past its expiration.
    pub expired: bool,
    /// Whether GetSessionToken issued it (such credentials cannot call IAM).
    pub from_session_token: bool,
}

impl std::fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredential")
            .field("credential", &self.credential)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

/// A KMS: operations and admin operations with AWS JSON 1.1 bodies, and (for servers) the
/// credentials it knows.
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// A KMS operation by its AWS name.
    ///
    /// `body` and the answer may carry plaintext (an Encrypt request, a Decrypt or
    /// GenerateDataKey answer): the answer is written in place, in one allocation, and the
    /// caller wipes it when done (`zeroize::Zeroizing`; docs/kms.md, "Plaintext in memory").
    ///
    /// # Errors
    /// The KMS error, as the service would answer it.
    fn call(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError>;

    /// An admin operation (clock, faults, IAM, audit), for an account root.
    ///
    /// # Errors
    /// The KMS error.
    fn admin(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError>;

    /// The credential of an access key id (none by default: an in-process double needs none).
    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        let _ = access_key_id;
        None
    }

    /// The session of a temporary access key id (none by default).
    fn lookup_session(&self, access_key_id: &str) -> Option<SessionCredential> {
        let _ = access_key_id;
        None
    }

    /// An IAM or STS action in the Query protocol, answered as its XML response
    /// (`request_id` goes into its `ResponseMetadata`). By default there is none.
    ///
    /// # Errors
    /// The IAM or STS error, as the service would answer it.
    fn query(
        &self,
        caller: &Caller,
        service: ebsim_iam::QueryService,
        request: &ebsim_iam::QueryRequest,
        request_id: &str,
    ) -> Result<Vec<u8>, ebsim_iam::QueryError> {
        let _ = (caller, service, request_id);
        Err(ebsim_iam::QueryError::invalid_action(request.action()))
    }

    /// The default account: its root is who the built-in `test` key and, on a server that
    /// accepts any key, an access key id that names no account act as.
    fn default_account(&self) -> String {
        crate::id::DEFAULT_ACCOUNT.to_owned()
    }

    /// The access key id of the data dir's service credential, if the backend has one.
    fn service_access_key_id(&self) -> Option<String> {
        None
    }

    /// Whether a call of `operation` may block its thread (persistence, an injected latency):
    /// a server then runs it off its async workers. By default, what the operation table says.
    fn may_block(&self, operation: &str) -> bool {
        crate::ops::operation(operation).is_none_or(|o| o.blocking)
    }

    /// The proof that this backend holds the service credential
    /// ([`crate::trust::endpoint_proof`] of `challenge` for `host`), if it has one.
    fn endpoint_proof(&self, host: &str, challenge: &[u8]) -> Option<[u8; 32]> {
        let id = self.service_access_key_id()?;
        let credential = self.lookup_access_key(&id).filter(|c| c.is_service)?;
        Some(crate::trust::endpoint_proof(
            credential.secret.as_bytes(),
            host,
            challenge,
        ))
    }
}

/// The built-in access key (secret `test`): the default account's root, except on a server
/// that accepts only keys it issued.
pub const BUILTIN_ACCESS_KEY: &str = "test";

/// Which access keys a server accepts (`ebsim kms serve --credentials MODE`; docs/kms.md,
/// "Identities and credentials").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialMode {
    /// The built-in `test` key and every key ebsim issued, signatures verified.
    #[default]
    Default,
    /// Any access key: the request's header and scope are checked, the signature only for
    /// keys ebsim issued. An unknown access key id of exactly 12 digits is that account's
    /// root; any other is the default account's root (moto's and LocalStack's habit).
    AnyAsRoot,
    /// Only keys ebsim issued (IAM users and roles, account roots' keys, the service
    /// credential), signatures verified; `test` is refused.
    Strict,
}

impl CredentialMode {
    /// The names, as the command line spells them.
    pub const NAMES: [&'static str; 3] = ["default", "any-as-root", "strict"];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::AnyAsRoot => "any-as-root",
            Self::Strict => "strict",
        }
    }
}

impl std::fmt::Display for CredentialMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CredentialMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(Self::Default),
            "any-as-root" => Ok(Self::AnyAsRoot),
            "strict" => Ok(Self::Strict),
            _ => Err(format!(
                "unknown credential mode '{s}' (expected one of: {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}
