-- Who did what an audit event records (`user:<uuid>` for the user
-- themselves; room for `admin:<id>`), and the OAuth client it concerns.
-- Events recorded before this have neither.
ALTER TABLE audit_events ADD COLUMN actor TEXT;
ALTER TABLE audit_events ADD COLUMN client_id TEXT;
