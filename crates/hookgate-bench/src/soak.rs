//! `hookgate bench soak`: minutes of open-loop load at a fixed rate against a gateway whose
//! retention window is short, so partitions are created and dropped under the load the
//! whole time. Every `--sample` it records the database's footprint and row counts; per
//! window of the same length it reports the ack p99 and the ack -> delivered p99 (the
//! relay's lag as a consumer sees it). Its checks are the storage criteria of
//! BENCHMARKS.md: the footprint stays flat once retention has caught up with the inserts
//! (last sample against `--baseline`), and latency does not grow with the hours
//! (every window against the first).

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Args;
use hookgate::store::footprint::{self, Footprint};
use hookgate_core::{ProviderRegistry, config::Config};
use serde::Serialize;
use sqlx::{Connection as _, PgConnection};

use crate::{Percentiles, corpus, inbox, load};

/// Largest database size in the last sample, relative to the baseline sample.
const MAX_GROWTH: f64 = 1.1;
/// Largest window p99 relative to the first window's.
const MAX_P99_RATIO: f64 = 1.5;

/// `bench soak` arguments.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Provider to sign for.
    #[arg(long, default_value = "groq")]
    pub provider: String,
    /// Gateway base URL; default: from `server.listen`.
    #[arg(long)]
    pub url: Option<String>,
    /// Requests per second.
    #[arg(long, required_unless_present = "half_of")]
    pub rate: Option<u64>,
    /// Instead of `--rate`: half the sustained maximum of a `hookgate bench --json` report,
    /// the lower of its acknowledged and end-to-end rates.
    #[arg(long, conflicts_with = "rate")]
    pub half_of: Option<PathBuf>,
    /// How long to send.
    #[arg(long, default_value = "6m", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Sampling interval, and the width of the latency windows.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub sample: Duration,
    /// The footprint baseline: the sample taken at this time.
    #[arg(long, default_value = "3m", value_parser = humantime::parse_duration)]
    pub baseline: Duration,
    /// Connection pool size.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Load threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub body_size: usize,
    /// Longest wait for deliveries after the load ends.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Also print the report as JSON on stdout (the tables go to stderr).
    #[arg(long)]
    pub json: bool,
}

/// The database at one moment of the soak.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the load started.
    pub seconds: f64,
    /// Bytes on disk.
    pub footprint: Footprint,
    /// Rows in `event_records` (events whose metadata is kept).
    pub event_records: i64,
    /// Rows in `event_keys` (two per event in the window).
    pub event_keys: i64,
    /// Rows in `outbox` (not yet confirmed by the broker).
    pub outbox: i64,
    /// Partitions of `event_records` plus key buckets.
    pub partitions: i64,
}

/// Latency of the requests sent in one window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Seconds from the load's start to the window's.
    pub starts_at: f64,
    /// Send time -> 200 answer.
    pub ack_ms: Percentiles,
    /// 200 answer -> arrival in the bench's queue.
    pub ack_to_delivery_ms: Percentiles,
}

/// The soak's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    /// Database size in the last sample over the baseline sample's (at most 1.1).
    pub database_last_vs_baseline: f64,
    /// The worst window's ack p99 over the first window's (at most 1.5).
    pub ack_p99_worst_vs_first: f64,
    /// The worst window's ack -> delivered p99 over the first window's (at most 1.5).
    pub delivery_p99_worst_vs_first: f64,
    /// Every event answered 200 arrived.
    pub nothing_lost: bool,
    /// Every request was answered 200 (a 401 or 503 is a failed soak, whatever the sizes).
    pub all_acknowledged: bool,
    /// All of the above hold.
    pub passed: bool,
}

/// Everything a soak measured.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// Requests per second sent.
    pub rate: u64,
    /// The gateway side.
    pub load: load::LoadReport,
    /// Deliveries.
    pub delivery: inbox::DeliveryReport,
    /// The database every `--sample`.
    pub samples: Vec<Sample>,
    /// Latency per window.
    pub windows: Vec<Window>,
    /// The verdict.
    pub checks: Checks,
    /// Reasons to distrust the figures.
    pub warnings: Vec<String>,
}

/// Run the soak and print its report.
pub async fn run(
    config: &Config,
    registry: &ProviderRegistry,
    args: &SoakArgs,
) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(
        args.duration >= args.baseline + args.sample,
        "--duration must be at least --baseline plus one --sample: the last sample is \
         compared with the one at --baseline"
    );
    let rate = match (args.rate, &args.half_of) {
        (Some(rate), _) => rate,
        (None, Some(path)) => half_of(path)?,
        (None, None) => anyhow::bail!("give --rate or --half-of"),
    };
    let provider = crate::provider(registry, &args.provider)?;
    let (host, addr) = crate::gateway_addr(config, args.url.as_deref())?;
    let threads = args.threads.unwrap_or_else(crate::cores);
    let prefix = format!("soak_{}_", hookgate_core::sign::unique_event_id());
    let corpus = crate::sign(&corpus::Spec {
        provider: &provider,
        host: &host,
        prefix: &prefix,
        count: ((rate as f64 * args.duration.as_secs_f64()) as usize).max(1),
        body_size: args.body_size,
        duplicates: 0.0,
        threads,
        rate: Some(rate),
    });
    let inbox = inbox::Inbox::bind(&config.amqp, &prefix).await?;
    let options = hookgate::db::options(&config.database.url)?;
    let mut db = PgConnection::connect_with(&options)
        .await
        .context("connecting to the gateway's database")?;
    eprintln!(
        "soak: {rate}/s for {:?}, a sample every {:?}",
        args.duration, args.sample
    );
    let started = Instant::now();
    let (load, samples) = tokio::join!(
        load::run(
            Arc::clone(&corpus),
            load::Plan {
                addr,
                connections: args.connections,
                threads,
                duration: args.duration,
                rate: Some(rate),
                window: Some(args.sample),
            },
        ),
        sample_every(&mut db, started, args.sample, args.duration),
    );
    let load = load?;
    let samples = samples?;
    let delivery = inbox.settle(&load, args.drain_timeout, None).await;
    let windows = windows(&load, &inbox, args.sample);
    inbox.delete().await;
    let all_acknowledged = load.non_2xx.is_empty() && load.transport_errors == 0;
    let checks = checks(
        &samples,
        &windows,
        args.baseline,
        &delivery,
        all_acknowledged,
    );
    let mut warnings = Vec::new();
    let key_width = hookgate::store::partitions::Layout::new(&config.retention).key_width;
    let span = (args.duration - args.baseline).as_secs() as i64;
    if span % key_width != 0 {
        warnings.push(format!(
            "--duration minus --baseline ({span} s) is not a multiple of the key bucket \
             ({key_width} s): the two samples compared are at different phases of the \
             footprint's sawtooth"
        ));
    }
    if load.acked_per_sec < rate as f64 * 0.95 {
        warnings.push(format!(
            "the gateway acknowledged {:.0}/s of the {rate}/s sent: it did not keep up",
            load.acked_per_sec
        ));
    }
    if load.generator_busy > 0.9 {
        warnings.push(format!(
            "the load threads were on a CPU {:.0}% of the time: the generator may set the pace",
            load.generator_busy * 100.0
        ));
    }
    let report = SoakReport {
        rate,
        load,
        delivery,
        samples,
        windows,
        checks,
        warnings,
    };
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    print_tables(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(report)
}

/// Half the sustained maximum of a `bench --json` report.
fn half_of(path: &std::path::Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)?;
    let acked = report["load"]["acked_per_sec"]
        .as_f64()
        .with_context(|| format!("{}: no load.acked_per_sec", path.display()))?;
    let end_to_end = report["delivery"]["end_to_end_per_sec"]
        .as_f64()
        .unwrap_or(acked);
    Ok((acked.min(end_to_end) / 2.0).round().max(1.0) as u64)
}

/// One sample at `start + k * every` for every `k` up to the end of `duration`.
async fn sample_every(
    db: &mut PgConnection,
    start: Instant,
    every: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Sample>> {
    let count = (duration.as_secs_f64() / every.as_secs_f64()).floor() as u32;
    let mut samples = Vec::with_capacity(count as usize + 1);
    for k in 0..=count {
        tokio::time::sleep_until((start + every * k).into()).await;
        let sample = measure(db, start).await?;
        eprintln!(
            "\n[{:>4.0}s] database {:>7.1} MiB, {} records, {} keys, {} in the outbox, {} partitions",
            sample.seconds,
            mib(sample.footprint.database),
            sample.event_records,
            sample.event_keys,
            sample.outbox,
            sample.partitions
        );
        samples.push(sample);
    }
    Ok(samples)
}

async fn measure(db: &mut PgConnection, start: Instant) -> anyhow::Result<Sample> {
    let seconds = start.elapsed().as_secs_f64();
    let footprint = footprint::measure(db).await?;
    let (event_records, event_keys, outbox, partitions): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM event_records), (SELECT count(*) FROM event_keys),
                (SELECT count(*) FROM outbox),
                (SELECT count(*) FROM event_partitions) + (SELECT count(*) FROM key_buckets)",
    )
    .fetch_one(db)
    .await?;
    Ok(Sample {
        seconds,
        footprint,
        event_records,
        event_keys,
        outbox,
        partitions,
    })
}

/// The load's windows (by send time) beside the deliveries' (by the time of the 200
/// answer; an answer after the last send window counts in it).
fn windows(load: &load::LoadReport, inbox: &inbox::Inbox, width: Duration) -> Vec<Window> {
    let ack = &load.ack_latency_by_window_ms;
    let delivery = inbox.latency_by_window(load, width, ack.len());
    ack.iter()
        .enumerate()
        .map(|(i, ack_ms)| Window {
            starts_at: width.as_secs_f64() * i as f64,
            ack_ms: ack_ms.clone(),
            ack_to_delivery_ms: delivery.get(i).cloned().unwrap_or_else(Percentiles::empty),
        })
        .collect()
}

fn checks(
    samples: &[Sample],
    windows: &[Window],
    baseline: Duration,
    delivery: &inbox::DeliveryReport,
    all_acknowledged: bool,
) -> Checks {
    let base = samples.iter().min_by(|a, b| {
        let off = |s: &Sample| (s.seconds - baseline.as_secs_f64()).abs();
        off(a).total_cmp(&off(b))
    });
    let growth = match (base, samples.last()) {
        (Some(base), Some(last)) => {
            last.footprint.database as f64 / base.footprint.database.max(1) as f64
        }
        _ => f64::NAN,
    };
    let worst = |p99: fn(&Window) -> f64| {
        let first = windows.first().map_or(f64::NAN, p99);
        let worst = windows.iter().map(p99).fold(0.0, f64::max);
        worst / first
    };
    let ack = worst(|w| w.ack_ms.p99);
    let lag = worst(|w| w.ack_to_delivery_ms.p99);
    let nothing_lost = delivery.missing == 0;
    Checks {
        all_acknowledged,
        database_last_vs_baseline: growth,
        ack_p99_worst_vs_first: ack,
        delivery_p99_worst_vs_first: lag,
        nothing_lost,
        passed: growth <= MAX_GROWTH
            && ack <= MAX_P99_RATIO
            && lag <= MAX_P99_RATIO
            && nothing_lost
            && all_acknowledged,
    }
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The samples, the windows and the verdict, on stderr.
fn print_tables(r: &SoakReport) {
    eprintln!(
        "soak at {}/s: {} sent, {} acknowledged ({:.0}/s), {} delivered, {} missing",
        r.rate,
        r.load.sent,
        r.load.accepted + r.load.duplicate,
        r.load.acked_per_sec,
        r.delivery.delivered,
        r.delivery.missing
    );
    eprintln!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>8} {:>5}",
        "t (s)",
        "db MiB",
        "records",
        "payloads",
        "keys",
        "outbox",
        "rec rows",
        "key rows",
        "out rows",
        "parts"
    );
    for s in &r.samples {
        let f = &s.footprint;
        eprintln!(
            "{:>6.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>10} {:>10} {:>8} {:>5}",
            s.seconds,
            mib(f.database),
            mib(f.event_records),
            mib(f.event_payloads),
            mib(f.event_keys),
            mib(f.outbox),
            s.event_records,
            s.event_keys,
            s.outbox,
            s.partitions
        );
    }
    eprintln!(
        "{:>8} {:>10} {:>10} {:>14} {:>14}",
        "window", "ack p50", "ack p99", "delivery p50", "delivery p99"
    );
    for w in &r.windows {
        eprintln!(
            "{:>7.0}s {:>10.2} {:>10.2} {:>14.2} {:>14.2}",
            w.starts_at,
            w.ack_ms.p50,
            w.ack_ms.p99,
            w.ack_to_delivery_ms.p50,
            w.ack_to_delivery_ms.p99
        );
    }
    let c = &r.checks;
    eprintln!(
        "database last / baseline       {:>6.3} (<= {MAX_GROWTH})",
        c.database_last_vs_baseline
    );
    eprintln!(
        "ack p99 worst / first window   {:>6.3} (<= {MAX_P99_RATIO})",
        c.ack_p99_worst_vs_first
    );
    eprintln!(
        "delivery p99 worst / first     {:>6.3} (<= {MAX_P99_RATIO})",
        c.delivery_p99_worst_vs_first
    );
    eprintln!("nothing lost                   {}", c.nothing_lost);
    eprintln!("every request answered 200     {}", c.all_acknowledged);
    eprintln!(
        "{}",
        if c.passed {
            "soak: PASSED"
        } else {
            "soak: FAILED"
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds: f64, database: i64) -> Sample {
        Sample {
            seconds,
            footprint: Footprint {
                database,
                ..Footprint::default()
            },
            event_records: 0,
            event_keys: 0,
            outbox: 0,
            partitions: 0,
        }
    }

    fn window(ack: f64, delivery: f64) -> Window {
        let p = |p99| Percentiles {
            count: 1,
            p50: 0.0,
            p90: 0.0,
            p99,
            max: p99,
        };
        Window {
            starts_at: 0.0,
            ack_ms: p(ack),
            ack_to_delivery_ms: p(delivery),
        }
    }

    fn delivered(missing: usize) -> inbox::DeliveryReport {
        inbox::DeliveryReport {
            expected: 10,
            delivered: 10 - missing,
            missing,
            duplicated: 0,
            delivered_during_load: 0,
            end_to_end_per_sec: 0.0,
            outbox_depth_at_end: None,
            drain_seconds: None,
            ack_to_delivery_ms: Percentiles::empty(),
        }
    }

    #[test]
    fn growth_is_measured_from_the_sample_nearest_the_baseline() {
        let samples = [sample(0.0, 10), sample(170.0, 100), sample(360.0, 111)];
        let c = checks(
            &samples,
            &[window(1.0, 1.0)],
            Duration::from_secs(180),
            &delivered(0),
            true,
        );
        assert!((c.database_last_vs_baseline - 1.11).abs() < 1e-9);
        assert!(!c.passed, "11% growth is over the limit");
    }

    /// The verdict at minutes 3 and 6 of equal size, for `windows`, `missing` events and
    /// whether every request was answered 200.
    fn verdict(windows: &[Window], missing: usize, acknowledged: bool) -> Checks {
        let samples = [sample(180.0, 100), sample(360.0, 100)];
        let baseline = Duration::from_secs(180);
        checks(
            &samples,
            windows,
            baseline,
            &delivered(missing),
            acknowledged,
        )
    }

    #[test]
    fn one_slow_window_fails_the_soak() {
        let c = verdict(&[window(10.0, 20.0), window(14.0, 31.0)], 0, true);
        assert!(c.ack_p99_worst_vs_first <= MAX_P99_RATIO);
        assert!(c.delivery_p99_worst_vs_first > MAX_P99_RATIO);
        assert!(!c.passed);
        let windows = [window(10.0, 20.0), window(14.0, 29.0)];
        assert!(verdict(&windows, 0, true).passed);
        assert!(
            !verdict(&windows, 1, true).passed,
            "a lost event fails the soak"
        );
        assert!(
            !verdict(&windows, 0, false).passed,
            "a request answered 401 or 503 fails the soak"
        );
    }
}
