//! `/health/live`, `/health/ready` and `/metrics`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{ingress::RETRY_AFTER_SECS, state::AppState, store};

/// 200 while the process runs.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database answers, else 503; reports the broker's state and the backlog:
/// the outbox depth and the age of the oldest event whose row is still there, read fresh
/// (the relay's monitor refreshes the same two figures as gauges every second; this
/// handler leaves the gauges to it).
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let broker = if state.broker.is_up() { "ok" } else { "down" };
    match store::outbox::backlog(&state.pool).await {
        Ok((pending, age)) => HttpResponse::Ok().json(json!({
            "status": "ok", "database": "ok", "broker": broker, "outbox_pending": pending,
            "relay_backlog_seconds": age,
        })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()))
            .json(json!({
                "status": "unavailable", "database": "down", "broker": broker,
                "outbox_pending": null, "relay_backlog_seconds": null,
            })),
    }
}

/// Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode())
}
