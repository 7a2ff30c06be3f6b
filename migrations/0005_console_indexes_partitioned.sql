-- The console's filters (0002) on the partitioned event_records: newest first within a
-- provider or an event type. Created on the parent, so every partition, present and
-- future, gets them (the legacy partition's equivalent indexes from 0002 are attached).
CREATE INDEX IF NOT EXISTS event_records_provider_received_at
    ON event_records (provider, received_at);
CREATE INDEX IF NOT EXISTS event_records_event_type_received_at
    ON event_records (event_type, received_at);
