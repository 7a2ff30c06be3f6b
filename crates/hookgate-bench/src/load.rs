//! Signed load: closed loop (each connection sends the next request when the previous is
//! answered) or open loop (requests scheduled at a fixed rate; latency is measured from the
//! scheduled time, so a stalled gateway shows as latency rather than as a lower rate).

use std::{
    cell::{Cell, RefCell},
    collections::{BTreeMap, HashMap},
    rc::Rc,
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use hookgate_core::{Provider, config::Config};
use serde::Serialize;

use super::{BenchArgs, Percentiles};

/// The gateway side of a run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `closed` or `open`.
    pub mode: String,
    /// Connections.
    pub connections: usize,
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
    /// 200 answers per second of load.
    pub acked_per_sec: f64,
    /// Request (or scheduled) time to answer.
    pub ack_latency_ms: Percentiles,
    /// First 200 answer time per event ID.
    #[serde(skip)]
    pub acked: Rc<RefCell<HashMap<String, Instant>>>,
    /// When the load started.
    #[serde(skip)]
    pub started: Instant,
}

struct Shared {
    provider: Arc<Provider>,
    url: String,
    client: awc::Client,
    prefix: String,
    duplicates: f64,
    body_size: usize,
    next: Cell<u64>,
    sent: Cell<u64>,
    accepted: Cell<u64>,
    duplicate: Cell<u64>,
    transport_errors: Cell<u64>,
    non_2xx: RefCell<BTreeMap<u16, u64>>,
    latency: RefCell<Histogram<u64>>,
    acked: Rc<RefCell<HashMap<String, Instant>>>,
}

/// splitmix64: a cheap, well-mixed hash for choosing duplicates reproducibly.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Shared {
    fn next_id(&self) -> String {
        let n = self.next.get();
        self.next.set(n + 1);
        let roll = (mix(n) >> 11) as f64 / (1u64 << 53) as f64;
        if n > 0 && roll < self.duplicates {
            format!("{}{}", self.prefix, mix(n ^ 0xD1B5) % n)
        } else {
            format!("{}{n}", self.prefix)
        }
    }

    async fn one(&self, scheduled: Instant) {
        let id = self.next_id();
        let body = self
            .provider
            .sample_body(&id, "bench.event", self.body_size);
        let headers = self
            .provider
            .sign(&body, &id, "bench.event", hookgate::unix_now());
        let mut request = self
            .client
            .post(&self.url)
            .insert_header(("content-type", "application/json"));
        for (name, value) in &headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        self.sent.set(self.sent.get() + 1);
        let mut response = match request.send_body(body).await {
            Ok(r) => r,
            Err(_) => {
                self.transport_errors.set(self.transport_errors.get() + 1);
                return;
            }
        };
        let answer = response.body().await.unwrap_or_default();
        let done = Instant::now();
        let _ = self
            .latency
            .borrow_mut()
            .record(done.duration_since(scheduled).as_micros() as u64);
        let status = response.status().as_u16();
        if status == 200 {
            if answer.windows(9).any(|w| w == b"duplicate") {
                self.duplicate.set(self.duplicate.get() + 1);
            } else {
                self.accepted.set(self.accepted.get() + 1);
            }
            self.acked.borrow_mut().entry(id).or_insert(done);
        } else {
            *self.non_2xx.borrow_mut().entry(status).or_default() += 1;
        }
    }
}

/// Drive the load described by `args` and report it. Event IDs are `<prefix><n>`, so a
/// queue shared with other traffic can tell them apart.
pub async fn run(
    config: &Config,
    provider: Arc<Provider>,
    args: &BenchArgs,
    prefix: &str,
) -> anyhow::Result<LoadReport> {
    let base = args.url.clone().unwrap_or_else(|| {
        let port = config.server.listen.rsplit(':').next().unwrap_or("8080");
        format!("http://127.0.0.1:{port}")
    });
    let url = format!(
        "{}/webhooks/{}",
        base.trim_end_matches('/'),
        provider.name()
    );
    let connector = awc::Connector::new().limit(args.connections);
    let client = awc::Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(60))
        .finish();
    let shared = Rc::new(Shared {
        provider,
        url,
        client,
        prefix: prefix.to_owned(),
        duplicates: args.duplicates.clamp(0.0, 1.0),
        body_size: args.body_size,
        next: Cell::new(0),
        sent: Cell::new(0),
        accepted: Cell::new(0),
        duplicate: Cell::new(0),
        transport_errors: Cell::new(0),
        non_2xx: RefCell::default(),
        latency: RefCell::new(Histogram::new(3)?),
        acked: Rc::default(),
    });
    let started = Instant::now();
    let done = Rc::new(Cell::new(false));
    let progress = actix_web::rt::spawn(progress(shared.clone(), started, done.clone()));
    match args.rate {
        None => closed_loop(&shared, args, started).await,
        Some(rate) => open_loop(&shared, args, rate, started).await,
    }
    done.set(true);
    let _ = progress.await;
    let elapsed = started.elapsed().as_secs_f64();
    let latency = shared.latency.borrow();
    Ok(LoadReport {
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        connections: args.connections,
        rate: args.rate,
        sent: shared.sent.get(),
        accepted: shared.accepted.get(),
        duplicate: shared.duplicate.get(),
        non_2xx: shared.non_2xx.borrow().clone(),
        transport_errors: shared.transport_errors.get(),
        acked_per_sec: (shared.accepted.get() + shared.duplicate.get()) as f64 / elapsed,
        ack_latency_ms: Percentiles::from_us(&latency),
        acked: shared.acked.clone(),
        started,
    })
}

async fn closed_loop(shared: &Rc<Shared>, args: &BenchArgs, started: Instant) {
    let workers = (0..args.connections).map(|_| {
        let shared = shared.clone();
        async move {
            while started.elapsed() < args.duration {
                shared.one(Instant::now()).await;
            }
        }
    });
    futures_util::future::join_all(workers).await;
}

async fn open_loop(shared: &Rc<Shared>, args: &BenchArgs, rate: u64, started: Instant) {
    let total = (rate as f64 * args.duration.as_secs_f64()) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut in_flight = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + interval.mul_f64(i as f64);
        actix_web::rt::time::sleep_until(scheduled.into()).await;
        let shared = shared.clone();
        in_flight.push(actix_web::rt::spawn(
            async move { shared.one(scheduled).await },
        ));
    }
    for task in in_flight {
        let _ = task.await;
    }
}

async fn progress(shared: Rc<Shared>, started: Instant, done: Rc<Cell<bool>>) {
    let mut last = 0;
    while !done.get() {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        let ok = shared.accepted.get() + shared.duplicate.get();
        eprint!(
            "\r[{:>4.0}s] sent {:>8}  200 {:>8}  non-2xx {:>6}  {:>7}/s ",
            started.elapsed().as_secs_f64(),
            shared.sent.get(),
            ok,
            shared.non_2xx.borrow().values().sum::<u64>(),
            ok - last
        );
        last = ok;
    }
    eprintln!();
}
