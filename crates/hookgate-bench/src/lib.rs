//! `hookgate bench`: signed load against a running gateway, with delivery verification and
//! the raw broker and database ceilings measured by the same tool in the same run. Kept
//! out of the server crate: the gateway does not carry its load generator.
//!
//! # Layout
//!
//! - [`load`]: closed loop (N connections, as fast as answered) and open loop (fixed rate,
//!   latency from the scheduled send time so a stall is not hidden).
//! - [`inbox`]: a queue bound to the exchange before the run; at the end every event
//!   answered 200 must have arrived (count, missing, duplicates, ack -> delivered latency).
//! - [`ceilings`]: persistent confirmed publishes to a durable queue, and batched
//!   `INSERT ... ON CONFLICT DO NOTHING` with synchronous commit.
//! - [`audit`]: `hookgate bench audit`, draining a queue into a file of message IDs (the
//!   loss check of `scripts/chaos`).

pub mod audit;
pub mod ceilings;
pub mod inbox;
pub mod load;

use std::{collections::BTreeMap, time::Duration};

use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use hookgate_core::{ProviderRegistry, config::Config};
use serde::Serialize;

/// `hookgate bench [OPTIONS]` runs the load; `hookgate bench audit` drains a queue.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchCommand {
    /// A helper instead of the load run.
    #[command(subcommand)]
    pub tool: Option<BenchTool>,
    /// The load run.
    #[command(flatten)]
    pub load: BenchArgs,
}

/// Helpers of the benchmark and fault-injection scripts.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchTool {
    /// Drain a queue, writing each message's ID (fault-injection audits).
    Audit(audit::AuditArgs),
}

/// Run `command`; `Ok(false)` when acknowledged events were not delivered.
pub async fn main(
    config: &Config,
    registry: &ProviderRegistry,
    command: &BenchCommand,
) -> anyhow::Result<bool> {
    match &command.tool {
        Some(BenchTool::Audit(args)) => {
            let n = audit::run(&config.amqp.url, args).await?;
            eprintln!("{n} message(s) drained from {}", args.queue);
            Ok(true)
        }
        None => {
            let report = run(config, registry, &command.load).await?;
            let lost = report.delivery.map(|d| d.missing).unwrap_or(0);
            if lost > 0 {
                eprintln!("{lost} acknowledged event(s) were not delivered");
            }
            Ok(lost == 0)
        }
    }
}

/// `bench` load arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Provider to sign for.
    #[arg(long, default_value = "groq")]
    pub provider: String,
    /// Gateway base URL; default: from `server.listen`.
    #[arg(long)]
    pub url: Option<String>,
    /// Concurrent connections (closed loop) / connection pool size (open loop).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// How long to send.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Open loop at this many requests per second (default: closed loop).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Fraction of requests that resend an earlier event (0.0 - 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub duplicates: f64,
    /// Body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub body_size: usize,
    /// Also measure the raw RabbitMQ and Postgres ceilings (before the load).
    #[arg(long)]
    pub ceilings: bool,
    /// Skip the load (e.g. only `--ceilings`).
    #[arg(long)]
    pub no_load: bool,
    /// Longest wait for deliveries after the load ends.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the IDs of the events answered 200 to this file, one per line.
    #[arg(long)]
    pub acked_out: Option<std::path::PathBuf>,
    /// Do not bind a queue or wait for deliveries (e.g. when the broker will restart).
    #[arg(long)]
    pub no_delivery_check: bool,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn from_us(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// Everything one `bench` invocation measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Raw ceilings, when `--ceilings`.
    pub ceilings: Option<ceilings::Ceilings>,
    /// The gateway run, unless `--no-load`.
    pub load: Option<load::LoadReport>,
    /// Deliveries seen on the bench's own queue.
    pub delivery: Option<inbox::DeliveryReport>,
    /// Derived ratios.
    pub ratios: BTreeMap<String, f64>,
}

/// Run the benchmark and print the report.
pub async fn run(
    config: &Config,
    registry: &ProviderRegistry,
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    if args.ceilings {
        eprintln!("measuring raw ceilings ({:?} each)...", args.duration);
        report.ceilings = Some(ceilings::measure(config, args).await?);
    }
    if !args.no_load {
        let provider = registry
            .get(&args.provider)
            .ok_or_else(|| anyhow::anyhow!("no provider named {:?} in the config", args.provider))?
            .clone();
        let (inbox, prefix) = if args.no_delivery_check {
            (
                None,
                format!("bench_{}_", hookgate_core::sign::unique_event_id()),
            )
        } else {
            let inbox = inbox::Inbox::bind(&config.amqp).await?;
            let prefix = inbox.prefix.clone();
            (Some(inbox), prefix)
        };
        let load = load::run(config, provider, args, &prefix).await?;
        if let Some(path) = &args.acked_out {
            let ids: Vec<String> = load.acked.borrow().keys().cloned().collect();
            std::fs::write(path, ids.join("\n") + "\n")?;
        }
        if let Some(inbox) = inbox {
            report.delivery = Some(inbox.settle(&load, args.drain_timeout).await);
        }
        report.load = Some(load);
    }
    if let (Some(c), Some(d)) = (&report.ceilings, &report.delivery) {
        report.ratios.insert(
            "end_to_end_vs_rabbitmq_ceiling".into(),
            d.end_to_end_per_sec / c.rabbitmq_confirmed_per_sec,
        );
        report.ratios.insert(
            "end_to_end_vs_postgres_ceiling".into(),
            d.end_to_end_per_sec / c.postgres_rows_per_sec,
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(report)
}

fn print_table(r: &Report) {
    if let Some(c) = &r.ceilings {
        println!("raw ceilings");
        println!(
            "  rabbitmq confirmed publishes/s  {:>12.0}",
            c.rabbitmq_confirmed_per_sec
        );
        println!(
            "  postgres inserted rows/s        {:>12.0}",
            c.postgres_rows_per_sec
        );
    }
    if let Some(l) = &r.load {
        println!(
            "gateway ({}, {} connections{})",
            l.mode,
            l.connections,
            l.rate.map(|r| format!(", {r}/s")).unwrap_or_default()
        );
        println!("  requests sent                   {:>12}", l.sent);
        println!(
            "  answered 200 (accepted/dup)     {:>12} ({}/{})",
            l.accepted + l.duplicate,
            l.accepted,
            l.duplicate
        );
        for (status, n) in &l.non_2xx {
            println!("  answered {status}                     {n:>12}");
        }
        println!(
            "  transport errors                {:>12}",
            l.transport_errors
        );
        println!(
            "  acknowledged/s                  {:>12.0}",
            l.acked_per_sec
        );
        let p = &l.ack_latency_ms;
        println!(
            "  ack latency ms p50/p90/p99/max  {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            p.p50, p.p90, p.p99, p.max
        );
    }
    if let Some(d) = &r.delivery {
        println!("delivery");
        println!(
            "  expected / delivered            {:>12} / {}",
            d.expected, d.delivered
        );
        println!(
            "  missing / duplicated            {:>12} / {}",
            d.missing, d.duplicated
        );
        println!(
            "  end-to-end delivered/s         {:>12.0}",
            d.end_to_end_per_sec
        );
        let p = &d.ack_to_delivery_ms;
        println!(
            "  ack->delivered ms p50/p90/p99   {:>8.2} {:>8.2} {:>8.2}",
            p.p50, p.p90, p.p99
        );
    }
    for (k, v) in &r.ratios {
        println!("ratio {k:<34} {v:>8.3}");
    }
}
