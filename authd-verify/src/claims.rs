//! The claims of a verified access token.

use serde_json::{Map, Value};

use crate::validation::{Times, TokenClaims};

/// The claims of a verified access token (RFC 9068 plus authd's `sid`).
///
/// User tokens carry a `sid` (the session) and `client_id` "authd" by default;
/// a user token an app obtained through authd (signing its user in with
/// OpenID Connect) carries the app's `client_id` and the `scope` the user
/// granted it (check it with [`Claims::has_scope`]); client-credentials tokens
/// have `sub == client_id`, maybe a `scope`, and no `sid`. Claims this struct does not name are kept in [`Claims::raw`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The subject: a user's UUID, or a client id for service tokens.
    pub sub: String,
    /// The session the token belongs to (a UUID); `None` for service tokens.
    pub sid: Option<String>,
    /// The client the token was issued to: authd's own (`"authd"` by
    /// default) for its users' sign-ins, or the app a user signed in to.
    pub client_id: String,
    /// Space-separated scopes, if any. See [`Claims::has_scope`].
    pub scope: Option<String>,
    /// The issuer (equal to the configured one).
    pub iss: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Not-before time, Unix seconds, when present.
    pub nbf: Option<i64>,
    /// When the token's session started (the login), Unix seconds: the same
    /// in every token of a session. authd puts it in users' tokens; `None`
    /// in service tokens (and in users' tokens of authd versions before it).
    pub auth_time: Option<i64>,
    /// How the user signed in to the token's session (RFC 8176): `["pwd"]`
    /// for a password, `["otp"]` for a one-time code sent by email; the same
    /// in every token of a session. Empty in service tokens (and in users'
    /// tokens of authd versions before it). See [`Claims::has_amr`].
    pub amr: Vec<String>,
    /// The level the sign-in reached: `"2"` with a second factor, `"1"`
    /// without; `None` in service tokens (and in users' tokens of authd
    /// versions before it). See [`Claims::has_second_factor`].
    pub acr: Option<String>,
    /// The token's unique id.
    pub jti: String,
    /// Every claim of the token, including the ones above.
    pub raw: Map<String, Value>,
}

impl Claims {
    /// Whether `scope` lists `wanted` (exact match of one space-separated item).
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scopes().any(|s| s == wanted)
    }

    /// The items of `scope`, in order; empty when there is no `scope`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }

    /// Whether `amr` lists `method` (`"pwd"`, `"otp"`): a service that wants
    /// a password sign-in for an action can ask.
    pub fn has_amr(&self, method: &str) -> bool {
        self.amr.iter().any(|m| m == method)
    }

    /// Whether the user signed in to the token's session with a second
    /// factor (`amr` lists `mfa`, `acr` is `"2"`): a service that demands
    /// one for an action asks this.
    pub fn has_second_factor(&self) -> bool {
        self.has_amr("mfa") && self.acr.as_deref() == Some("2")
    }

    /// Whether the token was issued to a user session (it has a `sid`), as
    /// opposed to a service (client-credentials) token.
    pub fn is_user(&self) -> bool {
        self.sid.is_some()
    }
}

/// The payload is parsed once into a JSON object; `iss` and `aud` are read
/// from it, then the typed claims. Unknown claims are kept in `raw`.
impl TokenClaims for Claims {
    type Payload = Map<String, Value>;

    fn parse(json: &[u8]) -> Result<Self::Payload, String> {
        serde_json::from_slice(json).map_err(|e| format!("payload is not a JSON object: {e}"))
    }

    fn issuer(raw: &Self::Payload) -> Option<&str> {
        raw.get("iss").and_then(Value::as_str)
    }

    /// `aud` is one string or an array of them (RFC 7519 section 4.1.3).
    fn has_audience(raw: &Self::Payload, audience: &str) -> bool {
        match raw.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        }
    }

    /// Reads the typed claims; the first one missing or of the wrong type is
    /// named.
    fn from_payload(raw: Self::Payload) -> Result<Self, &'static str> {
        let string = |name: &'static str| match raw.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(name),
        };
        let optional_string = |name: &'static str| match raw.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(name),
        };
        let number = |name: &'static str| match raw.get(name) {
            Some(v) => numeric_date(v).ok_or(name),
            None => Err(name),
        };
        let optional_date = |name: &'static str| match raw.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => numeric_date(v).map(Some).ok_or(name),
        };
        let strings = |name: &'static str| match raw.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or(name))
                .collect(),
            Some(_) => Err(name),
        };
        let nbf = optional_date("nbf")?;
        let auth_time = optional_date("auth_time")?;
        let amr = strings("amr")?;
        let acr = optional_string("acr")?;
        Ok(Self {
            sub: string("sub")?,
            sid: optional_string("sid")?,
            client_id: string("client_id")?,
            scope: optional_string("scope")?,
            iss: string("iss")?,
            exp: number("exp")?,
            iat: number("iat")?,
            nbf,
            auth_time,
            amr,
            acr,
            jti: string("jti")?,
            raw,
        })
    }

    fn times(&self) -> Times {
        Times {
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
        }
    }
}

/// A JSON NumericDate: integer seconds, or a float truncated towards the past.
fn numeric_date(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}
