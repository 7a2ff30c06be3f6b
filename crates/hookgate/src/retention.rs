//! Retention as partition maintenance: every pass creates the partitions the next minutes
//! need and drops the expired ones whole, so its cost depends on the number of partitions
//! (a handful), never on the number of rows stored or expired.
//!
//! A pass, on one connection taken out of the pool:
//!
//! 1. creates key buckets and event partitions ahead of the clock ([`partitions::ensure`]);
//! 2. under a session advisory lock (one gateway at a time; the others skip), drops
//!    - key buckets a later bucket has replaced (no insert can reach them any more),
//!    - payload partitions older than `retention.payloads`,
//!    - record partitions older than `retention.events` (with their payloads),
//!
//!    but never a partition that still holds an event the broker has not taken: that
//!    partition is kept (and counted in `hookgate_retention_partitions_held`) until the
//!    relay has published it. Returned (unroutable) events go with their partition.
//! 3. `VACUUM`s the outbox when it has [`OUTBOX_VACUUM_AT`] dead rows or more (a queue
//!    table: one insert and one delete per event). Its per-table autovacuum settings
//!    (`migrations/0004`) do the same where autovacuum runs, but autovacuum may be off
//!    (it is on some CI and managed servers), or visit the database only once a
//!    `autovacuum_naptime`; unvacuumed, the outbox and its indexes grew by ~23 MiB a
//!    minute at 4k events/s in the soak, and every claim stepped over the dead entries.
//! 4. measures the tables' footprint, reports `hookgate_retention_*` and
//!    `hookgate_storage_bytes`, and logs what it did.
//!
//! [`prepare`] runs step 1 at start-up, before the first insert needs a partition.

use std::time::{Duration, Instant};

use hookgate_core::config::RetentionConfig;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::{
    metrics::{Metrics, TableLabels},
    store::{
        self,
        footprint::Footprint,
        partitions::{self, Created, EventPartition, Layout},
    },
};

/// Advisory lock key of the dropping half of a pass (session scope): "hookgate" + 2.
const EXPIRE_LOCK: i64 = 0x686f_6f6b_6761_7402;

/// Dead outbox rows from which a pass vacuums the outbox (the per-table autovacuum
/// threshold of `migrations/0004` is 5,000; this is the backstop).
pub const OUTBOX_VACUUM_AT: i64 = 10_000;

/// Longest wait after a failed pass before the next try.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// Why a pass failed. It is retried; nothing is dropped half-way (each partition is
/// detached, then dropped, then forgotten, and a later pass finishes what was left).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// No connection to the database.
    #[error("connecting for partition maintenance: {0}")]
    Connect(#[source] sqlx::Error),
    /// A maintenance statement failed.
    #[error("partition maintenance: {0}")]
    Database(#[from] sqlx::Error),
}

/// Partitions of one table dropped by a pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Partitions dropped.
    pub partitions: u32,
    /// Rows they held (estimated from their statistics).
    pub rows: u64,
}

impl Dropped {
    fn add(&mut self, rows: u64) {
        self.partitions += 1;
        self.rows += rows;
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Partitions created ahead.
    pub created: Created,
    /// `event_keys` buckets dropped.
    pub keys: Dropped,
    /// `event_payloads` partitions dropped.
    pub payloads: Dropped,
    /// `event_records` partitions dropped.
    pub records: Dropped,
    /// Expired partitions kept because they hold unpublished events.
    pub held: u32,
    /// Whether another gateway held the drop lock (this pass only created).
    pub skipped_drops: bool,
    /// Age of the oldest stored event, seconds.
    pub oldest_age: i64,
    /// Bytes on disk per table after the pass.
    pub footprint: Footprint,
    /// Dead outbox rows seen by the pass (under the drop lock only).
    pub outbox_dead: i64,
    /// Whether the pass vacuumed the outbox (or found another vacuum at work on it).
    pub outbox_vacuumed: bool,
}

impl Pass {
    /// Rows dropped, all tables.
    pub fn rows_expired(&self) -> u64 {
        self.keys.rows + self.payloads.rows + self.records.rows
    }
}

/// Create the partitions the next minutes need, before the gateway takes traffic.
pub async fn prepare(pool: &PgPool, config: &RetentionConfig) -> Result<Created, RetentionError> {
    let mut conn = pool.acquire().await.map_err(RetentionError::Connect)?;
    Ok(partitions::ensure(&mut conn, &Layout::new(config)).await?)
}

/// Run passes every [`Layout::cadence`] until `stop`; after a failure, retry after 1 s,
/// doubling up to 10 s (partitions for now may be missing while the database was down).
pub async fn run(pool: PgPool, config: RetentionConfig, metrics: Metrics, stop: CancellationToken) {
    let layout = Layout::new(&config);
    let mut retry = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let wait = match pass(&pool, &layout).await {
            Ok(done) => {
                report(&metrics, &done, started.elapsed());
                retry = Duration::from_secs(1);
                layout.cadence
            }
            Err(e) => {
                metrics.retention_errors.inc();
                tracing::warn!(error = %e, retry_in = ?retry, "retention pass failed; will retry");
                let wait = retry;
                retry = (retry * 2).min(MAX_RETRY);
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
    }
}

fn report(metrics: &Metrics, done: &Pass, took: Duration) {
    metrics.retention_pass.observe(took.as_secs_f64());
    metrics.retention_oldest_age.set(done.oldest_age);
    for (table, bytes) in done.footprint.tables() {
        metrics
            .storage_bytes
            .get_or_create(&TableLabels {
                table: table.into(),
            })
            .set(bytes);
    }
    if !done.skipped_drops {
        metrics.retention_held.set(i64::from(done.held));
    }
    for (table, dropped) in [
        ("event_keys", done.keys),
        ("event_payloads", done.payloads),
        ("event_records", done.records),
    ] {
        if dropped.partitions > 0 {
            metrics.partitions_dropped(table, dropped.partitions, dropped.rows);
        }
    }
    if done.outbox_vacuumed {
        metrics.outbox_vacuums.inc();
    }
    let dropped = done.keys.partitions + done.payloads.partitions + done.records.partitions;
    if dropped > 0 || done.created != Created::default() || done.held > 0 || done.outbox_vacuumed {
        tracing::info!(
            created_key_buckets = done.created.key_buckets,
            created_event_partitions = done.created.event_partitions,
            seeded_keys = done.created.seeded_keys,
            dropped_key_buckets = done.keys.partitions,
            dropped_payload_partitions = done.payloads.partitions,
            dropped_record_partitions = done.records.partitions,
            rows_expired = done.rows_expired(),
            held = done.held,
            outbox_dead = done.outbox_dead,
            outbox_vacuumed = done.outbox_vacuumed,
            oldest_age_s = done.oldest_age,
            took_ms = took.as_millis() as u64,
            "retention pass"
        );
    }
}

/// One pass: create ahead, then (unless another gateway is at it) drop what expired.
#[tracing::instrument(name = "retention_pass", skip_all)]
pub async fn pass(pool: &PgPool, layout: &Layout) -> Result<Pass, RetentionError> {
    // A connection of its own: the drop lock is session-scoped and DETACH CONCURRENTLY
    // cannot run in a transaction; closing it releases the lock whatever happened.
    let mut conn = pool
        .acquire()
        .await
        .map_err(RetentionError::Connect)?
        .detach();
    let mut done = Pass {
        created: partitions::ensure(&mut conn, layout).await?,
        ..Pass::default()
    };
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(EXPIRE_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if locked {
        expire(&mut conn, layout, &mut done).await?;
        done.outbox_dead = store::retention::outbox_dead_rows(&mut conn).await?;
        if done.outbox_dead >= OUTBOX_VACUUM_AT {
            store::retention::vacuum_outbox(&mut conn).await?;
            done.outbox_vacuumed = true;
        }
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(EXPIRE_LOCK)
            .execute(&mut conn)
            .await?;
    } else {
        done.skipped_drops = true;
    }
    done.oldest_age = partitions::oldest_age(&mut conn).await?;
    done.footprint = store::footprint::measure(&mut conn).await?;
    let _ = conn.close().await;
    Ok(done)
}

/// The dropping half of a pass (under the drop lock).
async fn expire(
    conn: &mut PgConnection,
    layout: &Layout,
    done: &mut Pass,
) -> Result<(), sqlx::Error> {
    for bucket in partitions::past_key_buckets(conn).await? {
        let table = bucket.table();
        let rows = partitions::estimated_rows(conn, &table).await?;
        partitions::detach(conn, "event_keys", &table).await?;
        partitions::drop_detached(conn, &table).await?;
        partitions::forget_key_bucket(conn, &bucket).await?;
        done.keys.add(rows);
    }
    for partition in partitions::event_partitions_older_than(conn, layout.events).await? {
        retire(conn, &partition, true, done).await?;
    }
    if layout.payloads < layout.events {
        for partition in partitions::event_partitions_older_than(conn, layout.payloads).await? {
            if partition.payloads {
                retire(conn, &partition, false, done).await?;
            }
        }
    }
    Ok(())
}

/// Drop an expired event partition's payloads, and (`records`) its records too, unless
/// it holds unpublished events.
async fn retire(
    conn: &mut PgConnection,
    partition: &EventPartition,
    records: bool,
    done: &mut Pass,
) -> Result<(), sqlx::Error> {
    let (lower, upper) = (partition.lower_pk, partition.upper_pk);
    if store::retention::holds_unpublished(conn, lower, upper).await? {
        done.held += 1;
        return Ok(());
    }
    store::retention::forget_returned(conn, lower, upper).await?;
    let mut tables = Vec::with_capacity(2);
    if partition.payloads {
        tables.push(("event_payloads", partition.payloads_table()));
    }
    if records {
        tables.push(("event_records", partition.records_table()));
    }
    let mut rows = Vec::with_capacity(tables.len());
    for (parent, table) in &tables {
        rows.push(partitions::estimated_rows(conn, table).await?);
        partitions::detach(conn, parent, table).await?;
    }
    // A replay may have queued one of its events while it was being detached (the detach
    // waited for that transaction): put it back and keep it until published.
    if store::retention::holds_unpublished(conn, lower, upper).await? {
        for (parent, table) in &tables {
            partitions::reattach(conn, parent, table, partition).await?;
        }
        done.held += 1;
        return Ok(());
    }
    for ((parent, table), rows) in tables.iter().zip(rows) {
        partitions::drop_detached(conn, table).await?;
        if *parent == "event_records" {
            done.records.add(rows);
        } else {
            done.payloads.add(rows);
        }
    }
    partitions::forget_event_partition(conn, partition, records).await?;
    Ok(())
}
