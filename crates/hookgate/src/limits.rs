//! Abuse limits: header count and size (431) and each provider's token-bucket rate limit
//! (429), checked before a request body is read, and the deadline for the body itself. Built from the config and swapped whole
//! on reload (see [`crate::live`]).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::http::header::HeaderMap;
use hookgate_core::{ProviderRegistry, config::ServerConfig, ratelimit::TokenBucket};

/// Why a request was refused before its body was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// More headers, or more header bytes, than allowed.
    Headers,
    /// The provider's rate limit is exhausted; retry after this long.
    Rate(Duration),
}

/// The limits of one config snapshot.
pub struct Limits {
    /// Most request headers.
    pub max_headers: usize,
    /// Largest total size of header names and values.
    pub max_header_bytes: usize,
    /// Longest wait for a request body after its head.
    pub body_timeout: Duration,
    /// Token buckets of the providers that have a rate limit.
    pub buckets: HashMap<String, Mutex<TokenBucket>>,
    /// The buckets' monotonic clock starts here.
    pub epoch: Instant,
}

impl Limits {
    /// Limits from `[server]` and each provider's `rate_limit`.
    pub fn new(server: &ServerConfig, registry: &ProviderRegistry) -> Self {
        let epoch = Instant::now();
        let buckets = registry
            .iter()
            .filter_map(|p| {
                let (rate, burst) = p.rate_limit()?;
                let bucket = TokenBucket::new(rate, burst, epoch.elapsed());
                Some((p.name().to_string(), Mutex::new(bucket)))
            })
            .collect();
        Self {
            max_headers: server.max_headers,
            max_header_bytes: usize::try_from(server.max_header_bytes.as_u64())
                .unwrap_or(usize::MAX),
            body_timeout: server.body_timeout,
            buckets,
            epoch,
        }
    }

    /// Header count and size, then `provider`'s rate limit (which takes a token).
    pub fn check(&self, headers: &HeaderMap, provider: &str) -> Result<(), Exceeded> {
        let bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        if headers.len() > self.max_headers || bytes > self.max_header_bytes {
            return Err(Exceeded::Headers);
        }
        if let Some(bucket) = self.buckets.get(provider) {
            let now = self.epoch.elapsed();
            let taken = bucket.lock().map(|mut b| b.try_take(now)).unwrap_or(Ok(()));
            taken.map_err(Exceeded::Rate)?;
        }
        Ok(())
    }
}
