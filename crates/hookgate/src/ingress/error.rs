//! The one mapping from an ingest failure to its HTTP status and JSON code (the README's
//! "HTTP API" table).
//! Bodies carry only the code: never a secret, an expected signature or the payload.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use hookgate_core::Rejection;

use crate::{keys::FetchError, writer::WriteError};

/// Seconds a provider is asked to wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// Why `POST /webhooks/{provider}` did not accept a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A method the path does not answer (GET for a provider without a GET handshake).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// No provider is configured under that path.
    #[error("unknown provider")]
    UnknownProvider,
    /// The body exceeds the provider's `max_body`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// More headers, or more header bytes, than `server.max_headers` / `max_header_bytes`.
    #[error("request headers too large")]
    HeadersTooLarge,
    /// The provider's rate limit is exhausted; retry after the given time.
    #[error("rate limited")]
    RateLimited(std::time::Duration),
    /// The body did not arrive within `server.body_timeout`.
    #[error("request body not received in time")]
    RequestTimeout,
    /// The body could not be read (client went away, broken chunked encoding).
    #[error("request body could not be read")]
    BadRequest,
    /// Verification or extraction failed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Not durable: database down or writer queue full.
    #[error("unavailable: {0}")]
    Unavailable(#[from] WriteError),
    /// The provider's key material (or an SNS subscription confirmation) could not be
    /// fetched: nothing unverified is acknowledged, the provider retries.
    #[error("unavailable: {0}")]
    KeysUnavailable(#[from] FetchError),
}

impl IngestError {
    /// The JSON `error` code and metrics outcome.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::MethodNotAllowed => "method_not_allowed",
            IngestError::UnknownProvider => "unknown_provider",
            IngestError::PayloadTooLarge => "payload_too_large",
            IngestError::HeadersTooLarge => "headers_too_large",
            IngestError::RateLimited(_) => "rate_limited",
            IngestError::RequestTimeout => "request_timeout",
            IngestError::BadRequest => "bad_request",
            IngestError::Rejected(r) => r.code(),
            IngestError::Unavailable(_) | IngestError::KeysUnavailable(_) => "unavailable",
        }
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::UnknownProvider => StatusCode::NOT_FOUND,
            IngestError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            IngestError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            IngestError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            IngestError::BadRequest => StatusCode::BAD_REQUEST,
            IngestError::Rejected(Rejection::MalformedPayload) => StatusCode::BAD_REQUEST,
            IngestError::Rejected(_) => StatusCode::UNAUTHORIZED,
            IngestError::Unavailable(_) | IngestError::KeysUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            IngestError::Unavailable(_) | IngestError::KeysUnavailable(_) => {
                response.insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()));
            }
            IngestError::RateLimited(wait) => {
                let secs = wait.as_secs_f64().ceil().clamp(1.0, 86_400.0) as u64;
                response.insert_header(("Retry-After", secs.to_string()));
            }
            IngestError::MethodNotAllowed => {
                response.insert_header(("Allow", "POST"));
            }
            // The rest of a late body is not worth reading: close the connection.
            IngestError::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.json(serde_json::json!({ "error": self.code() }))
    }
}
