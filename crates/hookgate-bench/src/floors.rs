//! The durable floors: the storing and publishing part of SPEC §1 and §4, the least any
//! gateway must do per event there, done by this process alone with nothing else on the
//! machine, so a ratio target can be set against what the machine allows and not only
//! against the raw broker.
//!
//! - **Ingest**: each event is committed to Postgres as one row with a unique key and its
//!   body (batches of [`ROWS`] on [`CONNECTIONS`] connections, synchronous commit), then
//!   published as a SPEC §4 message ([`Format::Spec`], the key as its ID) to a durable
//!   queue that a consumer drains, and counted when the broker confirms it. No HTTP, no
//!   signature check, no outbox, no second table.
//! - **Drain**: a backlog of rows already in Postgres is read in key order, published as
//!   SPEC §4 messages, and each batch is deleted once the broker has confirmed it (never
//!   before, or a crash would lose it). A relay with no claim lock, no join and no
//!   bookkeeping.
//!
//! Both are pipelined as the gateway is: each batch's publishes are started together, and
//! while one batch waits for its confirms the next is being committed or read. The CPU
//! each process spent per event is reported with the rate, read from `/proc` as for the
//! gateway.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, postgres::PgConnectOptions};

use crate::{
    procstat,
    sink::{Format, Sink, confirmed},
};

/// Rows per batch (the writer's default batch).
pub const ROWS: usize = 512;
/// Concurrent batches (the writer's default concurrency).
pub const CONNECTIONS: usize = 2;
/// The drain floor's backlog never exceeds this many rows (its table is filled first).
const MOST_BACKLOG: u64 = 400_000;

/// One floor's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Floor {
    /// Events stored and confirmed (ingest), or rows published and deleted (drain), per
    /// second.
    pub per_sec: f64,
    /// Events counted.
    pub events: u64,
    /// CPU per event by process, µs: `rabbitmq`, `postgres` and `bench` (this process:
    /// the client side of both, and the queue's consumer).
    pub cpu_us_per_event: BTreeMap<String, f64>,
    /// The machine's idle CPUs over the run, in cores (near 0: CPU-bound).
    pub idle_cores: Option<f64>,
    /// How busy the bench's runtime thread was.
    #[serde(default)]
    pub bench_thread_busy: Option<f64>,
    /// How busy the busiest of the bench's lapin I/O threads was.
    #[serde(default)]
    pub bench_io_thread_busy: Option<f64>,
}

impl Floor {
    /// The figures of `events` counted since `started`, with the CPU of `cpu`.
    fn over(events: u64, started: Instant, cpu: &procstat::Window) -> Self {
        let usage = cpu.per_event(events);
        Self {
            per_sec: events as f64 / started.elapsed().as_secs_f64(),
            events,
            cpu_us_per_event: usage.us_per_event,
            idle_cores: usage.idle_cores,
            bench_thread_busy: Some(usage.thread_busy),
            bench_io_thread_busy: usage.io_thread_busy,
        }
    }
}

/// Run `f` with a table and a sink of its own, after a checkpoint; the table and the sink
/// go away afterwards whatever happened, and a measurement's error wins over a clean-up's.
async fn scoped(
    options: &PgConnectOptions,
    table: &str,
    ddl: &str,
    sink: Sink,
    f: impl AsyncFnOnce(&Sink) -> anyhow::Result<Floor>,
) -> anyhow::Result<Floor> {
    let mut admin = match PgConnection::connect_with(options).await {
        Ok(admin) => admin,
        Err(e) => {
            let _ = sink.close().await;
            return Err(e.into());
        }
    };
    let created = sqlx::query(AssertSqlSafe(format!("CREATE TABLE {table} ({ddl})")))
        .execute(&mut admin)
        .await;
    let result = match created {
        Ok(_) => {
            // The WAL of what ran before (the database ceiling writes over a GB) is
            // checkpointed now, not inside the floor's window.
            checkpoint(&mut admin).await;
            f(&sink).await
        }
        Err(e) => Err(e.into()),
    };
    let dropped = sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&mut admin)
        .await;
    let closed = sink.close().await;
    let floor = result?;
    dropped?;
    closed?;
    Ok(floor)
}

/// Ask for a checkpoint; a user without the right to (superuser or `pg_checkpoint`) gets a
/// warning and a floor that may include one.
async fn checkpoint(conn: &mut PgConnection) {
    if let Err(e) = sqlx::query("CHECKPOINT").execute(conn).await {
        eprintln!("warning: no CHECKPOINT before the floor ({e}); a checkpoint may fall in it");
    }
}

/// The ingest floor for `duration`: store then publish, [`CONNECTIONS`] pipelines.
pub async fn ingest(
    db_url: &str,
    amqp_url: &str,
    size: usize,
    duration: Duration,
) -> anyhow::Result<Floor> {
    let options = hookgate::db::options(db_url)?;
    let table = format!("bench_floor_ingest_{}", std::process::id());
    let sink = Sink::open(amqp_url, "floor-ingest", Format::Spec).await?;
    let ddl = "provider text NOT NULL, event_id text NOT NULL, body bytea NOT NULL, \
               UNIQUE (provider, event_id)";
    scoped(&options, &table, ddl, sink, async |sink| {
        let body = vec![b'x'; size];
        let insert = format!(
            "INSERT INTO {table} (provider, event_id, body) SELECT 'floor', i, b \
             FROM UNNEST($1::text[], $2::bytea[]) AS t(i, b) ON CONFLICT DO NOTHING"
        );
        let cpu = procstat::Window::start(&hookgate::db::database_name(&options));
        let started = Instant::now();
        let pipelines = (0..CONNECTIONS).map(|w| {
            let (options, insert, body) = (&options, &insert, &body);
            async move {
                let mut conn = PgConnection::connect_with(options).await?;
                let channel = sink.channel().await?;
                let mut events = 0;
                let mut previous = None;
                let mut batch = 0u64;
                while started.elapsed() < duration {
                    let ids: Vec<String> = (0..ROWS).map(|i| format!("{w}-{batch}-{i}")).collect();
                    let bodies = vec![body.as_slice(); ROWS];
                    let mut tx = conn.begin().await?;
                    let stored = sqlx::query(AssertSqlSafe(insert.as_str()))
                        .bind(&ids)
                        .bind(&bodies)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    anyhow::ensure!(stored == ROWS as u64, "a floor key was not new");
                    let confirms =
                        try_join_all(ids.iter().map(|id| sink.publish(&channel, id, body))).await?;
                    // One batch at the broker while the next one commits.
                    if let Some(earlier) = previous.replace(confirms) {
                        events += confirmed(earlier).await?;
                    }
                    batch += 1;
                }
                if let Some(last) = previous {
                    events += confirmed(last).await?;
                }
                // The connection goes back with the count: its backend must still be
                // there when the CPU is read.
                anyhow::Ok((events, conn))
            }
        });
        let done = try_join_all(pipelines).await?;
        let events = done.iter().map(|(events, _)| events).sum();
        Ok(Floor::over(events, started, &cpu))
    })
    .await
}

/// The drain floor: a backlog of up to `rate` × `duration` rows (at most
/// [`MOST_BACKLOG`]), read, published and deleted after its confirms, until it is empty
/// or `duration` has passed.
pub async fn drain(
    db_url: &str,
    amqp_url: &str,
    size: usize,
    duration: Duration,
    rate: f64,
) -> anyhow::Result<Floor> {
    let options = hookgate::db::options(db_url)?;
    let table = format!("bench_floor_drain_{}", std::process::id());
    let backlog = ((rate * duration.as_secs_f64()) as u64).clamp(ROWS as u64, MOST_BACKLOG);
    let sink = Sink::open(amqp_url, "floor-drain", Format::Spec).await?;
    let ddl = "id bigint PRIMARY KEY, body bytea NOT NULL";
    scoped(&options, &table, ddl, sink, async |sink| {
        let mut fill = PgConnection::connect_with(&options).await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (id, body) SELECT g, $1 FROM generate_series(1, $2) AS g"
        )))
        .bind(vec![b'x'; size])
        .bind(backlog as i64)
        .execute(&mut fill)
        .await?;
        // Statistics for the reads, and the fill's WAL out of the way of the drain.
        sqlx::query(AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&mut fill)
            .await?;
        checkpoint(&mut fill).await;
        drop(fill);
        let select = format!(
            "SELECT id, body FROM {table} WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {ROWS}"
        );
        let delete = format!("DELETE FROM {table} WHERE id = ANY($1)");
        let cpu = procstat::Window::start(&hookgate::db::database_name(&options));
        let started = Instant::now();
        // Each pipeline owns an equal range of ids, (w × share, (w + 1) × share], read in
        // key order.
        let share = backlog.div_ceil(CONNECTIONS as u64) as i64;
        let pipelines = (0..CONNECTIONS as i64).map(|w| {
            let (options, select, delete) = (&options, &select, &delete);
            async move {
                let mut conn = PgConnection::connect_with(options).await?;
                let channel = sink.channel().await?;
                let (mut last, end) = (w * share, (w + 1) * share);
                let mut events = 0;
                let mut previous: Option<(Vec<i64>, _)> = None;
                loop {
                    let rows: Vec<(i64, Vec<u8>)> = if started.elapsed() < duration {
                        sqlx::query_as(AssertSqlSafe(select.as_str()))
                            .bind(last)
                            .bind(end)
                            .fetch_all(&mut conn)
                            .await?
                    } else {
                        Vec::new()
                    };
                    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
                    let keys: Vec<String> = ids.iter().map(i64::to_string).collect();
                    let confirms = try_join_all(
                        keys.iter()
                            .zip(&rows)
                            .map(|(key, (_, body))| sink.publish(&channel, key, body)),
                    )
                    .await?;
                    last = ids.last().copied().unwrap_or(last);
                    // The batch before this one is deleted once confirmed, while this one
                    // is at the broker.
                    if let Some((earlier, confirms)) = previous.take() {
                        events += confirmed(confirms).await?;
                        sqlx::query(AssertSqlSafe(delete.as_str()))
                            .bind(&earlier)
                            .execute(&mut conn)
                            .await?;
                    }
                    if ids.is_empty() {
                        break;
                    }
                    previous = Some((ids, confirms));
                }
                anyhow::Ok((events, conn))
            }
        });
        let done = try_join_all(pipelines).await?;
        let events = done.iter().map(|(events, _)| events).sum();
        Ok(Floor::over(events, started, &cpu))
    })
    .await
}
