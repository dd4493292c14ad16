//! Access tokens: RFC 9068 JWTs signed with the active key and verified with
//! the key their `kid` names, under that key's algorithm only, by the same
//! check `authd-verify` runs in other services (`authd_verify::validation`).

use std::sync::Arc;

use authd_verify::validation::{self, Expected, Key, Leeway, Times, TokenClaims, ValidationError};
use chrono::{DateTime, Utc};
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::keys::KeySet;

/// The `typ` header of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = validation::ACCESS_TOKEN_TYP;
/// Longer strings are not even parsed.
pub const MAX_TOKEN_BYTES: usize = validation::MAX_TOKEN_BYTES;
/// authd's own tolerance on the times of the tokens it verifies: none on
/// `exp` (a token is refused from its `exp` second on) and `nbf`, 60 s of
/// clock skew on `iat`.
pub const LEEWAY: Leeway = Leeway {
    exp: 0,
    nbf: 0,
    iat: 60,
};
/// How long past `exp` a verifier allowing for clock skew may still accept a
/// token. The revocation feed lists a revoked session, and the cleanup sweep
/// keeps it, until no token of it can be accepted anywhere.
pub const VERIFIER_SKEW_SECS: i64 = 60;

/// The claims of an access token. A user's token has the user id as `sub`,
/// its session as `sid`, the session's start (the login) as `auth_time`
/// (OpenID Connect's claim) and how the user signed in as `amr` (RFC 8176:
/// `["pwd"]` or `["otp"]`); a machine client's token (client credentials)
/// has the client id as `sub` and `client_id`, a `scope`, and none of them.
/// A user's token obtained by a client (an app the user signed in to through
/// authd) has all of a user's, the client as `client_id` and the granted
/// `scope`; authd's own token has `jwt.client_id` and no `scope`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// When the session started (Unix seconds); the same in every token of
    /// the session, which is what the revocation feed's user entries compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Authentication methods (RFC 8176): the session's sign-in method, the
    /// same in every token of the session; empty (absent) in a client's token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The level the sign-in reached ([`acr_of`]); absent in a client's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Every other claim: in a user's token, what the account carries under
    /// the configured names (`tokens.roles_claim`, `tokens.app_metadata_claim`;
    /// `accounts::claims`), which never take one of the names above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `acr` of a user's sign-in with the RFC 8176 methods `amr`: `"2"` with
/// a second factor (`mfa`), `"1"` otherwise (README, "Second factors").
pub fn acr_of(amr: &[String]) -> String {
    if amr.iter().any(|m| m == "mfa") {
        "2"
    } else {
        "1"
    }
    .to_owned()
}

impl AccessClaims {
    /// The user and session of a user's token; `None` for a client's token.
    pub fn user_session(&self) -> Option<(Uuid, Uuid)> {
        Some((Uuid::parse_str(&self.sub).ok()?, self.sid?))
    }
}

/// The payload is parsed once, straight into `AccessClaims`: every claim but
/// `nbf`, `sid`, `auth_time`, `scope` and `amr` is required, and `aud` is one string. Unknown
/// claims are kept in `extra`, never refused: a newer authd sharing the keys
/// during a rolling upgrade may add one, and its tokens must still verify here.
impl TokenClaims for AccessClaims {
    type Payload = Self;

    fn parse(json: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(json).map_err(|e| format!("claims: {e}"))
    }

    fn issuer(claims: &Self) -> Option<&str> {
        Some(&claims.iss)
    }

    fn has_audience(claims: &Self, audience: &str) -> bool {
        claims.aud == audience
    }

    fn from_payload(claims: Self) -> Result<Self, &'static str> {
        Ok(claims)
    }

    fn times(&self) -> Times {
        Times {
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
        }
    }
}

/// Why a presented access token was refused. Logged, never sent to the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is empty or too long")]
    Size,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("typ header is not at+jwt")]
    WrongType,
    #[error("no kid, or a kid authd does not know")]
    UnknownKey,
    #[error("crit header present")]
    Critical,
    #[error("signature, algorithm or claims rejected: {0}")]
    Rejected(String),
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

impl From<ValidationError> for TokenError {
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::Size => Self::Size,
            ValidationError::Malformed(reason) => Self::Malformed(reason),
            ValidationError::Unsigned => Self::Malformed("alg none".into()),
            ValidationError::WrongType => Self::WrongType,
            ValidationError::CriticalHeader => Self::Critical,
            ValidationError::MissingKid | ValidationError::UnknownKey(_) => Self::UnknownKey,
            ValidationError::AlgorithmMismatch { .. } => {
                Self::Rejected("the token's alg is not its key's".into())
            }
            ValidationError::UncheckableSignature(reason)
            | ValidationError::InvalidPayload(reason) => Self::Rejected(reason),
            ValidationError::InvalidSignature => Self::Rejected("invalid signature".into()),
            ValidationError::WrongIssuer => Self::Rejected("wrong issuer".into()),
            ValidationError::WrongAudience => Self::Rejected("wrong audience".into()),
            ValidationError::InvalidClaim(name) => Self::Rejected(format!("claims: {name}")),
            ValidationError::Expired => Self::Expired,
            ValidationError::NotYetValid => Self::NotYetValid,
        }
    }
}

/// Signs and verifies access tokens.
pub struct AccessTokens {
    keys: Arc<KeySet>,
    issuer: String,
    audience: String,
    client_id: String,
    ttl: chrono::Duration,
}

/// What a user's token obtained by a client says: whose, which session (its
/// start and methods), which client, which scopes (space-separated).
pub struct ClientUserGrant<'a> {
    pub user: Uuid,
    pub session: Uuid,
    pub started: DateTime<Utc>,
    /// RFC 8176 values.
    pub amr: &'a [String],
    pub client_id: &'a str,
    pub scope: &'a str,
    /// The client's own lifetime; only a shorter one than the server's is
    /// kept, so the revocation feed's horizon holds for every token.
    pub ttl: Option<chrono::Duration>,
    /// The claims from the account (`accounts::claims`).
    pub extra: &'a Map<String, Value>,
}

/// A freshly signed access token.
pub struct SignedAccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl AccessTokens {
    pub fn new(
        keys: Arc<KeySet>,
        issuer: &str,
        audience: &str,
        client_id: &str,
        ttl_secs: u64,
    ) -> Self {
        Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            client_id: client_id.to_owned(),
            ttl: chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2)),
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn ttl(&self) -> chrono::Duration {
        self.ttl
    }

    /// How long after it is issued a token may still be accepted by some
    /// verifier: its lifetime plus [`VERIFIER_SKEW_SECS`].
    pub fn max_acceptance(&self) -> chrono::Duration {
        self.ttl + chrono::Duration::seconds(VERIFIER_SKEW_SECS)
    }

    /// A user's token for one of its sessions, which started at `started`
    /// with a sign-in by `method` (an RFC 8176 value: `pwd`, `otp`), with
    /// the claims from the account `extra` (`accounts::claims`).
    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        started: DateTime<Utc>,
        amr: Vec<String>,
        extra: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<SignedAccessToken, jsonwebtoken::errors::Error> {
        self.sign(AccessClaims {
            iss: self.issuer.clone(),
            sub: user.to_string(),
            aud: self.audience.clone(),
            exp: (now + self.ttl).timestamp(),
            iat: now.timestamp(),
            nbf: None,
            jti: Uuid::new_v4(),
            sid: Some(session),
            auth_time: Some(started.timestamp()),
            client_id: self.client_id.clone(),
            scope: None,
            acr: Some(acr_of(&amr)),
            amr,
            extra,
        })
    }

    /// The `iss` of every token authd signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A machine client's token (client credentials): `sub` is the client,
    /// there is no session, and `scope` lists what it was granted.
    pub fn issue_client(
        &self,
        client_id: &str,
        scope: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<SignedAccessToken, jsonwebtoken::errors::Error> {
        self.sign(AccessClaims {
            iss: self.issuer.clone(),
            sub: client_id.to_owned(),
            aud: self.audience.clone(),
            exp: (now + self.ttl).timestamp(),
            iat: now.timestamp(),
            nbf: None,
            jti: Uuid::new_v4(),
            sid: None,
            auth_time: None,
            client_id: client_id.to_owned(),
            scope,
            amr: Vec::new(),
            acr: None,
            extra: Map::new(),
        })
    }

    /// A user's token obtained by a client (RFC 9068): the user's `sub`,
    /// `sid`, `auth_time` and `amr` as in authd's own token, with the
    /// client's id as `client_id` and the granted scopes as `scope`, for the
    /// configured audience, so other services verify it as any other.
    pub fn issue_for_client(
        &self,
        grant: &ClientUserGrant<'_>,
        now: DateTime<Utc>,
    ) -> Result<SignedAccessToken, jsonwebtoken::errors::Error> {
        let ttl = grant.ttl.map_or(self.ttl, |ttl| ttl.min(self.ttl));
        self.sign(AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.user.to_string(),
            aud: self.audience.clone(),
            exp: (now + ttl).timestamp(),
            iat: now.timestamp(),
            nbf: None,
            jti: Uuid::new_v4(),
            sid: Some(grant.session),
            auth_time: Some(grant.started.timestamp()),
            client_id: grant.client_id.to_owned(),
            scope: Some(grant.scope.to_owned()),
            amr: grant.amr.to_vec(),
            acr: Some(acr_of(grant.amr)),
            extra: grant.extra.clone(),
        })
    }

    /// The user and session of authd's own user token (its `client_id` is
    /// `jwt.client_id`); `None` for a machine client's token and for a token
    /// a client obtained for its user, which authd's account endpoints refuse.
    pub fn first_party_user(&self, claims: &AccessClaims) -> Option<(Uuid, Uuid)> {
        if claims.client_id != self.client_id {
            return None;
        }
        claims.user_session()
    }

    fn sign(&self, claims: AccessClaims) -> Result<SignedAccessToken, jsonwebtoken::errors::Error> {
        let key = self.keys.signer();
        let mut header = Header::new(key.alg);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid.clone());
        let encoding = key.encoding().ok_or_else(|| {
            jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)
        })?;
        let token = jsonwebtoken::encode(&header, &claims, encoding)?;
        Ok(SignedAccessToken {
            token,
            expires_in: claims.exp - claims.iat,
        })
    }

    /// Verifies signature, algorithm, `typ`, `iss`, `aud`, `exp`, `nbf`, at `now`,
    /// with [`LEEWAY`].
    ///
    /// The algorithm comes from the key that `kid` names, never from the token:
    /// `alg: none` cannot be expressed, and a token whose `alg` differs from its
    /// key's (HS256 signed with a published RSA key, say) is refused.
    /// `jku`, `x5u`, `jwk` and `x5c` headers are ignored: keys come only from
    /// authd's own configuration.
    ///
    /// The header and the payload are each parsed once, and only the
    /// signature is left to jsonwebtoken (its `decode` would parse the header
    /// twice more and the payload twice: it doubled the cost).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let expected = Expected {
            issuer: &self.issuer,
            audience: &self.audience,
            leeway: LEEWAY,
        };
        let key = |kid: &str| {
            self.keys.get(kid).map(|key| Key {
                alg: key.alg,
                decoding: &key.decoding,
            })
        };
        Ok(validation::verify(token, key, &expected, now.timestamp())?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::json;

    use super::*;
    use crate::keys::{KeyMaterial, key_from_material};

    const SECRET: &[u8] = b"a unit-test HS256 secret of 32+ bytes";

    fn tokens() -> AccessTokens {
        let key =
            key_from_material("k", Algorithm::HS256, KeyMaterial::Secret(SECRET), "test").unwrap();
        let keys = KeySet::new(vec![key], None).unwrap();
        AccessTokens::new(Arc::new(keys), "https://auth.test", "authd", "authd", 900)
    }

    /// `claims` signed with the test key, under `header`'s fields.
    fn raw(header: Value, claims: &Value) -> String {
        let mut full = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k"});
        for (name, value) in header.as_object().unwrap() {
            full[name] = value.clone();
        }
        let header: Header = serde_json::from_value(full).unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    #[test]
    fn authd_allows_no_leeway_on_exp_and_sixty_seconds_on_iat() {
        let tokens = tokens();
        let t = Utc::now();
        let token = tokens
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                t,
                vec!["pwd".into()],
                Map::new(),
                t,
            )
            .unwrap()
            .token;
        let at = |secs: i64| {
            tokens
                .verify(&token, t + Duration::seconds(secs))
                .map(|_| ())
        };

        assert_eq!(at(899), Ok(()));
        assert_eq!(at(900), Err(TokenError::Expired), "refused from exp on");
        assert_eq!(at(-60), Ok(()), "iat up to 60 s ahead");
        assert_eq!(at(-61), Err(TokenError::NotYetValid));
    }

    #[test]
    fn authd_allows_no_leeway_on_nbf() {
        let tokens = tokens();
        let t = Utc::now();
        let token = tokens
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                t,
                vec!["pwd".into()],
                Map::new(),
                t,
            )
            .unwrap()
            .token;
        let mut claims = tokens.verify(&token, t).unwrap();
        claims.nbf = Some(t.timestamp() + 1);
        let token = tokens.sign(claims).unwrap().token;

        assert_eq!(tokens.verify(&token, t), Err(TokenError::NotYetValid));
        let later = t + Duration::seconds(1);
        assert!(tokens.verify(&token, later).is_ok());
    }

    #[test]
    fn a_clients_user_token_carries_its_client_and_scope_and_is_not_first_party() {
        let tokens = tokens();
        let t = Utc::now();
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let amr = vec!["pwd".to_owned(), "otp".to_owned()];
        let extra = json!({ "roles": ["admin"], "https://example.com/meta": { "plan": "pro" } })
            .as_object()
            .cloned()
            .unwrap();
        let grant = ClientUserGrant {
            user,
            session,
            started: t - Duration::seconds(30),
            amr: &amr,
            client_id: "app-1",
            scope: "openid email",
            ttl: None,
            extra: &extra,
        };
        let token = tokens.issue_for_client(&grant, t).unwrap().token;
        let claims = tokens.verify(&token, t).unwrap();
        // The claims from the account come back as they went in.
        assert_eq!(claims.extra, extra);

        assert_eq!(claims.sub, user.to_string());
        assert_eq!(claims.sid, Some(session));
        assert_eq!(claims.client_id, "app-1");
        assert_eq!(claims.scope.as_deref(), Some("openid email"));
        assert_eq!(claims.aud, "authd");
        assert_eq!(claims.auth_time, Some(t.timestamp() - 30));
        assert_eq!(claims.amr, amr);
        assert_eq!(claims.user_session(), Some((user, session)));
        assert_eq!(tokens.first_party_user(&claims), None);

        let own = tokens
            .issue(user, session, t, vec!["pwd".into()], Map::new(), t)
            .unwrap()
            .token;
        let own = tokens.verify(&own, t).unwrap();
        assert_eq!(tokens.first_party_user(&own), Some((user, session)));
        assert_eq!(own.scope, None, "first-party tokens unchanged");
    }

    #[test]
    fn shared_check_refusals_keep_their_token_error() {
        let tokens = tokens();
        let t = Utc::now();
        let good = tokens
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                t,
                vec!["pwd".into()],
                Map::new(),
                t,
            )
            .unwrap()
            .token;
        let claims = serde_json::to_value(tokens.verify(&good, t).unwrap()).unwrap();
        let with = |name: &str, value: Value| {
            let mut claims = claims.clone();
            claims[name] = value;
            claims
        };
        let verify = |token: &str| tokens.verify(token, t);
        let rejected = |result: Result<AccessClaims, TokenError>, starts: &str| match result {
            Err(TokenError::Rejected(reason)) => assert!(reason.starts_with(starts), "{reason}"),
            other => panic!("{other:?}"),
        };

        assert_eq!(verify(""), Err(TokenError::Size));
        assert!(matches!(verify("a.b"), Err(TokenError::Malformed(_))));
        assert_eq!(
            verify(&raw(json!({"typ": "JWT"}), &claims)),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            verify(&raw(json!({"crit": ["exp"]}), &claims)),
            Err(TokenError::Critical)
        );
        assert_eq!(
            verify(&raw(json!({"kid": "other"}), &claims)),
            Err(TokenError::UnknownKey)
        );
        assert_eq!(
            verify(&raw(json!({"kid": null}), &claims)),
            Err(TokenError::UnknownKey)
        );
        rejected(
            verify(&raw(json!({"alg": "HS384"}), &claims)),
            "the token's alg",
        );
        rejected(
            verify(&raw(json!({}), &with("iss", json!("x")))),
            "wrong issuer",
        );
        rejected(
            verify(&raw(json!({}), &with("aud", json!("x")))),
            "wrong audience",
        );
        rejected(
            verify(&raw(json!({}), &with("aud", json!(["authd"])))),
            "claims: ",
        );
        // A claim authd does not know (a newer instance's) is ignored; a
        // required one is still required.
        assert!(verify(&raw(json!({}), &with("extra", json!(1)))).is_ok());
        let mut without_jti = claims.clone();
        without_jti.as_object_mut().unwrap().remove("jti");
        rejected(
            verify(&raw(json!({}), &without_jti)),
            "claims: missing field `jti`",
        );
        let (signed, _) = good.rsplit_once('.').unwrap();
        rejected(verify(&format!("{signed}.")), "invalid signature");
    }
}
