-- How the user of a session signed in: the `amr` (RFC 8176) of every access
-- token the session issues, at login and at each refresh. 'pwd': a password;
-- 'otp': a one-time code sent by email. Sessions started before this column
-- began with a password.
ALTER TABLE sessions ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'pwd';
