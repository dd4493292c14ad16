-- Webhooks and the event outbox (issue 19).
--
-- `webhook_endpoints`: where events go. The signing secret is sealed at rest
-- like the mail outbox's text (`mail::seal`, AES-256-GCM under a key derived
-- from the refresh-key ring, bound to the endpoint's id); after a rotation
-- the previous secret is kept, sealed the same way, until `previous_until`,
-- and signs alongside the new one.
CREATE TABLE webhook_endpoints (
    id              UUID PRIMARY KEY,
    url             TEXT NOT NULL,
    -- Space-separated event types (`user.created session.ended`), or `*`.
    event_types     TEXT NOT NULL,
    description     TEXT,
    secret_key_id   INTEGER NOT NULL,
    secret_nonce    BYTEA NOT NULL,
    secret_sealed   BYTEA NOT NULL,
    previous_key_id INTEGER,
    previous_nonce  BYTEA,
    previous_sealed BYTEA,
    previous_until  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    disabled_at     TIMESTAMPTZ
);

-- The event outbox: one row per delivery (a webhook event to one endpoint,
-- or a back-channel logout token to one client's URI), queued in the
-- transaction of the change it tells of and delivered by a background worker
-- on any instance. `seq` orders the deliveries of one (endpoint, order_key):
-- none is claimed while an earlier one of the same pair is pending.
CREATE TABLE event_deliveries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- uuid v7; the `webhook-id` header.
    id              UUID NOT NULL UNIQUE,
    -- `webhook` or `backchannel_logout`
    kind            TEXT NOT NULL,
    endpoint_id     UUID REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- A back-channel logout's URI (a webhook's is its endpoint's URL).
    target_uri      TEXT,
    client_id       TEXT,
    event_type      TEXT,
    -- The user id for per-user order, or none.
    order_key       TEXT,
    user_id         UUID,
    -- A webhook's JSON (ids only), a logout token; the token is cleared once settled.
    payload         TEXT,
    -- pending, sent or given_up
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    claim           UUID,
    finished_at     TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_order_idx ON event_deliveries (endpoint_id, order_key, seq) WHERE state = 'pending';
CREATE INDEX event_deliveries_finished_at_idx ON event_deliveries (finished_at) WHERE finished_at IS NOT NULL;
