-- Who an authorization request is being answered for: the user and the
-- browser session at authd they are signed in with, set when a browser
-- session is found at the authorization endpoint or started by the login
-- page. The consent page answers a request only for the browser session it
-- names.
ALTER TABLE authorization_requests ADD COLUMN user_id BLOB;
ALTER TABLE authorization_requests ADD COLUMN browser_session_id BLOB;
