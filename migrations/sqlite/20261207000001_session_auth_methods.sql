-- How the user of a session signed in, as a set of methods under authd's own
-- names, separated by spaces (`sessions::methods`): 'password', 'email_code',
-- 'email_link', and later second factors. Tokens carry their RFC 8176 values
-- as `amr`. The single RFC value stored before ('pwd', 'otp') is converted:
-- every 'otp' session so far came from an emailed code or a reset, which are
-- 'otp' in `amr` alike, so 'email_code' keeps every token's `amr` as it was.
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'password';
UPDATE sessions SET auth_methods = CASE auth_method
    WHEN 'pwd' THEN 'password'
    WHEN 'otp' THEN 'email_code'
    ELSE auth_method
END;
ALTER TABLE sessions DROP COLUMN auth_method;
