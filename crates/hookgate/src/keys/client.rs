//! The one HTTP client that fetches key material and confirms SNS subscriptions: TLS with
//! rustls (the `ring` provider, Mozilla's roots), a connect timeout and an overall
//! deadline, a response size limit, and **no redirects** (a 3xx is a failure, so an
//! allowlisted host cannot bounce a fetch off the allowlist).
//!
//! `awc::Client` is `!Send`, so each worker thread builds its own, once.

use std::{sync::Arc, time::Duration};

use actix_web::http::header::CACHE_CONTROL;
use awc::http::StatusCode;

use super::FetchError;

/// Connecting (TCP and TLS) must finish within this.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole fetch (connect, request, response head and body) must finish within this.
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response read: a certificate is about 2 KiB, Google's JWKS about 2 KiB.
pub(super) const MAX_RESPONSE: usize = 64 * 1024;

thread_local! {
    static CLIENT: Result<awc::Client, String> = build();
}

fn build() -> Result<awc::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = awc::Connector::new()
        .rustls_0_23(Arc::new(tls))
        .timeout(CONNECT_TIMEOUT);
    Ok(awc::Client::builder()
        .connector(connector)
        .timeout(FETCH_TIMEOUT)
        .disable_redirects()
        .add_default_header(("user-agent", "hookgate"))
        .finish())
}

/// A successful GET: the body and the `Cache-Control: max-age`, if any.
pub(super) struct Fetched {
    pub(super) body: actix_web::web::Bytes,
    pub(super) max_age: Option<Duration>,
}

/// GET `url` (already checked against the provider's `key_hosts`).
pub(super) async fn get(url: &str) -> Result<Fetched, FetchError> {
    let client = CLIENT
        .with(|c| c.clone())
        .map_err(|e| FetchError::Client(e.clone()))?;
    let fetch = async {
        let mut res = client
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let status = res.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max_age = res
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let body = res
            .body()
            .limit(MAX_RESPONSE)
            .await
            .map_err(|e| FetchError::Body(e.to_string()))?;
        Ok(Fetched { body, max_age })
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| FetchError::Timeout)?
}

/// `max-age=N` of a `Cache-Control` value (`no-store`/`no-cache` count as 0).
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=19425, must-revalidate, no-transform"),
            Some(Duration::from_secs(19425))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}
