//! The relay's statements on the `outbox` recovery table: claim due rows (the sweep) with
//! their events, delete confirmed rows, defer returned and nacked ones, release leases,
//! and report the backlog.
//!
//! None of them holds a row lock beyond its own statement: a claim takes rows by pushing
//! their `next_attempt_at` one lease ahead (`FOR UPDATE SKIP LOCKED` only guards that
//! update), so no transaction stays open while the broker confirms. Every statement reaches
//! rows through the outbox's own indexes and `events` by primary key only, so its cost does
//! not depend on how many events are stored, nor on the planner statistics of the moment.

use std::time::Duration;

use sqlx::{PgExecutor, PgPool};

/// An outbox row claimed by the sweep, with its event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    /// Row id (`events.id`).
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

/// Claim up to `limit` due rows (oldest due first), skipping rows another relay is
/// claiming, by leasing them for `lease`; returns them with their events.
///
/// One autocommit statement: the inner `SELECT` walks `outbox_next_attempt_at`, and the
/// events are fetched with `id = ANY(ARRAY(...))`, an index scan on the primary key
/// whatever the table's size or statistics (a join here once chose a merge join that read
/// all of `events`).
#[tracing::instrument(skip_all)]
pub async fn claim(
    pool: &PgPool,
    limit: i64,
    lease: Duration,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH claimed AS (
             UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2)
             WHERE event_pk = ANY(ARRAY(
                 SELECT event_pk FROM outbox
                 WHERE next_attempt_at <= now()
                 ORDER BY next_attempt_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED))
             RETURNING event_pk
         )
         SELECT e.id, e.provider, e.event_id, e.event_type, e.content_type,
                coalesce(e.body, ''::bytea) AS body,
                (extract(epoch FROM e.received_at) * 1000000)::int8 AS received_us
         FROM events e
         WHERE e.id = ANY(ARRAY(SELECT event_pk FROM claimed))",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// The broker confirmed these: their outbox rows go, if they are still leased. A row that
/// is due again (a replay reset it after the publish, or its lease ran out before the
/// confirm) stays, and is published again.
#[tracing::instrument(skip_all, fields(rows = ids.len()))]
pub async fn delete<'c>(db: impl PgExecutor<'c>, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    // `IS TRUE` keeps the lease test a filter: as an index condition the planner may walk
    // `outbox_next_attempt_at` over every leased row (and the dead ones) instead of
    // looking the IDs up by primary key (seen with statistics taken during a backlog).
    sqlx::query(
        "DELETE FROM outbox WHERE event_pk = ANY($1) AND (next_attempt_at > now()) IS TRUE",
    )
    .bind(ids)
    .execute(db)
    .await?;
    Ok(())
}

/// Rows the broker returned as unroutable: retried with a doubling delay (1 s .. 5 min),
/// so a binding added later still receives them.
pub async fn defer_returned<'c>(db: impl PgExecutor<'c>, ids: &[i64]) -> Result<(), sqlx::Error> {
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
    .execute(db)
    .await?;
    Ok(())
}

/// Rows the broker nacked or that lost their confirm: due again after `delay` (zero
/// releases a lease at once).
pub async fn defer<'c>(
    db: impl PgExecutor<'c>,
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
    .execute(db)
    .await?;
    Ok(())
}

/// Rows waiting for the relay (leased or due).
pub async fn pending<'c>(db: impl PgExecutor<'c>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(db)
        .await
}

/// The backlog in one statement: rows waiting for the relay (as [`pending`]) and the
/// seconds since the oldest of their events was received (0 when none waits), read
/// through the outbox's primary key and one `events` row.
pub async fn backlog(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM outbox),
                coalesce((
                    SELECT extract(epoch FROM now() - e.received_at)::float8
                    FROM events e
                    WHERE e.id = (SELECT min(event_pk) FROM outbox)), 0)",
    )
    .fetch_one(pool)
    .await
}
