//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): which ends
//! of sessions tell which clients, with a logout token queued in the
//! transaction that ends them.
//!
//! - **Who was signed in**: a client that redeemed a code with `openid` got
//!   an ID token whose `sid` is the browser session it was issued through;
//!   [`signed_in`] records that (browser session, client) in the code's
//!   transaction. Only those clients are ever told, and each sign-in once:
//!   telling a client forgets its sign-in.
//! - **What ends it** ([`Ended`]): the browser session (RP-initiated logout,
//!   the user ending it in the session list, the oldest one ended by the cap
//!   `browser_session.max_per_user`: `sessions::browser::start`); every session of the user (a
//!   global logout, a password reset or change, an admin's or the user's
//!   revocation, disabling, a first proof, refresh-token reuse: the
//!   sessions a user revocation covers); the user's grant to one client (the
//!   grants page: every sign-in of the user to that client); one client
//!   family (its authorization code presented again: the sign-in it made).
//!   A client family ended by its own client's cap is not told: the cap ends
//!   the client's oldest refresh family, not the sign-in at authd (its
//!   browser session lives on), and when the new sign-in comes through the
//!   same browser session a logout token with its `sid` would end the new
//!   sign-in at the client.
//!   The client's own session may outlive authd's (an SPA's family lives as
//!   long as its access token), so a sign-in is told even when its browser
//!   session had already expired.
//! - **What is sent**: one logout token ([`super::logout_token`]) per
//!   sign-in, `sid` its browser session, POSTed to its
//!   `backchannel_logout_uri` by the delivery queue ([`enqueue`]). The
//!   queue keeps the token's parts, and the worker signs them at each
//!   attempt with the client's current ID-token key (a fresh `iat`/`exp`,
//!   the same `jti`): a retry after the token's two minutes still carries a
//!   valid one. A client without the URI gets nothing. A sign-in whose
//!   client no key signs ID tokens for (its algorithm lost its key since)
//!   is logged and skipped: the session still ends; a client deleted, or
//!   its key gone, before the send gives its delivery up.

use uuid::Uuid;

use super::logout_token::{self, Queued};
use crate::services::Services;
use crate::store::browser_session_clients::{self, SignIn, Which};
use crate::store::{StoreError, Tx};

/// An end of sessions that may tell clients (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended<'a> {
    /// The browser session `browser` ended.
    BrowserSession(Uuid),
    /// Every session of `user` ended, but `keep` (if it is a browser
    /// session, its sign-ins are not told).
    User { user: Uuid, keep: Option<Uuid> },
    /// The user's grant to `client` ended.
    Grant { user: Uuid, client: &'a str },
    /// The family `client` signed in through `browser` ended.
    Family { browser: Uuid, client: &'a str },
}

/// Records, in the code's transaction, that `client` got an ID token for
/// `user` with browser session `browser` as its `sid`.
pub async fn signed_in(
    svc: &Services,
    tx: &mut Tx<'_>,
    browser: Uuid,
    client: &str,
    user: Uuid,
) -> Result<(), StoreError> {
    browser_session_clients::record(tx, browser, client, user, svc.now()).await
}

/// Queues, in `tx` (the transaction that ends the sessions), one logout token
/// for each sign-in `ended` ends whose client has a `backchannel_logout_uri`,
/// and forgets those sign-ins. Returns how many were queued.
pub async fn ended(svc: &Services, tx: &mut Tx<'_>, ended: Ended<'_>) -> Result<usize, StoreError> {
    let which = match ended {
        Ended::BrowserSession(browser) => Which::Browser(browser),
        Ended::User { user, keep } => Which::User { user, keep },
        Ended::Grant { user, client } => Which::Client { user, client },
        Ended::Family { browser, client } => Which::One { browser, client },
    };
    let mut queued = 0;
    for sign_in in browser_session_clients::take(tx, which).await? {
        let Some(uri) = sign_in.backchannel_logout_uri.as_deref() else {
            continue;
        };
        if !signable(svc, &sign_in) {
            continue;
        }
        let logout = Queued::new(
            sign_in.user_id,
            sign_in.browser_session_id,
            sign_in.backchannel_logout_session_required,
        );
        enqueue(svc, tx, &sign_in.client_id, uri, &logout).await?;
        queued += 1;
    }
    if queued > 0 {
        tracing::info!(queued, "back-channel logout tokens queued");
    }
    Ok(queued)
}

/// Whether a key signs `sign_in`'s client's ID tokens now (else logged): a
/// logout token that could not be signed at once is not queued.
fn signable(svc: &Services, sign_in: &SignIn) -> bool {
    match svc
        .access
        .keys()
        .id_token_alg_for(sign_in.id_token_alg.as_deref())
    {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(client = %sign_in.client_id, %error,
                "no logout token: nothing signs this client's ID tokens");
            false
        }
    }
}

/// Puts one logout token's parts on the delivery queue (`events::queue`),
/// in `tx`: it is signed and POSTed to `uri` as `logout_token=<jwt>` once
/// `tx` commits, retried like a webhook event.
async fn enqueue(
    svc: &Services,
    tx: &mut Tx<'_>,
    client: &str,
    uri: &str,
    logout: &Queued,
) -> Result<(), StoreError> {
    crate::events::queue::enqueue_backchannel_logout(tx, client, uri, logout, svc.now()).await?;
    Ok(())
}

/// Where a queued back-channel logout to `client` goes now (the client's
/// current `backchannel_logout_uri`, so a changed one is followed and a
/// removed one stops it) and its logout token, signed at `now` with the
/// client's current ID-token key; `Err` says why it cannot be sent (the
/// client was deleted, has no URI any more, or no key signs its ID tokens
/// any more): the delivery is given up.
pub async fn sign_queued(
    svc: &Services,
    client: &str,
    logout: &Queued,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<(String, String), String>, StoreError> {
    let found = {
        let mut conn = svc.store.conn().await?;
        crate::store::clients::find(&mut conn, client).await?
    };
    let Some(found) = found else {
        return Ok(Err("the client was deleted".to_owned()));
    };
    let Some(uri) = found.backchannel_logout_uri.clone() else {
        return Ok(Err(
            "the client has no backchannel_logout_uri any more".to_owned()
        ));
    };
    let keys = svc.access.keys();
    let signed = keys
        .id_token_alg_for(found.id_token_alg.as_deref())
        .map_err(|e| e.to_string())
        .and_then(|alg| {
            let claims = logout.claims(svc.settings.issuer(), &found.id, now);
            logout_token::sign(keys, alg, &claims).map_err(|e| e.to_string())
        });
    Ok(signed
        .map(|token| (uri, token))
        .map_err(|e| format!("key_gone: nothing signs the client's ID tokens ({e})")))
}
