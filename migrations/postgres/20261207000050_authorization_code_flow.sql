-- The authorization code flow (OAuth 2.1, OpenID Connect).
--
-- A session row is now one of two kinds:
-- - 'refresh': a refresh-token family, as before. A family signed in through
--   a client's authorization code flow names that client (`client_id`), the
--   scopes granted to it (`scope`, space-separated) and the browser session
--   the user signed in with (`browser_session_id`); a first-party family has
--   NULL in all three.
-- - 'browser': the browser session at authd itself (single sign-on), kept in
--   the `__Host-authd_session` cookie; never rotated, never a refresh token.
-- `auth_time` is when the user last proved who they are for this session:
-- the login's time for a first-party family, the browser session's sign-in
-- for a client family. Rows before this migration take their `created_at`.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'refresh';
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN browser_session_id UUID;
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMPTZ;
UPDATE sessions SET auth_time = created_at;
CREATE INDEX sessions_browser_session_idx ON sessions (browser_session_id)
    WHERE browser_session_id IS NOT NULL;
CREATE INDEX sessions_client_idx ON sessions (user_id, client_id) WHERE client_id IS NOT NULL;

-- An authorization request kept on the server while the user signs in and
-- consents: the hosted pages carry only its id (and a CSRF token bound to it).
-- `pushed` marks a pushed authorization request (RFC 9126), whose request_uri
-- is single use. `user_id` and `browser_session_id` are set once the user has
-- signed in for it.
CREATE TABLE authorization_requests (
    id                 UUID PRIMARY KEY,
    client_id          TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scope              TEXT NOT NULL,
    state              TEXT,
    nonce              TEXT,
    code_challenge     TEXT,
    prompt             TEXT,
    max_age            BIGINT,
    login_hint         TEXT,
    acr_values         TEXT,
    pushed             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    consumed_at        TIMESTAMPTZ
);
CREATE INDEX authorization_requests_expires_at_idx ON authorization_requests (expires_at);

-- What a user consented to, per client: the union of the scopes granted.
CREATE TABLE consents (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes: stored only as the SHA-256 of the 256-bit code, single
-- use (`used_at`, set by one conditional UPDATE), bound to what they were
-- issued for. `session_id` is the family made when the code was redeemed: a
-- second presentation revokes it.
CREATE TABLE authorization_codes (
    code_hash          BYTEA PRIMARY KEY,
    client_id          TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    code_challenge     TEXT,
    nonce              TEXT,
    scope              TEXT NOT NULL,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id UUID NOT NULL,
    auth_time          TIMESTAMPTZ NOT NULL,
    methods            TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    used_at            TIMESTAMPTZ,
    session_id         UUID
);
CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at);
