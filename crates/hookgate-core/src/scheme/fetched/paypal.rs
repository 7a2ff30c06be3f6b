//! PayPal webhooks: `PAYPAL-TRANSMISSION-SIG`, SHA256withRSA in base64, over
//! `{transmission_id}|{transmission_time}|{webhook_id}|{crc32}`, with the certificate at
//! `PAYPAL-CERT-URL`.
//!
//! - `webhook_id` is the configured one, never taken from the request.
//! - `crc32` is the IEEE CRC-32 of the raw body written as an **unsigned** decimal
//!   (`3674300368`, not `-620666928`, not hex).
//! - The algorithm is pinned: a `PAYPAL-AUTH-ALGO` other than `SHA256withRSA` is refused
//!   (PayPal's Java SDK lets the header choose it).
//! - `PAYPAL-CERT-URL` must pass the host rule, with a path under
//!   `/v1/notifications/certs/` and no query string.

use base64::Engine;

use super::{KeyKind, KeyRef, keyset::Hash, url::UrlRule};
use crate::{
    scheme::Request,
    verify::{Headers, Rejection},
};

const SIGNATURE: &str = "paypal-transmission-sig";
const CERT_URL: &str = "paypal-cert-url";
const TRANSMISSION_ID: &str = "paypal-transmission-id";
const TRANSMISSION_TIME: &str = "paypal-transmission-time";
const AUTH_ALGO: &str = "paypal-auth-algo";
/// The certificate path prefix PayPal serves its signing certificates under.
const CERT_PATH: &str = "/v1/notifications/certs/";
/// Longest signature accepted (RSA-8192).
const MAX_SIGNATURE: usize = 1024;

/// A configured PayPal scheme.
#[derive(Debug, Clone)]
pub(crate) struct PaypalScheme {
    pub(crate) urls: UrlRule,
    pub(crate) webhook_id: String,
}

fn text<'a>(headers: &'a dyn Headers, name: &str) -> Result<&'a str, Rejection> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Rejection::InvalidSignature)
}

/// The bytes PayPal signs.
pub(crate) fn signed_string(id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{id}|{time}|{webhook_id}|{}", crc32fast::hash(body))
}

impl PaypalScheme {
    /// The certificate this request names, once its URL passed the rule.
    pub(crate) fn key_ref(&self, request: &Request<'_>) -> Result<KeyRef, Rejection> {
        let url = self.cert_url(request.headers)?;
        Ok(KeyRef {
            url: url.to_owned(),
            kind: KeyKind::Certificate,
            kid: None,
        })
    }

    fn cert_url<'a>(&self, headers: &'a dyn Headers) -> Result<&'a str, Rejection> {
        if headers.get(SIGNATURE).is_none() {
            return Err(Rejection::MissingSignature);
        }
        if let Some(algo) = headers.get(AUTH_ALGO)
            && algo.trim_ascii() != b"SHA256withRSA"
        {
            return Err(Rejection::InvalidSignature);
        }
        let url = text(headers, CERT_URL)?;
        let parsed = self
            .urls
            .check(url)
            .map_err(|_| Rejection::InvalidSignature)?;
        let name = parsed.path.strip_prefix(CERT_PATH).unwrap_or_default();
        if parsed.query.is_some() || name.is_empty() || name.contains('/') {
            return Err(Rejection::InvalidSignature);
        }
        Ok(url)
    }

    /// Verify the transmission signature with the certificate's key.
    pub(crate) fn verify(&self, request: &Request<'_>) -> Result<(), Rejection> {
        let url = self.cert_url(request.headers)?;
        let keys = request
            .keys
            .filter(|k| k.url() == url)
            .ok_or(Rejection::InvalidSignature)?;
        let id = text(request.headers, TRANSMISSION_ID)?;
        let time = text(request.headers, TRANSMISSION_TIME)?;
        let signature = text(request.headers, SIGNATURE)?;
        let mut buf = [0u8; MAX_SIGNATURE];
        let len = base64::engine::general_purpose::STANDARD
            .decode_slice(signature.as_bytes(), &mut buf)
            .map_err(|_| Rejection::InvalidSignature)?;
        let signed = signed_string(id, time, &self.webhook_id, request.body);
        if keys
            .set()
            .verify(None, Hash::Sha256, signed.as_bytes(), &buf[..len])
        {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_an_unsigned_decimal() {
        // CRC-32 of "123456789" is the standard check value 0xCBF43926 = 3421780262,
        // above 2^31: a signed rendering would be negative.
        assert_eq!(
            signed_string("id", "2019-08-29T10:49:33Z", "WH", b"123456789"),
            "id|2019-08-29T10:49:33Z|WH|3421780262"
        );
        assert_eq!(signed_string("i", "t", "w", b""), "i|t|w|0");
    }

    #[test]
    fn certificate_urls_are_paypal_cert_paths() {
        let s = PaypalScheme {
            urls: UrlRule::new(
                &["api.paypal.com".into(), "api.sandbox.paypal.com".into()],
                false,
            )
            .expect("rule"),
            webhook_id: "WH".into(),
        };
        let run = |url: &str, algo: Option<&str>| {
            let mut headers = vec![
                ("paypal-transmission-sig".to_owned(), "c2ln".to_owned()),
                ("paypal-cert-url".to_owned(), url.to_owned()),
            ];
            if let Some(a) = algo {
                headers.push(("paypal-auth-algo".into(), a.into()));
            }
            s.cert_url(&headers).map(str::to_owned)
        };
        let ok =
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270";
        assert_eq!(run(ok, Some("SHA256withRSA")).as_deref(), Ok(ok));
        assert_eq!(
            run(ok, Some("SHA1withRSA")),
            Err(Rejection::InvalidSignature)
        );
        for bad in [
            "https://api.paypal.com/v1/notifications/certs/CERT-1?x=1",
            "https://api.paypal.com/v1/notifications/certs/",
            "https://api.paypal.com/v1/notifications/certs/a/b",
            "https://api.paypal.com/v1/other/CERT-1",
            "https://www.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.com/v1/notifications/certs/CERT-1",
            "https://evil.com@api.paypal.com/v1/notifications/certs/CERT-1",
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
        ] {
            assert_eq!(run(bad, None), Err(Rejection::InvalidSignature), "{bad}");
        }
        let none: Vec<(String, String)> = Vec::new();
        assert_eq!(s.cert_url(&none), Err(Rejection::MissingSignature));
    }
}
