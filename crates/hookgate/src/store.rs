//! Every SQL statement on the `events` and `outbox` tables: the group-committed insert
//! (dedup key, payload and outbox row in one statement), the relay's claim and marks, the
//! outbox depth and retention purges.

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
    let rows = sqlx::query(
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

/// Lock up to `limit` due outbox rows (with their events), skipping rows another relay
/// holds. The locks last as long as `tx`.
#[tracing::instrument(skip_all)]
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.id, e.provider, e.event_id, e.event_type, e.content_type, e.body,
                (extract(epoch FROM e.received_at) * 1000000)::int8 AS received_us
         FROM outbox o JOIN events e ON e.id = o.event_pk
         WHERE o.next_attempt_at <= now()
         ORDER BY o.event_pk
         LIMIT $1
         FOR UPDATE OF o SKIP LOCKED",
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

/// Mark rows published (after the broker confirmed them): their outbox rows go.
pub async fn mark_published(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM outbox WHERE event_pk = ANY($1)")
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
        "UPDATE outbox SET returns = returns + 1,
                next_attempt_at = now() + LEAST(interval '5 minutes',
                                                interval '1 second' * power(2, LEAST(returns, 10)))
         WHERE event_pk = ANY($1)",
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
        "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2)
         WHERE event_pk = ANY($1)",
    )
    .bind(ids)
    .bind(delay.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows waiting for the relay.
pub async fn outbox_pending(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
}

/// Delete up to `limit` event keys older than `age`. Unpublished rows are kept unless the
/// broker returned them (no queue wanted them), so a long broker outage loses nothing.
pub async fn purge_events(pool: &PgPool, age: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH doomed AS (
             SELECT e.id FROM events e LEFT JOIN outbox o ON o.event_pk = e.id
             WHERE e.received_at < now() - make_interval(secs => $1)
               AND (o.event_pk IS NULL OR o.returns > 0)
             LIMIT $2
         ), unqueued AS (
             DELETE FROM outbox WHERE event_pk IN (SELECT id FROM doomed)
         )
         DELETE FROM events WHERE id IN (SELECT id FROM doomed)",
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
             SELECT e.id FROM events e
             WHERE e.received_at < now() - make_interval(secs => $1)
               AND e.body IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.id)
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
