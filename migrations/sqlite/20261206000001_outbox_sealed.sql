-- SQLite: the same as PostgreSQL, the ciphertext and nonce as BLOBs.
-- The outbox keeps no live link or code in clear (issue 16): a message's
-- address and text are sealed together with AES-256-GCM under a key derived
-- from the refresh-token ring (`mail::seal`); the row records the key's id
-- and the nonce. The clear `recipient` and `message` columns stay for the
-- messages queued before this migration (the sender still delivers them,
-- then clears them) and are never written again.
ALTER TABLE mail_outbox ADD COLUMN sealed_key_id INTEGER;
ALTER TABLE mail_outbox ADD COLUMN sealed_nonce BLOB;
ALTER TABLE mail_outbox ADD COLUMN sealed BLOB;

-- Addresses used as keys are now an HMAC keyed from the ring
-- (`tokens::address`), not a plain SHA-256, which anyone with a copy of the
-- database could match against a list of candidate addresses. The plain
-- hashes cannot be converted here (the key is not in the database), so they
-- go: the send counts and the account counters of the login throttle start
-- again (at most one window of counting is lost), and the records of mail
-- already queued lose their recipient hash.
DELETE FROM mail_send_counts;
DELETE FROM login_throttle WHERE key LIKE 'account:%' OR key LIKE 'reset-code:%';
UPDATE mail_outbox SET recipient_hash = '';
