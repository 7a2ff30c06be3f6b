//! The Prometheus registry and every series hookgate exports on `/metrics`, and the
//! windowed [`Traffic`] counters the console's overview reads (fed by the same call).

use std::sync::{Arc, atomic::AtomicU64};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::traffic::Traffic;

/// Labels of `hookgate_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Provider name, or `_unknown` for paths that name no provider.
    pub provider: String,
    /// `accepted`, `duplicate` or the error code of the answer.
    pub outcome: &'static str,
}

/// Labels of the per-table retention series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    /// `event_keys`, `event_records`, `event_payloads` (or `outbox`, for storage bytes).
    pub table: String,
}

/// All series. Cheap to clone (every metric is an `Arc` inside).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Webhook requests by provider and outcome.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds from the request's arrival to its answer (accepted and duplicate).
    pub ack_latency: Histogram,
    /// Events per group commit.
    pub batch_size: Histogram,
    /// Seconds per group commit (insert + commit).
    pub commit_latency: Histogram,
    /// Rows waiting for the relay (last observed).
    pub outbox_pending: Gauge,
    /// Publishes confirmed by the broker (Ack).
    pub confirms: Counter,
    /// Publishes the broker nacked.
    pub nacks: Counter,
    /// Publishes returned as unroutable (no queue bound).
    pub returns: Counter,
    /// Broker (re)connections made by the relay.
    pub reconnects: Counter,
    /// Seconds from receipt to broker confirm.
    pub relay_lag: Histogram,
    /// Fetched key material (SNS, Pub/Sub, PayPal): fetches, cache hits, failures.
    pub keys: crate::keys::KeyMetrics,
    /// Answers per provider and outcome over the last day, for the console.
    pub traffic: Traffic,
    /// Age of the oldest unconfirmed event, seconds (last observed).
    pub backlog_seconds: Gauge<f64, AtomicU64>,
    /// Committed batches the relay could not take in memory (not connected, or behind):
    /// their events are published by the outbox sweep instead.
    pub handoff_skipped: Counter,
    /// Events the recovery sweep claimed from the outbox.
    pub swept: Counter,
    /// Outbox rows whose delete after a confirm failed (republished after their lease).
    pub delete_failures: Counter,
    /// Partitions dropped by retention, by table.
    pub retention_partitions_dropped: Family<TableLabels, Counter>,
    /// Rows expired with them (estimated from the partitions' statistics), by table.
    pub retention_rows_expired: Family<TableLabels, Counter>,
    /// Seconds per retention pass (creating ahead and dropping).
    pub retention_pass: Histogram,
    /// Age of the oldest stored event, seconds (after the last pass).
    pub retention_oldest_age: Gauge,
    /// Expired partitions kept because they hold events the broker has not taken yet.
    pub retention_held: Gauge,
    /// Retention passes that failed (retried).
    pub retention_errors: Counter,
    /// Bytes on disk per table, all partitions (after the last retention pass).
    pub storage_bytes: Family<TableLabels, Gauge>,
    /// Times a retention pass vacuumed the outbox.
    pub outbox_vacuums: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Webhook requests by provider and outcome",
            requests.clone(),
        );
        let seconds = || Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let ack_latency = seconds();
        registry.register(
            "ack_seconds",
            "Request arrival to answer",
            ack_latency.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "writer_batch_size",
            "Events per group commit",
            batch_size.clone(),
        );
        let commit_latency = seconds();
        registry.register(
            "writer_commit_seconds",
            "Group commit duration",
            commit_latency.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Events waiting for the relay",
            outbox_pending.clone(),
        );
        let confirms = Counter::default();
        registry.register(
            "relay_confirms",
            "Publishes confirmed by the broker",
            confirms.clone(),
        );
        let nacks = Counter::default();
        registry.register(
            "relay_nacks",
            "Publishes nacked by the broker",
            nacks.clone(),
        );
        let returns = Counter::default();
        registry.register(
            "relay_returns",
            "Publishes returned as unroutable",
            returns.clone(),
        );
        let reconnects = Counter::default();
        registry.register(
            "relay_reconnects",
            "Broker connections made",
            reconnects.clone(),
        );
        let relay_lag = seconds();
        registry.register(
            "relay_lag_seconds",
            "Receipt to broker confirm",
            relay_lag.clone(),
        );
        let keys = crate::keys::KeyMetrics::register(&mut registry);
        let backlog_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "relay_backlog_seconds",
            "Age of the oldest event not yet confirmed by the broker",
            backlog_seconds.clone(),
        );
        let handoff_skipped = Counter::default();
        registry.register(
            "relay_handoff_skipped",
            "Committed batches left to the outbox sweep (relay disconnected or behind)",
            handoff_skipped.clone(),
        );
        let swept = Counter::default();
        registry.register(
            "relay_swept",
            "Events claimed from the outbox by the recovery sweep",
            swept.clone(),
        );
        let delete_failures = Counter::default();
        registry.register(
            "relay_delete_failures",
            "Confirmed events whose outbox row could not be deleted (republished later)",
            delete_failures.clone(),
        );
        let retention_partitions_dropped = Family::<TableLabels, Counter>::default();
        registry.register(
            "retention_partitions_dropped",
            "Partitions dropped by retention",
            retention_partitions_dropped.clone(),
        );
        let retention_rows_expired = Family::<TableLabels, Counter>::default();
        registry.register(
            "retention_rows_expired",
            "Rows expired with dropped partitions (estimated)",
            retention_rows_expired.clone(),
        );
        let retention_pass = seconds();
        registry.register(
            "retention_pass_seconds",
            "Retention pass duration",
            retention_pass.clone(),
        );
        let retention_oldest_age = Gauge::default();
        registry.register(
            "retention_oldest_event_age_seconds",
            "Age of the oldest stored event",
            retention_oldest_age.clone(),
        );
        let retention_held = Gauge::default();
        registry.register(
            "retention_partitions_held",
            "Expired partitions kept for unpublished events",
            retention_held.clone(),
        );
        let retention_errors = Counter::default();
        registry.register(
            "retention_errors",
            "Failed retention passes",
            retention_errors.clone(),
        );
        let storage_bytes = Family::<TableLabels, Gauge>::default();
        registry.register(
            "storage_bytes",
            "Bytes on disk per table, indexes and all partitions included",
            storage_bytes.clone(),
        );
        let outbox_vacuums = Counter::default();
        registry.register(
            "outbox_vacuums",
            "Times a retention pass vacuumed the outbox (dead rows over the threshold)",
            outbox_vacuums.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            ack_latency,
            batch_size,
            commit_latency,
            outbox_pending,
            confirms,
            nacks,
            returns,
            reconnects,
            relay_lag,
            keys,
            traffic: Traffic::default(),
            backlog_seconds,
            handoff_skipped,
            swept,
            delete_failures,
            retention_partitions_dropped,
            retention_rows_expired,
            retention_pass,
            retention_oldest_age,
            retention_held,
            retention_errors,
            storage_bytes,
            outbox_vacuums,
        }
    }

    /// Count one answered webhook request.
    pub fn request(&self, provider: &str, outcome: &'static str) {
        self.requests
            .get_or_create(&RequestLabels {
                provider: provider.into(),
                outcome,
            })
            .inc();
        self.traffic.count(provider, outcome, || self.ack_totals());
    }

    /// The ack histogram's cumulative (sum of seconds, count).
    pub fn ack_totals(&self) -> (f64, u64) {
        (self.ack_latency.sum(), self.ack_latency.count())
    }

    /// Count `partitions` of `table` dropped with about `rows` rows.
    pub fn partitions_dropped(&self, table: &str, partitions: u32, rows: u64) {
        let labels = TableLabels {
            table: table.into(),
        };
        self.retention_partitions_dropped
            .get_or_create(&labels)
            .inc_by(u64::from(partitions));
        self.retention_rows_expired
            .get_or_create(&labels)
            .inc_by(rows);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
