//! `hookgate bench drain`: how fast a gateway empties an outbox backlog (after a broker
//! outage, say). Started before the gateway (or the broker) comes back: it notes the
//! depth, polls it every 100 ms, and from the first poll that sees rows leave until the
//! outbox is empty, times the rows that left and accounts the CPU of the gateway, Postgres
//! and RabbitMQ, with the cores left idle, so a CPU-bound drain says so.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use clap::Args;
use hookgate_core::config::Config;
use serde::{Deserialize, Serialize};
use sqlx::Connection as _;

use hookgate::store::outbox::pending;

use crate::procstat;

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
    /// From the first poll that saw rows leave to the last.
    pub seconds: f64,
    /// Rows that left over that time, per second.
    pub rows_per_sec: f64,
    /// CPU per drained row by process (`gateway`, `postgres`, `rabbitmq`), µs; a
    /// process that was not found (or exited meanwhile) is missing. Postgres leaves out
    /// this command's own polling backend, and the CPU of backends that exited during the
    /// drain.
    #[serde(default)]
    pub cpu_us_per_row: BTreeMap<String, f64>,
    /// The machine's idle CPUs over the drain, in cores (near 0: the drain was CPU-bound).
    #[serde(default)]
    pub idle_cores: Option<f64>,
}

/// Watch the outbox of `config.database` until it is empty (or `args.timeout`).
pub async fn run(config: &Config, args: &DrainArgs) -> anyhow::Result<DrainReport> {
    let options = hookgate::db::options(&config.database.url)?;
    let mut db = sqlx::PgConnection::connect_with(&options).await?;
    let backlog = pending(&mut db).await?;
    // This command's own backend counts the outbox: its CPU is not the drain's.
    let own_backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut db)
        .await?;
    let own_cpu = || procstat::process(own_backend as u32).unwrap_or(0.0);
    let deadline = Instant::now() + args.timeout;
    // The gateway usually starts after this command: it is looked for when rows start
    // to leave.
    let mut targets = procstat::Targets {
        gateway: None,
        database: hookgate::db::database_name(&options),
    };
    let mut first = None;
    let mut left = backlog;
    while left > 0 && Instant::now() < deadline {
        // Every 100 ms: each count scans the outbox, which costs Postgres CPU.
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = pending(&mut db).await?;
        if left < backlog && first.is_none() {
            targets.gateway = procstat::find_gateway();
            first = Some((
                Instant::now(),
                left,
                procstat::sample(&targets),
                own_cpu(),
                procstat::machine_idle(),
            ));
        }
    }
    // Rate and CPU are both over the rows that left after the first one was seen to go.
    let (seconds, drained, cpu_us_per_row, idle_cores) = match first {
        Some((started, at_start, cpu, own, idle)) => {
            let seconds = started.elapsed().as_secs_f64();
            let drained = at_start - left;
            let mut used = procstat::sample(&targets).since(&cpu);
            if let Some(postgres) = used.get_mut("postgres") {
                *postgres -= own_cpu() - own;
            }
            let cpu = if drained > 0 {
                used.into_iter()
                    .map(|(role, used)| (role.to_owned(), used * 1e6 / drained as f64))
                    .collect()
            } else {
                BTreeMap::new()
            };
            let idle = idle
                .zip(procstat::machine_idle())
                .map(|(before, after)| (after - before) / seconds.max(1e-9));
            (seconds, drained, cpu, idle)
        }
        None => (0.0, 0, BTreeMap::new(), None),
    };
    Ok(DrainReport {
        backlog,
        left,
        seconds,
        rows_per_sec: drained.max(0) as f64 / seconds.max(1e-9),
        cpu_us_per_row,
        idle_cores,
    })
}
