//! Every SQL statement on the `events` table: the group-committed insert (dedup key and
//! outbox row in one), the relay's claim and marks, the outbox depth and retention purges.

use std::{collections::HashSet, sync::Arc, time::Duration};

use actix_web::web::Bytes;
use sqlx::{PgPool, Postgres, Row, Transaction};

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
#[tracing::instrument(skip_all, fields(rows = events.len()))]
pub async fn insert_batch(
    tx: &mut Transaction<'_, Postgres>,
    events: &[&NewEvent],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let providers: Vec<&str> = events.iter().map(|e| &*e.provider).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let content_types: Vec<Option<&str>> =
        events.iter().map(|e| e.content_type.as_deref()).collect();
    let bodies: Vec<&[u8]> = events.iter().map(|e| e.body.as_ref()).collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_us).collect();
    let rows = sqlx::query(
        "INSERT INTO events (provider, event_id, event_type, content_type, body, received_at)
         SELECT p, i, t, c, b, to_timestamp(r::float8 / 1000000)
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int8[])
              AS input(p, i, t, c, b, r)
         ON CONFLICT (provider, event_id) DO NOTHING
         RETURNING provider, event_id",
    )
    .bind(providers)
    .bind(ids)
    .bind(types)
    .bind(content_types)
    .bind(bodies)
    .bind(received)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("provider")?, r.try_get("event_id")?)))
        .collect()
}

/// An unpublished row claimed by the relay.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Event ID.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Content-Type of the original request.
    pub content_type: Option<String>,
    /// The original bytes.
    pub body: Vec<u8>,
    /// Receive time, unix microseconds.
    pub received_us: i64,
}

/// Lock up to `limit` unpublished rows that are due, skipping rows another relay holds.
/// The locks last as long as `tx`.
#[tracing::instrument(skip_all)]
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, provider, event_id, event_type, content_type, body,
                (extract(epoch FROM received_at) * 1000000)::int8 AS received_us
         FROM events
         WHERE published_at IS NULL AND next_attempt_at <= now()
         ORDER BY id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxRow {
                id: r.try_get("id")?,
                provider: r.try_get("provider")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("event_type")?,
                content_type: r.try_get("content_type")?,
                body: r.try_get::<Option<Vec<u8>>, _>("body")?.unwrap_or_default(),
                received_us: r.try_get("received_us")?,
            })
        })
        .collect()
}

/// Mark rows published (after the broker confirmed them).
pub async fn mark_published(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE events SET published_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rows the broker returned as unroutable: retried with a doubling delay (1 s .. 5 min),
/// so a binding added later still receives them.
pub async fn defer_returned(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE events SET returns = returns + 1,
                next_attempt_at = now() + LEAST(interval '5 minutes',
                                                interval '1 second' * power(2, LEAST(returns, 10)))
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows the broker nacked or that lost their confirm: retried after `delay`.
pub async fn defer(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[i64],
    delay: Duration,
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE events SET next_attempt_at = now() + make_interval(secs => $2) WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(delay.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows waiting for the relay.
pub async fn outbox_pending(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
}

/// Delete up to `limit` event keys older than `age`. Unpublished rows are kept unless the
/// broker returned them (no queue wanted them), so a long broker outage loses nothing.
pub async fn purge_events(pool: &PgPool, age: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM events WHERE id IN (
             SELECT id FROM events
             WHERE received_at < now() - make_interval(secs => $1)
               AND (published_at IS NOT NULL OR returns > 0)
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Clear up to `limit` bodies of published events older than `age`.
pub async fn drop_payloads(pool: &PgPool, age: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE events SET body = NULL WHERE id IN (
             SELECT id FROM events
             WHERE received_at < now() - make_interval(secs => $1)
               AND published_at IS NOT NULL AND body IS NOT NULL
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
