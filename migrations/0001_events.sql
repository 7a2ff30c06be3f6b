-- events: the dedup record (unique provider + event_id) and the stored payload.
CREATE TABLE IF NOT EXISTS events (
    id           bigserial   PRIMARY KEY,
    provider     text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    content_type text,
    -- The exact bytes received; cleared after retention.payloads once published.
    body         bytea,
    received_at  timestamptz NOT NULL,
    CONSTRAINT events_provider_event_id UNIQUE (provider, event_id)
);

-- Retention purges and replay by time.
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);

-- outbox: one narrow row per event the broker has not confirmed yet. It is inserted in
-- the same statement as its event and deleted once RabbitMQ confirmed the publish, so the
-- relay never rewrites the (large) event row.
CREATE TABLE IF NOT EXISTS outbox (
    event_pk        bigint      PRIMARY KEY,
    -- The relay does not retry a row before this (set after a return or nack).
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Times the broker returned the message as unroutable (no queue bound).
    returns         integer     NOT NULL DEFAULT 0
);
