-- authd schema, PostgreSQL. Times are timestamptz; authd passes the time in as a
-- parameter (never now()) so one clock rules expiry on every instance.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- One row per session (refresh-token family), whatever the number of rotations.
CREATE TABLE sessions (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counter             BIGINT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    last_rotated_at     TIMESTAMPTZ NOT NULL,
    expires_at          TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ,
    revoked_reason      TEXT,
    user_agent          TEXT,
    ip                  TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    user_id    UUID,
    kind       TEXT NOT NULL,
    session_id UUID,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
