-- Tries of emailed login codes per address, in a window of a day: the hard
-- cap of wrong codes per account (NIST SP 800-63B 5.2.2) that a password
-- login does not clear. `key` is `login-code:<hash of the normalized email>`,
-- as the login throttle's keys: no address is stored in clear here.
CREATE TABLE login_code_failures (
    key          TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    failures     INTEGER NOT NULL
);
CREATE INDEX login_code_failures_window_start_idx ON login_code_failures (window_start);
