// What the demo's scripts share: the views, the messages, and a JSON POST.
//
// Nothing here holds or sees a token: the access token is in app.js's closure
// only, a link's token in links.js's, and the tokens of "Sign in with authd"
// in code_flow.js's.
'use strict';

window.demoUi = (() => {
  const $ = (id) => document.getElementById(id);

  // Puts the page in `state`: `#status` says so (the browser test reads its
  // data-state), and only the element whose data-view is `state` is shown.
  function show(state, text) {
    const status = $('status');
    status.dataset.state = state;
    status.textContent = text;
    for (const view of document.querySelectorAll('[data-view]')) {
      view.hidden = view.dataset.view !== state;
    }
  }

  function showError(text, code = '') {
    $('error').textContent = text;
    $('error').dataset.code = code;
  }

  // An outcome worth keeping on screen across the next view ("your password
  // was changed"), until the user does something else.
  function notice(text) {
    $('notice').textContent = text;
  }

  function clear() {
    showError('');
    notice('');
  }

  // What an error code means to the person at the page; the codes are authd's
  // stable ones (README, "Errors").
  function meaning(response, body) {
    switch (body.error) {
      case 'invalid_account_token':
        return 'This link is invalid, expired or already used; ask for a new one.';
      case 'weak_password':
        return `Choose a stronger password: ${body.error_description}`;
      case 'too_many_requests': {
        const after = response.headers.get('retry-after');
        return after
          ? `Too many requests; try again in ${after} seconds.`
          : 'Too many requests; try again later.';
      }
      case 'email_not_verified':
        return 'Confirm your address first, with the link sent to it (or ask for a new one).';
      case 'email_taken':
        return 'That address belongs to another account.';
      case 'invalid_mfa_code':
        return 'That code is wrong or already used; try the current one, or a recovery code.';
      case 'invalid_mfa_challenge':
        return 'This sign-in has expired; sign in again.';
      default:
        return `${response.status} ${body.error}: ${body.error_description}`;
    }
  }

  // Shows what went wrong with `response` and returns its error code ('' when
  // the answer is not authd's JSON error).
  async function fail(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: a proxy's page, say.
    }
    if (!body || typeof body.error !== 'string') {
      showError(`${response.status} ${response.statusText}`);
      return '';
    }
    showError(meaning(response, body), body.error);
    return body.error;
  }

  // A JSON POST from this origin. The cookie goes with it only where authd
  // reads it (/auth/refresh, /auth/logout) and may come back from login.
  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  return Object.freeze({ $, show, showError, notice, clear, fail, post });
})();
