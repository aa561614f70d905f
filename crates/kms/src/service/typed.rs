//! The typed Rust API: each operation with its request and response types, on top of the
//! JSON entry point (the same path as a request from the wire: faults, audit record, key
//! states; docs/kms.md, "Typed API").

use ebsim_kms_api::types::Call;
use ebsim_kms_api::types::crypto::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, GenerateDataKeyRequest,
    GenerateDataKeyResponse, GenerateDataKeyWithoutPlaintextRequest, GenerateRandomRequest,
    GenerateRandomResponse, ReEncryptRequest, ReEncryptResponse,
};
use zeroize::Zeroizing;

use super::{Kms, R, internal};
use crate::api::Caller;

impl Kms {
    /// Any implemented operation, typed: `kms.send(&caller, &DecryptRequest { … })`.
    ///
    /// # Errors
    /// The KMS error, as the service would answer it.
    pub fn send<T: Call>(&self, caller: &Caller, request: &T) -> R<T::Response> {
        let body = serde_json::to_vec(request).map_err(|e| internal(e.to_string()))?;
        let out = Zeroizing::new(self.call(caller, T::OPERATION, &body)?);
        let out: &[u8] = if out.is_empty() { b"{}" } else { &out };
        serde_json::from_slice(out).map_err(|e| internal(e.to_string()))
    }

    /// Encrypt.
    ///
    /// # Errors
    /// The KMS error.
    pub fn encrypt(&self, caller: &Caller, request: EncryptRequest) -> R<EncryptResponse> {
        self.send(caller, &request)
    }

    /// Decrypt.
    ///
    /// # Errors
    /// The KMS error.
    pub fn decrypt(&self, caller: &Caller, request: DecryptRequest) -> R<DecryptResponse> {
        self.send(caller, &request)
    }

    /// GenerateDataKey.
    ///
    /// # Errors
    /// The KMS error.
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        request: GenerateDataKeyRequest,
    ) -> R<GenerateDataKeyResponse> {
        self.send(caller, &request)
    }

    /// GenerateDataKeyWithoutPlaintext.
    ///
    /// # Errors
    /// The KMS error.
    pub fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        request: GenerateDataKeyWithoutPlaintextRequest,
    ) -> R<GenerateDataKeyResponse> {
        self.send(caller, &request)
    }

    /// ReEncrypt.
    ///
    /// # Errors
    /// The KMS error.
    pub fn re_encrypt(&self, caller: &Caller, request: ReEncryptRequest) -> R<ReEncryptResponse> {
        self.send(caller, &request)
    }

    /// GenerateRandom.
    ///
    /// # Errors
    /// The KMS error.
    pub fn generate_random(
        &self,
        caller: &Caller,
        request: GenerateRandomRequest,
    ) -> R<GenerateRandomResponse> {
        self.send(caller, &request)
    }
}
