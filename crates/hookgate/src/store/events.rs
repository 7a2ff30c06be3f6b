//! The hot-path insert: one statement stores a batch of verified events (dedup key,
//! payload) and queues each new one in the outbox, leased to the in-memory hand-off or
//! due at once (see [`crate::handoff`]).

use std::{sync::Arc, time::Duration};

use actix_web::web::Bytes;
use sqlx::PgPool;

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
/// Run on the pool (autocommit), the single statement is its own transaction: all rows or
/// none, durable when it returns (`synchronous_commit = on`), in one round trip instead of
/// BEGIN / INSERT / COMMIT.
#[tracing::instrument(skip_all, fields(rows = events.len()))]
pub async fn insert_batch(
    pool: &PgPool,
    events: &[&NewEvent],
    lease: Duration,
) -> Result<Vec<Inserted>, sqlx::Error> {
    let providers: Vec<&str> = events.iter().map(|e| &*e.provider).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let content_types: Vec<Option<&str>> =
        events.iter().map(|e| e.content_type.as_deref()).collect();
    let bodies: Vec<&[u8]> = events.iter().map(|e| e.body.as_ref()).collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_us).collect();
    sqlx::query_as::<_, Inserted>(
        "WITH new AS (
             INSERT INTO events (provider, event_id, event_type, content_type, body, received_at)
             SELECT p, i, t, c, b, to_timestamp(r::float8 / 1000000)
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int8[])
                  AS input(p, i, t, c, b, r)
             ON CONFLICT (provider, event_id) DO NOTHING
             RETURNING id, provider, event_id
         ), queued AS (
             INSERT INTO outbox (event_pk, next_attempt_at)
             SELECT id, now() + make_interval(secs => $7) FROM new
         )
         SELECT id, provider, event_id FROM new",
    )
    .bind(providers)
    .bind(ids)
    .bind(types)
    .bind(content_types)
    .bind(bodies)
    .bind(received)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}
