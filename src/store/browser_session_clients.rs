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
/// the same call (the caller's transaction), so each is told once.
#[tracing::instrument(skip_all)]
pub async fn take(db: &mut impl AsDb, which: Which<'_>) -> Result<Vec<SignIn>, StoreError> {
    // The filters name no table: both statements share them, and SQLite's
    // DELETE takes no alias.
    macro_rules! take_where {
        ($filter:literal, $($bind:expr),+) => {{
            const SELECT: &str = concat!(
                "SELECT b.browser_session_id, b.client_id, b.user_id, \
                 c.backchannel_logout_uri, c.backchannel_logout_session_required, c.id_token_alg \
                 FROM browser_session_clients b JOIN oauth_clients c ON c.id = b.client_id \
                 WHERE ",
                $filter,
                " ORDER BY b.signed_in_at, b.client_id"
            );
            const DELETE: &str = concat!("DELETE FROM browser_session_clients WHERE ", $filter);
            let rows = on_db!(db, |c| sqlx::query_as::<_, SignIn>(SELECT)
                $(.bind($bind))+
                .fetch_all(&mut *c)
                .await)?;
            on_db!(db, |c| sqlx::query(DELETE)
                $(.bind($bind))+
                .execute(c)
                .await
                .map(|_| ()))?;
            rows
        }};
    }
    Ok(match which {
        Which::Browser(browser) => take_where!("browser_session_id = $1", browser),
        Which::User { user, keep: None } => take_where!("user_id = $1", user),
        Which::User {
            user,
            keep: Some(keep),
        } => take_where!("user_id = $1 AND browser_session_id <> $2", user, keep),
        Which::Client { user, client } => {
            take_where!("user_id = $1 AND client_id = $2", user, client)
        }
        Which::One { browser, client } => {
            take_where!(
                "browser_session_id = $1 AND client_id = $2",
                browser,
                client
            )
        }
    })
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
