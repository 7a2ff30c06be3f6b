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

/// Which stored events an admin listing or a replay covers. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Provider name.
    pub provider: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// One event ID.
    pub event_id: Option<String>,
    /// Received at or after (unix microseconds).
    pub since_us: Option<i64>,
    /// Received before (unix microseconds).
    pub until_us: Option<i64>,
}

/// The filter as SQL over `events e`, with its parameters as `$1`..`$5`.
const FILTER: &str = "($1::text IS NULL OR e.provider = $1)
       AND ($2::text IS NULL OR e.event_type = $2)
       AND ($3::text IS NULL OR e.event_id = $3)
       AND ($4::int8 IS NULL OR e.received_at >= to_timestamp($4::float8 / 1000000))
       AND ($5::int8 IS NULL OR e.received_at < to_timestamp($5::float8 / 1000000))";

/// A stored event as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventSummary {
    /// Row id (the paging cursor).
    pub pk: i64,
    /// Provider name.
    pub provider: String,
    /// Event ID.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Content-Type of the original request.
    pub content_type: Option<String>,
    /// Receive time, RFC 3339.
    pub received_at: String,
    /// Whether the broker confirmed it (no outbox row).
    pub published: bool,
    /// Times the broker returned it as unroutable.
    pub returns: i32,
    /// Body size in bytes; `null` once payload retention dropped it.
    pub body_size: Option<i32>,
}

const SUMMARY: &str = "e.id, e.provider, e.event_id, e.event_type, e.content_type,
       to_char(e.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS received_at,
       o.event_pk IS NULL AS published, coalesce(o.returns, 0) AS returns,
       octet_length(e.body) AS body_size";

fn summary(r: &sqlx::postgres::PgRow) -> Result<EventSummary, sqlx::Error> {
    Ok(EventSummary {
        pk: r.try_get("id")?,
        provider: r.try_get("provider")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        content_type: r.try_get("content_type")?,
        received_at: r.try_get("received_at")?,
        published: r.try_get("published")?,
        returns: r.try_get("returns")?,
        body_size: r.try_get("body_size")?,
    })
}

fn bind_filter<'q>(
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    f: &'q EventFilter,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(f.provider.as_deref())
        .bind(f.event_type.as_deref())
        .bind(f.event_id.as_deref())
        .bind(f.since_us)
        .bind(f.until_us)
}

/// One page of events matching `filter`, oldest first, after row `after` (keyset paging).
pub async fn list_events(
    pool: &PgPool,
    filter: &EventFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<EventSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY} FROM events e LEFT JOIN outbox o ON o.event_pk = e.id
         WHERE {FILTER} AND e.id > $6 ORDER BY e.id LIMIT $7"
    );
    let rows = bind_filter(sqlx::query(sqlx::AssertSqlSafe(sql)), filter)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(summary).collect()
}

/// One event with its body (if still kept).
pub async fn get_event(
    pool: &PgPool,
    provider: &str,
    event_id: &str,
) -> Result<Option<(EventSummary, Option<Vec<u8>>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY}, e.body FROM events e LEFT JOIN outbox o ON o.event_pk = e.id
         WHERE e.provider = $1 AND e.event_id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(event_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((summary(&r)?, r.try_get("body")?)))
        .transpose()
}

/// What a replay matched and queued.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ReplayCount {
    /// Stored events matching the filter.
    pub matched: i64,
    /// Of those, events whose body is still kept (the ones that can be republished).
    pub replayable: i64,
    /// Queued for republishing now (0 on a dry run).
    pub queued: i64,
}

/// Queue the stored events matching `filter` for republishing: the relay publishes them
/// again (same `message_id`, so consumers can deduplicate). With `dry_run`, only count.
pub async fn replay(
    pool: &PgPool,
    filter: &EventFilter,
    dry_run: bool,
) -> Result<ReplayCount, sqlx::Error> {
    let count_sql = format!(
        "SELECT count(*) AS matched, count(e.body) AS replayable FROM events e WHERE {FILTER}"
    );
    let row = bind_filter(sqlx::query(sqlx::AssertSqlSafe(count_sql)), filter)
        .fetch_one(pool)
        .await?;
    let (matched, replayable): (i64, i64) = (row.try_get("matched")?, row.try_get("replayable")?);
    let queued = if dry_run {
        0
    } else {
        let sql = format!(
            "INSERT INTO outbox (event_pk)
             SELECT e.id FROM events e WHERE {FILTER} AND e.body IS NOT NULL
             ON CONFLICT (event_pk) DO UPDATE SET next_attempt_at = now()"
        );
        bind_filter(sqlx::query(sqlx::AssertSqlSafe(sql)), filter)
            .execute(pool)
            .await?
            .rows_affected() as i64
    };
    Ok(ReplayCount {
        matched,
        replayable,
        queued,
    })
}

/// Events matching `filter` that are still waiting in the outbox.
pub async fn pending_matching(pool: &PgPool, filter: &EventFilter) -> Result<i64, sqlx::Error> {
    let sql =
        format!("SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_pk WHERE {FILTER}");
    let row = bind_filter(sqlx::query(sqlx::AssertSqlSafe(sql)), filter)
        .fetch_one(pool)
        .await?;
    row.try_get(0)
}
