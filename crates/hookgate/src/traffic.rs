//! Recent traffic for the console's overview: webhook answers per provider and outcome in
//! five-minute buckets over the last day, and the ack latency over the same buckets.
//!
//! Prometheus counters only grow, so "the last hour" cannot be read off them; this keeps
//! [`BUCKETS`] time buckets in memory instead (bounded: a bucket holds one counter per
//! provider label and outcome, and both sets are bounded by the config and the error
//! codes). Fed by [`crate::metrics::Metrics::request`]. Like every in-process counter it
//! starts empty at each restart and covers this instance only.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

/// Width of one bucket.
pub const BUCKET_SECS: u64 = 300;
/// Buckets kept: one day.
pub const BUCKETS: usize = 288;

struct Bucket {
    /// Unix time / [`BUCKET_SECS`].
    slot: u64,
    /// Answers by provider, then by outcome: the hot path finds an existing entry without
    /// allocating.
    counts: HashMap<String, HashMap<&'static str, u64>>,
    /// The ack histogram's cumulative (sum, count) when this bucket opened.
    ack_at_open: (f64, u64),
}

/// Answers of one provider in a window, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderWindow {
    /// Outcome (`accepted`, `duplicate`, `handshake` or an error code) to count.
    pub outcomes: BTreeMap<String, u64>,
}

impl ProviderWindow {
    /// Count of one outcome.
    pub fn get(&self, outcome: &str) -> u64 {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    /// Rejected answers by reason (every outcome but accepted, duplicate and handshake).
    pub fn rejected(&self) -> impl Iterator<Item = (&str, u64)> {
        self.outcomes
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "accepted" | "duplicate" | "handshake"))
            .map(|(k, v)| (k.as_str(), *v))
    }
}

/// A window's totals.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Per provider label.
    pub providers: BTreeMap<String, ProviderWindow>,
    /// Mean ack latency of accepted and duplicate answers, all providers, in seconds.
    pub mean_ack_secs: Option<f64>,
    /// Acks the mean is over.
    pub acks: u64,
}

/// The bucket ring. Cheap to clone.
#[derive(Clone, Default)]
pub struct Traffic {
    buckets: Arc<Mutex<VecDeque<Bucket>>>,
}

fn now_slot() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / BUCKET_SECS)
        .unwrap_or_default()
}

impl Traffic {
    /// Count one answer. `ack` reads the ack histogram's cumulative (sum, count), before
    /// this answer's latency is observed; it is called only when a bucket opens.
    pub fn count(&self, provider: &str, outcome: &'static str, ack: impl FnOnce() -> (f64, u64)) {
        let slot = now_slot();
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        if buckets.back().is_none_or(|b| b.slot != slot) {
            if buckets.len() >= BUCKETS {
                buckets.pop_front();
            }
            buckets.push_back(Bucket {
                slot,
                counts: HashMap::new(),
                ack_at_open: ack(),
            });
        }
        if let Some(bucket) = buckets.back_mut() {
            let outcomes = match bucket.counts.get_mut(provider) {
                Some(outcomes) => outcomes,
                None => bucket.counts.entry(provider.to_owned()).or_default(),
            };
            *outcomes.entry(outcome).or_insert(0) += 1;
        }
    }

    /// Totals over the last `secs` seconds (in whole buckets), given the ack histogram's
    /// cumulative (sum, count) now.
    pub fn window(&self, secs: u64, ack_now: (f64, u64)) -> Window {
        let first = now_slot().saturating_sub(secs / BUCKET_SECS - 1);
        let mut out = Window::default();
        let Ok(buckets) = self.buckets.lock() else {
            return out;
        };
        let mut ack_start = None;
        for bucket in buckets.iter().filter(|b| b.slot >= first) {
            ack_start.get_or_insert(bucket.ack_at_open);
            for (provider, outcomes) in &bucket.counts {
                let totals = &mut out.providers.entry(provider.clone()).or_default().outcomes;
                for (outcome, n) in outcomes {
                    *totals.entry((*outcome).to_owned()).or_insert(0) += n;
                }
            }
        }
        if let Some((sum, count)) = ack_start {
            out.acks = ack_now.1.saturating_sub(count);
            out.mean_ack_secs = (out.acks > 0).then(|| (ack_now.0 - sum) / out.acks as f64);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_sums_its_buckets_and_the_ack_mean() {
        let t = Traffic::default();
        t.count("groq", "accepted", || (0.0, 0));
        t.count("groq", "accepted", || (0.01, 1));
        t.count("groq", "invalid_signature", || (0.02, 2));
        t.count("_unknown", "unknown_provider", || (0.02, 2));
        let w = t.window(3600, (0.04, 2));
        let groq = &w.providers["groq"];
        assert_eq!(groq.get("accepted"), 2);
        assert_eq!(
            groq.rejected().collect::<Vec<_>>(),
            vec![("invalid_signature", 1)]
        );
        assert_eq!(w.acks, 2);
        assert!((w.mean_ack_secs.unwrap_or_default() - 0.02).abs() < 1e-9);
    }

    #[test]
    fn the_ring_keeps_one_day() {
        let t = Traffic::default();
        {
            let mut b = t.buckets.lock().unwrap_or_else(|e| e.into_inner());
            for slot in 0..(BUCKETS as u64 + 10) {
                b.push_back(Bucket {
                    slot,
                    counts: HashMap::new(),
                    ack_at_open: (0.0, 0),
                });
                if b.len() > BUCKETS {
                    b.pop_front();
                }
            }
        }
        t.count("p", "accepted", || (0.0, 0));
        assert!(t.buckets.lock().map(|b| b.len()).unwrap_or(0) <= BUCKETS);
    }
}
