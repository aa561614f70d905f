//! Who calls, and the errors KMS answers with.

/// Who is making a call, as the policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// ARN of the calling principal: `arn:aws:iam::111122223333:root`,
    /// `arn:aws:iam::ACCT:user/NAME`, `arn:aws:iam::ACCT:role/NAME`, or an assumed-role
    /// session such as `arn:aws:sts::ACCT:assumed-role/aws:ec2-infrastructure/i-0123`.
    pub principal: String,
    /// The service that forwarded the call (`kms:ViaService`), e.g.
    /// `ec2.us-west-2.amazonaws.com`. Only the data dir's service identity may set this.
    pub via_service: Option<String>,
    /// The region the call is made in (a signed request's credential scope); `None`: the
    /// KMS's own region.
    pub region: Option<crate::Region>,
    /// The temporary access key (`ASIA…`) the call is signed with, when it comes from an STS
    /// session: its session policies limit what the call may do (docs/iam.md).
    pub session: Option<String>,
}

impl Caller {
    /// A caller acting directly (no forwarding service).
    pub fn new(principal: impl Into<String>) -> Self {
        Self {
            principal: principal.into(),
            via_service: None,
            region: None,
            session: None,
        }
    }

    /// The same principal, signing with the session credentials of `access_key_id`.
    #[must_use]
    pub fn in_session(mut self, access_key_id: impl Into<String>) -> Self {
        self.session = Some(access_key_id.into());
        self
    }

    /// The same principal, calling in `region`.
    #[must_use]
    pub fn in_region(mut self, region: crate::Region) -> Self {
        self.region = Some(region);
        self
    }

    /// The same principal, forwarded by `service` (`kms:ViaService`).
    #[must_use]
    pub fn via(mut self, service: impl Into<String>) -> Self {
        self.via_service = Some(service.into());
        self
    }

    /// The 12-digit account of the principal, if its ARN has one.
    pub fn account(&self) -> Option<&str> {
        crate::id::arn_account(&self.principal)
    }
}

/// The AWS error types KMS answers with (the wire `__type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ErrorType {
    NotFoundException,
    DisabledException,
    KMSInvalidStateException,
    InvalidCiphertextException,
    IncorrectKeyException,
    InvalidKeyUsageException,
    AccessDeniedException,
    MalformedPolicyDocumentException,
    InvalidArnException,
    AlreadyExistsException,
    ValidationException,
    LimitExceededException,
    ThrottlingException,
    KMSInternalException,
    DependencyTimeoutException,
    InvalidGrantTokenException,
    InvalidGrantIdException,
    UnsupportedOperationException,
    ConflictException,
    DryRunOperationException,
    InvalidAliasNameException,
    InvalidMarkerException,
    UnknownOperationException,
    SerializationException,
    UnrecognizedClientException,
    InvalidSignatureException,
    IncompleteSignatureException,
    TagException,
    KMSInvalidSignatureException,
    KMSInvalidMacException,
    ExpiredImportTokenException,
    InvalidImportTokenException,
    IncorrectKeyMaterialException,
    CustomKeyStoreNotFoundException,
    CustomKeyStoreNameInUseException,
    CustomKeyStoreInvalidStateException,
    CustomKeyStoreHasCMKsException,
    CloudHsmClusterInUseException,
    XksProxyUriInUseException,
    XksKeyNotFoundException,
    XksKeyAlreadyInUseException,
}

impl ErrorType {
    /// The wire name (`__type`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NotFoundException => "NotFoundException",
            Self::DisabledException => "DisabledException",
            Self::KMSInvalidStateException => "KMSInvalidStateException",
            Self::InvalidCiphertextException => "InvalidCiphertextException",
            Self::IncorrectKeyException => "IncorrectKeyException",
            Self::InvalidKeyUsageException => "InvalidKeyUsageException",
            Self::AccessDeniedException => "AccessDeniedException",
            Self::MalformedPolicyDocumentException => "MalformedPolicyDocumentException",
            Self::InvalidArnException => "InvalidArnException",
            Self::AlreadyExistsException => "AlreadyExistsException",
            Self::ValidationException => "ValidationException",
            Self::LimitExceededException => "LimitExceededException",
            Self::ThrottlingException => "ThrottlingException",
            Self::KMSInternalException => "KMSInternalException",
            Self::DependencyTimeoutException => "DependencyTimeoutException",
            Self::InvalidGrantTokenException => "InvalidGrantTokenException",
            Self::InvalidGrantIdException => "InvalidGrantIdException",
            Self::UnsupportedOperationException => "UnsupportedOperationException",
            Self::ConflictException => "ConflictException",
            Self::DryRunOperationException => "DryRunOperationException",
            Self::InvalidAliasNameException => "InvalidAliasNameException",
            Self::InvalidMarkerException => "InvalidMarkerException",
            Self::UnknownOperationException => "UnknownOperationException",
            Self::SerializationException => "SerializationException",
            Self::UnrecognizedClientException => "UnrecognizedClientException",
            Self::InvalidSignatureException => "InvalidSignatureException",
            Self::IncompleteSignatureException => "IncompleteSignatureException",
            Self::TagException => "TagException",
            Self::KMSInvalidSignatureException => "KMSInvalidSignatureException",
            Self::KMSInvalidMacException => "KMSInvalidMacException",
            Self::ExpiredImportTokenException => "ExpiredImportTokenException",
            Self::InvalidImportTokenException => "InvalidImportTokenException",
            Self::IncorrectKeyMaterialException => "IncorrectKeyMaterialException",
            Self::CustomKeyStoreNotFoundException => "CustomKeyStoreNotFoundException",
            Self::CustomKeyStoreNameInUseException => "CustomKeyStoreNameInUseException",
            Self::CustomKeyStoreInvalidStateException => "CustomKeyStoreInvalidStateException",
            Self::CustomKeyStoreHasCMKsException => "CustomKeyStoreHasCMKsException",
            Self::CloudHsmClusterInUseException => "CloudHsmClusterInUseException",
            Self::XksProxyUriInUseException => "XksProxyUriInUseException",
            Self::XksKeyNotFoundException => "XksKeyNotFoundException",
            Self::XksKeyAlreadyInUseException => "XksKeyAlreadyInUseException",
        }
    }

    /// Parses a wire name (as botocore does: after the last `#`, before the first `:`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.rsplit('#').next().unwrap_or(name);
        let name = name.split(':').next().unwrap_or(name);
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Every error type.
    pub const ALL: [ErrorType; 41] = [
        Self::NotFoundException,
        Self::DisabledException,
        Self::KMSInvalidStateException,
        Self::InvalidCiphertextException,
        Self::IncorrectKeyException,
        Self::InvalidKeyUsageException,
        Self::AccessDeniedException,
        Self::MalformedPolicyDocumentException,
        Self::InvalidArnException,
        Self::AlreadyExistsException,
        Self::ValidationException,
        Self::LimitExceededException,
        Self::ThrottlingException,
        Self::KMSInternalException,
        Self::DependencyTimeoutException,
        Self::InvalidGrantTokenException,
        Self::InvalidGrantIdException,
        Self::UnsupportedOperationException,
        Self::ConflictException,
        Self::DryRunOperationException,
        Self::InvalidAliasNameException,
        Self::InvalidMarkerException,
        Self::UnknownOperationException,
        Self::SerializationException,
        Self::UnrecognizedClientException,
        Self::InvalidSignatureException,
        Self::IncompleteSignatureException,
        Self::TagException,
        Self::KMSInvalidSignatureException,
        Self::KMSInvalidMacException,
        Self::ExpiredImportTokenException,
        Self::InvalidImportTokenException,
        Self::IncorrectKeyMaterialException,
        Self::CustomKeyStoreNotFoundException,
        Self::CustomKeyStoreNameInUseException,
        Self::CustomKeyStoreInvalidStateException,
        Self::CustomKeyStoreHasCMKsException,
        Self::CloudHsmClusterInUseException,
        Self::XksProxyUriInUseException,
        Self::XksKeyNotFoundException,
        Self::XksKeyAlreadyInUseException,
    ];

    /// The HTTP status the real service sends (docs/kms.md, "The wire"): 500 for internal errors,
    /// 400 for everything else.
    pub fn http_status(self) -> u16 {
        match self {
            Self::KMSInternalException | Self::DependencyTimeoutException => 500,
            Self::UnrecognizedClientException | Self::InvalidSignatureException => 400,
            _ => 400,
        }
    }

    /// Whether a client should retry.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::ThrottlingException
                | Self::KMSInternalException
                | Self::DependencyTimeoutException
        )
    }
}

impl std::fmt::Display for ErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answered by KMS: its wire type and message.
///
/// Messages never carry plaintext, data keys or key material. Crypto failures
/// (`InvalidCiphertextException`) carry no message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
pub struct KmsError {
    /// The wire type.
    pub error_type: ErrorType,
    /// The message, if the real service sends one for this error.
    pub message: Option<String>,
}

impl KmsError {
    /// An error with a message.
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: Some(message.into()),
        }
    }

    /// An error without a message.
    pub fn bare(error_type: ErrorType) -> Self {
        Self {
            error_type,
            message: None,
        }
    }

    /// The opaque crypto failure.
    pub fn invalid_ciphertext() -> Self {
        Self::bare(ErrorType::InvalidCiphertextException)
    }
}
