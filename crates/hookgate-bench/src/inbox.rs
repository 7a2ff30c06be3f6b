//! The bench's own (durable) queue: bound to the exchange before the load starts, it records when
//! each event of this run arrives, so the end of the run can say what was delivered while
//! the load ran and how long the rest took. It runs on the calling (main) thread, never on
//! the load threads.

use std::{
    cell::RefCell,
    collections::HashMap,
    rc::Rc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use hookgate_core::config::AmqpConfig;
use lapin::{
    Connection,
    options::{QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::{AMQPValue, FieldTable},
};
use serde::Serialize;

use super::{Percentiles, load::LoadReport};

/// Arrivals by event number: first arrival time and how many copies arrived.
pub type Arrivals = Rc<RefCell<HashMap<u64, (Instant, u32)>>>;

/// A consumer on an exclusive queue bound with `#`.
pub struct Inbox {
    connection: Connection,
    queue: String,
    arrivals: Arrivals,
    /// Event IDs of this run start with this.
    pub prefix: String,
}

/// What arrived.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryReport {
    /// Distinct events answered 200.
    pub expected: usize,
    /// Distinct events of this run delivered.
    pub delivered: usize,
    /// Answered 200 but never delivered (must be 0).
    pub missing: usize,
    /// Extra copies delivered (at-least-once; expected 0 in normal operation).
    pub duplicated: u64,
    /// Distinct events of this run in the queue when the load stopped.
    pub delivered_during_load: usize,
    /// End to end: events in the queue when the load stopped, per second of load.
    pub end_to_end_per_sec: f64,
    /// Rows in the outbox when the load stopped (`None`: database not reachable).
    pub outbox_depth_at_end: Option<i64>,
    /// From the end of the load to the last acknowledged event's arrival (`None` when
    /// something is missing).
    pub drain_seconds: Option<f64>,
    /// From the 200 answer to arrival in the queue.
    pub ack_to_delivery_ms: Percentiles,
}

/// Queue arguments: delete the queue once unused for `after`.
fn expires_unused(after: Duration) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-expires".into(),
        AMQPValue::LongInt(after.as_millis() as i32),
    );
    args
}

impl Inbox {
    /// Declare the exchange (as the gateway does), bind a fresh queue, consume the events
    /// whose ID starts with `prefix` (then a decimal event number).
    ///
    /// The queue is durable, like the raw ceiling's and the one a production consumer
    /// would use: with a transient queue the broker skips the disk for the gateway's
    /// messages but not for the ceiling's, and the ratio flatters the gateway. It expires
    /// a minute after the bench stops using it (`x-expires`), should the bench die before
    /// [`Inbox::delete`].
    pub async fn bind(amqp: &AmqpConfig, prefix: &str) -> anyhow::Result<Self> {
        let connection = hookgate::broker::connect(&amqp.url).await?;
        let channel = connection.create_channel().await?;
        crate::declare_topic(&channel, &amqp.exchange).await?;
        let prefix = prefix.to_owned();
        let queue = format!("hookgate.bench.{prefix}");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                expires_unused(Duration::from_secs(60)),
            )
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                amqp.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = crate::consume(&channel, &queue, "hookgate-bench").await?;
        let arrivals: Arrivals = Rc::default();
        let (seen, prefix_) = (arrivals.clone(), prefix.clone());
        actix_web::rt::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let now = Instant::now();
                let number = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .and_then(|id| id.as_str().strip_prefix(prefix_.as_str())?.parse().ok());
                if let Some(number) = number {
                    seen.borrow_mut()
                        .entry(number)
                        .and_modify(|e| e.1 += 1)
                        .or_insert((now, 1));
                }
            }
        });
        Ok(Self {
            connection,
            queue,
            arrivals,
            prefix,
        })
    }

    /// Delete the queue (after [`Inbox::settle`]) and close the connection.
    pub async fn delete(self) {
        if let Ok(channel) = self.connection.create_channel().await {
            let _ = channel
                .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = self.connection.close(200, "bench done".into()).await;
    }

    /// Distinct events of this run that have arrived so far.
    pub fn delivered(&self) -> usize {
        self.arrivals.borrow().len()
    }

    /// Ack -> delivered latency per `window` of the load, by the time of the 200 answer,
    /// in at most `count` windows (a later answer counts in the last one). For soaks; call
    /// after [`Inbox::settle`]. Events that never arrived are left out (`settle` counts
    /// them as missing).
    pub fn latency_by_window(
        &self,
        load: &LoadReport,
        window: Duration,
        count: usize,
    ) -> Vec<Percentiles> {
        let arrivals = self.arrivals.borrow();
        let mut windows: Vec<Histogram<u64>> = Vec::new();
        for (id, acked_at) in &load.acked {
            let Some((at, _)) = arrivals.get(id) else {
                continue;
            };
            let since = acked_at
                .saturating_duration_since(load.started)
                .as_secs_f64();
            let i = ((since / window.as_secs_f64()) as usize).min(count.max(1) - 1);
            if windows.len() <= i {
                windows.resize_with(i + 1, || Histogram::new(3).expect("histogram"));
            }
            let us = at.saturating_duration_since(*acked_at).as_micros() as u64;
            let _ = windows[i].record(us.max(1));
        }
        windows.iter().map(Percentiles::from_us).collect()
    }

    /// Wait until every acknowledged event arrived (or `timeout` without progress), then
    /// report. `outbox_depth` is what the database held when the load stopped.
    pub async fn settle(
        &self,
        load: &LoadReport,
        timeout: Duration,
        outbox_depth: Option<i64>,
    ) -> DeliveryReport {
        let acked = &load.acked;
        let mut last_count = 0;
        let mut last_progress = Instant::now();
        loop {
            let count = self.arrivals.borrow().len();
            if count >= acked.len() && {
                let arrivals = self.arrivals.borrow();
                acked.keys().all(|id| arrivals.contains_key(id))
            } {
                break;
            }
            if count != last_count {
                last_count = count;
                last_progress = Instant::now();
            } else if last_progress.elapsed() > timeout {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let arrivals = self.arrivals.borrow();
        let mut latency = Histogram::<u64>::new(3).expect("histogram");
        let mut last_arrival = load.ended;
        let mut missing = 0;
        for (id, acked_at) in acked.iter() {
            match arrivals.get(id) {
                Some((at, _)) => {
                    let us = at.saturating_duration_since(*acked_at).as_micros() as u64;
                    let _ = latency.record(us.max(1));
                    last_arrival = last_arrival.max(*at);
                }
                None => missing += 1,
            }
        }
        let delivered = arrivals.len();
        let duplicated = arrivals.values().map(|(_, n)| u64::from(n - 1)).sum();
        let during = arrivals
            .values()
            .filter(|(at, _)| *at <= load.ended)
            .count();
        DeliveryReport {
            expected: acked.len(),
            delivered,
            missing,
            duplicated,
            delivered_during_load: during,
            end_to_end_per_sec: during as f64 / load.seconds,
            outbox_depth_at_end: outbox_depth,
            drain_seconds: (missing == 0)
                .then(|| last_arrival.duration_since(load.ended).as_secs_f64()),
            ack_to_delivery_ms: Percentiles::from_us(&latency),
        }
    }
}
