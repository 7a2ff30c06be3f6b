//! The HTTP surface: routes, shared state, and the handlers in the submodules.

pub mod admin;
mod error;
mod health;
mod ingest;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use actix_web::{HttpResponse, web};
use hookgate_core::{ProviderRegistry, config::ServerConfig, ratelimit::TokenBucket};
use secrecy::SecretString;
use sqlx::PgPool;

pub use error::IngestError;

use crate::{metrics::Metrics, relay::BrokerState, reload::LiveConfig, writer::BatchWriter};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Providers, secrets and limits (hot-reloadable).
    pub live: LiveConfig,
    /// Group-commit writer.
    pub writer: BatchWriter,
    /// Database pool (health checks).
    pub pool: PgPool,
    /// Relay's broker connection state (health).
    pub broker: BrokerState,
    /// Prometheus series.
    pub metrics: Metrics,
    /// Admin bearer token; `None` keeps `/admin/*` off.
    pub admin_token: Option<Arc<SecretString>>,
}

/// Abuse limits checked before a request body is read.
pub struct Limits {
    /// Most request headers.
    pub max_headers: usize,
    /// Largest total size of header names and values.
    pub max_header_bytes: usize,
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
            buckets,
            epoch,
        }
    }
}

/// Register every route on an actix `App`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/{provider}")
            .route(web::post().to(ingest::ingest))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/health/live").route(web::get().to(health::live)))
    .service(web::resource("/health/ready").route(web::get().to(health::ready)))
    .service(web::resource("/metrics").route(web::get().to(health::metrics)))
    .service(
        web::scope("/admin")
            .route("/events", web::get().to(admin::list))
            .route("/events/{provider}/{event_id}", web::get().to(admin::get))
            .route("/replay", web::post().to(admin::replay))
            .route("/reload", web::post().to(admin::reload)),
    )
    .default_service(web::to(not_found));
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .json(serde_json::json!({"error": "method_not_allowed"}))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"error": "not_found"}))
}
