// The authd demo: the browser pattern of the README, as a page.
//
// The access token lives only in the `accessToken` variable of this closure:
// never in localStorage, sessionStorage or a cookie, so a script that runs in
// the page later finds nothing stored to steal, and a reload forgets it. The
// refresh token is in an HttpOnly `__Host-` cookie that this script cannot read
// or overwrite, and no other host can set; on page load, POST /auth/refresh with
// that cookie restores the session.
'use strict';

(() => {
  let accessToken = null;
  let expiresAt = 0; // milliseconds since the epoch
  let renewTimer = null;
  // The refresh in flight in this tab, shared by everything that asks for one.
  // Tabs do not coordinate: when two tabs present the same cookie at once,
  // authd's grace rule hands both the same new token.
  let refreshing = null;

  const $ = (id) => document.getElementById(id);

  function show(state, text) {
    const status = $('status');
    status.dataset.state = state;
    status.textContent = text;
    $('login-form').hidden = state !== 'signed-out';
    $('account').hidden = state !== 'signed-in';
  }

  function signedIn(email) {
    show('signed-in', `signed in as ${email}`);
    $('expires').textContent = new Date(expiresAt).toLocaleTimeString();
  }

  function signedOut() {
    forget();
    $('me').textContent = '';
    show('signed-out', 'signed out');
  }

  function showError(text) {
    $('error').textContent = text;
  }

  async function describe(response) {
    try {
      const body = await response.json();
      return `${response.status} ${body.error}: ${body.error_description}`;
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  // Keeps a token response and schedules the next refresh a minute before the
  // access token expires (a fifth of its life before, if it is shorter).
  function keep(tokens) {
    accessToken = tokens.access_token;
    expiresAt = Date.now() + tokens.expires_in * 1000;
    const lead = Math.min(60, tokens.expires_in / 5) * 1000;
    clearTimeout(renewTimer);
    renewTimer = setTimeout(renew, Math.max(tokens.expires_in * 1000 - lead, 1000));
  }

  function forget() {
    accessToken = null;
    expiresAt = 0;
    clearTimeout(renewTimer);
    renewTimer = null;
  }

  async function renew() {
    if (await refresh()) {
      $('expires').textContent = new Date(expiresAt).toLocaleTimeString();
    } else {
      signedOut();
    }
  }

  // POST /auth/refresh with the cookie: true when a new access token came back.
  // A refused cookie (401) means signed out; a network error keeps the state.
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        try {
          const response = await fetch('/auth/refresh', {
            method: 'POST',
            credentials: 'include',
          });
          if (!response.ok) {
            forget();
            if (response.status !== 401) showError(await describe(response));
            return false;
          }
          keep(await response.json());
          return true;
        } catch (e) {
          showError(`refresh failed: ${e.message}`);
          return false;
        } finally {
          refreshing = null;
        }
      })();
    }
    return refreshing;
  }

  // A call to an API with the Bearer token; on a 401 (an expired or revoked
  // access token) one refresh and one retry. The cookie is not sent: APIs
  // need only the access token.
  async function api(path) {
    if (!accessToken && !(await refresh())) return null;
    const call = () => fetch(path, {
      credentials: 'omit',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    let response = await call();
    if (response.status === 401) {
      if (!(await refresh())) return null;
      response = await call();
    }
    return response;
  }

  // GET /auth/me: true when signed in.
  async function loadMe() {
    const response = await api('/auth/me');
    if (response === null || response.status === 401) {
      signedOut();
      return false;
    }
    if (!response.ok) {
      showError(await describe(response));
      return false;
    }
    const me = await response.json();
    $('me').textContent = JSON.stringify(me, null, 2);
    signedIn(me.email);
    return true;
  }

  async function post(path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async function login(email, password) {
    const response = await post('/auth/login', { email, password });
    if (!response.ok) {
      showError(await describe(response));
      return false;
    }
    keep(await response.json());
    return loadMe();
  }

  async function register(email, password) {
    const response = await post('/auth/register', { email, password });
    if (!response.ok) {
      showError(await describe(response));
      return false;
    }
    return login(email, password);
  }

  // POST /auth/logout with the cookie: authd revokes the session and clears it.
  async function logout() {
    try {
      const response = await fetch('/auth/logout', { method: 'POST', credentials: 'include' });
      if (!response.ok) showError(await describe(response));
    } catch (e) {
      showError(`logout failed: ${e.message}`);
    }
    signedOut();
  }

  function credentials() {
    showError('');
    return [$('email').value, $('password').value];
  }

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    login(...credentials());
  });
  $('register').addEventListener('click', () => {
    if ($('login-form').reportValidity()) register(...credentials());
  });
  $('call-me').addEventListener('click', () => { showError(''); loadMe(); });
  $('refresh').addEventListener('click', () => { showError(''); renew(); });
  $('logout').addEventListener('click', () => { showError(''); logout(); });

  // For the console and the end-to-end test; none of these returns a token.
  window.demo = Object.freeze({
    refresh: () => refresh(),
    loadMe: () => loadMe(),
  });

  refresh().then((ok) => (ok ? loadMe() : signedOut()));
})();
