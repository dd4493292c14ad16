-- Revocations of every session of a user at once (global logout, refresh-token
-- reuse): one row, and one revocation-feed entry, however many sessions end.
-- It covers the user's sessions that started before `started_before` (a whole
-- second); `sessions::feed` argues why that is exactly the sessions it ended.
CREATE TABLE user_revocations (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_before TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_revocations_revoked_at_idx ON user_revocations (revoked_at);
CREATE INDEX user_revocations_user_id_idx ON user_revocations (user_id, started_before);

-- A session whose revocation a user revocation carries: the feed lists it one
-- by one only to readers that do not understand user entries (feed version 1).
ALTER TABLE sessions ADD COLUMN revoked_with_user BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_revoked_alone_idx ON sessions (revoked_at)
    WHERE revoked_at IS NOT NULL AND revoked_with_user = FALSE;
