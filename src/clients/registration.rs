//! What a client may be registered with, and the checks that make a
//! registration or a change whole: each kind's settings, its secret (made
//! here, kept only as a hash), its addresses (`redirect`), its lifetimes,
//! its ID token algorithm and the PKCE exemption a confidential client may be
//! given by its operator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::redirect::{check_backchannel_logout_uri, check_redirect_uri, normalize_origin};
use super::{
    AuthMethod, Client, ClientError, ClientKind, ID_PREFIX, hash_secret, hex, permissions,
};

const MAX_NAME: usize = 100;
/// The most URIs or origins in one list.
const MAX_LIST: usize = 20;
/// The ID token algorithms a client may ask for: the asymmetric ones authd
/// signs with (an HS256 ID token would need the client's secret as its key).
pub const ID_TOKEN_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];
const ACCESS_TTL: std::ops::RangeInclusive<i64> = 60..=86_400;
const REFRESH_TTL: std::ops::RangeInclusive<i64> = 60..=31_622_400;

/// Where registrations are checked: a development server (an `http://`
/// issuer) lets a confidential client and a web origin use `http://` on
/// this machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub development: bool,
}

impl Policy {
    /// The policy of a server with these settings: an `http://` issuer is a
    /// development server.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            development: settings.issuer().starts_with("http://"),
        }
    }
}

/// A new client's settings; `None` and empty lists are the defaults.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub kind: ClientKind,
    /// Confidential: basic (the default) or post; public: none; machine:
    /// either is accepted whatever is stored.
    pub auth_method: Option<AuthMethod>,
    pub scopes: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub first_party: bool,
    pub id_token_alg: Option<String>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_idle_secs: Option<i64>,
    pub refresh_absolute_secs: Option<i64>,
    pub require_par: bool,
    /// A confidential client's exemption from PKCE (warned about).
    pub allow_no_pkce: bool,
    /// Where its logout tokens go (OpenID Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
}

impl ClientSpec {
    /// A machine client with these scopes, nothing else set.
    pub fn machine(name: &str, scopes: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: ClientKind::Machine,
            auth_method: None,
            scopes: scopes.to_owned(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            web_origins: Vec::new(),
            first_party: false,
            id_token_alg: None,
            access_token_ttl_secs: None,
            refresh_idle_secs: None,
            refresh_absolute_secs: None,
            require_par: false,
            allow_no_pkce: false,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
        }
    }
}

/// A change to a client: `None` leaves a setting as it is; `Some(None)`
/// returns an optional setting to the server's default. The kind and the
/// secret never change.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub auth_method: Option<AuthMethod>,
    pub scopes: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub id_token_alg: Option<Option<String>>,
    pub access_token_ttl_secs: Option<Option<i64>>,
    pub refresh_idle_secs: Option<Option<i64>>,
    pub refresh_absolute_secs: Option<Option<i64>>,
    pub require_par: Option<bool>,
    pub allow_no_pkce: Option<bool>,
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
}

/// A new client secret: 256 random bits, base64url. Shown once; only its
/// hash ([`super::hash_secret`]) is stored.
pub fn new_secret() -> Result<SecretString, ClientError> {
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| ClientError::Random)?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(secret)))
}

/// A new client from `spec`, checked, and its secret (none for a public
/// client). The secret is shown to the operator once and only its hash is
/// stored.
pub fn generate(
    spec: ClientSpec,
    policy: Policy,
    now: DateTime<Utc>,
) -> Result<(Client, Option<SecretString>), ClientError> {
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| ClientError::Random)?;
    let secret = match spec.kind {
        ClientKind::Public => None,
        ClientKind::Confidential | ClientKind::Machine => Some(new_secret()?),
    };
    let default_method = match spec.kind {
        ClientKind::Public => AuthMethod::None,
        _ => AuthMethod::ClientSecretBasic,
    };
    let client = Client {
        id: format!("{ID_PREFIX}{}", hex(&id)),
        name: spec.name,
        kind: spec.kind,
        secret_hash: secret
            .as_ref()
            .map_or_else(String::new, |s| hash_secret(s.expose_secret())),
        auth_method: spec.auth_method.unwrap_or(default_method),
        scopes: spec.scopes,
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        web_origins: spec.web_origins,
        first_party: spec.first_party,
        id_token_alg: spec.id_token_alg,
        access_token_ttl_secs: spec.access_token_ttl_secs,
        refresh_idle_secs: spec.refresh_idle_secs,
        refresh_absolute_secs: spec.refresh_absolute_secs,
        require_par: spec.require_par,
        require_pkce: !spec.allow_no_pkce,
        backchannel_logout_uri: spec.backchannel_logout_uri,
        backchannel_logout_session_required: spec.backchannel_logout_session_required,
        created_at: now,
    };
    Ok((checked(client, policy)?, secret))
}

/// `client` with `changes` applied, checked as a whole.
pub fn apply(
    mut client: Client,
    changes: ClientChanges,
    policy: Policy,
) -> Result<Client, ClientError> {
    let c = changes;
    set(&mut client.name, c.name);
    set(&mut client.auth_method, c.auth_method);
    set(&mut client.scopes, c.scopes);
    set(&mut client.redirect_uris, c.redirect_uris);
    set(
        &mut client.post_logout_redirect_uris,
        c.post_logout_redirect_uris,
    );
    set(&mut client.web_origins, c.web_origins);
    set(&mut client.first_party, c.first_party);
    set(&mut client.id_token_alg, c.id_token_alg);
    set(&mut client.access_token_ttl_secs, c.access_token_ttl_secs);
    set(&mut client.refresh_idle_secs, c.refresh_idle_secs);
    set(&mut client.refresh_absolute_secs, c.refresh_absolute_secs);
    set(&mut client.require_par, c.require_par);
    set(&mut client.backchannel_logout_uri, c.backchannel_logout_uri);
    set(
        &mut client.backchannel_logout_session_required,
        c.backchannel_logout_session_required,
    );
    if let Some(exempt) = c.allow_no_pkce {
        client.require_pkce = !exempt;
    }
    checked(client, policy)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// The client's settings checked against its kind, and normalized (the name
/// trimmed, the scopes deduplicated, the origins as browsers send them).
fn checked(mut client: Client, policy: Policy) -> Result<Client, ClientError> {
    let name = client.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ClientError::Name);
    }
    client.name = name.to_owned();
    client.scopes = super::normalize_scopes(&client.scopes)?;
    let kind = client.kind;
    match (kind, client.auth_method) {
        (ClientKind::Public, AuthMethod::None)
        | (ClientKind::Confidential | ClientKind::Machine, AuthMethod::ClientSecretBasic)
        | (ClientKind::Confidential | ClientKind::Machine, AuthMethod::ClientSecretPost) => {}
        _ => return Err(ClientError::AuthMethod(kind)),
    }
    if kind == ClientKind::Public && client.scopes.split(' ').any(permissions::is_reserved) {
        return Err(ClientError::PublicPermission);
    }
    for list in [
        &client.redirect_uris,
        &client.post_logout_redirect_uris,
        &client.web_origins,
    ] {
        if list.len() > MAX_LIST {
            return Err(ClientError::TooMany(MAX_LIST));
        }
    }
    for uri in client
        .redirect_uris
        .iter()
        .chain(&client.post_logout_redirect_uris)
    {
        check_redirect_uri(kind, uri, policy.development)?;
    }
    dedup(&mut client.redirect_uris);
    dedup(&mut client.post_logout_redirect_uris);
    client.web_origins = client
        .web_origins
        .iter()
        .map(|o| normalize_origin(o, policy.development))
        .collect::<Result<_, _>>()?;
    dedup(&mut client.web_origins);
    if let Some(uri) = &client.backchannel_logout_uri {
        check_backchannel_logout_uri(uri)?;
    }
    if let Some(alg) = &client.id_token_alg
        && !ID_TOKEN_ALGS.contains(&alg.as_str())
    {
        return Err(ClientError::IdTokenAlg(alg.clone()));
    }
    if client
        .access_token_ttl_secs
        .is_some_and(|t| !ACCESS_TTL.contains(&t))
    {
        return Err(lifetime("the access token lifetime", ACCESS_TTL));
    }
    for t in [client.refresh_idle_secs, client.refresh_absolute_secs]
        .into_iter()
        .flatten()
    {
        if !REFRESH_TTL.contains(&t) {
            return Err(lifetime("a refresh lifetime", REFRESH_TTL));
        }
    }
    if let (Some(idle), Some(absolute)) = (client.refresh_idle_secs, client.refresh_absolute_secs)
        && idle > absolute
    {
        return Err(ClientError::IdleAboveAbsolute);
    }
    match kind {
        ClientKind::Machine => {
            let code_flow = [
                (
                    !client.post_logout_redirect_uris.is_empty(),
                    "post-logout redirect URIs",
                ),
                (!client.web_origins.is_empty(), "web origins"),
                (client.first_party, "the first-party flag"),
                (client.id_token_alg.is_some(), "an ID token algorithm"),
                (client.refresh_idle_secs.is_some(), "refresh lifetimes"),
                (client.refresh_absolute_secs.is_some(), "refresh lifetimes"),
                (client.require_par, "requiring PAR"),
                (!client.require_pkce, "a PKCE exemption"),
                (
                    client.backchannel_logout_uri.is_some()
                        || client.backchannel_logout_session_required,
                    "back-channel logout",
                ),
            ];
            if let Some((_, what)) = code_flow.into_iter().find(|(set, _)| *set) {
                return Err(ClientError::NotForMachine(what));
            }
        }
        ClientKind::Public if !client.require_pkce => return Err(ClientError::PublicWithoutPkce),
        _ if client.redirect_uris.is_empty() => return Err(ClientError::NoRedirectUri(kind)),
        _ => {}
    }
    Ok(client)
}

fn lifetime(what: &'static str, range: std::ops::RangeInclusive<i64>) -> ClientError {
    ClientError::Lifetime {
        what,
        min: *range.start(),
        max: *range.end(),
    }
}

fn dedup(list: &mut Vec<String>) {
    let mut seen = Vec::with_capacity(list.len());
    list.retain(|v| {
        let new = !seen.contains(v);
        if new {
            seen.push(v.clone());
        }
        new
    });
}

/// The warning for a confidential client its operator exempted from PKCE,
/// logged at registration, at each change and at start-up.
pub fn pkce_exemption_warning(client: &Client) -> Option<String> {
    (client.kind == ClientKind::Confidential && !client.require_pkce).then(|| {
        format!(
            "client {} ({}) is exempt from PKCE: its authorization codes are not bound to the browser that asked for them; require PKCE again with `authd clients update {} --allow-no-pkce false`",
            client.id, client.name, client.id
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A client of `kind` with these redirect URIs, unchecked (for matching
    /// tests).
    pub(crate) fn client_of(kind: ClientKind, redirect_uris: &[&str]) -> Client {
        let mut spec = ClientSpec::machine("test", "");
        spec.kind = kind;
        let (mut client, _) = generate(
            ClientSpec {
                kind: ClientKind::Machine,
                ..spec
            },
            Policy::default(),
            Utc::now(),
        )
        .unwrap();
        client.kind = kind;
        client.redirect_uris = redirect_uris.iter().map(|s| (*s).to_owned()).collect();
        client
    }

    fn spec(kind: ClientKind) -> ClientSpec {
        ClientSpec {
            kind,
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..ClientSpec::machine("app", "openid")
        }
    }

    #[test]
    fn each_kind_gets_its_secret_and_method() {
        let (public, secret) =
            generate(spec(ClientKind::Public), Policy::default(), Utc::now()).unwrap();
        assert!(secret.is_none() && public.secret_hash.is_empty());
        assert_eq!(public.auth_method, AuthMethod::None);
        assert!(public.require_pkce);
        let (web, secret) = generate(
            spec(ClientKind::Confidential),
            Policy::default(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            web.secret_hash,
            hash_secret(secret.unwrap().expose_secret())
        );
        assert_eq!(web.auth_method, AuthMethod::ClientSecretBasic);
        let (machine, secret) =
            generate(ClientSpec::machine("m", "a"), Policy::default(), Utc::now()).unwrap();
        assert!(secret.is_some() && machine.kind == ClientKind::Machine);
    }

    #[test]
    fn settings_that_do_not_fit_the_kind_are_refused() {
        let refused = |s: ClientSpec| generate(s, Policy::default(), Utc::now()).unwrap_err();
        let mut s = spec(ClientKind::Public);
        s.allow_no_pkce = true;
        assert_eq!(refused(s), ClientError::PublicWithoutPkce);
        let mut s = spec(ClientKind::Public);
        s.auth_method = Some(AuthMethod::ClientSecretPost);
        assert_eq!(refused(s), ClientError::AuthMethod(ClientKind::Public));
        let mut s = spec(ClientKind::Confidential);
        s.auth_method = Some(AuthMethod::None);
        assert_eq!(
            refused(s),
            ClientError::AuthMethod(ClientKind::Confidential)
        );
        let mut s = spec(ClientKind::Confidential);
        s.redirect_uris.clear();
        assert_eq!(
            refused(s),
            ClientError::NoRedirectUri(ClientKind::Confidential)
        );
        let mut s = spec(ClientKind::Public);
        s.scopes = "authd:introspect".into();
        assert_eq!(refused(s), ClientError::PublicPermission);
        let mut s = ClientSpec::machine("m", "");
        s.allow_no_pkce = true;
        assert_eq!(refused(s), ClientError::NotForMachine("a PKCE exemption"));
        let mut s = spec(ClientKind::Confidential);
        s.id_token_alg = Some("HS256".into());
        assert_eq!(refused(s), ClientError::IdTokenAlg("HS256".into()));
        let mut s = spec(ClientKind::Confidential);
        s.access_token_ttl_secs = Some(0);
        assert!(matches!(refused(s), ClientError::Lifetime { .. }));
        let mut s = spec(ClientKind::Confidential);
        (s.refresh_idle_secs, s.refresh_absolute_secs) = (Some(7200), Some(3600));
        assert_eq!(refused(s), ClientError::IdleAboveAbsolute);
    }

    #[test]
    fn a_confidential_client_may_be_exempted_from_pkce_with_a_warning() {
        let mut s = spec(ClientKind::Confidential);
        s.allow_no_pkce = true;
        let (client, _) = generate(s, Policy::default(), Utc::now()).unwrap();
        assert!(!client.require_pkce);
        assert!(pkce_exemption_warning(&client).is_some());
        let restored = apply(
            client,
            ClientChanges {
                allow_no_pkce: Some(false),
                ..Default::default()
            },
            Policy::default(),
        )
        .unwrap();
        assert!(restored.require_pkce && pkce_exemption_warning(&restored).is_none());
    }

    #[test]
    fn a_change_is_checked_as_a_whole() {
        let (client, _) =
            generate(spec(ClientKind::Public), Policy::default(), Utc::now()).unwrap();
        let changes = ClientChanges {
            redirect_uris: Some(vec!["http://localhost/cb".into()]),
            ..Default::default()
        };
        assert!(matches!(
            apply(client.clone(), changes, Policy::default()),
            Err(ClientError::RedirectUri { .. })
        ));
        let changes = ClientChanges {
            web_origins: Some(vec!["https://SPA.example.com/".into()]),
            access_token_ttl_secs: Some(Some(600)),
            ..Default::default()
        };
        let changed = apply(client, changes, Policy::default()).unwrap();
        assert_eq!(changed.web_origins, ["https://spa.example.com"]);
        assert_eq!(changed.access_token_ttl_secs, Some(600));
    }
}
