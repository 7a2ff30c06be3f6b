//! The hot-path insert: one statement stores a batch of verified events (dedup key,
//! payload) and queues each new one in the outbox.

use std::{collections::HashSet, sync::Arc};

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

/// Insert `events` in one statement; returns the `(provider, event_id)` keys that were new.
/// Keys must be unique within `events` (the writer removes in-batch copies first).
///
/// Run on the pool (autocommit), the single statement is its own transaction: all rows or
/// none, durable when it returns (`synchronous_commit = on`), in one round trip instead of
/// BEGIN / INSERT / COMMIT.
#[tracing::instrument(skip_all, fields(rows = events.len()))]
pub async fn insert_batch(
    pool: &PgPool,
    events: &[&NewEvent],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let providers: Vec<&str> = events.iter().map(|e| &*e.provider).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let content_types: Vec<Option<&str>> =
        events.iter().map(|e| e.content_type.as_deref()).collect();
    let bodies: Vec<&[u8]> = events.iter().map(|e| e.body.as_ref()).collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_us).collect();
    sqlx::query_as::<_, (String, String)>(
        "WITH new AS (
             INSERT INTO events (provider, event_id, event_type, content_type, body, received_at)
             SELECT p, i, t, c, b, to_timestamp(r::float8 / 1000000)
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int8[])
                  AS input(p, i, t, c, b, r)
             ON CONFLICT (provider, event_id) DO NOTHING
             RETURNING id, provider, event_id
         ), queued AS (
             INSERT INTO outbox (event_pk) SELECT id FROM new
         )
         SELECT provider, event_id FROM new",
    )
    .bind(providers)
    .bind(ids)
    .bind(types)
    .bind(content_types)
    .bind(bodies)
    .bind(received)
    .fetch_all(pool)
    .await
    .map(|rows| rows.into_iter().collect())
}
