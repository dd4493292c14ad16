-- A client family's own idle lifetime, when its client was registered with
-- one shorter than the server's (`authd clients ... --refresh-idle-ttl`);
-- NULL: the server's `refresh.idle_ttl_secs`.
ALTER TABLE sessions ADD COLUMN idle_secs INTEGER;
