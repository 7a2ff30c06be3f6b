//! The hot-path insert: one statement stores a batch of verified events (dedup keys in
//! `event_keys`, metadata in `event_records`, body in `event_payloads`) and queues each new
//! one in the outbox, leased to the in-memory hand-off or due at once (see
//! [`crate::handoff`]).

use std::{sync::Arc, time::Duration};

use actix_web::web::Bytes;
use sqlx::PgExecutor;

/// A verified event on its way into the table.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Provider name.
    pub provider: Arc<str>,
    /// Event ID (unique within the provider).
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// The request's Content-Type, if any.
    pub content_type: Option<String>,
    /// The exact bytes received.
    pub body: Bytes,
    /// Receive time, unix microseconds.
    pub received_us: i64,
}

/// A stored event that was new: its primary key and `(provider, event_id)`.
pub type Inserted = (i64, String, String);

/// Insert `events` in one statement; returns the new ones. Keys must be unique within
/// `events` (the writer removes in-batch copies first). Each new event's outbox row is
/// due `lease` from now: zero makes it the recovery sweep's at once.
///
/// Run outside a transaction (autocommit), the single statement is its own transaction: all rows or
/// none, durable when it returns (`synchronous_commit = on`), in one round trip instead of
/// BEGIN / INSERT / COMMIT.
#[tracing::instrument(skip_all, fields(rows = events.len()))]
pub async fn insert_batch<'c, E: PgExecutor<'c>>(
    executor: E,
    events: &[&NewEvent],
    lease: Duration,
) -> Result<Vec<Inserted>, sqlx::Error> {
    insert_batch_at(executor, events, lease, None).await
}

/// [`insert_batch`] on any executor (a transaction in tests), as of database time
/// `at_us` (unix microseconds; `None` is the statement's own time). The time picks the key
/// buckets and the partitions, so tests can place events on either side of a boundary.
pub async fn insert_batch_at<'c, E: PgExecutor<'c>>(
    executor: E,
    events: &[&NewEvent],
    lease: Duration,
    at_us: Option<i64>,
) -> Result<Vec<Inserted>, sqlx::Error> {
    let providers: Vec<&str> = events.iter().map(|e| &*e.provider).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let content_types: Vec<Option<&str>> =
        events.iter().map(|e| e.content_type.as_deref()).collect();
    let bodies: Vec<&[u8]> = events.iter().map(|e| e.body.as_ref()).collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_us).collect();
    sqlx::query_as::<_, Inserted>(
        // Dedup (see migrations/0004): each key goes into the current key bucket and the
        // next one; an event is new only if both rows were inserted. A copy within the
        // window meets a key in its own bucket; two racing copies on either side of a
        // bucket boundary meet in the later one, where the unique index makes the second
        // wait for the first. Keys are inserted sorted, so concurrent batches (several
        // writer tasks, several gateways) take their index locks in one order: no deadlock.
        // The id carries the database clock (event_pk_at), which picks the partitions of
        // event_records and event_payloads.
        "WITH clock AS (
             SELECT coalesce(to_timestamp($7::float8 / 1000000), statement_timestamp()) AS at
         ), pair AS (
             SELECT current_bucket, next_bucket FROM clock, key_bucket_pair(clock.at)
         ), input AS (
             SELECT p, i, t, c, b, r
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int8[])
                  AS input(p, i, t, c, b, r)
         ), keys AS (
             INSERT INTO event_keys (provider, event_id, bucket)
             SELECT input.p, input.i, k.bucket
             FROM input, pair,
                  LATERAL (VALUES (pair.current_bucket), (pair.next_bucket)) AS k(bucket)
             ORDER BY input.p, input.i, k.bucket
             ON CONFLICT DO NOTHING
             RETURNING provider, event_id
         ), fresh AS (
             SELECT provider, event_id FROM keys
             GROUP BY provider, event_id HAVING count(*) = 2
         ), new AS (
             INSERT INTO event_records
                 (id, provider, event_id, event_type, content_type, received_at)
             SELECT event_pk_at(clock.at), input.p, input.i, input.t, input.c,
                    to_timestamp(input.r::float8 / 1000000)
             FROM clock, input
             JOIN fresh ON fresh.provider = input.p AND fresh.event_id = input.i
             RETURNING id, provider, event_id
         ), payloads AS (
             INSERT INTO event_payloads (id, body)
             SELECT new.id, input.b
             FROM new JOIN input ON input.p = new.provider AND input.i = new.event_id
         ), queued AS (
             INSERT INTO outbox (event_pk, next_attempt_at)
             SELECT id, now() + make_interval(secs => $8) FROM new
         )
         SELECT id, provider, event_id FROM new",
    )
    .bind(providers)
    .bind(ids)
    .bind(types)
    .bind(content_types)
    .bind(bodies)
    .bind(received)
    .bind(at_us)
    .bind(lease.as_secs_f64())
    .fetch_all(executor)
    .await
}
