-- Failed-login counters, shared by every instance. `key` is `account:<sha256 of
-- the normalized email>` or `ip:<address>`: no email is stored in clear here.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    last_failure_at  TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until TEXT
);
CREATE INDEX login_throttle_last_failure_at_idx ON login_throttle (last_failure_at);
