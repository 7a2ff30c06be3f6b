//! The HTTP surface: the route table, and the `/webhooks/<provider>` path and method
//! checks (404, 405) in front of the webhook handler, [`crate::ingress`]. The operator
//! console is [`crate::console`]; health, metrics and the admin API are the submodules
//! here.

mod admin;
mod health;

use actix_web::{HttpRequest, HttpResponse, http::Method, web};

use crate::{console, ingress, state::AppState};

/// Register every route on an actix `App`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // `/webhooks` as a static prefix, and [`webhook`] takes the one segment after it:
    // actix matches a `/webhooks/{provider}` pattern with a regex (1.5% of the gateway's
    // CPU at the maximum, BENCHMARKS.md §2, ninth session).
    cfg.service(web::scope("/webhooks").default_service(web::to(webhook)))
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

/// `/webhooks/<provider>`: POST, and GET for providers whose handshake is a GET (405
/// otherwise); any other path under `/webhooks` is not found.
async fn webhook(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ingress::IngestError> {
    // The segment as sent, not percent-decoded: provider names are `[a-z0-9_-]` only, so
    // an encoded one is an unknown provider either way.
    let provider = request
        .match_info()
        .unprocessed()
        .strip_prefix('/')
        .filter(|name| !name.is_empty() && !name.contains('/'));
    match provider {
        None => Ok(not_found().await),
        Some(name) if matches!(*request.method(), Method::POST | Method::GET) => {
            let name = name.to_owned();
            ingress::ingest(request, name, payload, state).await
        }
        Some(_) => Ok(method_not_allowed().await),
    }
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .json(serde_json::json!({"error": "method_not_allowed"}))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"error": "not_found"}))
}
