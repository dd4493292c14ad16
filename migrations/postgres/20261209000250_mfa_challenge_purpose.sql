-- What a challenge is for: 'sign_in' (a first proof waiting for a second
-- factor, answered at POST /auth/mfa/verify) or 'enrol' (a first proof of a
-- user without a factor while mfa.required is on, answered by enrolling one
-- at POST /auth/mfa/enroll/totp/confirm). One is never accepted as the other.
ALTER TABLE mfa_challenges ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in';
