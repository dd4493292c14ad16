-- Registered machine clients (OAuth client_credentials, introspection, the
-- revocation feed). The secret is 256 random bits, so a SHA-256 of it is as
-- good as a slow hash and costs nothing per request; the secret itself is
-- shown once, at creation, and never stored.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
