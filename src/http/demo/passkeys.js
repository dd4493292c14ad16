// Passkeys in the demo: the JSON shapes of the WebAuthn API. authd's options
// and the credentials it takes are the JSON of WebAuthn Level 3 (binary
// fields base64url): PublicKeyCredential.parse*OptionsFromJSON and
// credential.toJSON() where the browser has them, the same by hand where it
// does not. app.js calls authd's endpoints with them; nothing here sees a
// token.
'use strict';

window.demoPasskeys = (() => {
  const decode = (text) => {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => {
    let bin = '';
    for (const b of new Uint8Array(buffer)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: decode(c.id) }));

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: decode(json.challenge),
      user: { ...json.user, id: decode(json.user.id) },
      excludeCredentials: withIds(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return { ...json, challenge: decode(json.challenge), allowCredentials: withIds(json.allowCredentials) };
  }

  // The credential as authd reads it (its client extension outputs left out).
  function toJSON(credential) {
    let json;
    if (typeof credential.toJSON === 'function') {
      json = credential.toJSON();
    } else {
      const r = credential.response;
      const response = { clientDataJSON: encode(r.clientDataJSON) };
      if (r.attestationObject) {
        response.attestationObject = encode(r.attestationObject);
      } else {
        response.authenticatorData = encode(r.authenticatorData);
        response.signature = encode(r.signature);
        if (r.userHandle) response.userHandle = encode(r.userHandle);
      }
      json = { id: credential.id, rawId: encode(credential.rawId), type: credential.type, response };
    }
    delete json.clientExtensionResults;
    json.extensions = {};
    return json;
  }

  const supported = () => Boolean(window.PublicKeyCredential && navigator.credentials);

  // A new passkey for authd's `options` ({publicKey: ...}): its JSON.
  async function create(options) {
    const credential = await navigator.credentials.create({
      publicKey: creationOptions(options.publicKey),
    });
    return toJSON(credential);
  }

  // An assertion for authd's `options`, as a modal prompt (the options'
  // `mediation: "conditional"` is for autofill, which the demo does not use).
  async function get(options) {
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(options.publicKey),
    });
    return toJSON(credential);
  }

  return Object.freeze({ supported, create, get });
})();
