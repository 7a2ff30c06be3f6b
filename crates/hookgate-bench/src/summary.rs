//! `hookgate bench summary`: the ratio table of `scripts/bench` from the JSON reports of
//! one run (and wrk's text output), read into typed views so the compiler checks the
//! field names the table relies on.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use crate::{ceilings::ShapeRate, drain::DrainReport, floors::Floor};

/// `bench summary` arguments.
#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    /// Directory holding the run's reports (`scripts/bench` writes `target/bench`).
    #[arg(long, default_value = "target/bench")]
    pub dir: PathBuf,
    /// Only print half the acknowledged rate of `max.json` (the open-loop rate).
    #[arg(long)]
    pub half_rate: bool,
}

#[derive(Debug, Deserialize)]
struct Report {
    ceilings: Option<Ceilings>,
    load: Option<Load>,
    delivery: Option<Delivery>,
    cpu: Option<Cpu>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Ceilings {
    rabbitmq_confirmed_per_sec: f64,
    #[serde(default)]
    rabbitmq_shapes: Vec<ShapeRate>,
    #[serde(default)]
    spec_messages: OneOrMore,
    postgres_rows_per_sec: f64,
    ingest_floor: Option<Floor>,
    drain_floor: Option<Floor>,
}

/// The SPEC §4 shapes: one object in the first reports that had them, a list since.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMore {
    One(ShapeRate),
    More(Vec<ShapeRate>),
}

impl Default for OneOrMore {
    fn default() -> Self {
        Self::More(Vec::new())
    }
}

impl OneOrMore {
    fn as_slice(&self) -> &[ShapeRate] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::More(more) => more,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Load {
    acked_per_sec: f64,
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    duplicate: u64,
    ack_latency_ms: Percentiles,
    rate: Option<u64>,
    generator_busy: f64,
}

#[derive(Debug, Deserialize)]
struct Percentiles {
    p50: f64,
    p99: f64,
}

#[derive(Debug, Deserialize)]
struct Delivery {
    end_to_end_per_sec: f64,
    outbox_depth_at_end: Option<i64>,
    drain_seconds: Option<f64>,
    missing: usize,
    duplicated: u64,
    ack_to_delivery_ms: Percentiles,
}

#[derive(Debug, Deserialize)]
struct Cpu {
    us_per_request: BTreeMap<String, f64>,
}

/// Redis' CPU over the seed design's run (`seed-redis.json`, from Redis' `INFO cpu` by
/// `scripts/bench`, read around the bench command): the bench itself counts only the
/// gateway, Postgres and RabbitMQ.
#[derive(Debug, Deserialize)]
struct RedisCpu {
    cpu_seconds: f64,
}

/// Add Redis' CPU per answered request to the seed design's report (nothing when the
/// report counts no answer).
fn with_redis(report: &mut Report, redis: Option<RedisCpu>) {
    if let (Some(redis), Some(load), Some(cpu)) = (redis, &report.load, &mut report.cpu) {
        let answered = load.accepted + load.duplicate;
        if answered > 0 {
            cpu.us_per_request
                .insert("redis".into(), redis.cpu_seconds * 1e6 / answered as f64);
        }
    }
}

/// wrk's figures: requests answered 2xx/3xx per second.
fn wrk_acked_per_sec(text: &str) -> Option<f64> {
    let mut requests = None;
    let mut seconds = None;
    let mut non_2xx = 0.0;
    for line in text.lines().map(str::trim) {
        if let Some((n, rest)) = line.split_once(" requests in ") {
            requests = n.trim().parse::<f64>().ok();
            seconds = rest.split('s').next().and_then(|s| s.parse::<f64>().ok());
        } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = n.trim().parse().unwrap_or(0.0);
        }
    }
    Some((requests? - non_2xx) / seconds?)
}

/// A report of the run, if the file is there; one that does not parse is an error worth
/// seeing, not a missing phase.
fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    serde_json::from_str(&text)
        .inspect_err(|e| eprintln!("warning: {name} does not parse: {e}"))
        .ok()
}

/// Labels of the runs compared with one another.
const SEED_DESIGN: &str = "seed design (Express + Redis), closed loop 64";
const SEED_RELAY: &str = "seed relay (main), closed loop 64";
const CLOSED_LOOP: &str = "closed loop 64";

/// Build the table of one run; `Ok(false)` when an acknowledged event went missing.
pub fn run(args: &SummaryArgs) -> anyhow::Result<bool> {
    let dir = &args.dir;
    if args.half_rate {
        let max: Report = read(dir, "max.json").context("reading max.json")?;
        let acked = max.load.context("max.json has no load")?.acked_per_sec;
        println!("{}", ((acked / 2.0) as u64).max(1));
        return Ok(true);
    }
    let ceilings: Report = read(dir, "ceilings.json").context("reading ceilings.json")?;
    let c = ceilings.ceilings.context("ceilings.json has no ceilings")?;
    let ceiling = c.rabbitmq_confirmed_per_sec;
    let mut out = String::new();
    let mut row = |name: &str, value: String, note: String| {
        let _ = writeln!(out, "{name:<52} {value:>14}  {note}");
    };
    row(
        "raw RabbitMQ confirmed publishes/s",
        format!("{ceiling:.0}"),
        "= 1.00".into(),
    );
    // A rate measured by the bench alone: its ratio to the ceiling and where the CPU went.
    let alone = |per_sec: f64, per: &str, cpu: &BTreeMap<String, f64>, busy: [Option<f64>; 2]| {
        let cpu = per_process(cpu);
        let busy = match busy {
            [Some(b), Some(io)] => Some(format!("; bench thread {b:.2} busy, lapin I/O {io:.2}")),
            [Some(b), None] => Some(format!("; bench thread {b:.2} busy")),
            _ => None,
        };
        (
            format!("{per_sec:.0}"),
            format!(
                "{:.2}x ceiling; CPU us/{per} {cpu}{}",
                per_sec / ceiling,
                busy.unwrap_or_default()
            ),
        )
    };
    for shape in c.rabbitmq_shapes.iter().chain(c.spec_messages.as_slice()) {
        let (rate, note) = alone(
            shape.per_sec,
            "message",
            &shape.cpu_us_per_message,
            [shape.bench_thread_busy, shape.bench_io_thread_busy],
        );
        row(&format!("  {}", shape.shape), rate, note);
    }
    row(
        "raw Postgres batched rows/s",
        format!("{:.0}", c.postgres_rows_per_sec),
        String::new(),
    );
    for (name, floor) in [
        ("ingest floor (store, then publish)", &c.ingest_floor),
        ("drain floor (read, publish, delete)", &c.drain_floor),
    ] {
        if let Some(f) = floor {
            let busy = [f.bench_thread_busy, f.bench_io_thread_busy];
            let (rate, note) = alone(f.per_sec, "event", &f.cpu_us_per_event, busy);
            row(&format!("{name}/s"), rate, note);
        }
    }
    let of_floor = |rate: f64, floor: &Option<Floor>| {
        floor
            .as_ref()
            .map(|f| format!(", {:.2}x floor", rate / f.per_sec))
            .unwrap_or_default()
    };
    let mut missing = 0;
    let mut runs = Vec::new();
    for (file, label) in [
        ("seed.json", SEED_DESIGN),
        ("base.json", SEED_RELAY),
        ("max.json", CLOSED_LOOP),
        ("sustain.json", "sustained closed loop 64"),
        ("half.json", "open loop at half the maximum"),
        (
            "idle.json",
            "idle, 1M+ stored events, stats taken in a backlog",
        ),
    ] {
        let Some(mut r) = read::<Report>(dir, file) else {
            continue;
        };
        if file == "seed.json" {
            with_redis(&mut r, read::<RedisCpu>(dir, "seed-redis.json"));
        }
        runs.push((label, r));
    }
    for (label, r) in &runs {
        let (Some(l), Some(d)) = (&r.load, &r.delivery) else {
            continue;
        };
        missing += d.missing;
        row(
            &format!("{label}: acknowledged/s"),
            format!("{:.0}", l.acked_per_sec),
            format!("{:.2}x ceiling", l.acked_per_sec / ceiling),
        );
        row(
            &format!("{label}: end to end/s (queued during load)"),
            format!("{:.0}", d.end_to_end_per_sec),
            format!(
                "{:.2}x ceiling{}",
                d.end_to_end_per_sec / ceiling,
                of_floor(d.end_to_end_per_sec, &c.ingest_floor)
            ),
        );
        row(
            &format!("{label}: outbox depth at end / drain"),
            format!(
                "{} / {}",
                d.outbox_depth_at_end.map_or("?".into(), |n| n.to_string()),
                d.drain_seconds.map_or("-".into(), |s| format!("{s:.2}s"))
            ),
            format!("missing {} duplicated {}", d.missing, d.duplicated),
        );
        row(
            &format!("{label}: ack p50/p99 ms"),
            format!("{:.1} / {:.1}", l.ack_latency_ms.p50, l.ack_latency_ms.p99),
            l.rate.map(|r| format!("at {r}/s")).unwrap_or_default(),
        );
        row(
            &format!("{label}: ack->delivered p50/p99 ms"),
            format!(
                "{:.1} / {:.1}",
                d.ack_to_delivery_ms.p50, d.ack_to_delivery_ms.p99
            ),
            String::new(),
        );
        if let Some(cpu) = &r.cpu {
            row(
                &format!("{label}: CPU us/event"),
                String::new(),
                per_process(&cpu.us_per_request),
            );
        }
        row(
            &format!("{label}: generator busy"),
            format!("{:.2}", l.generator_busy),
            r.warnings.join("; "),
        );
    }
    let labelled = |label: &str| runs.iter().find(|(l, _)| *l == label).map(|(_, r)| r);
    let end_to_end = |label: &str| {
        labelled(label)
            .and_then(|r| r.delivery.as_ref())
            .map(|d| d.end_to_end_per_sec)
    };
    for (before, name) in [(SEED_DESIGN, "seed design"), (SEED_RELAY, "seed relay")] {
        if let (Some(now), Some(then)) = (end_to_end(CLOSED_LOOP), end_to_end(before)) {
            row(
                &format!("end to end, {CLOSED_LOOP}, over the {name}'s"),
                format!("{:.2}x", now / then),
                String::new(),
            );
        }
    }
    if let (Some(text), Some(max)) = (
        std::fs::read_to_string(dir.join("wrk.txt")).ok(),
        labelled(CLOSED_LOOP),
    ) && let (Some(wrk), Some(l)) = (wrk_acked_per_sec(&text), &max.load)
    {
        row(
            "wrk (same corpus shape, same gateway): acknowledged/s",
            format!("{wrk:.0}"),
            format!("bench / wrk = {:.2}", l.acked_per_sec / wrk),
        );
    }
    if let Some(d) = read::<DrainReport>(dir, "drain.json") {
        row(
            "backlog drain after a broker outage, rows/s",
            format!("{:.0}", d.rows_per_sec),
            format!(
                "{:.2}x ceiling{} ({} rows, {} left)",
                d.rows_per_sec / ceiling,
                of_floor(d.rows_per_sec, &c.drain_floor),
                d.backlog,
                d.left
            ),
        );
        let mut us: Vec<String> = d
            .cpu_us_per_row
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect();
        if !d.cpu_us_per_row.contains_key("gateway") {
            us.push("gateway not found".into());
        }
        row(
            "backlog drain: idle cores; CPU us/row",
            d.idle_cores.map_or("-".into(), |c| format!("{c:.2}")),
            us.join(", "),
        );
    }
    print!("{out}");
    Ok(missing == 0)
}

/// "gateway 35.1, postgres 46.2, ..." from CPU figures by process.
fn per_process(us: &BTreeMap<String, f64>) -> String {
    us.iter()
        .map(|(k, v)| format!("{k} {v:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_design_gets_redis_cpu_per_answered_request() {
        let mut report: Report = serde_json::from_str(
            r#"{"load": {"acked_per_sec": 1000.0, "accepted": 1500, "duplicate": 500,
                          "ack_latency_ms": {"p50": 1.0, "p99": 2.0}, "generator_busy": 0.1},
                "cpu": {"us_per_request": {"gateway": 300.0}}}"#,
        )
        .expect("report");
        with_redis(&mut report, Some(RedisCpu { cpu_seconds: 0.05 }));
        let cpu = &report.cpu.expect("cpu").us_per_request;
        assert!((cpu["redis"] - 25.0).abs() < 1e-9, "{cpu:?}");
        assert_eq!(cpu["gateway"], 300.0);

        let mut empty: Report = serde_json::from_str(
            r#"{"load": {"acked_per_sec": 0.0, "ack_latency_ms": {"p50": 0.0, "p99": 0.0},
                          "generator_busy": 0.0},
                "cpu": {"us_per_request": {}}}"#,
        )
        .expect("report");
        with_redis(&mut empty, Some(RedisCpu { cpu_seconds: 0.05 }));
        assert!(empty.cpu.expect("cpu").us_per_request.is_empty());
    }

    #[test]
    fn reads_wrk_output() {
        let text = "  2 threads and 64 connections\n  65083 requests in 10.05s, 11.10MB read\n  Non-2xx or 3xx responses: 83\nRequests/sec:   6474.81\n";
        let rate = wrk_acked_per_sec(text).expect("parsed");
        assert!((rate - 6467.66).abs() < 0.1, "{rate}");
    }
}
