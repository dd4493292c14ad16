-- Account tokens: what an email carries to prove its reader holds the address.
-- One row per link or code sent: email verification, password reset, email
-- change, a one-time login code. The secret itself is never stored:
-- `token_hash` is the SHA-256 of the link's 256-bit token, `code_hash` an
-- HMAC of the short numeric code (keyed, so a copy of the table does not give
-- the codes away to a brute force).
--
-- A token is bound to what it was issued for: the address it was sent to
-- (`email`; for an email change, the new address) and the user's credential
-- version then, so a password change kills every link issued before it.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

CREATE TABLE account_tokens (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- verify_email, password_reset, email_change or otp_login
    purpose            TEXT NOT NULL,
    email              TEXT NOT NULL,
    credential_version BIGINT NOT NULL,
    token_hash         BYTEA,
    code_hash          BYTEA,
    -- Wrong codes tried against this row; at the limit its code is dead (the
    -- link, a 256-bit secret, still works until it expires or is spent).
    code_attempts      INTEGER NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    -- Set when spent, or when a newer token of the same purpose replaced it.
    used_at            TIMESTAMPTZ
);
CREATE UNIQUE INDEX account_tokens_token_hash_idx ON account_tokens (token_hash)
    WHERE token_hash IS NOT NULL;
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_at_idx ON account_tokens (expires_at);
