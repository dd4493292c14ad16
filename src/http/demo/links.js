// The pages an emailed link opens, and the forgot-password form.
//
// Every link authd mails is `<this page>?action=<kind>&token=<token>`. At
// start-up the token is read into this closure and the query is taken out of
// the address bar at once (history.replaceState), so the token stays neither
// in the history nor in a Referer (the page sends none anyway: its referrer
// policy is no-referrer). Opening a link spends nothing: the page shows a
// form, and only its submit sends the token, once the user asks for it (a
// mail scanner that opens every link changes nothing).
'use strict';

window.demoLinks = (() => {
  const ui = window.demoUi;
  const { $ } = ui;
  // The token of the link this page was opened from, until its form is sent
  // with success or the user goes back to sign in.
  let token = null;

  // action → [view, status text]; `forgot_password` (the link of the mail a
  // second registration of an address sends) needs no token.
  const VIEWS = {
    password_reset: ['reset', 'choose a new password'],
    verify_email: ['verify', 'confirm your email address'],
    email_change_confirm: ['change-confirm', 'confirm your new email address'],
    forgot_password: ['forgot', 'forgot your password?'],
  };

  // Called by app.js at start-up: true when the page was opened from a link
  // and now shows that link's form (the session is then not restored yet).
  function open() {
    const query = new URLSearchParams(location.search);
    if (location.search) history.replaceState(null, '', location.pathname);
    const action = query.get('action');
    const view = Object.hasOwn(VIEWS, action) ? VIEWS[action] : null;
    if (!view) return false;
    token = query.get('token');
    if (action !== 'forgot_password' && !token) {
      ui.showError('This link is incomplete; open the whole link from the email.');
      return false;
    }
    ui.show(...view);
    return true;
  }

  function showForgot(email) {
    ui.clear();
    token = null;
    $('forgot-email').value = email;
    ui.show(...VIEWS.forgot_password);
    $('forgot-email').focus();
  }

  // Back to the signed-out or signed-in view, whichever the cookie gives.
  function leave(message) {
    token = null;
    ui.notice(message);
    window.demo.restore();
  }

  // POST /auth/password/forgot: 202 whether or not the address has an account.
  async function forgot(email) {
    const response = await ui.post('/auth/password/forgot', { email });
    if (response.status !== 202) {
      await ui.fail(response);
      return;
    }
    $('email').value = email;
    leave('If an account exists for that address, an email is on its way.');
  }

  // POST /auth/password/reset with the link's token: 204, or (with
  // accounts.reset_signs_in) the login answer, whose cookie signs this page in.
  // A weak password spends nothing: the form stays, the token with it.
  async function reset(newPassword) {
    const response = await ui.post('/auth/password/reset', { token, new_password: newPassword });
    if (!response.ok) {
      await ui.fail(response);
      return;
    }
    $('new-password').value = '';
    leave(response.status === 204
      ? 'Your password was changed: sign in with the new one.'
      : 'Your password was changed, and you are signed in.');
  }

  // POST /auth/email/verify or /auth/email/change/confirm with the link's
  // token, and the password if one was typed (the account keeps it; without
  // it, a first proof of the address withdraws it): 200 and the user, its
  // address now proven.
  async function confirm(path, passwordField, done) {
    const password = $(passwordField).value;
    const response = await ui.post(path, password ? { token, password } : { token });
    if (!response.ok) {
      await ui.fail(response);
      return;
    }
    $(passwordField).value = '';
    const user = await response.json();
    leave(done(user.email));
  }

  // POST /auth/email/verify/resend: 202 whether or not the address has an
  // account that waits for its verification.
  async function resend(email) {
    ui.clear();
    const response = await ui.post('/auth/email/verify/resend', { email });
    if (response.status !== 202) {
      await ui.fail(response);
      return;
    }
    ui.notice(`If ${email} waits for its verification, a new link is on its way.`);
  }

  function onSubmit(id, action) {
    $(id).addEventListener('submit', (event) => {
      event.preventDefault();
      ui.clear();
      action();
    });
  }

  onSubmit('forgot-form', () => forgot($('forgot-email').value));
  onSubmit('reset-form', () => reset($('new-password').value));
  onSubmit('verify-form', () => confirm('/auth/email/verify', 'verify-password',
    (email) => `The address ${email} is verified.`));
  onSubmit('change-confirm-form', () => confirm('/auth/email/change/confirm',
    'change-confirm-password', (email) => `Your account's address is now ${email}.`));
  $('forgot-link').addEventListener('click', (event) => {
    event.preventDefault();
    showForgot($('email').value);
  });
  for (const back of document.querySelectorAll('button.back')) {
    back.addEventListener('click', () => {
      ui.clear();
      leave('');
    });
  }

  return Object.freeze({ open, resend });
})();
