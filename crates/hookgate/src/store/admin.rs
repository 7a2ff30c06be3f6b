//! Queries of the admin API, the console and `hookgate replay`: filtered, keyset-paged
//! listings, one event with its body, and queueing a filtered set for republishing.
//! [`EventSummary`] is the row shape the admin API serializes.

use sqlx::{FromRow, PgPool, Row};

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
