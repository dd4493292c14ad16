-- The version of a user's credentials: a password change adds one, a re-hash
-- of the same password does not. A login carries the version it checked the
-- password against, and starts its session only if it is still the current one
-- (read in its write transaction): a login that checked the old password
-- cannot start a session after the change has ended the others.
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
