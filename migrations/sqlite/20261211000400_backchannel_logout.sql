-- Issue 19, OpenID Connect Back-Channel Logout 1.0.
-- backchannel_logout_uri: where authd POSTs a client's logout tokens (NULL:
-- the client gets none); backchannel_logout_session_required: the client
-- asked for `sid` in them (authd always sends it).
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

-- The clients a browser session signed the user in to: one row per (browser
-- session, client), written when a code with `openid` is redeemed (an ID
-- token whose `sid` is the browser session went to the client). Read and
-- deleted when the browser session, the user's sessions or the client's
-- grant end, to send each client its logout token
-- (`oidc::backchannel`). Not bound to the sessions row: the client's own
-- session may outlive authd's, and the sweep forgets a row once neither the
-- browser session nor a family signed in through it is left.
CREATE TABLE browser_session_clients (
    browser_session_id BLOB NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signed_in_at       TEXT NOT NULL,
    PRIMARY KEY (browser_session_id, client_id)
);
CREATE INDEX browser_session_clients_user_idx ON browser_session_clients (user_id, client_id);
