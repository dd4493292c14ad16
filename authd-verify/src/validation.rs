//! The one check of an access token (RFC 9068), shared by authd's server and
//! the [`Verifier`](crate::Verifier): pure functions of the token, the key
//! its `kid` names, the expected issuer and audience, the time and a leeway.
//!
//! The order of the checks is fixed here: size and shape; `typ` is `at+jwt`;
//! `alg` is not `none`; no `crit`; a `kid`; a known key for it; the header
//! `alg` is the key's; the signature over the signing input; the payload,
//! parsed once by the caller's claims type; `iss`; `aud`; the claims the
//! caller requires; `exp`, `nbf` and `iat` within the leeway.
//!
//! `jku`, `x5u`, `jwk` and `x5c` headers are never read: keys come only from
//! the caller. A caller finds the key itself, so it may do so asynchronously
//! ([`Unverified::parse`], then [`Unverified::verify`]); a caller whose keys
//! are at hand uses [`verify`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The `typ` header authd signs access tokens with (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The accepted `typ` header values, compared case-insensitively.
pub const ACCEPTED_TYPES: [&str; 2] = [ACCESS_TOKEN_TYP, "application/at+jwt"];

/// Why a token failed the check.
///
/// Exhaustive on purpose: each user of this module maps every variant to its
/// own error, and a new check must make each mapping say what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Empty, or longer than [`MAX_TOKEN_BYTES`].
    #[error("empty or too long")]
    Size,
    /// Not a compact JWS, or a header or payload that is not base64url JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The `typ` header is not one of [`ACCEPTED_TYPES`].
    #[error("typ header is not at+jwt")]
    WrongType,
    /// `alg: none`, in any case.
    #[error("unsigned token (alg none)")]
    Unsigned,
    /// A `crit` header: no extension is understood, so none may be required.
    #[error("crit header present")]
    CriticalHeader,
    /// No `kid` header.
    #[error("no kid header")]
    MissingKid,
    /// A `kid` the caller has no key for.
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
    /// The signature could not be checked at all (it is not base64url, say).
    #[error("signature not checkable: {0}")]
    UncheckableSignature(String),
    /// The signature does not verify under the key.
    #[error("invalid signature")]
    InvalidSignature,
    /// The payload is not what the caller's [`TokenClaims`] type parses; the
    /// message is the one that type gave.
    #[error("{0}")]
    InvalidPayload(String),
    /// `iss` is missing or not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is missing or does not name the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// A claim the caller's type requires is missing or of the wrong type.
    #[error("claim {0} missing or of the wrong type")]
    InvalidClaim(&'static str),
    /// `exp` is more than the leeway in the past.
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is more than the leeway in the future.
    #[error("not yet valid")]
    NotYetValid,
}

/// A verification key and the one algorithm it may verify.
#[derive(Clone, Copy)]
pub struct Key<'k> {
    /// The only algorithm a token may use with this key.
    pub alg: Algorithm,
    /// The key itself.
    pub decoding: &'k DecodingKey,
}

/// Tolerated clock skew, in seconds, for each time claim: a token is expired
/// once `exp + exp` is not after now, and not yet valid while `nbf` is after
/// `now + nbf` or `iat` after `now + iat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leeway {
    /// Seconds past `exp` a token is still accepted.
    pub exp: i64,
    /// Seconds before `nbf` a token is already accepted.
    pub nbf: i64,
    /// Seconds `iat` may lie in the future.
    pub iat: i64,
}

impl Leeway {
    /// The same leeway for `exp`, `nbf` and `iat`.
    pub const fn uniform(secs: i64) -> Self {
        Self {
            exp: secs,
            nbf: secs,
            iat: secs,
        }
    }
}

/// What a token must name, and how much clock skew is tolerated.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The exact `iss`.
    pub issuer: &'a str,
    /// The audience `aud` must name.
    pub audience: &'a str,
    /// Tolerated skew on `exp`, `nbf` and `iat`.
    pub leeway: Leeway,
}

/// The time claims of a token, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// Expiry.
    pub exp: i64,
    /// Not before, when present.
    pub nbf: Option<i64>,
    /// Issued at.
    pub iat: i64,
}

/// A caller's claims type: how the payload is parsed (once), and what the
/// check reads from it.
///
/// The payload is parsed into [`Payload`](TokenClaims::Payload) first; `iss`
/// and `aud` are read from that; only then is it turned into the claims, so
/// a token from another issuer is refused as such even if its other claims
/// are not the caller's.
pub trait TokenClaims: Sized {
    /// The payload as parsed, before issuer and audience are checked (`Self`
    /// when one parse yields the claims directly).
    type Payload;

    /// Parses the decoded payload; the error message becomes
    /// [`ValidationError::InvalidPayload`].
    fn parse(json: &[u8]) -> Result<Self::Payload, String>;

    /// The payload's `iss`, if it has one that is a string.
    fn issuer(payload: &Self::Payload) -> Option<&str>;

    /// Whether the payload's `aud` names `audience`.
    fn has_audience(payload: &Self::Payload, audience: &str) -> bool;

    /// The claims, or the name of a required claim that is missing or of the
    /// wrong type (it becomes [`ValidationError::InvalidClaim`]).
    fn from_payload(payload: Self::Payload) -> Result<Self, &'static str>;

    /// The time claims the leeway applies to.
    fn times(&self) -> Times;
}

/// The header fields the check reads; every other one is ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<IgnoredAny>,
}

/// A token whose header passed the checks that need no key; nothing about it
/// is verified yet. No `Debug`: it holds the whole token, a bearer credential.
pub struct Unverified<'t> {
    alg: String,
    kid: String,
    /// `header.payload`, still base64url: what the signature covers.
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

impl<'t> Unverified<'t> {
    /// Checks size and shape, parses the header, and checks `typ`, `alg`
    /// (not `none`), `crit` and that there is a `kid`.
    pub fn parse(token: &'t str) -> Result<Self, ValidationError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(ValidationError::Size);
        }
        let malformed = || ValidationError::Malformed("not three dot-separated parts".into());
        let (signing_input, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or_else(malformed)?;
        if payload.contains('.') {
            return Err(malformed());
        }
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| ValidationError::Malformed("header is not base64url".into()))?;
        let header: Header = serde_json::from_slice(&header)
            .map_err(|e| ValidationError::Malformed(format!("header is not a JWS header: {e}")))?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| ACCEPTED_TYPES.iter().any(|a| t.eq_ignore_ascii_case(a)));
        if !typ_ok {
            return Err(ValidationError::WrongType);
        }
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(ValidationError::Unsigned);
        }
        if header.crit.is_some() {
            return Err(ValidationError::CriticalHeader);
        }
        let kid = header.kid.ok_or(ValidationError::MissingKid)?;
        Ok(Self {
            alg: header.alg,
            kid,
            signing_input,
            payload,
            signature,
        })
    }

    /// The `kid` header: the caller looks up the key it names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Finishes the check with the key the `kid` names (`None`: no such
    /// key), at `now` (Unix seconds): the algorithm, the signature, then the
    /// claims.
    pub fn verify<C: TokenClaims>(
        self,
        key: Option<Key<'_>>,
        expected: &Expected<'_>,
        now: i64,
    ) -> Result<C, ValidationError> {
        let key = key.ok_or(ValidationError::UnknownKey(self.kid))?;
        // Parsed by jsonwebtoken's own names (case-sensitive), never chosen
        // by the token: the key fixes the algorithm.
        let pinned = self
            .alg
            .parse::<Algorithm>()
            .is_ok_and(|alg| alg == key.alg);
        if !pinned {
            return Err(ValidationError::AlgorithmMismatch {
                token: self.alg,
                // Algorithm's Debug form is its JOSE name.
                key: format!("{:?}", key.alg),
            });
        }
        // Only the signature is left to jsonwebtoken, under the key's own
        // algorithm: its `decode` would parse the header twice more and the
        // payload twice, which doubled the cost of a check.
        let signed = jsonwebtoken::crypto::verify(
            self.signature,
            self.signing_input.as_bytes(),
            key.decoding,
            key.alg,
        )
        .map_err(|e| ValidationError::UncheckableSignature(e.to_string()))?;
        if !signed {
            return Err(ValidationError::InvalidSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(self.payload)
            .map_err(|_| ValidationError::Malformed("payload is not base64url".into()))?;
        let payload = C::parse(&payload).map_err(ValidationError::InvalidPayload)?;
        check_claims(payload, expected, now)
    }
}

/// The whole check, for a caller whose keys are at hand: `key` finds the key
/// a `kid` names.
pub fn verify<'k, C: TokenClaims>(
    token: &str,
    key: impl FnOnce(&str) -> Option<Key<'k>>,
    expected: &Expected<'_>,
    now: i64,
) -> Result<C, ValidationError> {
    let token = Unverified::parse(token)?;
    let key = key(token.kid());
    token.verify(key, expected, now)
}

/// `iss`, `aud`, the caller's required claims, then the times.
fn check_claims<C: TokenClaims>(
    payload: C::Payload,
    expected: &Expected<'_>,
    now: i64,
) -> Result<C, ValidationError> {
    if C::issuer(&payload) != Some(expected.issuer) {
        return Err(ValidationError::WrongIssuer);
    }
    if !C::has_audience(&payload, expected.audience) {
        return Err(ValidationError::WrongAudience);
    }
    let claims = C::from_payload(payload).map_err(ValidationError::InvalidClaim)?;
    check_times(claims.times(), expected.leeway, now)?;
    Ok(claims)
}

/// `exp`, `nbf` and `iat` at `now`, each within its leeway.
pub fn check_times(times: Times, leeway: Leeway, now: i64) -> Result<(), ValidationError> {
    if times.exp.saturating_add(leeway.exp) <= now {
        return Err(ValidationError::Expired);
    }
    let early_nbf = times
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway.nbf));
    if early_nbf || times.iat > now.saturating_add(leeway.iat) {
        return Err(ValidationError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header as JwtHeader};
    use serde_json::{Value, json};

    use super::*;
    use crate::Claims;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://auth.test";

    /// A typed claims type parsed in one step, as authd's server has.
    #[derive(Debug, Deserialize)]
    struct Typed {
        iss: String,
        aud: String,
        exp: i64,
        iat: i64,
        nbf: Option<i64>,
    }

    impl TokenClaims for Typed {
        type Payload = Self;
        fn parse(json: &[u8]) -> Result<Self, String> {
            serde_json::from_slice(json).map_err(|e| format!("claims: {e}"))
        }
        fn issuer(payload: &Self) -> Option<&str> {
            Some(&payload.iss)
        }
        fn has_audience(payload: &Self, audience: &str) -> bool {
            payload.aud == audience
        }
        fn from_payload(payload: Self) -> Result<Self, &'static str> {
            Ok(payload)
        }
        fn times(&self) -> Times {
            Times {
                exp: self.exp,
                nbf: self.nbf,
                iat: self.iat,
            }
        }
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "aud": "authd", "sub": "u", "client_id": "authd",
            "jti": "j", "iat": NOW, "exp": NOW + 900,
        })
    }

    fn token(kid: &str, claims: &Value) -> String {
        let mut header = JwtHeader::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    fn check<C: TokenClaims>(
        token: &str,
        alg: Algorithm,
        leeway: Leeway,
    ) -> Result<C, ValidationError> {
        let decoding = DecodingKey::from_secret(SECRET);
        let expected = Expected {
            issuer: ISSUER,
            audience: "authd",
            leeway,
        };
        verify(
            token,
            |kid| {
                (kid == "k").then_some(Key {
                    alg,
                    decoding: &decoding,
                })
            },
            &expected,
            NOW,
        )
    }

    /// authd's own leeway: none on `exp` and `nbf`, 60 s on `iat`.
    const SERVER: Leeway = Leeway {
        exp: 0,
        nbf: 0,
        iat: 60,
    };

    #[test]
    fn each_time_claim_has_its_own_leeway() {
        let at = |field: &str, value: i64| {
            let mut c = claims();
            c[field] = json!(value);
            check::<Typed>(&token("k", &c), Algorithm::HS256, SERVER).map(|_| ())
        };
        assert_eq!(at("exp", NOW), Err(ValidationError::Expired));
        assert_eq!(at("exp", NOW + 1), Ok(()));
        assert_eq!(at("nbf", NOW + 1), Err(ValidationError::NotYetValid));
        assert_eq!(at("nbf", NOW), Ok(()));
        assert_eq!(at("iat", NOW + 61), Err(ValidationError::NotYetValid));
        assert_eq!(at("iat", NOW + 60), Ok(()));

        let mut c = claims();
        c["exp"] = json!(NOW - 29);
        c["nbf"] = json!(NOW + 30);
        let lenient = check::<Typed>(&token("k", &c), Algorithm::HS256, Leeway::uniform(30));
        assert!(lenient.is_ok(), "{lenient:?}");
        c["exp"] = json!(NOW - 30);
        let late = check::<Typed>(&token("k", &c), Algorithm::HS256, Leeway::uniform(30));
        assert_eq!(late.map(|_| ()), Err(ValidationError::Expired));
    }

    #[test]
    fn the_issuer_is_checked_before_the_claims_type_reads_its_claims() {
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        c.as_object_mut().unwrap().remove("sub");
        let result = check::<Claims>(&token("k", &c), Algorithm::HS256, SERVER);
        assert_eq!(result, Err(ValidationError::WrongIssuer));
        c["iss"] = json!(ISSUER);
        let result = check::<Claims>(&token("k", &c), Algorithm::HS256, SERVER);
        assert_eq!(result, Err(ValidationError::InvalidClaim("sub")));
    }

    #[test]
    fn a_payload_the_claims_type_cannot_parse_is_refused_with_its_message() {
        let mut c = claims();
        c["aud"] = json!(["authd"]);
        match check::<Typed>(&token("k", &c), Algorithm::HS256, SERVER) {
            Err(ValidationError::InvalidPayload(message)) => {
                assert!(message.starts_with("claims: "), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_fixes_the_algorithm_and_an_unknown_kid_is_named() {
        let good = token("k", &claims());
        assert_eq!(
            check::<Typed>(&good, Algorithm::HS384, SERVER).map(|_| ()),
            Err(ValidationError::AlgorithmMismatch {
                token: "HS256".into(),
                key: "HS384".into()
            })
        );
        let stranger = token("other", &claims());
        assert_eq!(
            check::<Typed>(&stranger, Algorithm::HS256, SERVER).map(|_| ()),
            Err(ValidationError::UnknownKey("other".into()))
        );
    }

    #[test]
    fn header_checks_come_before_any_key_is_looked_up() {
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let body = b64(claims());
        let with_header = |h: Value| format!("{}.{body}.c2ln", b64(h));
        let cases = [
            (
                json!({"alg": "nOnE", "typ": "at+jwt", "kid": "k"}),
                ValidationError::Unsigned,
            ),
            (
                json!({"alg": "HS256", "typ": "JWT", "kid": "k"}),
                ValidationError::WrongType,
            ),
            (
                json!({"alg": "HS256", "typ": "at+jwt", "kid": "k", "crit": ["exp"]}),
                ValidationError::CriticalHeader,
            ),
            (
                json!({"alg": "HS256", "typ": "application/AT+JWT"}),
                ValidationError::MissingKid,
            ),
        ];
        for (header, error) in cases {
            let token = with_header(header.clone());
            assert_eq!(
                Unverified::parse(&token).map(|_| ()),
                Err(error),
                "{header}"
            );
        }
        assert_eq!(
            Unverified::parse("").map(|_| ()),
            Err(ValidationError::Size)
        );
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            Unverified::parse(&long).map(|_| ()),
            Err(ValidationError::Size)
        );
        for token in ["abc", "a.b", "a.b.c.d"] {
            assert!(matches!(
                Unverified::parse(token),
                Err(ValidationError::Malformed(_))
            ));
        }
    }
}
