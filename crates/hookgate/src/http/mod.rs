//! The HTTP surface: the route table. The webhook handler is [`crate::ingress`], the
//! operator console [`crate::console`]; health, metrics and the admin API are the
//! submodules here.

mod admin;
mod health;

use actix_web::{HttpResponse, web};

use crate::{console, ingress};

/// Register every route on an actix `App`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/{provider}")
            .route(web::post().to(ingress::ingest))
            // Answered only for providers whose handshake is a GET (405 otherwise).
            .route(web::get().to(ingress::ingest))
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
    .configure(console::routes)
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
