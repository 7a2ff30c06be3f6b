//! The verification typestate: a request as received ([`Unverified`]: headers, body,
//! method, query), a [`Verified`] event, the [`Rejection`] kinds, and the keyed HMAC state
//! the schemes share. No IO, no async, no HTTP framework types; the schemes themselves
//! live in [`crate::scheme`].
//!
//! The typestate is the point: storage code takes a [`Verified`], which only
//! [`crate::Provider::verify`] can build, so an unverified body cannot be stored.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::config::Algorithm;

/// Header lookup by lower-case name; implemented for the server's header map and for
/// simple `(name, value)` lists in tests and the CLI.
pub trait Headers {
    /// The first value of header `name` (given in lower case), as raw bytes.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

impl Headers for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }
}

/// A request as received: not yet trusted. Besides headers and body it carries the
/// request method (default `POST`) and the raw query string (default empty), which
/// URL-signing schemes and handshakes read.
pub struct Unverified<'h, B> {
    pub(crate) headers: &'h dyn Headers,
    pub(crate) body: B,
    pub(crate) method: &'h str,
    pub(crate) query: &'h str,
    pub(crate) keys: Option<&'h crate::scheme::fetched::FetchedKeys>,
}

impl<'h, B: AsRef<[u8]>> Unverified<'h, B> {
    /// Wrap the headers and the exact body bytes received (a `POST` without a query).
    pub fn new(headers: &'h dyn Headers, body: B) -> Self {
        Self {
            headers,
            body,
            method: "POST",
            query: "",
            keys: None,
        }
    }

    /// The keys the server fetched for [`crate::Provider::key_ref`]'s answer, for the
    /// providers that verify with fetched keys (`aws-sns`, `google-pubsub`, `paypal`).
    pub fn with_keys(mut self, keys: &'h crate::scheme::fetched::FetchedKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The request method as sent, e.g. `POST` or `GET`.
    pub fn with_method(mut self, method: &'h str) -> Self {
        self.method = method;
        self
    }

    /// The raw query string as sent, without the `?` (percent-encoded, not decoded).
    pub fn with_query(mut self, query: &'h str) -> Self {
        self.query = query.strip_prefix('?').unwrap_or(query);
        self
    }

    /// The request method.
    pub fn method(&self) -> &str {
        self.method
    }

    /// The raw query string, without the `?`.
    pub fn query(&self) -> &str {
        self.query
    }

    /// The headers.
    pub fn headers(&self) -> &dyn Headers {
        self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        self.body.as_ref()
    }

    pub(crate) fn parts(&self) -> crate::scheme::Request<'_> {
        crate::scheme::Request {
            headers: self.headers,
            body: self.body.as_ref(),
            method: self.method,
            query: self.query,
            keys: self.keys,
        }
    }
}

/// A request whose signature matched one of the provider's secrets, with its event ID and
/// type extracted.
#[derive(Debug, Clone)]
pub struct Verified<B> {
    pub(crate) provider: Arc<str>,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) body: B,
}

impl<B> Verified<B> {
    /// Name of the provider (its path segment).
    pub fn provider(&self) -> &Arc<str> {
        &self.provider
    }
    /// Event ID (dedup key within the provider).
    pub fn event_id(&self) -> &str {
        &self.event_id
    }
    /// Event type, `unknown` when no source had one.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }
    /// The exact bytes received.
    pub fn body(&self) -> &B {
        &self.body
    }
    /// Take the parts: provider, event ID, event type, body.
    pub fn into_parts(self) -> (Arc<str>, String, String, B) {
        (self.provider, self.event_id, self.event_type, self.body)
    }
}

/// Why a request was not accepted. The `Display` text never contains a secret, an
/// expected signature or the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No signature header was present.
    #[error("signature header missing")]
    MissingSignature,
    /// The scheme signs a timestamp, but it is missing or not an integer.
    #[error("timestamp missing or not an integer")]
    InvalidTimestamp,
    /// The timestamp is further than the tolerance in the past or the future.
    #[error("timestamp outside the tolerance window")]
    TimestampOutOfTolerance,
    /// No configured secret produced a matching signature.
    #[error("no secret matches the signature")]
    InvalidSignature,
    /// Verified, but a JSON event-ID or type source could not read a non-JSON body.
    #[error("body is not JSON but an event-ID or type source reads JSON")]
    MalformedPayload,
}

impl Rejection {
    /// The machine-readable code used in HTTP error bodies and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::InvalidTimestamp => "invalid_timestamp",
            Rejection::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Rejection::InvalidSignature => "invalid_signature",
            Rejection::MalformedPayload => "malformed_payload",
        }
    }
}

/// A secret turned into a keyed MAC state once at start-up; each verification clones it.
/// Its `Debug` is redacted.
#[derive(Clone)]
pub(crate) enum Key {
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
    Sha1(Hmac<sha1::Sha1>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// A MAC output (up to SHA-512's 64 bytes) without a heap allocation.
pub(crate) struct Tag {
    buf: [u8; 64],
    len: usize,
}

impl Tag {
    fn from_slice(s: &[u8]) -> Self {
        let mut buf = [0u8; 64];
        buf[..s.len()].copy_from_slice(s);
        Self { buf, len: s.len() }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Constant-time equality; a different length is simply unequal.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        self.as_bytes().ct_eq(candidate).into()
    }
}

impl Key {
    pub(crate) fn new(algorithm: Algorithm, secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so these constructors cannot fail.
        match algorithm {
            Algorithm::Sha256 => Key::Sha256(
                Hmac::new_from_slice(secret).unwrap_or_else(|_| unreachable!("hmac key")),
            ),
            Algorithm::Sha512 => Key::Sha512(
                Hmac::new_from_slice(secret).unwrap_or_else(|_| unreachable!("hmac key")),
            ),
            Algorithm::Sha1 => {
                Key::Sha1(Hmac::new_from_slice(secret).unwrap_or_else(|_| unreachable!("hmac key")))
            }
        }
    }

    /// MAC of the bytes that `feed` passes to its sink.
    pub(crate) fn tag(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Tag {
        fn run<M: Mac + Clone>(m: &M, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Tag {
            let mut m = m.clone();
            feed(&mut |b| m.update(b));
            Tag::from_slice(&m.finalize().into_bytes())
        }
        match self {
            Key::Sha256(m) => run(m, feed),
            Key::Sha512(m) => run(m, feed),
            Key::Sha1(m) => run(m, feed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compare_by_value_and_length() {
        let key = Key::new(Algorithm::Sha256, b"k");
        let tag = key.tag(|sink| sink(b"x"));
        let copy = tag.as_bytes().to_vec();
        assert!(tag.matches(&copy));
        assert!(!tag.matches(&copy[..31]));
        assert!(!tag.matches(b""));
        assert_eq!(format!("{key:?}"), "Key([redacted])");
    }
}
