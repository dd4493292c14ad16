//! The demo's client (`demo.client_id`): the public client the demo page at
//! `/demo/` signs in as with "Sign in with authd". The operator names it;
//! authd checks it at start-up, so a demo that could not complete the flow
//! (an unknown client, one with a secret, the page's URL not registered)
//! stops the start with the fix, instead of failing at the first click.

use super::{Client, ClientKind, grantable_scopes};
use super::{find, post_logout_redirect_uri_matches, redirect_uri_matches};
use crate::store::{Store, StoreError};

/// The scopes the page asks for: an ID token and the address it shows.
pub const SCOPES: [&str; 2] = ["openid", "email"];

/// Why the named client cannot be the demo's; each message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DemoClientError {
    #[error(
        "demo.client_id: no client {id} is registered; register the demo's with \
         `authd clients create --kind public --name Demo --scope \"openid email\" \
         --redirect-uri {url} --post-logout-redirect-uri {url}`"
    )]
    Unknown { id: String, url: String },
    #[error(
        "demo.client_id: {id} is a {kind} client; the demo is a page in a browser, which \
         keeps no secret, so it needs a public client (--kind public)"
    )]
    NotPublic { id: String, kind: &'static str },
    #[error(
        "demo.client_id: {id} does not have the demo's URL {url} as a redirect URI; \
         add it (`authd clients update {id} --redirect-uri ...` replaces the list: give \
         every URI the client keeps)"
    )]
    NoRedirectUri { id: String, url: String },
    #[error(
        "demo.client_id: {id} does not have the demo's URL {url} as a post-logout redirect \
         URI, so signing out could not come back; add it with `authd clients update {id} \
         --post-logout-redirect-uri ...` (it replaces the list)"
    )]
    NoPostLogoutUri { id: String, url: String },
    #[error(
        "demo.client_id: {id} may not be granted {scope:?}, which the demo asks for; give it \
         the scopes \"openid email\" (`authd clients update {id} --scope ...`)"
    )]
    Scope { id: String, scope: &'static str },
    #[error(
        "demo.client_id: {id} requires pushed authorization requests, which the demo does \
         not make; `authd clients update {id} --require-par false`"
    )]
    RequiresPar { id: String },
    #[error("demo.client_id: the client could not be read: {0}")]
    Store(#[from] StoreError),
}

/// The client `id` if the demo at `url` (`{issuer}/demo/`) can sign in
/// through it: public, allowed the demo's scopes, with `url` as a redirect URI
/// the authorization endpoint accepts and as a post-logout redirect URI.
pub async fn check(store: &Store, id: &str, url: &str) -> Result<Client, DemoClientError> {
    let client = find(store, id)
        .await?
        .ok_or_else(|| DemoClientError::Unknown {
            id: id.to_owned(),
            url: url.to_owned(),
        })?;
    checked(client, url)
}

fn checked(client: Client, url: &str) -> Result<Client, DemoClientError> {
    let id = client.id.clone();
    if client.kind != ClientKind::Public {
        let kind = client.kind.as_str();
        return Err(DemoClientError::NotPublic { id, kind });
    }
    if !redirect_uri_matches(&client, url) {
        let url = url.to_owned();
        return Err(DemoClientError::NoRedirectUri { id, url });
    }
    if !post_logout_redirect_uri_matches(&client, url) {
        let url = url.to_owned();
        return Err(DemoClientError::NoPostLogoutUri { id, url });
    }
    if let Some(scope) = SCOPES
        .into_iter()
        .find(|s| !grantable_scopes(&client).any(|g| g == *s))
    {
        return Err(DemoClientError::Scope { id, scope });
    }
    if client.require_par {
        return Err(DemoClientError::RequiresPar { id });
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::registration::tests::client_of;

    const URL: &str = "http://localhost:8080/demo/";

    fn demo() -> Client {
        let mut client = client_of(ClientKind::Public, &[URL]);
        client.post_logout_redirect_uris = vec![URL.to_owned()];
        client.scopes = "openid email".to_owned();
        client
    }

    #[test]
    fn a_public_client_with_the_demo_url_and_its_scopes_is_the_demo_s() {
        assert!(checked(demo(), URL).is_ok());
    }

    #[test]
    fn every_other_client_is_refused_with_what_to_fix() {
        type Change = fn(&mut Client);
        let cases: [(Change, &str); 6] = [
            (|c| c.kind = ClientKind::Confidential, "public client"),
            (
                |c| c.redirect_uris = vec![format!("{URL}x")],
                "as a redirect URI",
            ),
            (
                |c| c.post_logout_redirect_uris.clear(),
                "post-logout redirect URI",
            ),
            (|c| c.scopes = "openid".into(), "\"email\""),
            (|c| c.scopes = "email profile".into(), "\"openid\""),
            (|c| c.require_par = true, "--require-par false"),
        ];
        for (change, says) in cases {
            let mut client = demo();
            change(&mut client);
            let error = checked(client, URL).expect_err(says).to_string();
            assert!(error.starts_with("demo.client_id: client_"), "{error}");
            assert!(error.contains(says), "{says}: {error}");
        }
    }
}
