// authd's hosted pages: passkeys (WebAuthn). Served as /assets/passkeys.js,
// the only script the pages load, and only on the pages that offer a passkey
// (their Content-Security-Policy allows `script-src 'self'` and nothing else).
//
// Every `form[data-passkey]` is a ceremony the server began: `data-options`
// holds its options as JSON (binary fields base64url), `data-passkey` says
// which call answers it (`create`: a new passkey; `get`: an assertion). The
// form stays hidden without this script (or without WebAuthn). On submit the
// script asks the authenticator, puts its answer (`credential.toJSON()`) in
// the form's hidden `credential` field, and posts the form as a form: the
// server checks it and answers with a page or a redirect, as for any form.
//
// A `get` form marked `data-conditional` also offers its passkeys in the
// browser's autofill of the page's `autocomplete="... webauthn"` field
// (`mediation: "conditional"`), when the browser can.
"use strict";

(() => {
  const b64u = {
    decode(text) {
      const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
      const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      const bytes = new Uint8Array(buffer);
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  const withIds = (list) => (list || []).map((c) => ({ ...c, id: b64u.decode(c.id) }));

  // PublicKeyCredential.parse*OptionsFromJSON where the browser has them,
  // else the same by hand.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: b64u.decode(json.challenge),
      user: { ...json.user, id: b64u.decode(json.user.id) },
      excludeCredentials: withIds(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: b64u.decode(json.challenge),
      allowCredentials: withIds(json.allowCredentials),
    };
  }

  // credential.toJSON() where the browser has it, else the same by hand.
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: b64u.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64u.encode(r.attestationObject);
    } else {
      response.authenticatorData = b64u.encode(r.authenticatorData);
      response.signature = b64u.encode(r.signature);
      if (r.userHandle) response.userHandle = b64u.encode(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: b64u.encode(credential.rawId),
      type: credential.type,
      response,
      extensions: {},
    };
  }

  function answer(form, credential) {
    const json = credentialJSON(credential);
    // authd reads the WebAuthn answer only; the client's extension outputs
    // are not part of it.
    delete json.clientExtensionResults;
    json.extensions = {};
    form.elements.credential.value = JSON.stringify(json);
    form.submit();
  }

  function showError(form, text) {
    const p = form.querySelector(".passkey-error");
    if (p) {
      p.textContent = text;
      p.hidden = false;
    }
  }

  function ceremony(form) {
    const options = JSON.parse(form.dataset.options);
    // The autofill request while it waits: aborted, and settled, before the
    // button's prompt (a browser runs one request at a time).
    let conditional = null;
    let pending = Promise.resolve();

    async function ask(event) {
      event.preventDefault();
      if (conditional) {
        conditional.abort();
        conditional = null;
        await pending;
      }
      try {
        const credential =
          form.dataset.passkey === "create"
            ? await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
            : await navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
        if (credential) answer(form, credential);
      } catch (e) {
        // Why, for whoever opens the console (the page says only that none was used).
        console.info("passkey: " + e.name + ": " + e.message);
        showError(form, "No passkey was used. Try again, or use another way.");
      }
    }

    form.addEventListener("submit", ask);
    form.hidden = false;

    if (form.dataset.conditional !== undefined && form.dataset.passkey === "get") {
      const available = PublicKeyCredential.isConditionalMediationAvailable;
      if (!available) return;
      available.call(PublicKeyCredential).then((yes) => {
        if (!yes) return;
        conditional = new AbortController();
        pending = navigator.credentials
          .get({
            publicKey: requestOptions(options.publicKey),
            mediation: "conditional",
            signal: conditional.signal,
          })
          .then((credential) => {
            if (credential) answer(form, credential);
          })
          // Aborted for the button's prompt, or dismissed: nothing to say.
          .catch(() => {});
      });
    }
  }

  function start() {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("form[data-passkey]").forEach(ceremony);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
