//! `POST /webhooks/{provider}`: find the provider, read the raw body within `max_body`,
//! verify it, hand it to the writer and answer once it is durable.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap},
    web::{self, Bytes, BytesMut},
};
use futures_util::StreamExt;
use hookgate_core::{Unverified, verify::Headers};

use super::{AppState, IngestError, Limits};
use crate::reload::Snapshot;

/// actix's header map seen through the core's [`Headers`] trait.
struct HeaderView<'a>(&'a HeaderMap);

impl Headers for HeaderView<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(|v| v.as_bytes())
    }
}

/// The handler. The span carries the provider and, once known, the event ID; never the
/// body, a signature or a secret.
#[tracing::instrument(name = "webhook", skip_all, fields(provider = %provider, event_id = tracing::field::Empty))]
pub async fn ingest(
    request: HttpRequest,
    provider: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, IngestError> {
    let started = Instant::now();
    // One snapshot for the whole request: a concurrent reload does not change it midway.
    let snapshot = state.live.snapshot();
    let result = accept(&request, &provider, payload, &state, &snapshot).await;
    let label = if snapshot.registry.get(&provider).is_some() {
        provider.as_str()
    } else {
        "_unknown"
    };
    match &result {
        Ok(accepted) => {
            state.metrics.request(label, accepted.outcome());
            state
                .metrics
                .ack_latency
                .observe(started.elapsed().as_secs_f64());
        }
        Err(e) => {
            state.metrics.request(label, e.code());
            tracing::info!(code = e.code(), "webhook rejected");
        }
    }
    Ok(match result? {
        Accepted::Stored(outcome, event_id) => HttpResponse::Ok().json(serde_json::json!({
            "status": outcome.as_str(),
            "event_id": event_id,
        })),
        Accepted::Handshake(challenge) => {
            HttpResponse::Ok().json(serde_json::json!({ "challenge": challenge }))
        }
    })
}

/// What a verified request led to.
enum Accepted {
    /// Stored (or found stored): accepted or duplicate, with the event ID.
    Stored(crate::writer::Outcome, String),
    /// The provider's endpoint-verification handshake, answered with its challenge.
    Handshake(String),
}

impl Accepted {
    fn outcome(&self) -> &'static str {
        match self {
            Accepted::Stored(outcome, _) => outcome.as_str(),
            Accepted::Handshake(_) => "handshake",
        }
    }
}

async fn accept(
    request: &HttpRequest,
    name: &str,
    payload: web::Payload,
    state: &AppState,
    snapshot: &Snapshot,
) -> Result<Accepted, IngestError> {
    let provider = snapshot
        .registry
        .get(name)
        .ok_or(IngestError::UnknownProvider)?;
    check_limits(request, name, &snapshot.limits)?;
    let received = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = read_body(payload, provider.max_body(), declared).await?;
    let headers = HeaderView(request.headers());
    let verified = provider.verify(Unverified::new(&headers, body), received.as_secs() as i64)?;
    if let Some(challenge) = provider.handshake_reply(&verified) {
        return Ok(Accepted::Handshake(challenge));
    }
    tracing::Span::current().record("event_id", verified.event_id());
    let event_id = verified.event_id().to_owned();
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = state
        .writer
        .write(verified, content_type, received.as_micros() as i64)
        .await?;
    Ok(Accepted::Stored(outcome, event_id))
}

/// Header count and size, then the provider's rate limit: all before reading the body.
fn check_limits(request: &HttpRequest, provider: &str, limits: &Limits) -> Result<(), IngestError> {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > limits.max_headers || bytes > limits.max_header_bytes {
        return Err(IngestError::HeadersTooLarge);
    }
    if let Some(bucket) = limits.buckets.get(provider) {
        let now = limits.epoch.elapsed();
        let taken = bucket.lock().map(|mut b| b.try_take(now)).unwrap_or(Ok(()));
        taken.map_err(IngestError::RateLimited)?;
    }
    Ok(())
}

/// Read at most `limit` bytes; refuse early when the declared length is already too big.
async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    declared: Option<u64>,
) -> Result<Bytes, IngestError> {
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(IngestError::PayloadTooLarge);
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| IngestError::BadRequest)?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
