//! Partition maintenance: the statements that create partitions ahead of the clock and
//! retire expired ones, and the [`Layout`] (partition widths) derived from the retention
//! config.
//!
//! Three partitioned tables grow with traffic (see `migrations/0004_partitioned_storage.sql`):
//!
//! - `event_keys`, LIST-partitioned by key bucket. Buckets form a chain (`key_buckets`);
//!   each is at least `retention.events` wide. The insert needs the current bucket and the
//!   next one, so [`ensure`] keeps at least two buckets ahead of now.
//! - `event_records` and `event_payloads`, RANGE-partitioned by id, whose high bits are the
//!   database clock's seconds: one partition pair per time range of
//!   [`Layout::partition_width`] (listed in `event_partitions`).
//!
//! Everything here runs on one dedicated connection. Creating is done in one transaction
//! under a transaction-level advisory lock (two gateways never compute overlapping ranges);
//! a partition is created empty and then attached (`SHARE UPDATE EXCLUSIVE` on the parent:
//! inserts and reads go on). Retiring detaches `CONCURRENTLY` (no `ACCESS EXCLUSIVE` on the
//! parent, so neither the writer nor the relay ever waits behind it) and then drops the
//! detached table, so its cost is the same whatever the partition or the table holds.

use std::time::Duration;

use hookgate_core::config::RetentionConfig;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

/// Advisory lock key of partition creation (transaction scope): "hookgate" + 1.
const CREATE_LOCK: i64 = 0x686f_6f6b_6761_7401;

/// Largest `event_records` / `event_payloads` partition: one day.
const MAX_PARTITION: i64 = 86_400;

/// Partition widths and horizons, in seconds, derived from `[retention]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Dedup window (`retention.events`), whole seconds.
    pub events: i64,
    /// Body retention (`retention.payloads`), whole seconds.
    pub payloads: i64,
    /// Width of a key bucket: the dedup window (the least width that keeps the guarantee).
    pub key_width: i64,
    /// Width of an `event_records` / `event_payloads` partition: a quarter of the shorter
    /// retention (so at most 25% more than the window is kept), between 1 s and 1 day.
    pub partition_width: i64,
    /// How often maintenance runs: `retention.interval`, but at least twice per partition
    /// and four times per key bucket, so a short window never outruns its partitions.
    pub cadence: Duration,
}

impl Layout {
    /// The layout for `config`.
    pub fn new(config: &RetentionConfig) -> Self {
        let secs = |d: Duration| (d.as_millis().div_ceil(1000) as i64).max(1);
        let events = secs(config.events);
        let payloads = secs(config.payloads).min(events);
        let partition_width = (payloads.min(events) / 4).clamp(1, MAX_PARTITION);
        let cadence = config
            .interval
            .min(Duration::from_millis(partition_width as u64 * 500))
            .min(Duration::from_millis(events as u64 * 250))
            .max(Duration::from_millis(250));
        Self {
            events,
            payloads,
            key_width: events,
            partition_width,
            cadence,
        }
    }

    fn cadence_secs(&self) -> i64 {
        self.cadence.as_millis().div_ceil(1000) as i64
    }

    /// Key buckets are created until one starts after `now + this`.
    fn key_horizon(&self) -> i64 {
        self.key_width.max(3 * self.cadence_secs())
    }

    /// Event partitions are created until they cover `now + this`.
    fn partition_horizon(&self) -> i64 {
        (2 * self.partition_width).max(3 * self.cadence_secs())
    }
}

/// `t` rounded down to a multiple of `width`.
fn align(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

/// The first id of unix second `s` (ids are `seconds << 20 | sequence`).
pub fn pk_floor(s: i64) -> i64 {
    s << 20
}

/// What one [`ensure`] created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    /// Key buckets created.
    pub key_buckets: u32,
    /// `event_records` + `event_payloads` partition pairs created.
    pub event_partitions: u32,
    /// Dedup keys seeded from the legacy partition (first run after the upgrade).
    pub seeded_keys: u64,
}

/// Create the partitions the next few minutes need: key buckets until one starts after
/// [`Layout::key_horizon`], event partitions covering [`Layout::partition_horizon`]. After
/// a long stop (no partition for now) the chain resumes at the current time; nothing is
/// created for the gap. Idempotent, and safe to run from several gateways at once.
#[tracing::instrument(skip_all)]
pub async fn ensure(conn: &mut PgConnection, layout: &Layout) -> Result<Created, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CREATE_LOCK)
        .execute(&mut *tx)
        .await?;
    let now: i64 = sqlx::query_scalar("SELECT floor(extract(epoch FROM now()))::int8")
        .fetch_one(&mut *tx)
        .await?;
    let mut created = Created::default();

    // Key buckets.
    let last_key: Option<i64> = sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM max(starts_at)))::int8 FROM key_buckets",
    )
    .fetch_one(&mut *tx)
    .await?;
    let first_run = last_key.is_none();
    let mut last = last_key;
    let target = now + layout.key_horizon();
    while last.is_none_or(|l| l <= target) {
        let start = match last {
            None => align(now, layout.key_width),
            Some(l) => (l + layout.key_width).max(align(now, layout.key_width)),
        };
        create_key_bucket(&mut tx, start).await?;
        created.key_buckets += 1;
        last = Some(start);
    }
    if first_run {
        created.seeded_keys = seed_legacy_keys(&mut tx, layout).await?;
    }

    // Event partitions.
    let last_end: i64 = sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM max(ends_at)))::int8 FROM event_partitions",
    )
    .fetch_one(&mut *tx)
    .await?;
    let target = now + layout.partition_horizon();
    let mut start = last_end.max(align(now, layout.partition_width));
    while start < target {
        let end = align(start, layout.partition_width) + layout.partition_width;
        create_event_partition(&mut tx, start, end).await?;
        created.event_partitions += 1;
        start = end;
    }
    tx.commit().await?;
    Ok(created)
}

/// Create and attach the key bucket starting at unix second `start` (`event_keys_p<start>`),
/// and list it in `key_buckets`. Called by [`ensure`] (and by the retention benchmark to
/// lay out past buckets).
pub async fn create_key_bucket(conn: &mut PgConnection, start: i64) -> Result<(), sqlx::Error> {
    attach_new(
        conn,
        "event_keys",
        start,
        &format!("IN (to_timestamp({start}))"),
    )
    .await?;
    sqlx::query("INSERT INTO key_buckets (starts_at) VALUES (to_timestamp($1))")
        .bind(start as f64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Create and attach the `event_records` and `event_payloads` partitions of unix seconds
/// `[start, end)` (suffix `p<start>`), and list them in `event_partitions`.
pub async fn create_event_partition(
    conn: &mut PgConnection,
    start: i64,
    end: i64,
) -> Result<(), sqlx::Error> {
    let bounds = format!("FROM ({}) TO ({})", pk_floor(start), pk_floor(end));
    for parent in ["event_records", "event_payloads"] {
        attach_new(conn, parent, start, &bounds).await?;
    }
    sqlx::query(
        "INSERT INTO event_partitions (starts_at, ends_at, suffix, payloads)
         VALUES (to_timestamp($1), to_timestamp($2), $3, true)",
    )
    .bind(start as f64)
    .bind(end as f64)
    .bind(format!("p{start}"))
    .execute(conn)
    .await?;
    Ok(())
}

/// Create `<parent>_p<start>` like `parent` and attach it `FOR VALUES <bounds>`.
async fn attach_new(
    conn: &mut PgConnection,
    parent: &str,
    start: i64,
    bounds: &str,
) -> Result<(), sqlx::Error> {
    let name = format!("{parent}_p{start}");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES {bounds}"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// First run after the upgrade from the unpartitioned schema: the events of the last
/// window in `event_records_legacy` get their dedup keys, in the first two buckets (as if
/// they had just arrived), so their retries are still answered `duplicate`.
async fn seed_legacy_keys(tx: &mut PgConnection, layout: &Layout) -> Result<u64, sqlx::Error> {
    let legacy: bool = sqlx::query_scalar(
        "SELECT to_regclass('event_records_legacy') IS NOT NULL
                AND EXISTS (SELECT 1 FROM event_partitions WHERE suffix = 'legacy')",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !legacy {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO event_keys (provider, event_id, bucket)
         SELECT l.provider, l.event_id, pair.b
         FROM event_records_legacy l,
              key_bucket_pair(now()) AS kb,
              LATERAL (VALUES (kb.current_bucket), (kb.next_bucket)) AS pair(b)
         WHERE l.received_at > now() - make_interval(secs => $1)
         ORDER BY 1, 2, 3
         ON CONFLICT DO NOTHING",
    )
    .bind(layout.events as f64)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// A key bucket whose successor has started: no insert reads or writes it any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBucket {
    /// Unix seconds of its start (names the partition `event_keys_p<start>`).
    pub start: i64,
}

impl KeyBucket {
    /// Its partition.
    pub fn table(&self) -> String {
        format!("event_keys_p{}", self.start)
    }
}

/// Key buckets no statement can use any more: a later bucket has started. (The insert
/// writes the current and the next bucket; a copy within the window reads only its own.)
pub async fn past_key_buckets(conn: &mut PgConnection) -> Result<Vec<KeyBucket>, sqlx::Error> {
    let starts: Vec<i64> = sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM k.starts_at))::int8 FROM key_buckets k
         WHERE EXISTS (SELECT 1 FROM key_buckets later
                       WHERE later.starts_at > k.starts_at AND later.starts_at <= now())
         ORDER BY 1",
    )
    .fetch_all(conn)
    .await?;
    Ok(starts
        .into_iter()
        .map(|start| KeyBucket { start })
        .collect())
}

/// Forget a retired key bucket (after its partition is gone).
pub async fn forget_key_bucket(
    conn: &mut PgConnection,
    bucket: &KeyBucket,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM key_buckets WHERE starts_at = to_timestamp($1)")
        .bind(bucket.start as f64)
        .execute(conn)
        .await?;
    Ok(())
}

/// One time range of `event_records` (and `event_payloads`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPartition {
    /// `p<start seconds>`, or `legacy` for the rows stored before partitioning.
    pub suffix: String,
    /// First id (inclusive); `i64::MIN` for the legacy partition.
    pub lower_pk: i64,
    /// Last id (exclusive).
    pub upper_pk: i64,
    /// Seconds from the end of its range to now.
    pub age: i64,
    /// Whether its payload partition still exists.
    pub payloads: bool,
}

impl EventPartition {
    /// Its `event_records` partition.
    pub fn records_table(&self) -> String {
        format!("event_records_{}", self.suffix)
    }

    /// Its `event_payloads` partition.
    pub fn payloads_table(&self) -> String {
        format!("event_payloads_{}", self.suffix)
    }
}

/// Event partitions whose whole range is older than `min_age` seconds, oldest first.
pub async fn event_partitions_older_than(
    conn: &mut PgConnection,
    min_age: i64,
) -> Result<Vec<EventPartition>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT suffix,
                CASE WHEN isfinite(starts_at) THEN floor(extract(epoch FROM starts_at))::int8 END
                    AS lower_s,
                floor(extract(epoch FROM ends_at))::int8 AS upper_s,
                floor(extract(epoch FROM now() - ends_at))::int8 AS age,
                payloads
         FROM event_partitions
         WHERE ends_at <= now() - make_interval(secs => $1)
         ORDER BY starts_at",
    )
    .bind(min_age as f64)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(EventPartition {
                suffix: r.try_get("suffix")?,
                lower_pk: r
                    .try_get::<Option<i64>, _>("lower_s")?
                    .map_or(i64::MIN, pk_floor),
                upper_pk: pk_floor(r.try_get("upper_s")?),
                age: r.try_get("age")?,
                payloads: r.try_get("payloads")?,
            })
        })
        .collect()
}

/// Record that a partition's payloads are gone, or (`records`) forget it altogether.
pub async fn forget_event_partition(
    conn: &mut PgConnection,
    partition: &EventPartition,
    records: bool,
) -> Result<(), sqlx::Error> {
    let sql = if records {
        "DELETE FROM event_partitions WHERE suffix = $1"
    } else {
        "UPDATE event_partitions SET payloads = false WHERE suffix = $1"
    };
    sqlx::query(sql)
        .bind(&partition.suffix)
        .execute(conn)
        .await?;
    Ok(())
}

/// Estimated rows of `table` (`pg_class.reltuples`, after an `ANALYZE` if it was never
/// analyzed: a sample of fixed size, so the cost does not grow with the table).
pub async fn estimated_rows(conn: &mut PgConnection, table: &str) -> Result<u64, sqlx::Error> {
    let mut n = reltuples(conn, table).await?;
    if n.is_some_and(|n| n < 0.0) {
        sqlx::raw_sql(AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(&mut *conn)
            .await?;
        n = reltuples(conn, table).await?;
    }
    Ok(n.unwrap_or(0.0).max(0.0) as u64)
}

async fn reltuples(conn: &mut PgConnection, table: &str) -> Result<Option<f32>, sqlx::Error> {
    sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)")
        .bind(table)
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}

/// Detach `table` from `parent` without blocking readers or writers, finishing a detach an
/// interrupted pass left pending. Does nothing when it is not attached (any more).
pub async fn detach(conn: &mut PgConnection, parent: &str, table: &str) -> Result<(), sqlx::Error> {
    let state: Option<bool> = sqlx::query_scalar(
        "SELECT i.inhdetachpending FROM pg_inherits i
         WHERE i.inhrelid = to_regclass($1) AND i.inhparent = to_regclass($2)",
    )
    .bind(table)
    .bind(parent)
    .fetch_optional(&mut *conn)
    .await?;
    let sql = match state {
        None => return Ok(()),
        Some(true) => format!("ALTER TABLE {parent} DETACH PARTITION {table} FINALIZE"),
        Some(false) => format!("ALTER TABLE {parent} DETACH PARTITION {table} CONCURRENTLY"),
    };
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
}

/// Attach a detached event partition back (a replay queued one of its events while it was
/// being detached). `DETACH CONCURRENTLY` left a CHECK constraint of the same bounds, so
/// this does not scan it.
pub async fn reattach(
    conn: &mut PgConnection,
    parent: &str,
    table: &str,
    partition: &EventPartition,
) -> Result<(), sqlx::Error> {
    let lower = if partition.lower_pk == i64::MIN {
        "MINVALUE".to_owned()
    } else {
        partition.lower_pk.to_string()
    };
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES FROM ({lower}) TO ({})",
        partition.upper_pk
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Drop a detached partition (if it still exists).
pub async fn drop_detached(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(conn)
        .await?;
    Ok(())
}

/// Seconds since the oldest retained event was received (0 when there is none). One index
/// probe per partition.
pub async fn oldest_age(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(floor(extract(epoch FROM now() - min(received_at)))::int8, 0)
         FROM event_records",
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(events: u64, payloads: u64, interval: u64) -> RetentionConfig {
        RetentionConfig {
            events: Duration::from_secs(events),
            payloads: Duration::from_secs(payloads),
            interval: Duration::from_secs(interval),
        }
    }

    #[test]
    fn a_week_has_day_partitions_and_week_buckets() {
        let l = Layout::new(&config(7 * 86_400, 7 * 86_400, 60));
        assert_eq!(l.key_width, 7 * 86_400);
        assert_eq!(l.partition_width, 86_400);
        assert_eq!(l.cadence, Duration::from_secs(60));
    }

    #[test]
    fn a_short_window_runs_maintenance_more_often() {
        let l = Layout::new(&config(60, 60, 60));
        assert_eq!((l.key_width, l.partition_width), (60, 15));
        assert_eq!(l.cadence, Duration::from_millis(7_500));
        let l = Layout::new(&config(2, 2, 60));
        assert_eq!((l.key_width, l.partition_width), (2, 1));
        assert_eq!(l.cadence, Duration::from_millis(500));
    }

    #[test]
    fn shorter_payloads_narrow_the_partitions() {
        let l = Layout::new(&config(30 * 86_400, 86_400, 60));
        assert_eq!(l.partition_width, 21_600);
        assert_eq!(l.key_width, 30 * 86_400);
    }

    #[test]
    fn align_rounds_down() {
        assert_eq!(align(119, 60), 60);
        assert_eq!(align(120, 60), 120);
    }
}
