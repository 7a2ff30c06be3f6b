//! `hookgate bench drain`: how fast a gateway empties an outbox backlog (after a broker
//! outage, say). Started before the gateway (or the broker) comes back: it notes the
//! depth, then times from the first row that leaves to the last.

use std::time::{Duration, Instant};

use clap::Args;
use hookgate_core::config::Config;
use serde::{Deserialize, Serialize};
use sqlx::Connection as _;

/// `bench drain` arguments.
#[derive(Debug, Clone, Args)]
pub struct DrainArgs {
    /// Give up after this long.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// How a backlog drained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainReport {
    /// Rows in the outbox at the start.
    pub backlog: i64,
    /// Rows left when it stopped (0 = drained).
    pub left: i64,
    /// From the first row leaving to the last.
    pub seconds: f64,
    /// Rows per second over that time.
    pub rows_per_sec: f64,
}

/// Watch the outbox of `config.database` until it is empty (or `args.timeout`).
pub async fn run(config: &Config, args: &DrainArgs) -> anyhow::Result<DrainReport> {
    let options = hookgate::db::options(&config.database.url)?;
    let mut db = sqlx::PgConnection::connect_with(&options).await?;
    let backlog = count(&mut db).await?;
    let deadline = Instant::now() + args.timeout;
    let mut first = None;
    let mut left = backlog;
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = count(&mut db).await?;
        if left < backlog && first.is_none() {
            first = Some(Instant::now());
        }
    }
    let seconds = first.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok(DrainReport {
        backlog,
        left,
        seconds,
        rows_per_sec: (backlog - left) as f64 / seconds.max(1e-9),
    })
}

async fn count(db: &mut sqlx::PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(db)
        .await
}
