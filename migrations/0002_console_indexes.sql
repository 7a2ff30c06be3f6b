-- The operator console lists events newest first, ORDER BY (received_at, id) DESC, under
-- a provider or an event-type filter; these let it read one page backwards from an index
-- instead of scanning. Without a filter (or with only a time range) it reads
-- events_received_at (0001); an event ID goes through the unique (provider, event_id).
--
-- On a large existing table each build blocks writes while it runs; to avoid that, create
-- them beforehand with CREATE INDEX CONCURRENTLY under the same names.
CREATE INDEX IF NOT EXISTS events_provider_received_at ON events (provider, received_at);
CREATE INDEX IF NOT EXISTS events_type_received_at ON events (event_type, received_at);
