-- Issue 19, an account erased by an admin (DELETE /admin/users/{id}).
-- deleted_at: when its personal data was erased. The row stays as a
-- tombstone (id, created_at, deleted_at; the address replaced by
-- `deleted:<id>`, which is no address, so it frees the real one), so that
-- the sessions and the user revocation that ended them, which reference it,
-- stay on the revocation feed. Every read of a user leaves tombstones out.
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMPTZ;
