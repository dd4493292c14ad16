//! Why a token was refused, and why a verifier could not be built.

use crate::validation::ValidationError;

/// Why a presented access token was refused.
///
/// Meant for logs and metrics: tell the client only that the token is invalid
/// (the [`Authenticated`](crate::Authenticated) extractor does exactly that).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Empty, longer than [`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES), not a
    /// compact JWS, or a header or payload that is not the JSON it should be.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The `typ` header is not `at+jwt` (RFC 9068): an ID token or some other
    /// JWT signed by the same keys must not pass as an access token.
    #[error("typ header is not at+jwt")]
    WrongType,
    /// `alg: none`.
    #[error("unsigned token (alg none)")]
    Unsigned,
    /// A `crit` header: no extension is understood, so none may be required.
    #[error("crit header present")]
    CriticalHeader,
    /// No `kid` header.
    #[error("no kid header")]
    MissingKid,
    /// A `kid` that is neither in the JWKS (even after the rate-limited
    /// refetch) nor a configured shared secret.
    #[error("unknown kid {0:?}")]
    UnknownKey(String),
    /// The header's `alg` differs from the algorithm the key is pinned to.
    #[error("header alg {token} differs from the key's {key}")]
    AlgorithmMismatch {
        /// The `alg` the token claims.
        token: String,
        /// The algorithm of the key its `kid` names.
        key: String,
    },
    /// The signature does not verify under the key.
    #[error("invalid signature")]
    InvalidSignature,
    /// `iss` is missing or not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is missing or does not contain the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `exp` is more than the leeway in the past.
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is more than the leeway in the future.
    #[error("not yet valid")]
    NotYetValid,
    /// A claim RFC 9068 requires is missing or has the wrong JSON type.
    #[error("claim {0} missing or of the wrong type")]
    InvalidClaim(&'static str),
    /// The token's session (`sid`) is in the revocation feed.
    #[error("session revoked")]
    Revoked,
    /// The JWKS keys outlived their cache lifetime by more than
    /// [`max_key_staleness`](crate::VerifierBuilder::max_key_staleness), every
    /// refresh since having failed: no token is verified with them until a
    /// refresh succeeds. Not the token's fault: the extractors answer 503.
    #[error("the JWKS keys are stale: no refresh has succeeded within max_key_staleness")]
    StaleKeys,
    /// No poll of the revocation feed has succeeded for longer than
    /// [`max_revocation_staleness`](crate::VerifierBuilder::max_revocation_staleness),
    /// so revocations may be missing: user tokens are refused until a poll
    /// succeeds. Not the token's fault: the extractors answer 503.
    #[error(
        "the revocation list is stale: no feed poll has succeeded within max_revocation_staleness"
    )]
    StaleRevocations,
}

impl VerifyError {
    /// Whether the refusal says nothing about the token, only that this
    /// verifier cannot vouch for tokens right now (its keys or its revocation
    /// list are past their bound): [`StaleKeys`](Self::StaleKeys) and
    /// [`StaleRevocations`](Self::StaleRevocations). Answer these like an
    /// outage (503), not like a bad token (401), so clients do not drop a
    /// good session over it.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::StaleKeys | Self::StaleRevocations)
    }
}

impl From<ValidationError> for VerifyError {
    /// Every check but revocation is the shared one; its refusals keep their
    /// reason, except that size, signature-encoding and payload-parse failures
    /// are all `Malformed` here.
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::Size => Self::Malformed("empty or too long".into()),
            ValidationError::Malformed(reason)
            | ValidationError::UncheckableSignature(reason)
            | ValidationError::InvalidPayload(reason) => Self::Malformed(reason),
            ValidationError::WrongType => Self::WrongType,
            ValidationError::Unsigned => Self::Unsigned,
            ValidationError::CriticalHeader => Self::CriticalHeader,
            ValidationError::MissingKid => Self::MissingKid,
            ValidationError::UnknownKey(kid) => Self::UnknownKey(kid),
            ValidationError::AlgorithmMismatch { token, key } => {
                Self::AlgorithmMismatch { token, key }
            }
            ValidationError::InvalidSignature => Self::InvalidSignature,
            ValidationError::WrongIssuer => Self::WrongIssuer,
            ValidationError::WrongAudience => Self::WrongAudience,
            ValidationError::InvalidClaim(name) => Self::InvalidClaim(name),
            ValidationError::Expired => Self::Expired,
            ValidationError::NotYetValid => Self::NotYetValid,
        }
    }
}

/// Why [`VerifierBuilder::build`](crate::VerifierBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The settings contradict each other or are out of range.
    #[error("invalid verifier settings: {0}")]
    Config(String),
    /// The issuer, or a URL to be fetched (configured or discovered), is not
    /// `https` and not `http` to a loopback host, and
    /// [`allow_insecure_http`](crate::VerifierBuilder::allow_insecure_http)
    /// was not set.
    #[error("insecure transport: {0}")]
    InsecureTransport(String),
    /// The discovery document could not be fetched, parsed or trusted.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The first JWKS fetch failed.
    #[error("fetching the JWKS failed: {0}")]
    Jwks(String),
    /// The first poll of the revocation feed failed (wrong client
    /// credentials, say).
    #[error("polling the revocation feed failed: {0}")]
    Revocation(String),
}
