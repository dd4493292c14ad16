-- The email outbox, SQLite (the same tables as PostgreSQL; UUIDs are BLOBs,
-- times TEXT). A message is queued in the transaction of the change it
-- belongs to (the token it carries), and a background sender on any instance
-- delivers it. `recipient` and `message` (the whole RFC 5322 text, which holds
-- the link or code) are cleared once the message is sent or given up; the row
-- itself stays for `email.retention_days`, then the cleanup sweep deletes it.
CREATE TABLE mail_outbox (
    id              BLOB PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    user_id         BLOB,
    -- SHA-256 of the address: who it was for, once the address is cleared.
    recipient_hash  TEXT NOT NULL,
    recipient       TEXT,
    message         TEXT,
    -- pending, sent or given_up
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    -- A sender holds the message until then (its lease); `claim` names that hold.
    claimed_until   TEXT,
    claim           BLOB,
    finished_at     TEXT,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_outbox_finished_at_idx ON mail_outbox (finished_at) WHERE finished_at IS NOT NULL;

-- Send requests per recipient (`to:<sha256 of the address>`) in fixed windows,
-- shared by every instance. Counted whether or not a message was queued, so a
-- limit reveals nothing about which addresses have accounts.
CREATE TABLE mail_send_counts (
    key          TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    count        INTEGER NOT NULL
);
CREATE INDEX mail_send_counts_window_start_idx ON mail_send_counts (window_start);
