//! The durable floors: the least work any gateway must do per event under SPEC §1 and §4,
//! done by this process alone with nothing else on the machine, so a ratio target can be
//! set against what the machine allows and not only against the raw broker.
//!
//! - **Ingest**: each event is committed to Postgres as one row with a unique key and its
//!   body (batches of [`ROWS`] on [`CONNECTIONS`] connections, synchronous commit), then
//!   published as a SPEC §4 message ([`Format::Spec`]) to a durable queue that a consumer
//!   drains, and counted when the broker confirms it. No HTTP, no signature, no outbox, no
//!   second table: a gateway that stores a dedup record per event and publishes it after
//!   the commit cannot do less.
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
    time::{Duration, Instant, SystemTime},
};

use futures_util::future::try_join_all;
use lapin::{
    BasicProperties, Channel, Connection, PublisherConfirm,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, postgres::PgConnectOptions};

use hookgate_contract::{Envelope, PERSISTENT};

use crate::procstat;

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
}

/// What a [`Sink`] publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The raw ceiling's: persistent messages with no other property, sent through the
    /// default exchange straight to the queue.
    Plain,
    /// What the gateway must send (SPEC §4): through a durable topic exchange (the queue
    /// bound with `#`), `mandatory`, with the envelope's properties and CloudEvents headers
    /// and a unique event ID each.
    Spec,
}

impl Floor {
    /// The figures of `events` counted since `started`, with the CPU of `cpu`.
    fn over(events: u64, started: Instant, cpu: &CpuWindow) -> Self {
        let (cpu_us_per_event, idle_cores) = cpu.per_event(events);
        Self {
            per_sec: events as f64 / started.elapsed().as_secs_f64(),
            events,
            cpu_us_per_event,
            idle_cores,
        }
    }
}

/// A durable queue with a consumer draining it, as the ceiling's and the gateway's are.
pub struct Sink {
    format: Format,
    connection: Connection,
    consumer: Connection,
    /// The queue's name.
    pub queue: String,
}

impl Sink {
    /// Declare a durable queue named after `purpose` (and for [`Format::Spec`] a topic
    /// exchange of the same name routing everything to it), and start consuming it.
    pub async fn open(url: &str, purpose: &str, format: Format) -> anyhow::Result<Self> {
        let connection = hookgate::broker::connect(url).await?;
        let channel = connection.create_channel().await?;
        let queue = format!(
            "hookgate.bench.{purpose}.{}",
            hookgate_core::sign::unique_event_id()
        );
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        if format == Format::Spec {
            crate::declare_topic(&channel, &queue).await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    queue.as_str().into(),
                    "#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        // An unconsumed durable queue costs the broker about twice the CPU per message
        // (measured: ~100 against ~57 µs); every queue the gateway is measured with is
        // drained while it fills, so the ceilings' and floors' are too.
        let consumer = hookgate::broker::connect(url).await?;
        let mut deliveries = crate::consume(
            &consumer.create_channel().await?,
            &queue,
            &format!("hookgate-bench-{purpose}"),
        )
        .await?;
        actix_web::rt::spawn(async move {
            use futures_util::StreamExt;
            while let Some(Ok(_)) = deliveries.next().await {}
        });
        Ok(Self {
            format,
            connection,
            consumer,
            queue,
        })
    }

    /// A channel in confirm mode on the publishing connection.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    /// Publish one message in the sink's format; the confirm comes later.
    pub async fn publish(
        &self,
        channel: &Channel,
        body: &[u8],
    ) -> anyhow::Result<PublisherConfirm> {
        let confirm = match self.format {
            Format::Plain => {
                channel
                    .basic_publish(
                        "".into(),
                        self.queue.as_str().into(),
                        BasicPublishOptions::default(),
                        body,
                        BasicProperties::default().with_delivery_mode(PERSISTENT),
                    )
                    .await?
            }
            Format::Spec => {
                let envelope = Envelope {
                    provider: "floor".into(),
                    event_id: hookgate_core::sign::unique_event_id(),
                    event_type: "bench.floor".into(),
                    received_at: SystemTime::now(),
                    content_type: Some("application/json".into()),
                };
                channel
                    .basic_publish(
                        self.queue.as_str().into(),
                        "floor.bench.floor".into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        body,
                        envelope.properties(),
                    )
                    .await?
            }
        };
        Ok(confirm)
    }

    /// Delete the queue and close both connections.
    pub async fn close(self) -> anyhow::Result<()> {
        let channel = self.connection.create_channel().await?;
        channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
        if self.format == Format::Spec {
            channel
                .exchange_delete(self.queue.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        let _ = self.connection.close(200, "bench done".into()).await;
        let _ = self.consumer.close(200, "bench done".into()).await;
        Ok(())
    }
}

/// Await every confirm of a batch; a nack is an error (the floor would overstate).
async fn confirmed(confirms: Vec<PublisherConfirm>) -> anyhow::Result<u64> {
    let n = confirms.len() as u64;
    for c in try_join_all(confirms).await? {
        anyhow::ensure!(c.is_ack(), "the broker nacked a floor message");
    }
    Ok(n)
}

/// CPU of RabbitMQ, this database's Postgres processes and this process, from `start`.
pub struct CpuWindow {
    targets: procstat::Targets,
    start: procstat::Sample,
    own: f64,
    idle: Option<f64>,
    at: Instant,
}

impl CpuWindow {
    /// Start accounting (Postgres processes of `database`).
    pub fn start(database: &str) -> Self {
        let targets = procstat::Targets {
            gateway: None,
            database: database.to_owned(),
        };
        Self {
            start: procstat::sample(&targets),
            own: procstat::process(std::process::id()).unwrap_or(0.0),
            idle: procstat::machine_idle(),
            at: Instant::now(),
            targets,
        }
    }

    /// CPU per event (µs, by process) and idle cores since the start.
    pub fn per_event(&self, events: u64) -> (BTreeMap<String, f64>, Option<f64>) {
        let mut used: BTreeMap<String, f64> = procstat::sample(&self.targets)
            .since(&self.start)
            .into_iter()
            .map(|(role, s)| (role.to_owned(), s))
            .collect();
        if let Some(own) = procstat::process(std::process::id()) {
            used.insert("bench".into(), own - self.own);
        }
        let per = used
            .into_iter()
            .map(|(role, s)| (role, s * 1e6 / events.max(1) as f64))
            .collect();
        let seconds = self.at.elapsed().as_secs_f64().max(1e-9);
        let idle = self
            .idle
            .zip(procstat::machine_idle())
            .map(|(before, after)| (after - before) / seconds);
        (per, idle)
    }
}

/// A table of its own for one floor, dropped afterwards whatever happened.
async fn with_table<F, Fut, T>(
    options: &PgConnectOptions,
    table: &str,
    ddl: &str,
    f: F,
) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut admin = PgConnection::connect_with(options).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE TABLE {table} ({ddl})")))
        .execute(&mut admin)
        .await?;
    let result = f().await;
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&mut admin)
        .await?;
    result
}

/// The ingest floor for `duration`: store then publish, [`CONNECTIONS`] pipelines.
pub async fn ingest(
    db_url: &str,
    amqp_url: &str,
    size: usize,
    duration: Duration,
) -> anyhow::Result<Floor> {
    let options = hookgate::db::options(db_url)?;
    let database = options.get_database().unwrap_or("postgres").to_owned();
    let table = format!("bench_floor_ingest_{}", std::process::id());
    let sink = Sink::open(amqp_url, "floor-ingest", Format::Spec).await?;
    let ddl = "provider text NOT NULL, event_id text NOT NULL, body bytea NOT NULL, \
               UNIQUE (provider, event_id)";
    let result = with_table(&options, &table, ddl, || async {
        let body = vec![b'x'; size];
        let cpu = CpuWindow::start(&database);
        let started = Instant::now();
        let pipelines = (0..CONNECTIONS).map(|w| {
            let (options, table, body, sink) = (&options, &table, &body, &sink);
            async move {
                let mut conn = PgConnection::connect_with(options).await?;
                let channel = sink.channel().await?;
                let insert = format!(
                    "INSERT INTO {table} (provider, event_id, body) SELECT 'floor', i, b \
                     FROM UNNEST($1::text[], $2::bytea[]) AS t(i, b) ON CONFLICT DO NOTHING"
                );
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
                        try_join_all((0..ROWS).map(|_| sink.publish(&channel, body))).await?;
                    // One batch at the broker while the next one commits.
                    if let Some(earlier) = previous.replace(confirms) {
                        events += confirmed(earlier).await?;
                    }
                    batch += 1;
                }
                if let Some(last) = previous {
                    events += confirmed(last).await?;
                }
                anyhow::Ok(events)
            }
        });
        let events: u64 = try_join_all(pipelines).await?.into_iter().sum();
        Ok(Floor::over(events, started, &cpu))
    })
    .await;
    sink.close().await?;
    result
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
    let database = options.get_database().unwrap_or("postgres").to_owned();
    let table = format!("bench_floor_drain_{}", std::process::id());
    let backlog = ((rate * duration.as_secs_f64()) as u64).clamp(ROWS as u64, MOST_BACKLOG);
    let sink = Sink::open(amqp_url, "floor-drain", Format::Spec).await?;
    let ddl = "id bigint PRIMARY KEY, body bytea NOT NULL";
    let result = with_table(&options, &table, ddl, || async {
        let mut fill = PgConnection::connect_with(&options).await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (id, body) SELECT g, $1 FROM generate_series(1, $2) AS g"
        )))
        .bind(vec![b'x'; size])
        .bind(backlog as i64)
        .execute(&mut fill)
        .await?;
        sqlx::query(AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&mut fill)
            .await?;
        drop(fill);
        let cpu = CpuWindow::start(&database);
        let started = Instant::now();
        // Each pipeline owns an equal range of ids, read in key order.
        let share = backlog.div_ceil(CONNECTIONS as u64) as i64;
        let pipelines = (0..CONNECTIONS as i64).map(|w| {
            let (options, table, sink) = (&options, &table, &sink);
            async move {
                let mut conn = PgConnection::connect_with(options).await?;
                let channel = sink.channel().await?;
                let select = format!(
                    "SELECT id, body FROM {table} WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {ROWS}"
                );
                let delete = format!("DELETE FROM {table} WHERE id = ANY($1)");
                let (mut last, end) = (w * share, (w + 1) * share);
                let mut events = 0;
                let mut previous: Option<(Vec<i64>, Vec<PublisherConfirm>)> = None;
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
                    let confirms =
                        try_join_all(rows.iter().map(|(_, body)| sink.publish(&channel, body)))
                            .await?;
                    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
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
                anyhow::Ok(events)
            }
        });
        let events: u64 = try_join_all(pipelines).await?.into_iter().sum();
        Ok(Floor::over(events, started, &cpu))
    })
    .await;
    sink.close().await?;
    result
}

/// One confirm-mode channel publishing batches of `batch` messages while `more()`: each
/// batch's publishes are started together, and the batch before is awaited while this
/// one is at the broker. Returns the messages confirmed.
pub async fn publish_batches(
    sink: &Sink,
    body: &[u8],
    batch: usize,
    more: impl Fn() -> bool,
) -> anyhow::Result<u64> {
    let channel = sink.channel().await?;
    let mut previous = None;
    let mut events = 0;
    while more() {
        let confirms = try_join_all((0..batch).map(|_| sink.publish(&channel, body))).await?;
        if let Some(earlier) = previous.replace(confirms) {
            events += confirmed(earlier).await?;
        }
    }
    if let Some(last) = previous {
        events += confirmed(last).await?;
    }
    Ok(events)
}
