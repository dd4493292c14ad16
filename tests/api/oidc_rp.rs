//! A stock relying party, the `openidconnect` crate, signs users in through
//! authd's hosted pages: discovery, an authorization with PKCE (S256) and a
//! nonce, the login and consent forms, the code exchange, the ID token
//! checked by the library against the JWKS, userinfo and a refresh. What
//! authd's own tests could get wrong together with authd (reading the spec
//! the same wrong way) a library written by others would not accept.
//!
//! The browser is the test's: it follows authd's `303`s one by one, keeps the
//! browser session cookie and fills in the forms (see `browser`).

use std::net::TcpListener;

use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::url::Url;
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::helpers::{AppKind, Backend, OidcClient, TestApp, spawn_app_on};

pub(crate) mod browser;
pub(crate) mod web_app;

use browser::{Arrival, Browser, Http, Page};
use web_app::the_example_web_app_signs_a_user_in_and_shows_the_email;

crate::on_both_stores!(
    a_confidential_client_signs_a_user_in_with_client_secret_basic_and_pkce,
    a_public_client_signs_a_user_in_with_pkce_and_no_secret,
    a_second_authorization_in_the_same_browser_skips_the_login_form,
    prompt_login_shows_the_login_form_again_despite_the_browser_session,
    the_example_web_app_signs_a_user_in_and_shows_the_email,
);

/// authd with its issuer at the address it serves on (`http://127.0.0.1:PORT`),
/// so discovery, the `iss` of the redirect and the tokens' `iss` are where
/// the relying party reaches authd.
pub async fn spawn_issuer(backend: Backend) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("bound address").port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_on(backend, listener, |s| {
        s.server.issuer = issuer.clone();
        s.email.link_base = format!("{issuer}/demo/");
    })
    .await;
    assert_eq!(app.address, issuer);
    app
}

/// A fresh registered user's email.
async fn user(app: &TestApp) -> String {
    let email = format!("rp-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    email
}

/// The client `openidconnect` makes from discovery, with a redirect URI.
type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One app configured with authd, as its developer would set it up.
struct Rp {
    oidc: Oidc,
    http: Http,
    issuer: String,
    redirect_uri: String,
}

/// An authorization under way: what the app keeps until the redirect back.
struct Authorization {
    url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// A finished sign-in.
struct SignedIn {
    pages: Vec<Page>,
    claims: CoreIdTokenClaims,
    tokens: CoreTokenResponse,
}

impl Rp {
    /// Discovery through `openidconnect`, then the client registered with
    /// authd as `client`.
    async fn discover(app: &TestApp, client: &OidcClient, redirect_uri: &str) -> Self {
        let http = Http(app.client.clone());
        let issuer = IssuerUrl::new(app.address.clone()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .unwrap_or_else(|e| panic!("discovery: {e:?}"));
        let oidc = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            client.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).unwrap());
        Self {
            oidc,
            http,
            issuer: app.address.clone(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// An authorization URL: code flow, PKCE S256, a nonce, `email` and
    /// `offline_access`, with `prompt=login` when asked.
    fn authorization(&self, prompt_login: bool) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge);
        if prompt_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        assert!(
            url.query_pairs()
                .any(|(k, v)| k == "code_challenge_method" && v == "S256"),
            "{url}"
        );
        Authorization {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// A whole sign-in of `email` in `browser`.
    async fn sign_in(
        &self,
        browser: &mut Browser<'_>,
        email: &str,
        prompt_login: bool,
    ) -> SignedIn {
        let authorization = self.authorization(prompt_login);
        let arrival = browser
            .authorize(&authorization.url, email, &self.redirect_uri)
            .await;
        self.redeem(authorization, arrival).await
    }

    /// The app's side of the redirect back: `state` and `iss` checked, the
    /// code exchanged with the PKCE verifier, the ID token verified by
    /// `openidconnect` (signature through the JWKS, issuer, audience, expiry,
    /// nonce) and `at_hash` against the access token.
    async fn redeem(&self, authorization: Authorization, arrival: Arrival) -> SignedIn {
        assert_eq!(
            arrival.param("error"),
            None,
            "authd answered an error: {}",
            arrival.redirect
        );
        assert_eq!(
            arrival.param("state").as_deref(),
            Some(authorization.state.secret().as_str()),
            "the state comes back unchanged"
        );
        assert_eq!(
            arrival.param("iss").as_deref(),
            Some(self.issuer.as_str()),
            "iss of the redirect is the issuer (RFC 9207)"
        );
        let code = arrival.param("code").expect("a code");
        let tokens = self
            .oidc
            .exchange_code(AuthorizationCode::new(code))
            .expect("discovery gave a token endpoint")
            .set_pkce_verifier(authorization.verifier)
            .request_async(&self.http)
            .await
            .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
        let id_token = tokens.id_token().expect("an ID token for scope openid");
        let verifier = self.oidc.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &authorization.nonce)
            .unwrap_or_else(|e| panic!("ID token refused by openidconnect: {e:?}"))
            .clone();
        if let Some(expected) = claims.access_token_hash() {
            let actual = AccessTokenHash::from_token(
                tokens.access_token(),
                id_token.signing_alg().unwrap(),
                id_token.signing_key(&verifier).unwrap(),
            )
            .unwrap();
            assert_eq!(&actual, expected, "at_hash matches the access token");
        }
        SignedIn {
            pages: arrival.pages,
            claims,
            tokens,
        }
    }

    /// Userinfo for `signed_in`'s access token, its `sub` checked by the library.
    async fn userinfo(&self, signed_in: &SignedIn) -> CoreUserInfoClaims {
        self.userinfo_with(signed_in.tokens.access_token(), signed_in)
            .await
    }

    async fn userinfo_with(
        &self,
        access: &openidconnect::AccessToken,
        signed_in: &SignedIn,
    ) -> CoreUserInfoClaims {
        self.oidc
            .user_info(access.clone(), Some(signed_in.claims.subject().clone()))
            .expect("discovery gave a userinfo endpoint")
            .request_async(&self.http)
            .await
            .unwrap_or_else(|e| panic!("userinfo: {e:?}"))
    }

    /// The whole proof for one app: a sign-in with the login form and the
    /// consent page, the user's id as `sub` with the password in `amr`,
    /// userinfo with the email, and a refresh that rotates the refresh token.
    async fn prove(&self, app: &TestApp, email: &str) {
        let mut browser = Browser::new(app);
        let signed_in = self.sign_in(&mut browser, email, false).await;
        assert_eq!(signed_in.pages, [Page::Login, Page::Consent]);
        let claims = &signed_in.claims;
        assert_eq!(
            claims.subject().as_str(),
            app.user_id(email).await.to_string()
        );
        assert_eq!(claims.issuer().as_str(), self.issuer);
        assert!(
            claims
                .audiences()
                .iter()
                .any(|a| **a == **self.oidc.client_id()),
            "aud names the client"
        );
        let amr: Vec<&str> = claims
            .auth_method_refs()
            .map(|m| m.iter().map(|m| m.as_str()).collect())
            .unwrap_or_default();
        assert!(amr.contains(&"pwd"), "amr has pwd (RFC 8176): {amr:?}");

        let userinfo = self.userinfo(&signed_in).await;
        assert_eq!(userinfo.email().map(|e| e.as_str()), Some(email));

        let refresh = signed_in
            .tokens
            .refresh_token()
            .expect("a refresh token with offline_access");
        let refreshed = self
            .oidc
            .exchange_refresh_token(refresh)
            .expect("a token endpoint")
            .request_async(&self.http)
            .await
            .unwrap_or_else(|e| panic!("refresh: {e:?}"));
        let rotated = refreshed.refresh_token().expect("a new refresh token");
        assert_ne!(
            rotated.secret(),
            refresh.secret(),
            "the refresh token rotates"
        );
        let again = self
            .userinfo_with(refreshed.access_token(), &signed_in)
            .await;
        assert_eq!(again.email().map(|e| e.as_str()), Some(email));
    }
}

const CONFIDENTIAL_REDIRECT: &str = "http://127.0.0.1:9/confidential/callback";
const PUBLIC_REDIRECT: &str = "http://127.0.0.1:9/public/callback";

async fn a_confidential_client_signs_a_user_in_with_client_secret_basic_and_pkce(backend: Backend) {
    let app = spawn_issuer(backend).await;
    let email = user(&app).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, CONFIDENTIAL_REDIRECT)
        .await;
    assert!(client.secret.is_some());
    // openidconnect's default client authentication is client_secret_basic.
    let rp = Rp::discover(&app, &client, CONFIDENTIAL_REDIRECT).await;
    rp.prove(&app, &email).await;
}

async fn a_public_client_signs_a_user_in_with_pkce_and_no_secret(backend: Backend) {
    let app = spawn_issuer(backend).await;
    let email = user(&app).await;
    let client = app
        .create_oidc_client(AppKind::Public, PUBLIC_REDIRECT)
        .await;
    assert!(client.secret.is_none());
    let rp = Rp::discover(&app, &client, PUBLIC_REDIRECT).await;
    rp.prove(&app, &email).await;
}

async fn a_second_authorization_in_the_same_browser_skips_the_login_form(backend: Backend) {
    let app = spawn_issuer(backend).await;
    let email = user(&app).await;
    let web = app
        .create_oidc_client(AppKind::Confidential, CONFIDENTIAL_REDIRECT)
        .await;
    let spa = app
        .create_oidc_client(AppKind::Public, PUBLIC_REDIRECT)
        .await;
    let web = Rp::discover(&app, &web, CONFIDENTIAL_REDIRECT).await;
    let spa = Rp::discover(&app, &spa, PUBLIC_REDIRECT).await;
    let mut browser = Browser::new(&app);

    let first = web.sign_in(&mut browser, &email, false).await;
    assert_eq!(first.pages, [Page::Login, Page::Consent]);
    // Another app in the same browser: no password asked, only its consent.
    let other = spa.sign_in(&mut browser, &email, false).await;
    assert_eq!(other.pages, [Page::Consent]);
    // The first app again: consent remembered, straight back with a code.
    let again = web.sign_in(&mut browser, &email, false).await;
    assert_eq!(again.pages, []);
    for signed_in in [&other, &again] {
        assert_eq!(signed_in.claims.subject(), first.claims.subject());
    }
    assert_ne!(
        again.tokens.access_token().secret(),
        first.tokens.access_token().secret()
    );
    let userinfo = spa.userinfo(&other).await;
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some(email.as_str()));

    // A browser without the session cookie is asked to log in.
    let mut stranger = Browser::new(&app);
    let fresh = web.sign_in(&mut stranger, &email, false).await;
    assert_eq!(fresh.pages, [Page::Login]);
}

async fn prompt_login_shows_the_login_form_again_despite_the_browser_session(backend: Backend) {
    let app = spawn_issuer(backend).await;
    let email = user(&app).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, CONFIDENTIAL_REDIRECT)
        .await;
    let rp = Rp::discover(&app, &client, CONFIDENTIAL_REDIRECT).await;
    let mut browser = Browser::new(&app);

    let first = rp.sign_in(&mut browser, &email, false).await;
    assert_eq!(first.pages, [Page::Login, Page::Consent]);
    let forced = rp.sign_in(&mut browser, &email, true).await;
    assert_eq!(forced.pages, [Page::Login], "prompt=login asks again");
    assert_eq!(forced.claims.subject(), first.claims.subject());
    // Without prompt=login the session signs in silently again.
    let silent = rp.sign_in(&mut browser, &email, false).await;
    assert_eq!(silent.pages, []);
}
