-- Clients of three kinds: public (an SPA or a native app: no secret, token
-- endpoint auth method none, PKCE always), confidential (a web server with a
-- secret, authenticated by client_secret_basic or client_secret_post) and
-- machine (client credentials only). Every client registered before this
-- migration is a machine client and keeps working unchanged: its secret, its
-- scopes and its permissions stay, and it may still authenticate by HTTP Basic
-- or by form fields. A public client's secret_hash is the empty string, which
-- no presented secret's hash equals.
--
-- The URI lists are JSON arrays of strings, stored as text in both stores.
-- The lifetimes are seconds, NULL for the server's settings; id_token_alg is
-- NULL for the algorithm of the server's current signing key.
ALTER TABLE oauth_clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'machine'
    CHECK (kind IN ('public', 'confidential', 'machine'));
ALTER TABLE oauth_clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic'
    CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post'));
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN id_token_alg TEXT;
ALTER TABLE oauth_clients ADD COLUMN access_token_ttl_secs INTEGER;
ALTER TABLE oauth_clients ADD COLUMN refresh_idle_secs INTEGER;
ALTER TABLE oauth_clients ADD COLUMN refresh_absolute_secs INTEGER;
ALTER TABLE oauth_clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN require_pkce INTEGER NOT NULL DEFAULT 1;
