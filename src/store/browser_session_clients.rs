//! The `browser_session_clients` table: which clients a browser session
//! signed the user in to (an ID token with the browser session as its `sid`
//! went to them), so that each can be sent a logout token when that ends.
//! Which ends send one is `crate::oidc::backchannel`'s rule.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// One client signed in through one browser session, with where its logout
/// tokens go (`None`: nowhere), whether it asked for `sid` in them, and its
/// ID-token algorithm.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignIn {
    pub browser_session_id: Uuid,
    pub client_id: String,
    pub user_id: Uuid,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub id_token_alg: Option<String>,
}

/// Which sign-ins [`take`] reads and forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which<'a> {
    /// Every sign-in through browser session `browser`.
    Browser(Uuid),
    /// Every sign-in of `user`, but through browser session `keep`.
    User { user: Uuid, keep: Option<Uuid> },
    /// Every sign-in of `user` to `client`.
    Client { user: Uuid, client: &'a str },
    /// The sign-in to `client` through browser session `browser`.
    One { browser: Uuid, client: &'a str },
}

/// Records that `client` signed `user` in through browser session `browser`
/// at `now` (once: a second sign-in keeps the first row).
#[tracing::instrument(skip_all, fields(client = client))]
pub async fn record(
    db: &mut impl AsDb,
    browser: Uuid,
    client: &str,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO browser_session_clients \
         (browser_session_id, client_id, user_id, signed_in_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (browser_session_id, client_id) DO NOTHING";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(browser)
        .bind(client)
        .bind(user)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The sign-ins `which` names, with their clients' settings, forgotten in
/// the same call (the caller's transaction), so each is told once. The rows
/// are deleted first and what the DELETE returned is what is told: a sign-in
/// committed by another transaction meanwhile is either deleted and told
/// here, or left for the next end, never deleted untold.
#[tracing::instrument(skip_all)]
pub async fn take(db: &mut impl AsDb, which: Which<'_>) -> Result<Vec<SignIn>, StoreError> {
    macro_rules! delete_where {
        ($filter:literal, $($bind:expr),+) => {{
            const DELETE: &str = concat!(
                "DELETE FROM browser_session_clients WHERE ",
                $filter,
                " RETURNING browser_session_id, client_id, user_id, signed_in_at"
            );
            on_db!(db, |c| sqlx::query_as::<_, Taken>(DELETE)
                $(.bind($bind))+
                .fetch_all(&mut *c)
                .await)?
        }};
    }
    let mut taken = match which {
        Which::Browser(browser) => delete_where!("browser_session_id = $1", browser),
        Which::User { user, keep: None } => delete_where!("user_id = $1", user),
        Which::User {
            user,
            keep: Some(keep),
        } => delete_where!("user_id = $1 AND browser_session_id <> $2", user, keep),
        Which::Client { user, client } => {
            delete_where!("user_id = $1 AND client_id = $2", user, client)
        }
        Which::One { browser, client } => {
            delete_where!(
                "browser_session_id = $1 AND client_id = $2",
                browser,
                client
            )
        }
    };
    taken.sort_by(|a, b| (a.signed_in_at, &a.client_id).cmp(&(b.signed_in_at, &b.client_id)));
    const CLIENT: &str = "SELECT backchannel_logout_uri, backchannel_logout_session_required, \
         id_token_alg FROM oauth_clients WHERE id = $1";
    let mut sign_ins = Vec::with_capacity(taken.len());
    for t in taken {
        let settings = on_db!(db, |c| sqlx::query_as::<_, ClientSettings>(CLIENT)
            .bind(&t.client_id)
            .fetch_optional(&mut *c)
            .await)?;
        // A client deleted since has no one to tell.
        if let Some(settings) = settings {
            sign_ins.push(SignIn {
                browser_session_id: t.browser_session_id,
                client_id: t.client_id,
                user_id: t.user_id,
                backchannel_logout_uri: settings.backchannel_logout_uri,
                backchannel_logout_session_required: settings.backchannel_logout_session_required,
                id_token_alg: settings.id_token_alg,
            });
        }
    }
    Ok(sign_ins)
}

/// A deleted row of the table.
#[derive(sqlx::FromRow)]
struct Taken {
    browser_session_id: Uuid,
    client_id: String,
    user_id: Uuid,
    signed_in_at: DateTime<Utc>,
}

/// What telling a client needs of its settings.
#[derive(sqlx::FromRow)]
struct ClientSettings {
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    id_token_alg: Option<String>,
}

/// Forgets the sign-ins of browser sessions that nothing is left of: neither
/// the browser session's row nor a family signed in through it (both swept
/// once expired); at most `limit` browser sessions' at once. Returns how many
/// rows.
#[tracing::instrument(skip_all)]
pub async fn sweep(db: &mut impl AsDb, limit: i64) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM browser_session_clients WHERE browser_session_id IN \
         (SELECT b.browser_session_id FROM browser_session_clients b \
          WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = b.browser_session_id) \
          AND NOT EXISTS (SELECT 1 FROM sessions f \
              WHERE f.browser_session_id = b.browser_session_id) \
          LIMIT $1)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
