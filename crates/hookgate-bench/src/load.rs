//! The timed phase: `threads` OS threads, each with its own single-threaded runtime and
//! its share of the connections, writing pre-signed requests from the [`Corpus`]. Closed
//! loop (each connection sends the next request when the previous is answered) or open
//! loop (request `i` is due at `start + i / rate`; latency is measured from that time, so a
//! stalled gateway shows as latency rather than as a lower rate). Nothing here signs,
//! allocates per request or checks deliveries: those happen before, or on other threads.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{Percentiles, client::Connection, corpus::Corpus, procstat};

/// How to drive the gateway.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The gateway's address.
    pub addr: SocketAddr,
    /// Concurrent connections, spread over the threads.
    pub connections: usize,
    /// Load threads.
    pub threads: usize,
    /// How long to send.
    pub duration: Duration,
    /// Open loop at this rate; `None`: closed loop.
    pub rate: Option<u64>,
    /// Also keep ack latency per window of this length (by send time), for soaks.
    pub window: Option<Duration>,
}

/// The gateway side of a run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `closed` or `open`.
    pub mode: String,
    /// Connections.
    pub connections: usize,
    /// Load threads.
    pub threads: usize,
    /// Target rate (open loop).
    pub rate: Option<u64>,
    /// Requests sent.
    pub sent: u64,
    /// Answered 200 accepted.
    pub accepted: u64,
    /// Answered 200 duplicate.
    pub duplicate: u64,
    /// Other answers by status.
    pub non_2xx: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer.
    pub transport_errors: u64,
    /// Seconds from the first request to the last answer.
    pub seconds: f64,
    /// 200 answers per second of load.
    pub acked_per_sec: f64,
    /// Request (or scheduled) time to answer.
    pub ack_latency_ms: Percentiles,
    /// The same per [`Plan::window`] of send time (empty without a window).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ack_latency_by_window_ms: Vec<Percentiles>,
    /// CPU the load threads used per request sent, microseconds.
    pub generator_cpu_us_per_request: f64,
    /// Share of the load threads' wall time they were on a CPU (1.0 = always busy).
    pub generator_busy: f64,
    /// The corpus ran out before the duration ended (the run was shorter).
    pub corpus_exhausted: bool,
    /// First 200 answer time per event number.
    #[serde(skip)]
    pub acked: BTreeMap<u64, Instant>,
    /// When the load started.
    #[serde(skip)]
    pub started: Instant,
    /// When the last answer arrived.
    #[serde(skip)]
    pub ended: Instant,
}

/// State the threads share: the next corpus index and a progress counter.
struct Shared {
    corpus: Arc<Corpus>,
    plan: Plan,
    next: AtomicUsize,
    answered: AtomicU64,
    exhausted: AtomicBool,
    started: Instant,
}

/// What one thread measured.
struct ThreadReport {
    sent: u64,
    accepted: u64,
    duplicate: u64,
    non_2xx: BTreeMap<u16, u64>,
    transport_errors: u64,
    latency: Histogram<u64>,
    windows: Vec<Histogram<u64>>,
    acked: Vec<(usize, Instant)>,
    cpu_seconds: f64,
    wall_seconds: f64,
}

impl ThreadReport {
    fn new() -> Self {
        Self {
            sent: 0,
            accepted: 0,
            duplicate: 0,
            non_2xx: BTreeMap::new(),
            transport_errors: 0,
            latency: histogram(),
            windows: Vec::new(),
            acked: Vec::new(),
            cpu_seconds: 0.0,
            wall_seconds: 0.0,
        }
    }

    fn merge(&mut self, other: ThreadReport) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.duplicate += other.duplicate;
        for (status, n) in other.non_2xx {
            *self.non_2xx.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        let _ = self.latency.add(&other.latency);
        for (i, window) in other.windows.iter().enumerate() {
            let _ = self.window(i).add(window);
        }
        self.acked.extend(other.acked);
        self.cpu_seconds += other.cpu_seconds;
        self.wall_seconds += other.wall_seconds;
    }

    /// The histogram of window `i`, created (with those before it) on first use.
    fn window(&mut self, i: usize) -> &mut Histogram<u64> {
        if self.windows.len() <= i {
            self.windows.resize_with(i + 1, histogram);
        }
        &mut self.windows[i]
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures are valid")
}

/// Drive the load described by `plan` with `corpus` and report it. Progress goes to
/// stderr once a second from the calling task, never from the load threads.
pub async fn run(corpus: Arc<Corpus>, plan: Plan) -> anyhow::Result<LoadReport> {
    let threads = plan.threads.max(1);
    let shared = Arc::new(Shared {
        corpus,
        plan: plan.clone(),
        next: AtomicUsize::new(0),
        answered: AtomicU64::new(0),
        exhausted: AtomicBool::new(false),
        started: Instant::now(),
    });
    let mut waits = Vec::with_capacity(threads);
    for t in 0..threads {
        let connections = plan.connections / threads + usize::from(t < plan.connections % threads);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("bench-load-{t}"))
            .spawn(move || {
                let _ = tx.send(thread_main(&shared, connections));
            })?;
        waits.push(rx);
    }
    let mut total = ThreadReport::new();
    let mut last = 0;
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    progress.tick().await;
    let mut pending = futures_util::future::join_all(waits);
    let reports = loop {
        tokio::select! {
            done = &mut pending => break done,
            _ = progress.tick() => {
                let ok = shared.answered.load(Ordering::Relaxed);
                eprint!("\r[{:>4.0}s] answered {ok:>9} {:>8}/s ", shared.started.elapsed().as_secs_f64(), ok - last);
                last = ok;
            }
        }
    };
    eprintln!();
    for report in reports {
        let report = report.map_err(|_| anyhow::anyhow!("a load thread died"))?;
        total.merge(report?);
    }
    let ended = total
        .acked
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or(shared.started);
    let seconds = ended.duration_since(shared.started).as_secs_f64().max(1e-9);
    let mut acked = BTreeMap::new();
    for (index, at) in &total.acked {
        let event = shared.corpus.event[*index];
        let first = acked.entry(event).or_insert(*at);
        *first = (*first).min(*at);
    }
    Ok(LoadReport {
        mode: if plan.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        connections: plan.connections,
        threads,
        rate: plan.rate,
        sent: total.sent,
        accepted: total.accepted,
        duplicate: total.duplicate,
        non_2xx: total.non_2xx,
        transport_errors: total.transport_errors,
        seconds,
        acked_per_sec: (total.accepted + total.duplicate) as f64 / seconds,
        ack_latency_ms: Percentiles::from_us(&total.latency),
        ack_latency_by_window_ms: total.windows.iter().map(Percentiles::from_us).collect(),
        generator_cpu_us_per_request: total.cpu_seconds * 1e6 / total.sent.max(1) as f64,
        generator_busy: total.cpu_seconds / total.wall_seconds.max(1e-9),
        corpus_exhausted: shared.exhausted.load(Ordering::Relaxed),
        acked,
        started: shared.started,
        ended,
    })
}

fn thread_main(shared: &Arc<Shared>, connections: usize) -> anyhow::Result<ThreadReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (cpu0, wall0) = (procstat::this_thread(), Instant::now());
    let reports = runtime.block_on(async {
        let local = tokio::task::LocalSet::new();
        let tasks: Vec<_> = (0..connections)
            .map(|_| local.spawn_local(connection_loop(shared.clone())))
            .collect();
        local.run_until(futures_util::future::join_all(tasks)).await
    });
    let mut total = ThreadReport::new();
    for report in reports {
        total.merge(report?);
    }
    total.cpu_seconds = procstat::this_thread() - cpu0;
    total.wall_seconds = wall0.elapsed().as_secs_f64();
    Ok(total)
}

async fn connection_loop(shared: Arc<Shared>) -> ThreadReport {
    let mut report = ThreadReport::new();
    let mut connection = Connection::new(shared.plan.addr);
    let plan = &shared.plan;
    let interval = plan
        .rate
        .map(|r| Duration::from_secs_f64(1.0 / r.max(1) as f64));
    let scheduled_total = plan
        .rate
        .map(|r| (r as f64 * plan.duration.as_secs_f64()) as usize);
    loop {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let scheduled = match (interval, scheduled_total) {
            (Some(every), Some(total)) => {
                if index >= total {
                    break;
                }
                let due = shared.started + every.mul_f64(index as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            _ => {
                if shared.started.elapsed() >= plan.duration {
                    break;
                }
                Instant::now()
            }
        };
        let Some(request) = shared.corpus.requests.get(index) else {
            shared.exhausted.store(true, Ordering::Relaxed);
            break;
        };
        report.sent += 1;
        match connection.send(request).await {
            Ok(answer) => {
                let done = Instant::now();
                let us = done.duration_since(scheduled).as_micros() as u64;
                let _ = report.latency.record(us);
                if let Some(window) = plan.window {
                    // A request due at the very end (float rounding) counts in the last window.
                    let last = (plan.duration.as_secs_f64() / window.as_secs_f64()).ceil() as usize;
                    let i = scheduled.duration_since(shared.started).as_secs_f64()
                        / window.as_secs_f64();
                    let _ = report.window((i as usize).min(last.max(1) - 1)).record(us);
                }
                if answer.status == 200 {
                    if answer.duplicate {
                        report.duplicate += 1;
                    } else {
                        report.accepted += 1;
                    }
                    report.acked.push((index, done));
                    shared.answered.fetch_add(1, Ordering::Relaxed);
                } else {
                    *report.non_2xx.entry(answer.status).or_default() += 1;
                }
            }
            Err(_) => {
                report.transport_errors += 1;
                // A refused connection fails at once: do not spin while the gateway is down.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    report
}
