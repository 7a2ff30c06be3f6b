-- Partitioned storage: retention drops whole partitions instead of deleting rows.
--
-- Before this migration, retention deleted expired rows one by one (three index updates and
-- a dead tuple each) and cleared bodies with an UPDATE that rescanned every already-cleared
-- row on each pass, so a pass cost more the larger the table. Now every table that grows
-- with traffic is partitioned by time, and retention detaches and drops partitions whole:
-- a catalog operation whose cost does not depend on how many rows the partition or the
-- table holds. See README "Schema" and `crates/hookgate/src/store/partitions.rs`.
--
-- Tables after this migration:
--
-- * event_keys (provider, event_id, bucket): the dedup record, LIST-partitioned by bucket
--   (one partition per bucket, listed in key_buckets). A unique index on a partitioned
--   table must contain the partition key, so uniqueness of (provider, event_id) cannot span
--   partitions; instead each new event inserts its key into the current bucket AND the next
--   one, in the insert statement, and is new only if both rows were inserted. A bucket is at
--   least retention.events wide, so a copy within the window always finds a key in its own
--   bucket, and two racing copies on either side of a boundary meet in the later bucket
--   through its unique index (the second waits for the first to commit or abort).
-- * event_records (metadata) and event_payloads (bodies), RANGE-partitioned by id over the
--   same time ranges. The id carries the database clock: (unix seconds << 20) | sequence,
--   so a lookup by id (the outbox join, the admin API) prunes to one partition without any
--   change to the outbox, and payloads (retention.payloads) and metadata
--   (retention.events) each expire by dropping their own partitions.
-- * events: a view joining the two, with the columns the old table had, so the relay, the
--   admin API and replays read it as before.
-- * outbox: unchanged, plus queue-table storage settings (below).
--
-- Partitions are created ahead and dropped by the gateway (partition maintenance), not
-- here: their widths follow retention.events. This migration keeps every existing row:
-- the old events table becomes the partition event_records_legacy (no copy, no rewrite),
-- and the first maintenance pass seeds the dedup keys of its recent events.

-- The old table becomes the legacy partition, holding every event stored before the
-- upgrade, bodies included (its rows keep their old small ids; new ids are far above).
ALTER TABLE events RENAME TO event_records_legacy;
ALTER TABLE event_records_legacy RENAME CONSTRAINT events_pkey TO event_records_legacy_pkey;
ALTER TABLE event_records_legacy
    RENAME CONSTRAINT events_provider_event_id TO event_records_legacy_provider_event_id;
ALTER INDEX events_received_at RENAME TO event_records_legacy_received_at;

-- New ids come from this sequence (masked to 20 bits) under the clock's seconds.
CREATE SEQUENCE event_seq AS bigint;

-- An event's id: the database clock's unix seconds in the high bits, so ids sort by time
-- and a range of ids is a range of time. The low 20 bits (a sequence) allow 1,048,576
-- events per second before two ids of the same second could collide (a collision fails the
-- batch, which answers 503 and is retried; it loses nothing). The id stays below 2^53 (it
-- is exact as a JSON number) until the year 2242.
CREATE FUNCTION event_pk_at(at timestamptz) RETURNS bigint
    LANGUAGE sql VOLATILE
    RETURN (floor(extract(epoch FROM at))::bigint << 20) | (nextval('event_seq') & 1048575);

-- The first id of a second: partition bounds are event_pk_floor(starts_at).
CREATE FUNCTION event_pk_floor(at timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN floor(extract(epoch FROM at))::bigint << 20;

-- Event metadata. body stays for the legacy partition only (new bodies go to
-- event_payloads); a NULL column costs nothing in the new partitions.
CREATE TABLE event_records (
    id           bigint      NOT NULL,
    provider     text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    content_type text,
    body         bytea,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);

-- Replay and the admin API filter by receive time, and look events up by their ID.
CREATE INDEX event_records_received_at ON event_records (received_at);
CREATE INDEX event_records_provider_event_id ON event_records (provider, event_id);

-- Bodies, in their own partitions so retention.payloads can be shorter than
-- retention.events without rewriting rows: a payload partition is dropped whole.
CREATE TABLE event_payloads (
    id   bigint NOT NULL,
    body bytea  NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);

-- The time ranges of event_records / event_payloads partitions (database clock).
-- suffix names the partitions: event_records_<suffix>, event_payloads_<suffix>.
CREATE TABLE event_partitions (
    starts_at timestamptz PRIMARY KEY,
    ends_at   timestamptz NOT NULL,
    suffix    text        NOT NULL UNIQUE,
    -- Whether event_payloads_<suffix> still exists (dropped after retention.payloads).
    payloads  boolean     NOT NULL
);

-- The legacy partition: every id below the migration's second. Attaching validates the
-- bound with one scan of the old table, but copies and rewrites nothing.
DO $$
DECLARE
    upper_bound bigint := event_pk_floor(now());
BEGIN
    EXECUTE format(
        'ALTER TABLE event_records ATTACH PARTITION event_records_legacy
             FOR VALUES FROM (MINVALUE) TO (%s)', upper_bound);
END $$;
INSERT INTO event_partitions (starts_at, ends_at, suffix, payloads)
VALUES ('-infinity', date_trunc('second', now()), 'legacy', false);

-- The old table's events as every reader knew them. Bodies of legacy rows are still in
-- event_records; new ones in event_payloads. Lookups by id prune both sides.
CREATE VIEW events AS
SELECT r.id, r.provider, r.event_id, r.event_type, r.content_type,
       coalesce(p.body, r.body) AS body, r.received_at
FROM event_records r
LEFT JOIN event_payloads p ON p.id = r.id;

-- Dedup keys: see the header. bucket is the start of the key bucket (a row of key_buckets).
CREATE TABLE event_keys (
    provider text        NOT NULL,
    event_id text        NOT NULL,
    bucket   timestamptz NOT NULL,
    PRIMARY KEY (provider, event_id, bucket)
) PARTITION BY LIST (bucket);

-- The chain of key buckets: each bucket runs from its start to the next one's start. The
-- insert reads the current bucket (latest start <= now) and the next (earliest start >
-- now); maintenance keeps at least two buckets ahead of now.
CREATE TABLE key_buckets (
    starts_at timestamptz PRIMARY KEY
);

-- The bucket pair of a statement, or an error when maintenance has not created it (never
-- a silent "duplicate": without both buckets nothing would be inserted).
CREATE FUNCTION key_bucket_pair(at timestamptz, OUT current_bucket timestamptz,
                                OUT next_bucket timestamptz)
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT starts_at INTO current_bucket FROM key_buckets
    WHERE starts_at <= at ORDER BY starts_at DESC LIMIT 1;
    SELECT starts_at INTO next_bucket FROM key_buckets
    WHERE starts_at > at ORDER BY starts_at LIMIT 1;
    IF current_bucket IS NULL OR next_bucket IS NULL THEN
        RAISE EXCEPTION 'no dedup key bucket for %: partition maintenance has not run', at
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;

-- The outbox is a queue table: one insert and one delete per event, a few updates (deferred
-- retries). Its live rows are few, its dead rows many.
-- * fillfactor 80: a deferral (UPDATE of next_attempt_at / returns, neither indexed) finds
--   room on its own page and becomes a HOT update: no new index entry, and the old version
--   is pruned on the page without waiting for vacuum.
-- * vacuum by an absolute number of dead rows (scale factor 0), not by a fraction of a
--   table that is nearly empty: otherwise the threshold of 20% of a few live rows is met
--   constantly or, after a backlog, not for a long time while dead rows slow every claim.
-- * no cost delay: the table is small, a throttled vacuum only keeps dead rows around longer
--   while the relay's index scans step over them.
-- * analyze by absolute counts too, so the claim's plan follows the backlog's real size.
ALTER TABLE outbox SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 20000
);
