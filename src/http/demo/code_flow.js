// "Sign in with authd": the demo as an app signing its users in through
// authd's hosted pages, with the authorization code flow and PKCE (RFC 7636),
// as the public client the operator named (`demo.client_id`, from
// config.json; without one the button stays hidden).
//
// The PKCE verifier, `state` and `nonce` are kept in sessionStorage for the
// round trip to authd only: this tab alone, removed as soon as the answer
// comes back. The answer's query (the code) leaves the address bar before
// anything else. The access token and the ID token then live in this closure
// only, like app.js's. The ID token's signature is not checked here: a browser
// has no JOSE library without a dependency, and the token came straight from
// the token endpoint over this origin's own connection (TLS in production), so
// its claims are read (`nonce`, `iss`, `aud`) but not verified; an app that
// hands an ID token on, or gets one any other way, verifies it (the JWKS).
'use strict';

window.demoCodeFlow = (() => {
  const ui = window.demoUi;
  const { $ } = ui;
  const PENDING = 'authd-demo-sign-in';

  // The answer this page was opened with, if it was opened as the redirect of
  // a sign-in (a `code` or an `error`, never an emailed link's `action`).
  const answer = takeAnswer();
  // { client_id, redirect_uri, scope }: the client is null when none is set.
  const config = fetchJson('config.json');
  let discovery = null;
  let accessToken = null;
  let idToken = null;

  function takeAnswer() {
    const query = new URLSearchParams(location.search);
    if (query.has('action') || !(query.has('code') || query.has('error'))) return null;
    history.replaceState(null, '', location.pathname);
    return query;
  }

  async function fetchJson(path) {
    const response = await fetch(path, { credentials: 'omit' });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  // The issuer's metadata: where to send the browser and where to post.
  function metadata() {
    if (!discovery) {
      discovery = fetchJson('/.well-known/openid-configuration');
      discovery.catch(() => { discovery = null; });
    }
    return discovery;
  }

  function base64url(bytes) {
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // 32 random bytes, base64url: 43 characters (a PKCE verifier's least).
  function random() {
    return base64url(crypto.getRandomValues(new Uint8Array(32)));
  }

  async function s256(verifier) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  // The claims of a JWT, read without checking its signature (see above).
  function claimsOf(jwt) {
    try {
      const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='));
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return null;
    }
  }

  // The verifier, state and nonce of the sign-in this tab started, taken out
  // of sessionStorage: each serves one answer, whatever it turns out to be.
  function takePending() {
    const stored = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
    try {
      return stored === null ? null : JSON.parse(stored);
    } catch {
      return null;
    }
  }

  function forget() {
    accessToken = null;
    idToken = null;
    $('authd-userinfo').textContent = '';
  }

  // The button: a new verifier, state and nonce, then authd's authorization
  // endpoint, which shows its sign-in (and consent) pages or, with a browser
  // session there already, comes straight back.
  async function start() {
    ui.clear();
    try {
      const [cfg, meta] = await Promise.all([config, metadata()]);
      const pending = { verifier: random(), state: random(), nonce: random() };
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: cfg.client_id,
        redirect_uri: cfg.redirect_uri,
        scope: cfg.scope,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await s256(pending.verifier),
        code_challenge_method: 'S256',
      });
      sessionStorage.setItem(PENDING, JSON.stringify(pending));
      location.assign(`${meta.authorization_endpoint}?${query}`);
    } catch (e) {
      ui.showError(`Sign in with authd failed: ${e.message}`);
    }
  }

  function refuse(text, code) {
    ui.showError(text, code);
    return false;
  }

  // The answer authd sent the browser back with: the state and issuer
  // checked (RFC 9207) before the code goes anywhere, then the code and the
  // verifier posted to the token endpoint. True when signed in.
  async function complete(query) {
    const pending = takePending();
    ui.show('signing-in', 'signing in with authd…');
    if (!pending || query.get('state') !== pending.state) {
      return refuse('This answer is not for a sign-in this tab started (its state does not '
        + 'match): it was ignored.', 'state_mismatch');
    }
    const [cfg, meta] = await Promise.all([config, metadata()]);
    if (query.get('iss') !== meta.issuer) {
      return refuse(`This answer does not come from ${meta.issuer} (its iss): it was ignored.`,
        'issuer_mismatch');
    }
    if (query.has('error')) {
      const error = query.get('error');
      const description = query.get('error_description');
      return refuse(`authd answered ${error}${description ? `: ${description}` : ''}`, error);
    }
    const response = await fetch(meta.token_endpoint, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: query.get('code'),
        redirect_uri: cfg.redirect_uri,
        client_id: cfg.client_id,
        code_verifier: pending.verifier,
      }),
    });
    if (!response.ok) {
      await ui.fail(response);
      return false;
    }
    const tokens = await response.json();
    const claims = claimsOf(tokens.id_token);
    const audience = [claims?.aud].flat();
    if (!claims || claims.nonce !== pending.nonce || claims.iss !== meta.issuer
        || !audience.includes(cfg.client_id)) {
      return refuse('The ID token is not for this sign-in (its nonce, iss or aud): ignored.',
        'invalid_id_token');
    }
    accessToken = tokens.access_token;
    idToken = tokens.id_token;
    return loadUserinfo();
  }

  // GET /oauth/userinfo with the app's access token: true when it answered.
  async function loadUserinfo() {
    const [cfg, meta] = await Promise.all([config, metadata()]);
    const response = await fetch(meta.userinfo_endpoint, {
      credentials: 'omit',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (!response.ok) {
      forget();
      if (response.status === 401) {
        return refuse('authd no longer accepts the access token (expired, or the session '
          + 'ended): sign in with authd again.', 'invalid_token');
      }
      await ui.fail(response);
      return false;
    }
    const user = await response.json();
    $('authd-userinfo').textContent = JSON.stringify(user, null, 2);
    $('authd-client').textContent = cfg.client_id;
    ui.show('signed-in-authd', `signed in with authd as ${user.email}`);
    return true;
  }

  // RP-initiated logout: authd ends its browser session (and what signed in
  // through it) and sends the browser back here, to the registered URI.
  async function logout() {
    const [cfg, meta] = await Promise.all([config, metadata()]);
    const query = new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: cfg.redirect_uri,
    });
    forget();
    location.assign(`${meta.end_session_endpoint}?${query}`);
  }

  // Called by app.js at start-up: when this page is the answer of a sign-in,
  // a promise of whether it signed in (the page is then not restored from the
  // refresh cookie unless it did not); otherwise null.
  function finish() {
    if (!answer) return null;
    return complete(answer).catch((e) => {
      forget();
      return refuse(`Sign in with authd failed: ${e.message}`);
    });
  }

  config.then((cfg) => { $('code-flow').hidden = !cfg.client_id; }, () => {});
  $('authd-sign-in').addEventListener('click', start);
  $('authd-logout').addEventListener('click', () => { ui.clear(); logout(); });
  $('authd-userinfo-again').addEventListener('click', () => {
    ui.clear();
    loadUserinfo().then((ok) => ok || window.demo.restore());
  });

  return Object.freeze({ finish });
})();
