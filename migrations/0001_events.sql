-- The events table is both the dedup record (unique provider + event_id) and the
-- transactional outbox (rows with published_at NULL are waiting for the relay).
CREATE TABLE IF NOT EXISTS events (
    id              bigserial   PRIMARY KEY,
    provider        text        NOT NULL,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    content_type    text,
    -- The exact bytes received; cleared after retention.payloads once published.
    body            bytea,
    received_at     timestamptz NOT NULL,
    -- Set only after RabbitMQ confirmed the publish.
    published_at    timestamptz,
    -- The relay does not retry a row before this (set after a return or nack).
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Times the broker returned the message as unroutable (no queue bound).
    returns         integer     NOT NULL DEFAULT 0,
    CONSTRAINT events_provider_event_id UNIQUE (provider, event_id)
);

-- The relay's scan: unpublished rows in arrival order.
CREATE INDEX IF NOT EXISTS events_unpublished ON events (id) WHERE published_at IS NULL;
-- Retention purges and replay by time.
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
