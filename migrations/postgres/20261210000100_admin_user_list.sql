-- The admin API's user list (`GET /admin/users`): keyset pages in the order
-- (created_at, id), read from this index instead of a sort of every user.
CREATE INDEX users_created_id_idx ON users (created_at, id);
