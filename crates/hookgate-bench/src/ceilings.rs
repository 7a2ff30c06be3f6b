//! Raw ceilings on this machine, measured with the same message size the gateway carries:
//! RabbitMQ persistent publishes with confirms to a durable queue that a consumer drains
//! meanwhile, and Postgres batched `INSERT ... ON CONFLICT DO NOTHING` with synchronous
//! commit. The broker's ceiling is the best of a few publisher shapes; the same broker with
//! SPEC §4 messages is measured beside it. Then the [`floors`](crate::floors): the two
//! together, as the least a durable gateway must do per event.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, future::try_join_all, stream::FuturesUnordered};
use hookgate_core::config::Config;
use lapin::Confirmation;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::BenchArgs;
use crate::{
    floors::{self, CONNECTIONS, Floor, ROWS},
    procstat,
    sink::{Format, Sink, publish_batches, taken},
};

/// The publisher shapes the broker ceiling tries; the ceiling is the best of them. A
/// sliding window publishes one message per confirm that returns; batches queue their
/// frames together, as the relay's lanes do, which costs the publisher less CPU per
/// message (fewer wake-ups and writes) and, on a box whose cores are all busy, leaves
/// more to the broker. On this project's 2-core box the best batched shape measured
/// 1.28-1.48x the window's rate (BENCHMARKS.md, seventh session).
const SHAPES: [Shape; 3] = [
    Shape::Window { window: 1024 },
    Shape::Batches {
        channels: 2,
        batch: 512,
    },
    Shape::Batches {
        channels: 4,
        batch: 256,
    },
];

/// The shapes SPEC §4 messages are measured with (the batched ones; the best counts).
const SPEC_SHAPES: [Shape; 2] = [SHAPES[1], SHAPES[2]];

/// How a ceiling publisher keeps confirms in flight.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// One channel, a new publish for every confirm, `window` in flight.
    Window { window: usize },
    /// `channels` pipelines, each publishing `batch` together and awaiting the batch
    /// before, so two batches per channel are in flight.
    Batches { channels: usize, batch: usize },
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Window { window } => write!(f, "1 channel, window of {window}"),
            Self::Batches { channels, batch } => {
                write!(f, "{channels} channels, batches of {batch}")
            }
        }
    }
}

/// One publisher shape's figures (also read back by `hookgate bench summary`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShapeRate {
    /// The shape.
    pub shape: String,
    /// Persistent messages confirmed per second.
    pub per_sec: f64,
    /// CPU per confirmed message, µs: `rabbitmq`, and `bench` (the publisher and the
    /// queue's consumer, in this process).
    pub cpu_us_per_message: BTreeMap<String, f64>,
    /// How busy the bench's runtime thread was (absent from the first reports).
    #[serde(default)]
    pub bench_thread_busy: Option<f64>,
    /// How busy the busiest of the bench's lapin I/O threads was.
    #[serde(default)]
    pub bench_io_thread_busy: Option<f64>,
}

/// Raw throughput figures.
#[derive(Debug, Clone, Serialize)]
pub struct Ceilings {
    /// Persistent messages confirmed per second: the best of the publisher shapes.
    pub rabbitmq_confirmed_per_sec: f64,
    /// Every shape tried, in order.
    pub rabbitmq_shapes: Vec<ShapeRate>,
    /// The broker with the messages a gateway must send (SPEC §4: topic exchange,
    /// `mandatory`, properties and headers), in the batched shapes. Not a candidate for
    /// the ceiling: it shows what the message format alone costs.
    pub spec_messages: Vec<ShapeRate>,
    /// Rows committed per second.
    pub postgres_rows_per_sec: f64,
    /// Events stored and confirmed per second by the least a durable gateway must do.
    pub ingest_floor: Floor,
    /// Backlog rows published and deleted per second by the least a relay must do.
    pub drain_floor: Floor,
}

/// Measure both ceilings, then both floors, for `args.duration` each.
pub async fn measure(config: &Config, args: &BenchArgs) -> anyhow::Result<Ceilings> {
    let (amqp, db) = (&config.amqp.url, &config.database.url);
    let database = hookgate::db::database_name(&hookgate::db::options(db)?);
    let (size, duration) = (args.body_size, args.duration);
    let mut rabbitmq_shapes = Vec::new();
    for shape in SHAPES {
        rabbitmq_shapes
            .push(rabbitmq(amqp, &database, shape, Format::Plain, size, duration).await?);
    }
    let mut spec_messages = Vec::new();
    for shape in SPEC_SHAPES {
        spec_messages.push(rabbitmq(amqp, &database, shape, Format::Spec, size, duration).await?);
    }
    let rabbitmq_confirmed_per_sec = rabbitmq_shapes
        .iter()
        .map(|s| s.per_sec)
        .fold(0.0, f64::max);
    let postgres_rows_per_sec = postgres(db, size, duration).await?;
    let ingest_floor = floors::ingest(db, amqp, size, duration).await?;
    let drain_floor = floors::drain(db, amqp, size, duration, rabbitmq_confirmed_per_sec).await?;
    Ok(Ceilings {
        rabbitmq_confirmed_per_sec,
        rabbitmq_shapes,
        spec_messages,
        postgres_rows_per_sec,
        ingest_floor,
        drain_floor,
    })
}

/// One publisher shape for `duration`.
async fn rabbitmq(
    url: &str,
    database: &str,
    shape: Shape,
    format: Format,
    size: usize,
    duration: Duration,
) -> anyhow::Result<ShapeRate> {
    let sink = Sink::open(url, "ceiling", format).await?;
    let payload = vec![b'x'; size];
    let cpu = procstat::Window::start(database);
    let started = Instant::now();
    let more = || started.elapsed() < duration;
    let confirmed = match shape {
        Shape::Window { window } => publish_window(&sink, &payload, window, more).await,
        Shape::Batches { channels, batch } => {
            let tags: Vec<String> = (0..channels).map(|c| c.to_string()).collect();
            let pipelines = tags
                .iter()
                .map(|tag| publish_batches(&sink, tag, &payload, batch, more));
            try_join_all(pipelines).await.map(|n| n.into_iter().sum())
        }
    };
    let count = confirmed.as_ref().map_or(0, |n| *n);
    let per_sec = count as f64 / started.elapsed().as_secs_f64();
    let usage = cpu.per_event(count);
    // The queue goes whatever happened; the measurement's error wins.
    let closed = sink.close().await;
    confirmed?;
    closed?;
    let mut cpu_us_per_message = usage.us_per_event;
    // Postgres has nothing to do here.
    cpu_us_per_message.remove("postgres");
    Ok(ShapeRate {
        shape: match format {
            Format::Plain => shape.to_string(),
            Format::Spec => format!("SPEC §4 messages, {shape}"),
        },
        per_sec,
        cpu_us_per_message,
        bench_thread_busy: Some(usage.thread_busy),
        bench_io_thread_busy: usage.io_thread_busy,
    })
}

/// One channel, a new publish for every confirm while `more()`, `window` in flight.
async fn publish_window(
    sink: &Sink,
    body: &[u8],
    window: usize,
    more: impl Fn() -> bool,
) -> anyhow::Result<u64> {
    let channel = sink.channel().await?;
    let mut in_flight = FuturesUnordered::new();
    let (mut sent, mut confirmed) = (0u64, 0u64);
    let mut settle = |c: lapin::Result<Confirmation>| {
        taken(c?)?;
        confirmed += 1;
        anyhow::Ok(())
    };
    while more() {
        while in_flight.len() < window {
            in_flight.push(sink.publish(&channel, &sent.to_string(), body).await?);
            sent += 1;
        }
        if let Some(c) = in_flight.next().await {
            settle(c)?;
        }
    }
    while let Some(c) = in_flight.next().await {
        settle(c)?;
    }
    Ok(confirmed)
}

async fn postgres(url: &str, size: usize, duration: Duration) -> anyhow::Result<f64> {
    let options = hookgate::db::options(url)?;
    let table = format!("bench_ceiling_{}", std::process::id());
    let mut admin = PgConnection::connect_with(&options).await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (provider text NOT NULL, event_id text NOT NULL, body bytea, UNIQUE (provider, event_id))"
    )))
    .execute(&mut admin)
    .await?;
    let body = vec![b'x'; size];
    let started = Instant::now();
    let writers = (0..CONNECTIONS).map(|w| {
        let (options, table, body) = (options.clone(), table.clone(), body.clone());
        async move {
            let mut conn = PgConnection::connect_with(&options).await?;
            let mut rows = 0u64;
            let mut batch = 0u64;
            while started.elapsed() < duration {
                let ids: Vec<String> = (0..ROWS).map(|i| format!("{w}-{batch}-{i}")).collect();
                let bodies: Vec<&[u8]> = vec![body.as_slice(); ROWS];
                let mut tx = conn.begin().await?;
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} (provider, event_id, body) SELECT 'bench', i, b FROM UNNEST($1::text[], $2::bytea[]) AS t(i, b) ON CONFLICT DO NOTHING"
                )))
                .bind(&ids)
                .bind(&bodies)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                rows += ROWS as u64;
                batch += 1;
            }
            anyhow::Ok(rows)
        }
    });
    let rows = try_join_all(writers)
        .await
        .map(|r| r.into_iter().sum::<u64>());
    let rate = rows.as_ref().map_or(0.0, |n| *n as f64) / started.elapsed().as_secs_f64();
    // The table goes whatever happened; the measurement's error wins.
    let dropped = sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut admin)
        .await;
    rows?;
    dropped?;
    Ok(rate)
}
