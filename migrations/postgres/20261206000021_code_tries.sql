-- Tries of emailed codes (login codes, reset codes) per address and kind, in a
-- window of a day: the hard cap of wrong codes per account (NIST SP 800-63B
-- 5.2.2) that a password login does not clear. `key` is `login-code:<hash of
-- the normalized email>` or `reset-code:<...>`, as the login throttle's keys:
-- no address is stored in clear here.
CREATE TABLE code_tries (
    key          TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    tries        BIGINT NOT NULL
);
CREATE INDEX code_tries_window_start_idx ON code_tries (window_start);
