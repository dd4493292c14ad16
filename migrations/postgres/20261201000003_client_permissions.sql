-- What a registered client may do at authd is now written in its scopes, as
-- the permissions `authd:introspect` (POST /oauth/introspect),
-- `authd:revocations` (GET /auth/revocations) and `authd:revocations:sub` (the
-- same, with user ids in the entries). Until now every client had all three
-- implicitly; clients registered before this migration keep them, so no
-- running service breaks at the upgrade. Narrow them with
-- `authd clients update ID --scopes "..."`. Permissions are never put into
-- access tokens.
UPDATE oauth_clients SET scopes = CASE
    WHEN scopes = '' THEN 'authd:introspect authd:revocations authd:revocations:sub'
    ELSE scopes || ' authd:introspect authd:revocations authd:revocations:sub'
END;
