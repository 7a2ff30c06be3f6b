//! The `/webhooks/<provider>` handler (POST, and GET for providers whose handshake is a
//! GET; [`crate::http`] routes the path and the method here): one config snapshot per
//! request, the checks in order (provider, limits, body, signature), then a handshake
//! answer or the writer; every answer is counted by provider and outcome.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        Method, StatusCode,
        header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap},
    },
    web,
};
use hookgate_core::{HandshakeReply, Received, Unverified, fetched::Subscription, verify::Headers};

use super::{IngestError, body};
use crate::{limits::Exceeded, live::Snapshot, state::AppState, writer::Outcome};

/// actix's header map seen through the core's [`Headers`] trait.
struct HeaderView<'a>(&'a HeaderMap);

impl Headers for HeaderView<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(|v| v.as_bytes())
    }
}

/// The handler. The span carries the provider and, once known, the event ID; never the
/// body, a signature or a secret. A debug span (`RUST_LOG=info,hookgate=debug` shows it):
/// at the default level a span per request cost the gateway 4-6% of its CPU
/// (BENCHMARKS.md), so the request's info logs name the provider themselves.
#[tracing::instrument(level = "debug", name = "webhook", skip_all, fields(provider = %provider, event_id = tracing::field::Empty))]
pub async fn ingest(
    request: HttpRequest,
    provider: String,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, IngestError> {
    let started = Instant::now();
    // One snapshot for the whole request: a concurrent reload does not change it midway.
    let snapshot = state.live.snapshot();
    // Set when a verified event could not be stored, so the log names the event lost.
    let mut unstored = None;
    let result = accept(
        &request,
        &provider,
        payload,
        &state,
        &snapshot,
        &mut unstored,
    )
    .await;
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
            state.rejections.record(&request, &provider, label, e);
            tracing::info!(
                provider = %provider.as_str(),
                event_id = unstored.as_deref(),
                code = e.code(),
                "webhook rejected"
            );
        }
    }
    Ok(match result? {
        Accepted::Stored(outcome, event_id) => HttpResponse::Ok().json(Answer {
            status: outcome.as_str(),
            event_id: &event_id,
        }),
        Accepted::Handshake(reply) => handshake_response(reply),
    })
}

/// The answer to a stored event: `{"status": "accepted" | "duplicate", "event_id": ...}`.
#[derive(serde::Serialize)]
struct Answer<'a> {
    status: &'static str,
    event_id: &'a str,
}

/// A handshake answered exactly as the provider requires: status, content type, extra
/// headers and body as the core built them.
fn handshake_response(reply: HandshakeReply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.content_type(reply.content_type);
    for (name, value) in reply.headers {
        response.insert_header((name, value));
    }
    response.body(reply.body)
}

/// What a verified request led to.
enum Accepted {
    /// Stored (or found stored): accepted or duplicate, with the event ID.
    Stored(Outcome, String),
    /// The provider's endpoint-verification handshake: answered, neither stored nor
    /// published.
    Handshake(HandshakeReply),
}

impl Accepted {
    fn outcome(&self) -> &'static str {
        match self {
            Accepted::Stored(outcome, _) => outcome.as_str(),
            Accepted::Handshake(_) => "handshake",
        }
    }
}

/// The checks, then the writer. When the writer fails, `unstored` gets the verified
/// event's ID.
async fn accept(
    request: &HttpRequest,
    name: &str,
    payload: web::Payload,
    state: &AppState,
    snapshot: &Snapshot,
    unstored: &mut Option<String>,
) -> Result<Accepted, IngestError> {
    let is_get = request.method() == Method::GET || request.method() == Method::HEAD;
    let provider = match snapshot.registry.get(name) {
        Some(p) => p,
        // GET is a handshake or nothing: an unknown name answers 405 as any other GET.
        None if is_get => return Err(IngestError::MethodNotAllowed),
        None => return Err(IngestError::UnknownProvider),
    };
    if is_get && !provider.answers_get() {
        return Err(IngestError::MethodNotAllowed);
    }
    snapshot
        .limits
        .check(request.headers(), name)
        .map_err(|e| match e {
            Exceeded::Headers => IngestError::HeadersTooLarge,
            Exceeded::Rate(wait) => IngestError::RateLimited(wait),
        })?;
    let received = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = body::read(
        payload,
        provider.max_body(),
        declared,
        snapshot.limits.body_timeout,
    )
    .await?;
    let headers = HeaderView(request.headers());
    let unverified = Unverified::new(&headers, body)
        .with_method(request.method().as_str())
        .with_query(request.query_string());
    // Providers that verify with fetched keys (SNS, Pub/Sub, PayPal): the key the request
    // names (its URL already passed `key_hosts`), from the cache or fetched; 503 if not.
    let keys = match provider.key_ref(&unverified)? {
        Some(key_ref) => Some(state.keys.keys(&key_ref).await?),
        None => None,
    };
    let unverified = match &keys {
        Some(keys) => unverified.with_keys(keys),
        None => unverified,
    };
    let verified = match provider.receive(unverified, received.as_secs() as i64)? {
        Received::Event(verified) => verified,
        Received::Handshake(reply) => return Ok(Accepted::Handshake(reply)),
        Received::MethodNotAllowed => return Err(IngestError::MethodNotAllowed),
        Received::Subscription(subscription) => {
            let confirmed = match &subscription {
                Subscription::Confirm { confirm_url, .. } => {
                    state.keys.confirm(confirm_url).await?;
                    true
                }
                _ => false,
            };
            tracing::info!(
                provider = name,
                topic_arn = subscription.topic_arn(),
                confirmed,
                "SNS subscription message verified; not stored"
            );
            return Ok(Accepted::Handshake(subscription.reply()));
        }
    };
    tracing::Span::current().record("event_id", verified.event_id());
    let event_id = verified.event_id().to_owned();
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match state
        .writer
        .write(verified, content_type, received.as_micros() as i64)
        .await
    {
        Ok(outcome) => Ok(Accepted::Stored(outcome, event_id)),
        Err(e) => {
            *unstored = Some(event_id);
            Err(e.into())
        }
    }
}
