-- Account tokens, SQLite (the same table as PostgreSQL; UUIDs are BLOBs,
-- times TEXT). One row per link or code sent: email verification, password
-- reset, email change, a one-time login code. `token_hash` is the SHA-256 of
-- the link's token, `code_hash` a keyed HMAC of the numeric code; the secrets
-- themselves are never stored. A token is bound to the address it was sent to
-- and to the user's credential version when it was issued.
ALTER TABLE users ADD COLUMN email_verified_at TEXT;

CREATE TABLE account_tokens (
    id                 BLOB PRIMARY KEY NOT NULL,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose            TEXT NOT NULL,
    email              TEXT NOT NULL,
    credential_version INTEGER NOT NULL,
    token_hash         BLOB,
    code_hash          BLOB,
    code_attempts      INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    used_at            TEXT
);
CREATE UNIQUE INDEX account_tokens_token_hash_idx ON account_tokens (token_hash)
    WHERE token_hash IS NOT NULL;
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_at_idx ON account_tokens (expires_at);
