//! Key material fetched for the `aws-sns`, `google-pubsub` and `paypal` providers (SPEC
//! §3.5): the server half of verification with fetched keys. The core names the key a
//! request needs ([`hookgate_core::Provider::key_ref`], a URL that already passed the
//! provider's `key_hosts` rule); [`KeyFetcher`] gets it, from its cache or with one GET;
//! the core verifies with it.
//!
//! - [`client`](self): the HTTP client (rustls, timeouts, size limit, no redirects), one
//!   per worker thread;
//! - `cache`: by URL, bounded, with a TTL (`Cache-Control: max-age`, clamped); one fetch
//!   per URL at a time, shared by every concurrent miss; failures remembered for a
//!   moment; a JWKS refetched once, rate-limited, for an unknown key ID (rotation).
//!
//! A fetch failure is a [`FetchError`], which the ingress answers with 503 and
//! `Retry-After`: the provider retries, and nothing unverified is acknowledged. The
//! fetcher also performs the GET that confirms an SNS subscription
//! ([`KeyFetcher::confirm`]), under the same client rules. Metrics: fetches, cache hits,
//! failures and confirmations.

mod cache;
mod client;

use std::sync::Arc;

use hookgate_core::fetched::{FetchedKeys, KeyError, KeyRef, KeySet};
use prometheus_client::{metrics::counter::Counter, registry::Registry};

pub use cache::CacheSettings;
use cache::{Cache, Lookup};

/// Why key material could not be had. Every variant answers 503 + `Retry-After`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP client could not be built (TLS setup).
    #[error("key client unavailable: {0}")]
    Client(String),
    /// Connecting or sending failed.
    #[error("key fetch failed: {0}")]
    Connect(String),
    /// No answer within the deadline.
    #[error("key fetch timed out")]
    Timeout,
    /// A redirect, which is never followed.
    #[error("key URL answered a redirect ({0}); redirects are not followed")]
    Redirect(u16),
    /// Any status but 200.
    #[error("key URL answered {0}")]
    Status(u16),
    /// The body could not be read or was over the size limit.
    #[error("key response unreadable: {0}")]
    Body(String),
    /// The body is not the key material the URL should serve.
    #[error("key material unusable: {0}")]
    Unusable(#[from] KeyError),
    /// The cache is full of fetches in flight.
    #[error("too many key fetches in flight")]
    Busy,
}

/// The fetcher's Prometheus series.
#[derive(Clone, Default)]
pub struct KeyMetrics {
    /// Fetches made (cache misses, refetches).
    pub fetches: Counter,
    /// Lookups answered from the cache, or from another request's fetch.
    pub hits: Counter,
    /// Fetches (and subscription confirmations) that failed.
    pub failures: Counter,
    /// SNS subscriptions confirmed.
    pub confirmations: Counter,
}

impl KeyMetrics {
    /// Create the series and register them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "key_fetches",
            "Key material fetched (certificates, JWKS)",
            metrics.fetches.clone(),
        );
        registry.register(
            "key_cache_hits",
            "Key lookups answered from the cache or a shared fetch",
            metrics.hits.clone(),
        );
        registry.register(
            "key_fetch_failures",
            "Key fetches and subscription confirmations that failed",
            metrics.failures.clone(),
        );
        registry.register(
            "sns_subscriptions_confirmed",
            "SNS subscriptions confirmed by a GET of their SubscribeURL",
            metrics.confirmations.clone(),
        );
        metrics
    }
}

/// The one key-fetching component; cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct KeyFetcher {
    cache: Arc<Cache>,
    metrics: KeyMetrics,
}

impl KeyFetcher {
    /// A fetcher with the default cache settings.
    pub fn new(metrics: KeyMetrics) -> Self {
        Self::with_settings(CacheSettings::default(), metrics)
    }

    /// A fetcher with `settings`.
    pub fn with_settings(settings: CacheSettings, metrics: KeyMetrics) -> Self {
        Self {
            cache: Arc::new(Cache::new(settings)),
            metrics,
        }
    }

    /// The keys `key_ref` names: cached, being fetched by another request, or fetched
    /// now.
    #[tracing::instrument(name = "keys", skip_all, fields(url = %key_ref.url()))]
    pub async fn keys(&self, key_ref: &KeyRef) -> Result<FetchedKeys, FetchError> {
        loop {
            match self.cache.lookup(key_ref) {
                Lookup::Hit(set) => {
                    self.metrics.hits.inc();
                    return Ok(FetchedKeys::new(key_ref.url(), set));
                }
                Lookup::Failed(error) => return Err(error),
                Lookup::Wait(mut result) => {
                    // The leader's result, or (it went away) try again: one waiter leads.
                    if let Ok(outcome) = result.wait_for(Option::is_some).await
                        && let Some(outcome) = outcome.clone()
                    {
                        self.metrics.hits.inc();
                        return outcome.map(|set| FetchedKeys::new(key_ref.url(), set));
                    }
                }
                Lookup::Lead(leader) => {
                    self.metrics.fetches.inc();
                    let outcome = fetch(key_ref).await;
                    if let Err(e) = &outcome {
                        self.metrics.failures.inc();
                        tracing::warn!(error = %e, "key fetch failed");
                    } else {
                        tracing::info!("key material fetched");
                    }
                    return leader
                        .finish(outcome)
                        .map(|set| FetchedKeys::new(key_ref.url(), set));
                }
            }
        }
    }

    /// Confirm an SNS subscription: GET its `SubscribeURL` (already checked by the core).
    /// Not cached: each confirmation message is one GET.
    #[tracing::instrument(name = "sns_confirm", skip_all)]
    pub async fn confirm(&self, url: &str) -> Result<(), FetchError> {
        match client::get(url).await {
            Ok(_) => {
                self.metrics.confirmations.inc();
                Ok(())
            }
            Err(e) => {
                self.metrics.failures.inc();
                tracing::warn!(error = %e, "SNS subscription confirmation failed");
                Err(e)
            }
        }
    }
}

async fn fetch(key_ref: &KeyRef) -> Result<(Arc<KeySet>, Option<std::time::Duration>), FetchError> {
    let fetched = client::get(key_ref.url()).await?;
    let set = KeySet::parse(key_ref.kind(), &fetched.body)?;
    Ok((Arc::new(set), fetched.max_age))
}
