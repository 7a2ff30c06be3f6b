//! `hookgate bench`: signed load against a running gateway, with delivery verification and
//! the raw broker and database ceilings measured by the same tool in the same run. Kept
//! out of the server crate: the gateway does not carry its load generator.
//!
//! # Layout
//!
//! - [`corpus`]: every request signed and serialised before the timed phase (also written
//!   to a file for `wrk`, the independent check).
//! - [`client`]: a lean HTTP/1.1 keep-alive client over a tokio `TcpStream`.
//! - [`load`]: closed loop (N connections, as fast as answered) and open loop (fixed rate,
//!   latency from the scheduled send time so a stall is not hidden), on `--threads` OS
//!   threads with a runtime each.
//! - [`inbox`]: a durable queue bound to the exchange before the run, consumed on the main thread;
//!   what arrived while the load ran (end to end), then everything answered 200 must
//!   arrive (count, missing, duplicates, drain time, ack -> delivered latency).
//! - [`procstat`]: CPU per event of the gateway, Postgres, RabbitMQ and the generator.
//! - [`ceilings`]: persistent confirmed publishes to a durable queue, and batched
//!   `INSERT ... ON CONFLICT DO NOTHING` with synchronous commit.
//! - [`sink`]: the ceilings' and floors' drained queue, in the raw or the SPEC §4
//!   message format, and batched publishing with confirms.
//! - [`floors`]: the two together, the least a durable gateway must do per event (store,
//!   then publish) and the least a relay must do per backlog row (read, publish, delete).
//! - [`audit`]: `hookgate bench audit`, draining a queue into a file of message IDs (the
//!   loss check of `scripts/chaos`).
//! - [`drain`]: `hookgate bench drain`, timing how fast an outbox backlog empties.
//! - [`summary`]: `hookgate bench summary`, the ratio table of `scripts/bench`.
//! - [`soak`]: `hookgate bench soak`, minutes at a fixed rate with the database's
//!   footprint sampled and latency per window (the storage criteria of `scripts/soak`).
//! - [`expiry`]: `hookgate bench expiry`, the cost of one retention pass over a table
//!   pre-filled with millions of rows.

pub mod audit;
pub mod ceilings;
pub mod client;
pub mod corpus;
pub mod drain;
pub mod expiry;
pub mod floors;
pub mod inbox;
pub mod load;
pub mod procstat;
pub mod sink;
pub mod soak;
pub mod summary;

use std::{
    collections::BTreeMap,
    net::{SocketAddr, ToSocketAddrs},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::Connection as _;

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
    /// Time how fast the outbox backlog empties (prints JSON).
    Drain(drain::DrainArgs),
    /// Print the ratio table of a `scripts/bench` run.
    Summary(summary::SummaryArgs),
    /// Sustained load at a fixed rate, sampling the database's size and latency per window.
    Soak(soak::SoakArgs),
    /// Time one retention pass over a pre-filled table (needs an empty database).
    Expiry(expiry::ExpiryArgs),
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
        Some(BenchTool::Drain(args)) => {
            let report = drain::run(config, args).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(report.left == 0)
        }
        Some(BenchTool::Summary(args)) => summary::run(args),
        Some(BenchTool::Soak(args)) => Ok(soak::run(config, registry, args).await?.checks.passed),
        Some(BenchTool::Expiry(args)) => {
            let report = expiry::run(config, args).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
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
    /// Load threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Requests pre-signed per second of `--duration` in a closed loop (the run stops
    /// early, with a warning, if they run out).
    #[arg(long, default_value_t = 25_000)]
    pub corpus_rate: u64,
    /// Write the pre-signed corpus to this file (for `scripts/bench.lua` and wrk).
    #[arg(long)]
    pub write_corpus: Option<std::path::PathBuf>,
    /// The gateway's pid, for its CPU per event (default: a running `hookgate serve`).
    #[arg(long)]
    pub gateway_pid: Option<u32>,
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
    /// Also measure the raw RabbitMQ and Postgres ceilings and the durable floors (before
    /// the load).
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
    /// No samples.
    pub fn empty() -> Self {
        Self {
            count: 0,
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            max: 0.0,
        }
    }

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

/// CPU per acknowledged request, by process, over the load and its drain.
#[derive(Debug, Clone, Serialize)]
pub struct CpuReport {
    /// Seconds the window lasted.
    pub window_seconds: f64,
    /// Microseconds of CPU per acknowledged request: `gateway`, `postgres`, `rabbitmq`,
    /// and `load_generator` (the load threads only).
    pub us_per_request: BTreeMap<String, f64>,
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
    /// CPU per request of each process.
    pub cpu: Option<CpuReport>,
    /// Derived ratios.
    pub ratios: BTreeMap<String, f64>,
    /// Reasons to distrust the figures (e.g. the generator was the bottleneck).
    pub warnings: Vec<String>,
}

/// The gateway's address from `--url` or `server.listen`.
fn gateway_addr(config: &Config, url: Option<&str>) -> anyhow::Result<(String, SocketAddr)> {
    let host = match url {
        Some(url) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        None => {
            let port = config.server.listen.rsplit(':').next().unwrap_or("8080");
            format!("127.0.0.1:{port}")
        }
    };
    let addr = host
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} resolves to no address"))?;
    Ok((host, addr))
}

/// Run the benchmark and print the report.
pub async fn run(
    config: &Config,
    registry: &ProviderRegistry,
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    if args.ceilings {
        eprintln!(
            "measuring raw ceilings and floors ({:?} each)...",
            args.duration
        );
        report.ceilings = Some(ceilings::measure(config, args).await?);
    }
    if !args.no_load || args.write_corpus.is_some() {
        measure_gateway(config, registry, args, &mut report).await?;
    }
    if let (Some(c), Some(d)) = (&report.ceilings, &report.delivery) {
        report.ratios.insert(
            "end_to_end_vs_rabbitmq_ceiling".into(),
            d.end_to_end_per_sec / c.rabbitmq_confirmed_per_sec,
        );
    }
    if let (Some(c), Some(l)) = (&report.ceilings, &report.load) {
        report.ratios.insert(
            "acked_vs_rabbitmq_ceiling".into(),
            l.acked_per_sec / c.rabbitmq_confirmed_per_sec,
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(report)
}

/// Sign the corpus, then (unless `--no-load`) drive the gateway and check deliveries.
async fn measure_gateway(
    config: &Config,
    registry: &ProviderRegistry,
    args: &BenchArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let provider = provider(registry, &args.provider)?;
    let (host, addr) = gateway_addr(config, args.url.as_deref())?;
    let threads = args.threads.unwrap_or_else(cores);
    let prefix = format!("bench_{}_", hookgate_core::sign::unique_event_id());
    let count = match args.rate {
        Some(rate) => (rate as f64 * args.duration.as_secs_f64()) as usize,
        None => (args.corpus_rate as f64 * args.duration.as_secs_f64()) as usize,
    };
    let corpus = sign(&corpus::Spec {
        provider: &provider,
        host: &host,
        prefix: &prefix,
        count: count.max(1),
        body_size: args.body_size,
        duplicates: args.duplicates.clamp(0.0, 1.0),
        threads,
        rate: args.rate,
    });
    if let Some(path) = &args.write_corpus {
        corpus
            .write(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.no_load {
        return Ok(());
    }
    let inbox = if args.no_delivery_check {
        None
    } else {
        Some(inbox::Inbox::bind(&config.amqp, &prefix).await?)
    };
    let mut database =
        sqlx::PgConnection::connect_with(&hookgate::db::options(&config.database.url)?)
            .await
            .ok();
    let targets = procstat::Targets {
        gateway: args.gateway_pid.or_else(procstat::find_gateway),
        database: hookgate::db::database_name(&hookgate::db::options(&config.database.url)?),
    };
    let (cpu_before, window) = (procstat::sample(&targets), Instant::now());
    let load = load::run(
        corpus.clone(),
        load::Plan {
            addr,
            connections: args.connections,
            threads,
            duration: args.duration,
            rate: args.rate,
            window: None,
        },
    )
    .await?;
    let depth = match database.as_mut() {
        Some(db) => hookgate::store::outbox::pending(db).await.ok(),
        None => None,
    };
    if let Some(path) = &args.acked_out {
        let ids: Vec<String> = load.acked.keys().map(|n| corpus.event_id(*n)).collect();
        std::fs::write(path, ids.join("\n") + "\n")?;
    }
    if let Some(inbox) = inbox {
        report.delivery = Some(inbox.settle(&load, args.drain_timeout, depth).await);
        inbox.delete().await;
    }
    let used = procstat::sample(&targets).since(&cpu_before);
    let acked = (load.accepted + load.duplicate).max(1) as f64;
    let mut us_per_request: BTreeMap<String, f64> = used
        .into_iter()
        .map(|(role, seconds)| (role.to_owned(), seconds * 1e6 / acked))
        .collect();
    us_per_request.insert(
        "load_generator".into(),
        load.generator_cpu_us_per_request * load.sent as f64 / acked,
    );
    report
        .warnings
        .extend(generator_warnings(&load, &us_per_request));
    if targets.gateway.is_none() {
        report
            .warnings
            .push("no gateway process found: pass --gateway-pid for its CPU".into());
    }
    report.cpu = Some(CpuReport {
        window_seconds: window.elapsed().as_secs_f64(),
        us_per_request,
    });
    report.load = Some(load);
    Ok(())
}

/// Declare `name` as a durable topic exchange, as the gateway declares its own.
async fn declare_topic(channel: &lapin::Channel, name: &str) -> lapin::Result<()> {
    channel
        .exchange_declare(
            name.into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
}

/// Consume `queue` without acknowledgements: the broker forgets each message once sent
/// (the bench's queue, the ceiling's drain, the audit).
async fn consume(
    channel: &lapin::Channel,
    queue: &str,
    tag: &str,
) -> lapin::Result<lapin::Consumer> {
    channel
        .basic_consume(
            queue.into(),
            tag.into(),
            lapin::options::BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
}

/// The provider named `name` in the config.
fn provider(
    registry: &ProviderRegistry,
    name: &str,
) -> anyhow::Result<Arc<hookgate_core::Provider>> {
    registry
        .get(name)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no provider named {name:?} in the config"))
}

/// One load thread per core by default.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Sign the corpus (before any timed phase), saying how long it took.
fn sign(spec: &corpus::Spec<'_>) -> Arc<corpus::Corpus> {
    let signing = Instant::now();
    let corpus = Arc::new(corpus::Corpus::build(spec));
    eprintln!(
        "signed {} requests in {:.1}s",
        corpus.requests.len(),
        signing.elapsed().as_secs_f64()
    );
    corpus
}

/// Why the generator, not the gateway, may have set the pace.
fn generator_warnings(load: &load::LoadReport, cpu: &BTreeMap<String, f64>) -> Vec<String> {
    let mut out = Vec::new();
    if load.corpus_exhausted {
        out.push(format!(
            "the pre-signed corpus ran out after {} requests: raise --corpus-rate",
            load.sent
        ));
    }
    if load.generator_busy > 0.9 {
        out.push(format!(
            "the load threads were on a CPU {:.0}% of the time: the generator may be the \
             bottleneck (add --threads or run it elsewhere)",
            load.generator_busy * 100.0
        ));
    }
    if let (Some(generator), Some(gateway)) = (cpu.get("load_generator"), cpu.get("gateway"))
        && generator > gateway
    {
        out.push(format!(
            "the generator spent {generator:.1} us per request, more than the gateway's \
             {gateway:.1} us: it competes with the gateway for CPU"
        ));
    }
    out
}

fn print_table(r: &Report) {
    if let Some(c) = &r.ceilings {
        println!("raw ceilings");
        println!(
            "  rabbitmq confirmed publishes/s  {:>12.0}",
            c.rabbitmq_confirmed_per_sec
        );
        for s in c.rabbitmq_shapes.iter().chain(&c.spec_messages) {
            println!("    {:<46}{:>12.0}", s.shape, s.per_sec);
        }
        println!(
            "  postgres inserted rows/s        {:>12.0}",
            c.postgres_rows_per_sec
        );
        let ceiling = c.rabbitmq_confirmed_per_sec;
        for (name, f) in [("ingest", &c.ingest_floor), ("drain", &c.drain_floor)] {
            println!(
                "  {name:<6} floor events/s           {:>12.0}  ({:.2}x the broker ceiling)",
                f.per_sec,
                f.per_sec / ceiling
            );
        }
    }
    if let Some(l) = &r.load {
        println!(
            "gateway ({}, {} connections on {} threads{})",
            l.mode,
            l.connections,
            l.threads,
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
            "  end to end (in the queue during the load)/s {:>8.0}",
            d.end_to_end_per_sec
        );
        println!(
            "  outbox depth when the load stopped  {:>8}",
            d.outbox_depth_at_end
                .map_or_else(|| "?".into(), |n| n.to_string())
        );
        println!(
            "  drain after the load, s             {:>8}",
            d.drain_seconds
                .map_or_else(|| "-".into(), |s| format!("{s:.2}"))
        );
        println!(
            "  expected / delivered            {:>12} / {}",
            d.expected, d.delivered
        );
        println!(
            "  missing / duplicated            {:>12} / {}",
            d.missing, d.duplicated
        );
        let p = &d.ack_to_delivery_ms;
        println!(
            "  ack->delivered ms p50/p90/p99   {:>8.2} {:>8.2} {:>8.2}",
            p.p50, p.p90, p.p99
        );
    }
    if let Some(c) = &r.cpu {
        println!("CPU per acknowledged request, us");
        for (process, us) in &c.us_per_request {
            println!("  {process:<31} {us:>12.1}");
        }
    }
    for (k, v) in &r.ratios {
        println!("ratio {k:<34} {v:>8.3}");
    }
}
