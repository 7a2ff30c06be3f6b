//! The HTTP surface: routes, shared state, and the handlers in the submodules.

pub mod admin;
mod error;
mod health;
mod ingest;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use hookgate_core::ProviderRegistry;
use secrecy::SecretString;
use sqlx::PgPool;

pub use error::IngestError;

use crate::{metrics::Metrics, relay::BrokerState, writer::BatchWriter};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Providers by path segment.
    pub registry: Arc<ProviderRegistry>,
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
            .route("/replay", web::post().to(admin::replay)),
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
