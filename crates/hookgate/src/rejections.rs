//! Recent rejected webhook requests, for the operator console: a bounded in-memory ring,
//! one per process.
//!
//! A record holds the provider, time, reason code, peer address, the header **names** the
//! request carried (never a value), and the timestamp skew when the request had a
//! parseable timestamp. Never a body, a signature or a secret.
//!
//! Recording must not let an unauthenticated sender make the gateway write to the database
//! or grow memory: the ring holds at most [`CAPACITY`] records, each provider (and all
//! unknown provider paths together) at most [`PER_PROVIDER`] of them, so one noisy sender
//! cannot evict everything else; names and header lists are truncated. Every instance has
//! its own ring, so each shows its own recent rejections, and a restart empties it.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use actix_web::{HttpRequest, ResponseError};
use hookgate_core::config::{Config, SchemeKind};

use crate::ingress::IngestError;

/// Records kept per process.
pub const CAPACITY: usize = 1000;
/// Records kept per provider (unknown provider paths share one allowance).
pub const PER_PROVIDER: usize = 250;
/// Header names kept per record.
const MAX_HEADER_NAMES: usize = 32;
/// Bytes kept of a provider path segment or header name.
const MAX_NAME: usize = 64;
/// The bucket that every path naming no configured provider shares.
const UNKNOWN: &str = "_unknown";

/// One rejected request.
#[derive(Debug, Clone)]
pub struct RejectionRecord {
    /// When it was answered.
    pub at: SystemTime,
    /// The provider path segment (truncated); unknown providers too.
    pub provider: String,
    /// Whether the provider is configured.
    pub known_provider: bool,
    /// The answer's error code (`invalid_signature`, `timestamp_out_of_tolerance`, ...).
    pub code: &'static str,
    /// The answer's HTTP status.
    pub status: u16,
    /// The TCP peer (a proxy's address when behind one).
    pub peer: Option<IpAddr>,
    /// Header names present, lowercase, in request order (truncated to 32).
    pub header_names: Vec<String>,
    /// Seconds the request's timestamp was ahead (+) or behind (-) this gateway's clock,
    /// when it carried one that parses as unix seconds.
    pub skew_secs: Option<i64>,
}

/// Where a provider's signed timestamp is, to compute the skew.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimestampSource {
    /// These headers, the first present wins.
    Headers(Vec<String>),
    /// Stripe's `t=` inside `Stripe-Signature`.
    Stripe,
}

struct Ring {
    records: VecDeque<RejectionRecord>,
    per_bucket: HashMap<String, usize>,
}

/// The per-process rejection ring. Cheap to clone.
#[derive(Clone)]
pub struct RejectionLog {
    ring: Arc<Mutex<Ring>>,
    timestamps: Arc<HashMap<String, TimestampSource>>,
}

impl Default for RejectionLog {
    fn default() -> Self {
        Self::with_sources(HashMap::new())
    }
}

impl RejectionLog {
    /// An empty ring that knows where each configured provider's timestamp is. Providers
    /// added later by a hot reload fall back to the first header named `*timestamp`.
    pub fn new(config: &Config) -> Self {
        let sources = config
            .providers
            .iter()
            .filter_map(|(name, cfg)| {
                let preset = cfg
                    .preset
                    .as_deref()
                    .and_then(hookgate_core::preset::lookup);
                let scheme = cfg
                    .scheme
                    .or(preset.as_ref().and_then(|p| p.scheme))
                    .unwrap_or(SchemeKind::Hmac);
                let headers = cfg
                    .timestamp_header
                    .clone()
                    .or(preset.and_then(|p| p.timestamp_header));
                let source = match (scheme, headers) {
                    (SchemeKind::Stripe, _) => TimestampSource::Stripe,
                    (_, Some(h)) => TimestampSource::Headers(
                        h.to_vec().iter().map(|n| n.to_ascii_lowercase()).collect(),
                    ),
                    (_, None) => return None,
                };
                Some((name.clone(), source))
            })
            .collect();
        Self::with_sources(sources)
    }

    fn with_sources(sources: HashMap<String, TimestampSource>) -> Self {
        Self {
            ring: Arc::new(Mutex::new(Ring {
                records: VecDeque::with_capacity(CAPACITY),
                per_bucket: HashMap::new(),
            })),
            timestamps: Arc::new(sources),
        }
    }

    /// Record one rejected request to `/webhooks/{provider}`. `label` is the metrics label
    /// (`_unknown` for a path that names no configured provider).
    pub fn record(&self, request: &HttpRequest, provider: &str, label: &str, error: &IngestError) {
        let known = label != UNKNOWN;
        let headers = request.headers();
        let header_names = headers
            .keys()
            .take(MAX_HEADER_NAMES)
            .map(|n| truncated(n.as_str()))
            .collect();
        let now = SystemTime::now();
        let skew_secs = known
            .then(|| self.timestamp(provider, request))
            .flatten()
            .map(|ts| ts.saturating_sub(unix_secs(now)));
        self.push(RejectionRecord {
            at: now,
            provider: truncated(provider),
            known_provider: known,
            code: error.code(),
            status: error.status_code().as_u16(),
            peer: request.peer_addr().map(|a| a.ip()),
            header_names,
            skew_secs,
        });
    }

    /// The request's timestamp in unix seconds, if it has one that parses.
    fn timestamp(&self, provider: &str, request: &HttpRequest) -> Option<i64> {
        let headers = request.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match self.timestamps.get(provider) {
            Some(TimestampSource::Stripe) => text("stripe-signature").and_then(stripe_t),
            Some(TimestampSource::Headers(names)) => {
                names.iter().find_map(|n| text(n)).and_then(parse_unix_secs)
            }
            None => headers
                .iter()
                .find(|(n, _)| n.as_str().ends_with("timestamp"))
                .and_then(|(_, v)| v.to_str().ok())
                .and_then(parse_unix_secs),
        }
    }

    /// Add a record, evicting the provider's oldest when it is at its allowance, else the
    /// oldest overall when the ring is full.
    pub fn push(&self, record: RejectionRecord) {
        let bucket = if record.known_provider {
            record.provider.clone()
        } else {
            UNKNOWN.to_owned()
        };
        let Ok(mut ring) = self.ring.lock() else {
            return;
        };
        let ring = &mut *ring;
        let held = ring.per_bucket.get(&bucket).copied().unwrap_or(0);
        if held >= PER_PROVIDER {
            if let Some(pos) = ring
                .records
                .iter()
                .position(|r| bucket_of(r) == bucket.as_str())
            {
                ring.records.remove(pos);
            }
        } else {
            if ring.records.len() >= CAPACITY
                && let Some(oldest) = ring.records.pop_front()
            {
                let key = bucket_of(&oldest).to_owned();
                if let Some(n) = ring.per_bucket.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        ring.per_bucket.remove(&key);
                    }
                }
            }
            *ring.per_bucket.entry(bucket).or_insert(0) += 1;
        }
        ring.records.push_back(record);
    }

    /// The newest `limit` records matching `keep`, newest first.
    pub fn recent(
        &self,
        limit: usize,
        keep: impl Fn(&RejectionRecord) -> bool,
    ) -> Vec<RejectionRecord> {
        self.ring
            .lock()
            .map(|ring| {
                ring.records
                    .iter()
                    .rev()
                    .filter(|r| keep(r))
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records held now.
    pub fn len(&self) -> usize {
        self.ring.lock().map(|r| r.records.len()).unwrap_or(0)
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn bucket_of(record: &RejectionRecord) -> &str {
    if record.known_provider {
        &record.provider
    } else {
        UNKNOWN
    }
}

fn truncated(s: &str) -> String {
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Unix seconds as the schemes send them: an ASCII integer, surrounding spaces allowed.
fn parse_unix_secs(text: &str) -> Option<i64> {
    let t = text.trim();
    (!t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// `t=<secs>` from a `Stripe-Signature` value.
fn stripe_t(value: &str) -> Option<i64> {
    value
        .split(',')
        .find_map(|part| part.trim().strip_prefix("t="))
        .and_then(parse_unix_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(provider: &str, known: bool) -> RejectionRecord {
        RejectionRecord {
            at: SystemTime::now(),
            provider: provider.into(),
            known_provider: known,
            code: "invalid_signature",
            status: 401,
            peer: None,
            header_names: vec![],
            skew_secs: None,
        }
    }

    #[test]
    fn the_ring_is_bounded_overall() {
        let log = RejectionLog::default();
        for i in 0..(CAPACITY * 3) {
            log.push(record(&format!("p{}", i % 10), true));
        }
        assert_eq!(log.len(), CAPACITY);
    }

    #[test]
    fn a_noisy_provider_cannot_evict_the_others() {
        let log = RejectionLog::default();
        for _ in 0..10 {
            log.push(record("quiet", true));
        }
        for i in 0..(CAPACITY * 5) {
            log.push(record(&format!("noise-{i}"), false));
        }
        for _ in 0..(CAPACITY * 5) {
            log.push(record("loud", true));
        }
        assert_eq!(log.recent(CAPACITY, |r| r.provider == "quiet").len(), 10);
        assert_eq!(
            log.recent(CAPACITY, |r| !r.known_provider).len(),
            PER_PROVIDER
        );
        assert_eq!(
            log.recent(CAPACITY, |r| r.provider == "loud").len(),
            PER_PROVIDER
        );
        assert_eq!(log.len(), 10 + 2 * PER_PROVIDER);
    }

    #[test]
    fn recent_is_newest_first() {
        let log = RejectionLog::default();
        log.push(record("a", true));
        log.push(record("b", true));
        let got: Vec<_> = log
            .recent(10, |_| true)
            .into_iter()
            .map(|r| r.provider)
            .collect();
        assert_eq!(got, vec!["b", "a"]);
    }

    #[test]
    fn timestamps_parse_only_as_unix_seconds() {
        assert_eq!(parse_unix_secs(" 1700000000 "), Some(1_700_000_000));
        assert_eq!(parse_unix_secs("-5"), None);
        assert_eq!(parse_unix_secs("12.5"), None);
        assert_eq!(parse_unix_secs(""), None);
        assert_eq!(parse_unix_secs("99999999999999999999"), None);
        assert_eq!(stripe_t("t=1700000000,v1=abc"), Some(1_700_000_000));
        assert_eq!(stripe_t("v1=abc"), None);
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let long = "é".repeat(100);
        let cut = truncated(&long);
        assert!(cut.len() <= MAX_NAME);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
