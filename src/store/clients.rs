//! The `oauth_clients` table: registered clients (public, confidential,
//! machine) and their settings. Secrets are made and checked in
//! `crate::clients`; only their hashes are stored. The URI lists are JSON
//! arrays of strings in a text column, the same in both stores.

use chrono::{DateTime, Utc};

use super::{AsDb, StoreError, on_db};

/// What a client is, which decides how it authenticates and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A single-page or native app: no secret, PKCE always.
    Public,
    /// A web server holding a secret.
    Confidential,
    /// A service using client credentials only (every client registered
    /// before there were kinds).
    Machine,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
            Self::Machine => "machine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Public, Self::Confidential, Self::Machine]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// How a client authenticates at the token endpoint (the names of the OAuth
/// registry, `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No secret: a public client.
    None,
    /// The secret by HTTP Basic.
    ClientSecretBasic,
    /// The secret in the form (`client_secret`).
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::ClientSecretBasic, Self::ClientSecretPost]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A registered client. `secret_hash` is the hex SHA-256 of its secret (empty
/// for a public client, which has none); `scopes` the space-separated scopes
/// it may ask for. Lifetimes are seconds, `None` for the server's settings;
/// `id_token_alg` is `None` for the algorithm of the current signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    pub secret_hash: String,
    pub auth_method: AuthMethod,
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
    pub require_pkce: bool,
    /// Where the client's logout tokens are POSTed (OpenID Connect
    /// Back-Channel Logout 1.0); `None`: it gets none.
    pub backchannel_logout_uri: Option<String>,
    /// The client asked for `sid` in its logout tokens (always sent).
    pub backchannel_logout_session_required: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    kind: String,
    secret_hash: String,
    auth_method: String,
    scopes: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    web_origins: String,
    first_party: bool,
    id_token_alg: Option<String>,
    access_token_ttl_secs: Option<i64>,
    refresh_idle_secs: Option<i64>,
    refresh_absolute_secs: Option<i64>,
    require_par: bool,
    require_pkce: bool,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    created_at: DateTime<Utc>,
}

fn decode_error(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("oauth_clients: unreadable {what}").into(),
    ))
}

fn uri_list(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| decode_error(what))
}

fn uri_text(list: &[String]) -> String {
    // Serializing strings cannot fail; an empty list is the fallback anyway.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

impl TryFrom<Row> for Client {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Client {
            kind: ClientKind::parse(&r.kind).ok_or_else(|| decode_error("kind"))?,
            auth_method: AuthMethod::parse(&r.auth_method)
                .ok_or_else(|| decode_error("auth_method"))?,
            redirect_uris: uri_list(&r.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: uri_list(
                &r.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            web_origins: uri_list(&r.web_origins, "web_origins")?,
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            scopes: r.scopes,
            first_party: r.first_party,
            id_token_alg: r.id_token_alg,
            access_token_ttl_secs: r.access_token_ttl_secs,
            refresh_idle_secs: r.refresh_idle_secs,
            refresh_absolute_secs: r.refresh_absolute_secs,
            require_par: r.require_par,
            require_pkce: r.require_pkce,
            backchannel_logout_uri: r.backchannel_logout_uri,
            backchannel_logout_session_required: r.backchannel_logout_session_required,
            created_at: r.created_at,
        })
    }
}

/// The columns a [`Row`] reads, in a macro so queries stay static strings.
macro_rules! columns {
    () => {
        "id, name, kind, secret_hash, auth_method, scopes, redirect_uris, \
     post_logout_redirect_uris, web_origins, first_party, id_token_alg, access_token_ttl_secs, \
         refresh_idle_secs, refresh_absolute_secs, require_par, require_pkce, backchannel_logout_uri, \
         backchannel_logout_session_required, created_at"
    };
}

#[tracing::instrument(skip_all, fields(client = %client.id))]
pub async fn insert(db: &mut impl AsDb, client: &Client) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO oauth_clients (id, name, kind, secret_hash, auth_method, \
         scopes, redirect_uris, post_logout_redirect_uris, web_origins, first_party, \
         id_token_alg, access_token_ttl_secs, refresh_idle_secs, refresh_absolute_secs, \
         require_par, require_pkce, created_at, backchannel_logout_uri, \
         backchannel_logout_session_required) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19)";
    let (redirects, logouts, origins) = (
        uri_text(&client.redirect_uris),
        uri_text(&client.post_logout_redirect_uris),
        uri_text(&client.web_origins),
    );
    on_db!(db, |c| sqlx::query(SQL)
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.kind.as_str())
        .bind(&client.secret_hash)
        .bind(client.auth_method.as_str())
        .bind(&client.scopes)
        .bind(&redirects)
        .bind(&logouts)
        .bind(&origins)
        .bind(client.first_party)
        .bind(&client.id_token_alg)
        .bind(client.access_token_ttl_secs)
        .bind(client.refresh_idle_secs)
        .bind(client.refresh_absolute_secs)
        .bind(client.require_par)
        .bind(client.require_pkce)
        .bind(client.created_at)
        .bind(&client.backchannel_logout_uri)
        .bind(client.backchannel_logout_session_required)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Writes every setting of `client` but its id, kind, secret and creation
/// time; false if there is no such client.
#[tracing::instrument(skip_all, fields(client = %client.id))]
pub async fn update(db: &mut impl AsDb, client: &Client) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE oauth_clients SET name = $2, auth_method = $3, scopes = $4, \
         redirect_uris = $5, post_logout_redirect_uris = $6, web_origins = $7, \
         first_party = $8, id_token_alg = $9, access_token_ttl_secs = $10, \
         refresh_idle_secs = $11, refresh_absolute_secs = $12, require_par = $13, \
         require_pkce = $14, backchannel_logout_uri = $15, \
         backchannel_logout_session_required = $16 WHERE id = $1";
    let (redirects, logouts, origins) = (
        uri_text(&client.redirect_uris),
        uri_text(&client.post_logout_redirect_uris),
        uri_text(&client.web_origins),
    );
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.auth_method.as_str())
        .bind(&client.scopes)
        .bind(&redirects)
        .bind(&logouts)
        .bind(&origins)
        .bind(client.first_party)
        .bind(&client.id_token_alg)
        .bind(client.access_token_ttl_secs)
        .bind(client.refresh_idle_secs)
        .bind(client.refresh_absolute_secs)
        .bind(client.require_par)
        .bind(client.require_pkce)
        .bind(&client.backchannel_logout_uri)
        .bind(client.backchannel_logout_session_required)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

#[tracing::instrument(skip_all)]
pub async fn find(db: &mut impl AsDb, id: &str) -> Result<Option<Client>, StoreError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM oauth_clients WHERE id = $1");
    let row = on_db!(db, |c| sqlx::query_as::<_, Row>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    row.map(Client::try_from).transpose()
}

#[tracing::instrument(skip_all)]
pub async fn list(db: &mut impl AsDb) -> Result<Vec<Client>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM oauth_clients ORDER BY created_at, id"
    );
    let rows = on_db!(db, |c| sqlx::query_as::<_, Row>(SQL).fetch_all(c).await)?;
    rows.into_iter().map(Client::try_from).collect()
}

/// The web origins of every client, for CORS at the token and userinfo
/// endpoints (duplicates possible).
#[tracing::instrument(skip_all)]
pub async fn web_origins(db: &mut impl AsDb) -> Result<Vec<String>, StoreError> {
    const SQL: &str = "SELECT web_origins FROM oauth_clients WHERE web_origins <> '[]'";
    let lists: Vec<(String,)> = on_db!(db, |c| sqlx::query_as(SQL).fetch_all(c).await)?;
    let mut origins = Vec::new();
    for (text,) in lists {
        origins.extend(uri_list(&text, "web_origins")?);
    }
    Ok(origins)
}

/// Deletes a client; false if there was none.
#[tracing::instrument(skip_all)]
pub async fn delete(db: &mut impl AsDb, id: &str) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM oauth_clients WHERE id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Replaces the scopes of client `id`; false if there is none.
#[tracing::instrument(skip_all)]
pub async fn set_scopes(db: &mut impl AsDb, id: &str, scopes: &str) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE oauth_clients SET scopes = $2 WHERE id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(scopes)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Replaces the secret hash of client `id` (a rotation: the old secret
/// stops at once); false if there is none.
#[tracing::instrument(skip_all)]
pub async fn set_secret_hash(
    db: &mut impl AsDb,
    id: &str,
    secret_hash: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE oauth_clients SET secret_hash = $2 WHERE id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(secret_hash)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
