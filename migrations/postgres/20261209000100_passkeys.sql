-- Passkeys (WebAuthn): a second factor, and a sign-in of their own.
--
-- A user's registered passkey: `credential_id` is the authenticator's id
-- (unique across users: an assertion names its passkey by it), `passkey` the
-- relying-party library's serialized credential (public key, counter, backup
-- state; JSON), updated after each assertion. `name` is the user's label.
CREATE TABLE passkeys (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id  BYTEA NOT NULL UNIQUE,
    passkey        TEXT NOT NULL,
    name           TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_used_at   TIMESTAMPTZ
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- A WebAuthn ceremony in progress: its state stays here, never with the
-- client, which holds only a random id (the key is its SHA-256). `kind` is
-- `register`, `second_factor` or `passwordless`; `user_id` is NULL for a
-- passwordless sign-in (the user is not known until the assertion);
-- `mfa_challenge` is the hash of the sign-in challenge a second factor
-- answers; `start` the session a passwordless sign-in starts ('refresh' or
-- 'browser'). Spent once, by a conditional UPDATE of `used_at`.
CREATE TABLE webauthn_ceremonies (
    key_hash       BYTEA PRIMARY KEY,
    user_id        UUID REFERENCES users(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    state          TEXT NOT NULL,
    mfa_challenge  BYTEA,
    start          TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ
);
CREATE INDEX webauthn_ceremonies_expires_idx ON webauthn_ceremonies (expires_at);
