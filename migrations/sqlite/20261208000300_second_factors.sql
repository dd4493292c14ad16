-- Second factors (TOTP with recovery codes) and the sign-in challenge.
--
-- A user's TOTP factor: one per user. Its secret is stored only sealed
-- (AES-256-GCM under a key derived from the refresh-key ring: the key's id
-- and the nonce in the row; the row's id and user in the associated data).
-- `confirmed_at` is NULL while the enrolment waits for its first code; only
-- a confirmed factor is asked for at sign-in. `last_used_step` is the
-- RFC 6238 time step of the last code accepted: a code is accepted only with
-- a conditional UPDATE that moves it forward, so a code works once.
CREATE TABLE totp_factors (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    sealed_key_id   INTEGER NOT NULL,
    sealed_nonce    BLOB NOT NULL,
    sealed_secret   BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    last_used_step  INTEGER NOT NULL DEFAULT 0
);

-- Recovery codes: ten single-use codes per user, each stored as an HMAC
-- (under a key derived from the ring key named by `key_id`) of the user id
-- and the code. Spent with one conditional UPDATE of `used_at`.
CREATE TABLE recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    key_id     INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in waiting for its second factor: the first proof was right, no
-- session started. Keyed by the SHA-256 of the challenge the client holds;
-- bound to the user and the credential version; `start` is the session it
-- will start ('refresh' or 'browser'), `methods` the stored names of the
-- methods used so far, `detail` the audit detail of its sign-in. Single use.
CREATE TABLE mfa_challenges (
    token_hash          BLOB PRIMARY KEY,
    user_id             BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_version  INTEGER NOT NULL,
    start               TEXT NOT NULL,
    methods             TEXT NOT NULL,
    detail              TEXT,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    used_at             TEXT
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);
