-- Issue 19, the users an operator manages.
-- disabled_at: when the account was disabled (NULL: enabled). A disabled
-- account signs in nowhere; disabling ended its sessions.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
-- app_metadata: a JSON object (text, at most 4 KiB, checked by the service)
-- set by operators only, copied into tokens when tokens.app_metadata_claim is
-- set. NULL: none.
ALTER TABLE users ADD COLUMN app_metadata TEXT;

-- The roles of a user: names like "admin" or "billing:read" ([a-z0-9_:.-],
-- 1 to 64 characters, checked by the service), put in the user's tokens.
CREATE TABLE user_roles (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, role)
);
