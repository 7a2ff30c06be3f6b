//! Queries of the admin API, the console and `hookgate replay`: filtered, keyset-paged
//! listings, one event with its body, and queueing a filtered set for republishing.
//! [`EventSummary`] is the row shape the admin API serializes.

use sqlx::{FromRow, PgPool, Postgres, QueryBuilder, Row};

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
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct EventSummary {
    /// Row id (the paging cursor).
    #[sqlx(rename = "id")]
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

/// Bind the five [`FILTER`] parameters onto a `query`, `query_as` or `query_scalar`.
macro_rules! bind_filter {
    ($query:expr, $f:expr) => {
        $query
            .bind($f.provider.as_deref())
            .bind($f.event_type.as_deref())
            .bind($f.event_id.as_deref())
            .bind($f.since_us)
            .bind($f.until_us)
    };
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
    bind_filter!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
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
    row.map(|r| Ok((EventSummary::from_row(&r)?, r.try_get("body")?)))
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
    let (matched, replayable): (i64, i64) =
        bind_filter!(sqlx::query_as(sqlx::AssertSqlSafe(count_sql)), filter)
            .fetch_one(pool)
            .await?;
    let queued = if dry_run {
        0
    } else {
        let sql = format!(
            "INSERT INTO outbox (event_pk)
             SELECT e.id FROM events e WHERE {FILTER} AND e.body IS NOT NULL
             ON CONFLICT (event_pk) DO UPDATE SET next_attempt_at = now()"
        );
        bind_filter!(sqlx::query(sqlx::AssertSqlSafe(sql)), filter)
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
    bind_filter!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), filter)
        .fetch_one(pool)
        .await
}

// The console's queries. Unlike the `$n IS NULL OR ...` filter above (one prepared plan for
// every combination), these put only the conditions that are given into the SQL, so the
// planner can pick the index that serves each combination. Pages are newest first by
// `(received_at, id)`, read backwards from `events_received_at`, `(provider, received_at)`
// or `(event_type, received_at)`; an ID goes through the unique `(provider, event_id)`
// (see migrations/0002_console_indexes.sql). Ordering by time rather than by id keeps a
// page of an old time range a short index read, and suits a table partitioned by time.

/// `WHERE ...` over `events e` for `filter`. An event ID without a provider is looked up
/// under every name in `providers` (the configured ones), so the unique
/// `(provider, event_id)` index serves it.
fn push_console_filter(qb: &mut QueryBuilder<Postgres>, f: &EventFilter, providers: &[String]) {
    qb.push(" WHERE true");
    if let Some(p) = &f.provider {
        qb.push(" AND e.provider = ").push_bind(p.clone());
    }
    if let Some(t) = &f.event_type {
        qb.push(" AND e.event_type = ").push_bind(t.clone());
    }
    if let Some(id) = &f.event_id {
        if f.provider.is_none() {
            qb.push(" AND e.provider = ANY(")
                .push_bind(providers.to_vec())
                .push(")");
        }
        qb.push(" AND e.event_id = ").push_bind(id.clone());
    }
    if let Some(us) = f.since_us {
        qb.push(" AND e.received_at >= 'epoch'::timestamptz + ")
            .push_bind(us)
            .push(" * interval '1 microsecond'");
    }
    if let Some(us) = f.until_us {
        qb.push(" AND e.received_at < 'epoch'::timestamptz + ")
            .push_bind(us)
            .push(" * interval '1 microsecond'");
    }
}

/// One page of events matching `filter`, newest first by `(received_at, id)`, older than
/// `before` = (receive time in unix microseconds, row id).
pub async fn newest_events(
    pool: &PgPool,
    filter: &EventFilter,
    providers: &[String],
    before: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<EventSummary>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {SUMMARY} FROM events e LEFT JOIN outbox o ON o.event_pk = e.id"
    ));
    push_console_filter(&mut qb, filter, providers);
    if let Some((us, id)) = before {
        qb.push(" AND (e.received_at, e.id) < ('epoch'::timestamptz + ")
            .push_bind(us)
            .push(" * interval '1 microsecond', ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" ORDER BY e.received_at DESC, e.id DESC LIMIT ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(pool).await
}

/// One stored event by row id, with its body and, while it waits in the outbox, the time
/// of its next publish attempt (RFC 3339).
pub async fn event_by_pk(
    pool: &PgPool,
    pk: i64,
) -> Result<Option<(EventSummary, Option<Vec<u8>>, Option<String>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY}, e.body,
                to_char(o.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS next_attempt
         FROM events e LEFT JOIN outbox o ON o.event_pk = e.id WHERE e.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(pk)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok((
            EventSummary::from_row(&r)?,
            r.try_get("body")?,
            r.try_get("next_attempt")?,
        ))
    })
    .transpose()
}

/// Events matching `filter` (and of those, the ones whose body is kept), each counted up
/// to `cap + 1` only: a page never counts millions of rows.
pub async fn count_capped(
    pool: &PgPool,
    filter: &EventFilter,
    providers: &[String],
    cap: i64,
) -> Result<ReplayCount, sqlx::Error> {
    let mut qb = QueryBuilder::new(
        "SELECT count(*), count(*) FILTER (WHERE kept) FROM
         (SELECT e.body IS NOT NULL AS kept FROM events e",
    );
    push_console_filter(&mut qb, filter, providers);
    qb.push(" LIMIT ").push_bind(cap + 1).push(") s");
    let (matched, replayable): (i64, i64) = qb.build_query_as().fetch_one(pool).await?;
    Ok(ReplayCount {
        matched,
        replayable,
        queued: 0,
    })
}

/// Queue at most `cap` stored events matching `filter` (those whose body is kept) for
/// republishing; returns how many were queued.
pub async fn replay_capped(
    pool: &PgPool,
    filter: &EventFilter,
    providers: &[String],
    cap: i64,
) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new("INSERT INTO outbox (event_pk) SELECT e.id FROM events e");
    push_console_filter(&mut qb, filter, providers);
    qb.push(" AND e.body IS NOT NULL ORDER BY e.id LIMIT ")
        .push_bind(cap)
        .push(" ON CONFLICT (event_pk) DO UPDATE SET next_attempt_at = now()");
    Ok(qb.build().execute(pool).await?.rows_affected() as i64)
}

/// Queue one stored event (by row id) for republishing, if its body is kept.
pub async fn replay_pk(pool: &PgPool, pk: i64) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO outbox (event_pk) SELECT id FROM events WHERE id = $1 AND body IS NOT NULL
         ON CONFLICT (event_pk) DO UPDATE SET next_attempt_at = now()",
    )
    .bind(pk)
    .execute(pool)
    .await?
    .rows_affected() as i64)
}

/// The relay's backlog: rows waiting (counted up to `cap + 1`) and the age in seconds of
/// the oldest (by row id, which follows receive order), without scanning the outbox.
pub async fn backlog(pool: &PgPool, cap: i64) -> Result<(i64, Option<f64>), sqlx::Error> {
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT $1) s")
        .bind(cap + 1)
        .fetch_one(pool)
        .await?;
    let oldest: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - e.received_at)::float8
         FROM outbox o JOIN events e ON e.id = o.event_pk ORDER BY o.event_pk LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok((pending, oldest))
}
