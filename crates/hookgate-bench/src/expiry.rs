//! `hookgate bench expiry`: what one retention pass costs per expired event, and whether
//! that depends on how much is stored. In an empty database it lays out, with the
//! gateway's own partition functions and `[retention]`'s layout:
//!
//! - one expired partition pair (records and payloads, older than `retention.events`)
//!   holding `--expiring` events, and their keys in a key bucket a later one has replaced;
//! - `--stored` events inside the window, in the partitions of the last three partition
//!   widths, with their keys in the current and the next bucket (as the writer stores them);
//!
//! The fresh database's empty legacy partition is dropped first (it covers all past ids).
//! Then it gathers statistics and checkpoints (as autovacuum and the checkpointer would have
//! by then), and times one [`hookgate::retention::pass`]. Run it at two `--stored` sizes
//! with the same `--expiring` (`scripts/retention-cost`): a flat cost is the same pass time.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use hookgate::{
    retention,
    store::{
        footprint::{self, Footprint},
        partitions::{self, Layout},
    },
};
use hookgate_core::config::Config;
use serde::Serialize;
use sqlx::PgConnection;

/// Rows per fill statement (progress is printed between them).
const CHUNK: u64 = 1_000_000;

/// `bench expiry` arguments.
#[derive(Debug, Clone, Args)]
pub struct ExpiryArgs {
    /// Events stored inside the window (not expired).
    #[arg(long, default_value_t = 1_000_000)]
    pub stored: u64,
    /// Events in the expired partition.
    #[arg(long, default_value_t = 1_000_000)]
    pub expiring: u64,
    /// Body bytes per event.
    #[arg(long, default_value_t = 256)]
    pub body_size: usize,
}

/// One timed pass.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryReport {
    /// Events inside the window when the pass ran.
    pub stored: u64,
    /// Events in the expired partition.
    pub expiring: u64,
    /// Footprint before the pass.
    pub before: Footprint,
    /// Footprint after it.
    pub after: Footprint,
    /// Rows the pass reports expired, all tables (estimated from statistics).
    pub rows_expired: u64,
    /// Partitions dropped (key buckets, payloads, records).
    pub partitions_dropped: u32,
    /// Seconds the pass took.
    pub pass_seconds: f64,
    /// Microseconds of pass per expired event.
    pub us_per_expired_event: f64,
    /// Seconds the fill took (not part of the measure).
    pub fill_seconds: f64,
}

/// Lay out the table, fill it, time one pass.
pub async fn run(config: &Config, args: &ExpiryArgs) -> anyhow::Result<ExpiryReport> {
    hookgate::db::create_if_missing(&config.database.url).await?;
    let pool = hookgate::db::pool(&config.database)?;
    hookgate::db::migrate(&pool).await?;
    let layout = Layout::new(&config.retention);
    let mut conn = pool.acquire().await?.detach();
    let empty: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM event_records) AND NOT EXISTS (SELECT 1 FROM key_buckets)",
    )
    .fetch_one(&mut conn)
    .await?;
    anyhow::ensure!(
        empty,
        "bench expiry lays out partitions in the past: it needs an empty database"
    );
    let filling = Instant::now();
    // A fresh database's (empty) legacy partition covers every id before the migration;
    // the past partitions below need that range.
    partitions::detach(&mut conn, "event_records", "event_records_legacy").await?;
    partitions::drop_detached(&mut conn, "event_records_legacy").await?;
    sqlx::query("DELETE FROM event_partitions WHERE suffix = 'legacy'")
        .execute(&mut conn)
        .await?;
    let plan = lay_out(&mut conn, &layout).await?;
    // The current and next buckets and partitions, as the gateway makes them.
    partitions::ensure(&mut conn, &layout).await?;
    fill(&mut conn, &plan, args).await?;
    eprintln!("gathering statistics and checkpointing...");
    sqlx::raw_sql("ANALYZE; CHECKPOINT")
        .execute(&mut conn)
        .await?;
    let fill_seconds = filling.elapsed().as_secs_f64();
    let before = footprint::measure(&mut conn).await?;

    let started = Instant::now();
    let pass = retention::pass(&pool, &layout).await?;
    let pass_seconds = started.elapsed().as_secs_f64();

    let after = footprint::measure(&mut conn).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_records")
        .fetch_one(&mut conn)
        .await?;
    anyhow::ensure!(
        stored as u64 == args.stored,
        "the pass left {stored} events, {} expected: it dropped the wrong partitions",
        args.stored
    );
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "stored {} expiring {}: pass {:.1} ms = {:.4} us per expired event; database {:.0} -> {:.0} MiB",
        args.stored,
        args.expiring,
        pass_seconds * 1e3,
        pass_seconds * 1e6 / args.expiring.max(1) as f64,
        mib(before.database),
        mib(after.database)
    );
    Ok(ExpiryReport {
        stored: args.stored,
        expiring: args.expiring,
        before,
        after,
        rows_expired: pass.rows_expired(),
        partitions_dropped: pass.keys.partitions
            + pass.payloads.partitions
            + pass.records.partitions,
        pass_seconds,
        us_per_expired_event: pass_seconds * 1e6 / args.expiring.max(1) as f64,
        fill_seconds,
    })
}

/// Where the rows go, in unix seconds.
struct Plan {
    /// The expired partition `[start, start + width)`.
    expired: i64,
    /// The stored events' range `[start, start + 3 * width)`.
    stored: i64,
    /// Partition width.
    width: i64,
    /// The replaced key bucket, and the current one (the next follows it).
    old_bucket: i64,
    current_bucket: i64,
    key_width: i64,
}

/// Create the past partitions and the replaced key bucket.
async fn lay_out(conn: &mut PgConnection, layout: &Layout) -> anyhow::Result<Plan> {
    let now: i64 = sqlx::query_scalar("SELECT floor(extract(epoch FROM now()))::int8")
        .fetch_one(&mut *conn)
        .await?;
    let (width, window) = (layout.partition_width, layout.events);
    anyhow::ensure!(
        window >= 4 * width,
        "retention.events must be at least 4 s for this layout (four partitions)"
    );
    let aligned = now.div_euclid(width) * width;
    let current_bucket = now.div_euclid(layout.key_width) * layout.key_width;
    let plan = Plan {
        expired: aligned - window - 2 * width,
        stored: aligned - 3 * width,
        width,
        old_bucket: current_bucket - layout.key_width,
        current_bucket,
        key_width: layout.key_width,
    };
    partitions::create_key_bucket(conn, plan.old_bucket).await?;
    partitions::create_event_partition(conn, plan.expired, plan.expired + width).await?;
    for k in 0..3 {
        let start = plan.stored + k * width;
        partitions::create_event_partition(conn, start, start + width).await?;
    }
    Ok(plan)
}

/// Insert the expiring and the stored events, [`CHUNK`] rows per statement.
async fn fill(conn: &mut PgConnection, plan: &Plan, args: &ExpiryArgs) -> anyhow::Result<()> {
    let sets = [
        (
            "exp_",
            args.expiring,
            plan.expired,
            plan.width,
            vec![plan.old_bucket],
        ),
        (
            "sto_",
            args.stored,
            plan.stored,
            3 * plan.width,
            vec![plan.current_bucket, plan.current_bucket + plan.key_width],
        ),
    ];
    for (prefix, count, start, span, buckets) in sets {
        let mut done = 0;
        while done < count {
            let upto = (done + CHUNK).min(count);
            insert(
                conn,
                prefix,
                done,
                upto,
                start,
                span,
                &buckets,
                args.body_size,
            )
            .await
            .with_context(|| format!("filling {prefix}{done}..{upto}"))?;
            done = upto;
            eprintln!("{prefix}: {done}/{count} events");
        }
    }
    Ok(())
}

/// Events `[from, to)`: event `i` is received at second `start + i % span` with sequence
/// `i / span` (ids are `seconds << 20 | sequence`, as `event_pk_at` makes them).
#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut PgConnection,
    prefix: &str,
    from: u64,
    to: u64,
    start: i64,
    span: i64,
    buckets: &[i64],
    body_size: usize,
) -> Result<(), sqlx::Error> {
    let (from, to) = (from as i64, to as i64 - 1);
    sqlx::query(
        "INSERT INTO event_records (id, provider, event_id, event_type, content_type, received_at)
         SELECT (($3 + i % $4) << 20) | (i / $4), 'bench', $5 || i, 'bench.event',
                'application/json', to_timestamp($3 + i % $4)
         FROM generate_series($1::int8, $2::int8) AS i",
    )
    .bind(from)
    .bind(to)
    .bind(start)
    .bind(span)
    .bind(prefix)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO event_payloads (id, body)
         SELECT (($3 + i % $4) << 20) | (i / $4), convert_to(repeat('x', $5), 'UTF8')
         FROM generate_series($1::int8, $2::int8) AS i",
    )
    .bind(from)
    .bind(to)
    .bind(start)
    .bind(span)
    .bind(body_size as i32)
    .execute(&mut *conn)
    .await?;
    for bucket in buckets {
        sqlx::query(
            "INSERT INTO event_keys (provider, event_id, bucket)
             SELECT 'bench', $3 || i, to_timestamp($4)
             FROM generate_series($1::int8, $2::int8) AS i",
        )
        .bind(from)
        .bind(to)
        .bind(prefix)
        .bind(*bucket as f64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
