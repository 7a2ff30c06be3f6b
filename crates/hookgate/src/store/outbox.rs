//! The relay's statements on the `outbox` queue table: claim due rows with their events,
//! delete the confirmed ones, defer returned and nacked ones, and count what waits.

use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};

/// An unpublished row claimed by the relay.
#[derive(Debug, Clone, sqlx::FromRow)]
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
    sqlx::query_as(
        "SELECT e.id, e.provider, e.event_id, e.event_type, e.content_type,
                coalesce(e.body, ''::bytea) AS body,
                (extract(epoch FROM e.received_at) * 1000000)::int8 AS received_us
         FROM outbox o JOIN events e ON e.id = o.event_pk
         WHERE o.next_attempt_at <= now()
         ORDER BY o.event_pk
         LIMIT $1
         FOR UPDATE OF o SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
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
pub async fn pending(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
}
