// The authd demo: the browser pattern of the README, as a page.
//
// The access token lives only in the `accessToken` variable of this closure:
// never in localStorage, sessionStorage or a cookie, so a script that runs in
// the page later finds nothing stored to steal, and a reload forgets it. The
// refresh token is in an HttpOnly `__Host-` cookie that this script cannot read
// or overwrite, and no other host can set; on page load, POST /auth/refresh with
// that cookie restores the session (unless the page was opened from an emailed
// link: links.js shows that link's form first; or as the answer of "Sign in
// with authd": code_flow.js completes that sign-in first).
'use strict';

(() => {
  const ui = window.demoUi;
  const { $, showError } = ui;
  let accessToken = null;
  let expiresAt = 0; // milliseconds since the epoch
  let renewTimer = null;
  // The refresh in flight in this tab, shared by everything that asks for one.
  // Tabs do not coordinate: when two tabs present the same cookie at once,
  // authd's grace rule hands both the same new token.
  let refreshing = null;

  // The address of the signed-in user, for the resend button.
  let email = null;

  function signedIn(me) {
    email = me.email;
    ui.show('signed-in', `signed in as ${me.email}`);
    $('expires').textContent = new Date(expiresAt).toLocaleTimeString();
    $('verified').dataset.verified = String(me.email_verified);
    $('verified').textContent = me.email_verified ? 'verified' : 'not verified yet';
    $('resend').hidden = me.email_verified;
    window.demoMfa.status();
  }

  function signedOut() {
    forget();
    email = null;
    $('me').textContent = '';
    $('passkeys').replaceChildren();
    $('recovery-codes').hidden = true;
    $('recovery-codes').textContent = '';
    $('resend-unverified').hidden = true;
    ui.show('signed-out', 'signed out');
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
            if (response.status !== 401) await ui.fail(response);
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

  // A call to an API with the Bearer token (a GET, or with `body` a JSON
  // POST); on a 401 (an expired or revoked access token) one refresh and one
  // retry. The cookie is not sent: APIs need only the access token.
  async function api(path, body) {
    if (!accessToken && !(await refresh())) return null;
    const call = () => fetch(path, {
      credentials: 'omit',
      ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }),
      headers: {
        authorization: `Bearer ${accessToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
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
      await ui.fail(response);
      return false;
    }
    const me = await response.json();
    $('me').textContent = JSON.stringify(me, null, 2);
    signedIn(me);
    return true;
  }

  // The session from the cookie, if there is one; else the sign-in form.
  async function restore() {
    return (await refresh()) ? loadMe() : (signedOut(), false);
  }

  // A refused sign-in for an address not yet verified (with
  // accounts.email_verification = "required") offers a new link; a right
  // password for an account with a second factor (401 `mfa_required`), or
  // without one under mfa.required (401 `mfa_enrollment_required`), goes on
  // in mfa.js, which comes back through `signIn`.
  async function login(address, password) {
    const response = await ui.post('/auth/login', { email: address, password });
    if (!response.ok) {
      const body = await response.clone().json().catch(() => null);
      if (body && body.error === 'mfa_required') {
        $('password').value = '';
        window.demoMfa.ask(body);
        return false;
      }
      if (body && body.error === 'mfa_enrollment_required') {
        $('password').value = '';
        await window.demoMfa.enrol(body);
        return false;
      }
      const code = await ui.fail(response);
      $('resend-unverified').hidden = code !== 'email_not_verified';
      return false;
    }
    return signIn(await response.json());
  }

  // A login's answer (from /auth/login, or /auth/mfa/verify in mfa.js): the
  // access token kept in this closure, then the account.
  function signIn(tokens) {
    keep(tokens);
    return loadMe();
  }

  // 201 and signed in; 202 (accounts.enumeration_safe_registration) says only
  // that a mail is on its way, so the page cannot sign in yet.
  async function register(address, password) {
    const response = await ui.post('/auth/register', { email: address, password });
    if (response.status === 202) {
      ui.notice(`Check the mailbox of ${address} to go on.`);
      return false;
    }
    if (!response.ok) {
      await ui.fail(response);
      return false;
    }
    return login(address, password);
  }

  // POST /auth/email/change (Bearer): a link goes to the new address, which
  // replaces the old one once the link's page confirms it.
  async function changeEmail(newEmail, currentPassword) {
    const response = await api('/auth/email/change', {
      new_email: newEmail,
      current_password: currentPassword,
    });
    if (response === null) {
      signedOut();
      return;
    }
    if (response.status !== 202) {
      await ui.fail(response);
      return;
    }
    $('change-password').value = '';
    ui.notice(`A confirmation link is on its way to ${newEmail}.`);
  }

  // Passkeys (passkeys.js: the WebAuthn JSON). Adding one: the options from
  // POST /auth/passkeys/register/start (Bearer), the browser's new passkey
  // to /auth/passkeys/register/finish; the first factor of the account
  // brings its recovery codes, shown once.
  async function addPasskey() {
    const started = await api('/auth/passkeys/register/start', {});
    if (started === null) return signedOut();
    if (!started.ok) return ui.fail(started);
    const { ceremony, options } = await started.json();
    let credential;
    try {
      credential = await window.demoPasskeys.create(options);
    } catch (e) {
      return showError(`no passkey was made: ${e.name}`);
    }
    const finished = await api('/auth/passkeys/register/finish', { ceremony, credential });
    if (finished === null) return signedOut();
    if (!finished.ok) return ui.fail(finished);
    const added = await finished.json();
    ui.notice(`Passkey added: ${added.name}.`);
    if (added.recovery_codes) {
      $('recovery-codes').textContent =
        `Your recovery codes (shown once):\n${added.recovery_codes.join('\n')}`;
      $('recovery-codes').hidden = false;
    }
    return listPasskeys();
  }

  // GET /auth/passkeys (Bearer): their names.
  async function listPasskeys() {
    const response = await api('/auth/passkeys');
    if (response === null || !response.ok) return;
    const { passkeys } = await response.json();
    $('passkeys').replaceChildren(...passkeys.map((p) => {
      const li = document.createElement('li');
      li.textContent = p.name;
      return li;
    }));
  }

  // Passwordless: the options of POST /auth/passkey/start, the browser's
  // assertion to /auth/passkey/finish, which answers as a login (the refresh
  // cookie set).
  async function passkeyLogin() {
    const started = await ui.post('/auth/passkey/start', {});
    if (!started.ok) return ui.fail(started);
    const { ceremony, options } = await started.json();
    let credential;
    try {
      credential = await window.demoPasskeys.get(options);
    } catch (e) {
      return showError(`no passkey was used: ${e.name}`);
    }
    const response = await ui.post('/auth/passkey/finish', { ceremony, credential });
    if (!response.ok) return ui.fail(response);
    keep(await response.json());
    return loadMe();
  }

  // POST /auth/logout with the cookie: authd revokes the session and clears it.
  async function logout() {
    try {
      const response = await fetch('/auth/logout', { method: 'POST', credentials: 'include' });
      if (!response.ok) await ui.fail(response);
    } catch (e) {
      showError(`logout failed: ${e.message}`);
    }
    signedOut();
  }

  function credentials() {
    ui.clear();
    return [$('email').value, $('password').value];
  }

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    login(...credentials());
  });
  $('register').addEventListener('click', () => {
    if ($('login-form').reportValidity()) register(...credentials());
  });
  $('call-me').addEventListener('click', () => { ui.clear(); loadMe(); });
  if (window.demoPasskeys.supported()) {
    $('passkey-login').hidden = false;
    $('add-passkey').hidden = false;
  }
  $('passkey-login').addEventListener('click', () => { ui.clear(); passkeyLogin(); });
  $('add-passkey').addEventListener('click', () => { ui.clear(); addPasskey(); });
  $('refresh').addEventListener('click', () => { ui.clear(); renew(); });
  $('logout').addEventListener('click', () => { ui.clear(); logout(); });
  $('resend').addEventListener('click', () => window.demoLinks.resend(email));
  $('resend-unverified').addEventListener('click', () => {
    if ($('email').reportValidity()) window.demoLinks.resend($('email').value);
  });
  $('change-form').addEventListener('submit', (event) => {
    event.preventDefault();
    ui.clear();
    changeEmail($('new-email').value, $('change-password').value);
  });

  // For links.js, the console and the end-to-end test; none of these returns
  // a token.
  window.demo = Object.freeze({
    refresh: () => refresh(),
    loadMe: () => loadMe(),
    restore: () => restore(),
  });

  // For mfa.js: its calls with the Bearer token (answers, never the token),
  // and a sign-in finished with the second factor (the tokens go in, only).
  window.demoSession = Object.freeze({
    api: (path, body) => api(path, body),
    signIn: (tokens) => signIn(tokens),
  });

  // Opened as the answer of "Sign in with authd" (code_flow.js), or from an
  // emailed link (links.js), or plainly: the session from the cookie.
  const signingIn = window.demoCodeFlow.finish();
  if (signingIn) {
    signingIn.then((signedIn) => signedIn || restore());
  } else if (!window.demoLinks.open()) {
    restore();
  }
})();
