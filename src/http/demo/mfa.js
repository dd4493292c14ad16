// The demo's second factor (TOTP and recovery codes), as an SPA does it:
//
// - Signing in: a right password for an account with a factor answers 401
//   `mfa_required` with a challenge and no session (app.js hands it here).
//   This page asks for the code and posts it with the challenge to
//   POST /auth/mfa/verify, cookie delivery: the answer is a login's (an
//   access token, the refresh cookie), which app.js keeps.
// - Signed in: POST /auth/mfa/totp (Bearer) answers the secret, shown as
//   text for the authenticator app; POST /auth/mfa/totp/confirm with the
//   app's first code turns it on and answers the ten recovery codes, shown
//   once. GET /auth/mfa says what the account has.
// - Under `mfa.required`, a right password for an account without a factor
//   answers 401 `mfa_enrollment_required` with an enrolment challenge: this
//   page gets a secret for it (POST /auth/mfa/enroll/totp), and its first
//   code (POST /auth/mfa/enroll/totp/confirm, cookie delivery) turns the
//   factor on and signs in at once, with the recovery codes.
//
// The challenge lives in this closure only, like the access token in
// app.js's: it is a bearer value worth a sign-in with the second factor.
'use strict';

window.demoMfa = (() => {
  const ui = window.demoUi;
  const { $ } = ui;
  // The challenge of the sign-in waiting for its second factor.
  let challenge = null;

  // After `mfa_required`: the code form.
  function ask(body) {
    challenge = body.mfa_challenge;
    $('mfa-code').value = '';
    ui.show('mfa', 'second factor needed');
    $('mfa-code').focus();
  }

  function cancel() {
    challenge = null;
    ui.show('signed-out', 'signed out');
  }

  // After `mfa_enrollment_required`: a secret for the challenge, then the
  // enrolment form.
  async function enrol(body) {
    challenge = body.mfa_challenge;
    const response = await ui.post('/auth/mfa/enroll/totp', { challenge });
    if (!response.ok) {
      await ui.fail(response);
      cancel();
      return;
    }
    const enrolment = await response.json();
    $('enrol-secret').textContent = enrolment.secret;
    $('enrol-uri').textContent = enrolment.otpauth_uri;
    $('enrol-code').value = '';
    ui.show('mfa-enrol', 'a second factor is required');
    $('enrol-code').focus();
  }

  // The first code: the factor on, the session started, the codes shown.
  async function finishEnrolment(code) {
    const response = await ui.post('/auth/mfa/enroll/totp/confirm', { challenge, code: code.trim() });
    if (!response.ok) {
      const error = await ui.fail(response);
      if (error === 'invalid_mfa_challenge') cancel();
      return;
    }
    challenge = null;
    const answer = await response.json();
    $('enrol-secret').textContent = '';
    $('enrol-uri').textContent = '';
    await window.demoSession.signIn(answer);
    showCodes(answer.recovery_codes);
    ui.notice('Your authenticator app is set up. Keep the recovery codes somewhere safe: they are shown once.');
  }

  function showCodes(codes) {
    $('recovery-codes').replaceChildren(...(codes || []).map((c) => {
      const item = document.createElement('li');
      item.textContent = c;
      return item;
    }));
  }

  // Digits only are a TOTP code; anything else a recovery code.
  function answer(value) {
    const v = value.trim();
    return /^[0-9]+$/.test(v) ? { code: v } : { recovery_code: v };
  }

  async function verify(value) {
    const response = await ui.post('/auth/mfa/verify', { challenge, ...answer(value) });
    if (!response.ok) {
      const code = await ui.fail(response);
      // A challenge that is spent, expired or dead: sign in again.
      if (code === 'invalid_mfa_challenge') {
        challenge = null;
        ui.show('signed-out', 'signed out');
      }
      return;
    }
    challenge = null;
    await window.demoSession.signIn(await response.json());
  }

  // What GET /auth/mfa says, on the signed-in view.
  async function status() {
    const response = await window.demoSession.api('/auth/mfa');
    if (response === null || !response.ok) return;
    const factors = await response.json();
    $('totp-status').textContent = factors.totp
      ? `on (${factors.recovery_codes_left} recovery codes left)`
      : 'off';
    $('totp-start').hidden = factors.totp;
    $('totp-enrol').hidden = true;
  }

  // A refusal of a change: a stale sign-in gets a sentence to act on.
  async function refused(response) {
    const code = await ui.fail(response);
    if (code === 'insufficient_user_authentication') {
      ui.showError('This change needs a recent sign-in with your second factor: sign out and in again.', code);
    }
  }

  async function start() {
    const response = await window.demoSession.api('/auth/mfa/totp', {});
    if (response === null) return;
    if (!response.ok) {
      await refused(response);
      return;
    }
    const enrolment = await response.json();
    $('totp-secret').textContent = enrolment.secret;
    $('totp-uri').textContent = enrolment.otpauth_uri;
    $('totp-confirm-code').value = '';
    $('recovery-codes').replaceChildren();
    $('totp-start').hidden = true;
    $('totp-enrol').hidden = false;
  }

  async function confirm(code) {
    const response = await window.demoSession.api('/auth/mfa/totp/confirm', { code: code.trim() });
    if (response === null) return;
    if (!response.ok) {
      await refused(response);
      return;
    }
    const confirmed = await response.json();
    showCodes(confirmed.recovery_codes);
    $('totp-secret').textContent = '';
    $('totp-uri').textContent = '';
    ui.notice('Your authenticator app is set up. Keep the recovery codes somewhere safe: they are shown once.');
    await status();
  }

  $('mfa-form').addEventListener('submit', (event) => {
    event.preventDefault();
    ui.clear();
    verify($('mfa-code').value);
  });
  $('mfa-cancel').addEventListener('click', () => { ui.clear(); cancel(); });
  $('mfa-enrol-form').addEventListener('submit', (event) => {
    event.preventDefault();
    ui.clear();
    finishEnrolment($('enrol-code').value);
  });
  $('enrol-cancel').addEventListener('click', () => { ui.clear(); cancel(); });
  $('totp-start').addEventListener('click', () => { ui.clear(); start(); });
  $('totp-confirm').addEventListener('submit', (event) => {
    event.preventDefault();
    ui.clear();
    confirm($('totp-confirm-code').value);
  });

  return Object.freeze({ ask, enrol, status });
})();
