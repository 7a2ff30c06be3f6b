//! The admin API: `GET /admin/events` (filters, keyset paging), `GET
//! /admin/events/{provider}/{id}` and `POST /admin/replay`. Off (404) unless an admin token
//! is configured; every request needs `Authorization: Bearer <token>` (401 otherwise),
//! compared in constant time.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};
use base64::Engine;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{
    filter::FilterParams,
    ingress::RETRY_AFTER_SECS,
    state::AppState,
    store::{self, EventFilter},
};

/// Largest page of `GET /admin/events`.
const MAX_PAGE: i64 = 1000;

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The admin API is off, or the event does not exist.
    #[error("not found")]
    NotFound,
    /// Missing or wrong bearer token.
    #[error("unauthorized")]
    Unauthorized,
    /// A query parameter or body field is invalid.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database is unavailable (logged where it is turned into a response).
    #[error("unavailable")]
    Unavailable(#[from] sqlx::Error),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        let body = match self {
            AdminError::NotFound => json!({"error": "not_found"}),
            AdminError::Unauthorized => {
                r.insert_header(("WWW-Authenticate", "Bearer"));
                json!({"error": "unauthorized"})
            }
            AdminError::BadRequest(detail) => json!({"error": "bad_request", "detail": detail}),
            AdminError::Unavailable(e) => {
                tracing::warn!(error = %e, "admin request: database unavailable");
                r.insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()));
                json!({"error": "unavailable"})
            }
        };
        r.json(body)
    }
}

fn authorize(request: &HttpRequest, state: &AppState) -> Result<(), AdminError> {
    let token = state.admin_token.as_ref().ok_or(AdminError::NotFound)?;
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .ok_or(AdminError::Unauthorized)?;
    if bool::from(presented.ct_eq(token.expose_secret().as_bytes())) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
    }
}

fn parse_filter(params: FilterParams) -> Result<EventFilter, AdminError> {
    params.into_filter().map_err(AdminError::BadRequest)
}

/// `GET /admin/events` query.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(flatten)]
    filter: FilterParams,
    after: Option<i64>,
    limit: Option<i64>,
}

/// List stored events, oldest first; `next_after` is the cursor of the next page.
pub async fn list(
    request: HttpRequest,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&request, &state)?;
    let ListParams {
        filter,
        after,
        limit,
    } = params.into_inner();
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AdminError::BadRequest(format!(
            "limit must be 1..={MAX_PAGE}"
        )));
    }
    let filter = parse_filter(filter)?;
    let events = store::admin::list_events(&state.pool, &filter, after.unwrap_or(0), limit).await?;
    let next_after = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.pk))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next_after": next_after })))
}

/// One event with its body (as text when it is UTF-8, always as base64).
pub async fn get(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&request, &state)?;
    let (provider, event_id) = path.into_inner();
    let (event, body) = store::admin::get_event(&state.pool, &provider, &event_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let text = body.as_deref().and_then(|b| std::str::from_utf8(b).ok());
    let b64 = body
        .as_deref()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    Ok(HttpResponse::Ok().json(json!({ "event": event, "body": text, "body_base64": b64 })))
}

/// `POST /admin/replay` body.
#[derive(Debug, Deserialize)]
pub struct ReplayBody {
    #[serde(flatten)]
    filter: FilterParams,
    #[serde(default)]
    dry_run: bool,
}

/// Queue matching events for republishing.
pub async fn replay(
    request: HttpRequest,
    body: web::Json<ReplayBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&request, &state)?;
    let ReplayBody { filter, dry_run } = body.into_inner();
    let filter = parse_filter(filter)?;
    if filter.provider.is_none() && filter.event_id.is_none() && filter.since_us.is_none() {
        return Err(AdminError::BadRequest(
            "give at least one of provider, event_id or since".into(),
        ));
    }
    let count = store::admin::replay(&state.pool, &filter, dry_run).await?;
    tracing::info!(
        matched = count.matched,
        queued = count.queued,
        dry_run,
        "admin replay"
    );
    Ok(HttpResponse::Ok().json(json!({ "dry_run": dry_run, "matched": count.matched, "replayable": count.replayable, "queued": count.queued })))
}

/// Reload providers, secrets and limits from the config file; an invalid file is refused
/// (422) and the current config stays.
pub async fn reload(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&request, &state)?;
    match state.live.reload() {
        Ok(providers) => {
            tracing::info!(?providers, "configuration reloaded");
            Ok(HttpResponse::Ok().json(json!({"status": "reloaded", "providers": providers})))
        }
        Err(e) => {
            tracing::error!(error = %e, "configuration reload refused; keeping the current one");
            Ok(HttpResponse::UnprocessableEntity()
                .json(json!({"error": "invalid_config", "detail": e.to_string()})))
        }
    }
}
