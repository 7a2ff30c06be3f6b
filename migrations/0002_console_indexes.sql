-- The operator console lists events newest first (ORDER BY id DESC) under a provider or
-- an event-type filter; these let it read one page from an index instead of scanning.
-- An event ID is found through the unique (provider, event_id) key, a time range through
-- events_received_at (0001).
--
-- On a large existing table each build blocks writes while it runs; to avoid that, create
-- them beforehand with CREATE INDEX CONCURRENTLY under the same names.
CREATE INDEX IF NOT EXISTS events_provider_id ON events (provider, id);
CREATE INDEX IF NOT EXISTS events_type_id ON events (event_type, id);
