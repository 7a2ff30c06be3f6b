//! Raw ceilings on this machine, measured with the same message size the gateway carries:
//! RabbitMQ persistent publishes with confirms to a durable queue that a consumer drains
//! meanwhile (a sliding window of confirms in flight), and Postgres batched `INSERT ... ON CONFLICT DO NOTHING` with
//! synchronous commit.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream::FuturesUnordered};
use hookgate_core::config::Config;
use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::BenchArgs;

/// Confirms in flight for the broker ceiling.
const WINDOW: usize = 1024;
/// Rows per transaction for the database ceiling (the writer's default batch).
const ROWS: usize = 512;
/// Concurrent transactions for the database ceiling (the writer's default).
const CONNECTIONS: usize = 2;

/// Raw throughput figures.
#[derive(Debug, Clone, Serialize)]
pub struct Ceilings {
    /// Persistent messages confirmed per second.
    pub rabbitmq_confirmed_per_sec: f64,
    /// Rows committed per second.
    pub postgres_rows_per_sec: f64,
}

/// Measure both ceilings for `args.duration` each.
pub async fn measure(config: &Config, args: &BenchArgs) -> anyhow::Result<Ceilings> {
    let rabbitmq_confirmed_per_sec =
        rabbitmq(&config.amqp.url, args.body_size, args.duration).await?;
    let postgres_rows_per_sec =
        postgres(&config.database.url, args.body_size, args.duration).await?;
    Ok(Ceilings {
        rabbitmq_confirmed_per_sec,
        postgres_rows_per_sec,
    })
}

async fn rabbitmq(url: &str, size: usize, duration: Duration) -> anyhow::Result<f64> {
    let connection = hookgate::broker::connect(url).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let queue = format!(
        "hookgate.bench.ceiling.{}",
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
    // A consumer drains the queue while it fills, as the bench's own queue and wrk's sink
    // are drained during theirs: an unconsumed durable queue costs the broker about
    // twice the CPU per message (measured: ~100 against ~57 us), and a ceiling measured
    // that way would be set against a broker doing different work.
    let drain = hookgate::broker::connect(url).await?;
    let mut consumer = crate::consume(
        &drain.create_channel().await?,
        &queue,
        "hookgate-bench-ceiling",
    )
    .await?;
    actix_web::rt::spawn(async move { while let Some(Ok(_)) = consumer.next().await {} });
    let payload = vec![b'x'; size];
    let mut in_flight = FuturesUnordered::new();
    let mut confirmed = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration {
        while in_flight.len() < WINDOW {
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            in_flight.push(confirm);
        }
        if let Some(c) = in_flight.next().await {
            confirmed += u64::from(c?.is_ack());
        }
    }
    while let Some(c) = in_flight.next().await {
        confirmed += u64::from(c?.is_ack());
    }
    let rate = confirmed as f64 / started.elapsed().as_secs_f64();
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    let _ = connection.close(200, "bench done".into()).await;
    let _ = drain.close(200, "bench done".into()).await;
    Ok(rate)
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
    let rows: u64 = futures_util::future::try_join_all(writers)
        .await?
        .into_iter()
        .sum();
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut admin)
        .await?;
    Ok(rate)
}
