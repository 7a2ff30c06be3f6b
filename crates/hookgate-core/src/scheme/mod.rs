//! The signature schemes. Each submodule owns one scheme's pure verifier: a [`Request`]
//! (headers, exact body, method, query) and the current time in, `Ok(())` or a
//! [`Rejection`] out; no IO, no allocation beyond what the scheme's signed bytes need.
//!
//! What most schemes share lives here in [`Envelope`]: where the signature header is,
//! how its items are split and decoded, where the timestamp comes from and how it is
//! checked, and the signed-bytes template with its `{url}` rule.
//!
//! # The signed URL
//!
//! Schemes that sign the URL (`{url}`, `twilio`) sign `public_url` exactly as configured.
//! When `public_url` has no query string and the request has one, `?` and the request's
//! raw query string are appended: a provider that adds parameters to the URL it was given
//! (Twilio's `bodySHA256`) then still verifies, while the scheme, host and path always come
//! from the configuration, never from `Host` or `X-Forwarded-*`.

pub(crate) mod client_state;
pub(crate) mod ecdsa;
pub(crate) mod ed25519;
pub mod fetched;
pub(crate) mod hmac;
pub(crate) mod mailgun;
pub(crate) mod standard_webhooks;
pub(crate) mod token;
pub(crate) mod twilio;

use std::borrow::Cow;

use base64::Engine;

use crate::{
    config::{Encoding, TimestampFormat},
    template::{Fields, Part, SignedPayload},
    timestamp,
    verify::{Headers, Rejection},
};

/// At most this many signatures from one header are considered.
pub(crate) const MAX_CANDIDATES: usize = 16;
/// Largest decoded signature (a DER ECDSA signature is at most 72 bytes).
pub(crate) const MAX_SIGNATURE: usize = 96;

/// The parts of a request a verifier reads.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) headers: &'a dyn Headers,
    pub(crate) body: &'a [u8],
    pub(crate) method: &'a str,
    pub(crate) query: &'a str,
    /// Keys the server fetched for this request (fetched-key schemes only).
    pub(crate) keys: Option<&'a fetched::FetchedKeys>,
}

/// A configured scheme with its keys. `Debug` never shows key material.
#[derive(Clone)]
pub(crate) enum Scheme {
    Hmac(hmac::HmacScheme),
    StandardWebhooks(standard_webhooks::StandardWebhooks),
    Ed25519(ed25519::Ed25519Scheme),
    EcdsaP256(ecdsa::EcdsaScheme),
    Twilio(twilio::TwilioScheme),
    Token(token::TokenScheme),
    Mailgun(mailgun::MailgunScheme),
    ClientState(client_state::ClientStateScheme),
    /// `aws-sns`, `google-pubsub`, `paypal`: keys fetched by the server.
    Fetched(fetched::FetchedScheme),
}

impl Scheme {
    /// Verify the request's signature (and its timestamp, where one is signed).
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        match self {
            Scheme::Hmac(s) => s.verify(request, now),
            Scheme::StandardWebhooks(s) => s.verify(request, now),
            Scheme::Ed25519(s) => s.verify(request, now),
            Scheme::EcdsaP256(s) => s.verify(request, now),
            Scheme::Twilio(s) => s.verify(request),
            Scheme::Token(s) => s.verify(request),
            Scheme::Mailgun(s) => s.verify(request, now),
            Scheme::ClientState(s) => s.verify(request),
            Scheme::Fetched(s) => s.verify(request, now),
        }
    }

    /// The first HMAC key, for handshakes that answer with a MAC (Zoom, X).
    pub(crate) fn first_mac_key(&self) -> Option<&crate::verify::Key> {
        match self {
            Scheme::Hmac(s) => s.keys.first(),
            Scheme::Twilio(s) => s.keys.first(),
            Scheme::Mailgun(s) => s.keys.first(),
            Scheme::StandardWebhooks(s) => s.hmac_keys.first(),
            Scheme::Ed25519(_)
            | Scheme::EcdsaP256(_)
            | Scheme::Token(_)
            | Scheme::ClientState(_)
            | Scheme::Fetched(_) => None,
        }
    }

    /// How many keys are configured.
    pub(crate) fn key_count(&self) -> usize {
        match self {
            Scheme::Hmac(s) => s.keys.len(),
            Scheme::StandardWebhooks(s) => s.hmac_keys.len() + s.public_keys.len(),
            Scheme::Ed25519(s) => s.keys.len(),
            Scheme::EcdsaP256(s) => s.keys.len(),
            Scheme::Twilio(s) => s.keys.len(),
            Scheme::Token(s) => s.keys.len(),
            Scheme::Mailgun(s) => s.keys.len(),
            Scheme::ClientState(s) => s.keys.len(),
            Scheme::Fetched(_) => 0,
        }
    }

    /// The scheme's fetched-key half, if it has one.
    pub(crate) fn fetched(&self) -> Option<&fetched::FetchedScheme> {
        match self {
            Scheme::Fetched(s) => Some(s),
            _ => None,
        }
    }
}

/// Where a signed request's timestamp comes from.
#[derive(Debug, Clone)]
pub(crate) enum TimestampSource {
    /// No timestamp: no replay window.
    None,
    /// The first present of these headers.
    Header(Vec<String>),
    /// The item of the signature header with this prefix (`t=`, `ts=`).
    Item(String),
    /// A JSON pointer into the body, checked after the signature (Linear).
    Json(Vec<String>),
}

/// The header, timestamp and template rules shared by the header-signed schemes.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub(crate) signature_headers: Vec<String>,
    pub(crate) signature_prefix: Option<String>,
    pub(crate) separator: Option<String>,
    pub(crate) encoding: Encoding,
    pub(crate) timestamp: TimestampSource,
    pub(crate) timestamp_format: TimestampFormat,
    pub(crate) tolerance_ms: i64,
    pub(crate) id_header: Option<String>,
    pub(crate) template: SignedPayload,
    pub(crate) public_url: Option<String>,
}

/// A request's signature header and the values its template signs.
pub(crate) struct Opened<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) timestamp: &'a [u8],
    pub(crate) id: &'a [u8],
    pub(crate) url: Cow<'a, [u8]>,
    pub(crate) method: &'a [u8],
    pub(crate) body: &'a [u8],
}

impl Opened<'_> {
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            timestamp: self.timestamp,
            id: self.id,
            body: self.body,
            url: &self.url,
            method: self.method,
        }
    }
}

impl Envelope {
    /// Find the signature header, check the timestamp window (header or item sources) and
    /// gather the signed values. The order is the SPEC's: a missing header first, then a
    /// header without any signature item, then the timestamp.
    pub(crate) fn open<'a>(
        &'a self,
        request: &Request<'a>,
        now: i64,
    ) -> Result<Opened<'a>, Rejection> {
        let header = first_header(request.headers, &self.signature_headers)
            .ok_or(Rejection::MissingSignature)?;
        if self.candidates(header).next().is_none() {
            return Err(Rejection::InvalidSignature);
        }
        let timestamp: &[u8] = match &self.timestamp {
            TimestampSource::None | TimestampSource::Json(_) => b"",
            TimestampSource::Header(names) => {
                first_header(request.headers, names).ok_or(Rejection::InvalidTimestamp)?
            }
            TimestampSource::Item(prefix) => self
                .items(header)
                .find_map(|item| item.strip_prefix(prefix.as_bytes()))
                .ok_or(Rejection::InvalidTimestamp)?,
        };
        if matches!(
            self.timestamp,
            TimestampSource::Header(_) | TimestampSource::Item(_)
        ) {
            let ts = timestamp::parse(timestamp, self.timestamp_format)?;
            timestamp::check_window(ts, now, self.tolerance_ms)?;
        }
        let id: &[u8] = match (&self.id_header, self.template.uses(&Part::Id)) {
            (Some(name), true) => request
                .headers
                .get(name)
                .ok_or(Rejection::InvalidSignature)?,
            _ => b"",
        };
        let url = if self.template.uses(&Part::Url) {
            signed_url(self.public_url.as_deref().unwrap_or(""), request.query)
        } else {
            Cow::Borrowed(&b""[..])
        };
        Ok(Opened {
            header,
            timestamp,
            id,
            url,
            method: request.method.as_bytes(),
            body: request.body,
        })
    }

    /// The timestamp checks that can only run after the signature verified (a timestamp
    /// inside the body).
    pub(crate) fn after_signature(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let TimestampSource::Json(pointer) = &self.timestamp else {
            return Ok(());
        };
        let raw = crate::json_seek::seek(request.body, pointer)
            .map_err(|_| Rejection::InvalidTimestamp)?
            .ok_or(Rejection::InvalidTimestamp)?;
        let ts = timestamp::parse(raw.as_bytes(), self.timestamp_format)?;
        timestamp::check_window(ts, now, self.tolerance_ms)
    }

    /// The header's items: split on the separator (trimmed), or the whole header.
    pub(crate) fn items<'h>(
        &self,
        header: &'h [u8],
    ) -> impl Iterator<Item = &'h [u8]> + use<'h, '_> {
        let sep = self.separator.as_deref().map(str::as_bytes).unwrap_or(b"");
        let mut rest = Some(header);
        std::iter::from_fn(move || {
            let text = rest?;
            if sep.is_empty() {
                rest = None;
                return Some(text.trim_ascii());
            }
            match find(text, sep) {
                Some(at) => {
                    rest = Some(&text[at + sep.len()..]);
                    Some(text[..at].trim_ascii())
                }
                None => {
                    rest = None;
                    Some(text.trim_ascii())
                }
            }
        })
        .take(MAX_CANDIDATES + 2)
    }

    /// The signature texts the header carries, prefix stripped. With a separator only
    /// items carrying the prefix count; alone, the prefix is optional.
    pub(crate) fn candidates<'h>(
        &self,
        header: &'h [u8],
    ) -> impl Iterator<Item = &'h [u8]> + use<'h, '_> {
        let prefix = self.signature_prefix.as_deref().map(str::as_bytes);
        let several = self.separator.is_some();
        let timestamp_item = match &self.timestamp {
            TimestampSource::Item(p) => Some(p.as_bytes()),
            _ => None,
        };
        self.items(header)
            .filter_map(move |item| match prefix {
                Some(p) if several => item.strip_prefix(p),
                Some(p) => Some(item.strip_prefix(p).unwrap_or(item)),
                None if timestamp_item.is_some_and(|t| item.starts_with(t)) => None,
                None => Some(item),
            })
            .filter(|item| !item.is_empty())
            .take(MAX_CANDIDATES)
    }

    /// Decode one signature into `buf`; `None` when it cannot be a signature of ours.
    pub(crate) fn decode_into(&self, text: &[u8], buf: &mut [u8; MAX_SIGNATURE]) -> Option<usize> {
        decode_into(self.encoding, text, buf)
    }
}

/// Decode `text` in `encoding` into `buf`; `None` when undecodable or too long.
pub(crate) fn decode_into(
    encoding: Encoding,
    text: &[u8],
    buf: &mut [u8; MAX_SIGNATURE],
) -> Option<usize> {
    match encoding {
        Encoding::Hex => {
            let n = text.len() / 2;
            if !text.len().is_multiple_of(2) || n > buf.len() {
                return None;
            }
            hex::decode_to_slice(text, &mut buf[..n]).ok().map(|()| n)
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode_slice(text, buf)
            .ok(),
    }
}

/// Encode a signature in `encoding` (signing side).
pub(crate) fn encode(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// `public_url`, plus `?query` when it has no query string of its own and the request has
/// one (see the module docs).
pub(crate) fn signed_url<'a>(public_url: &'a str, query: &str) -> Cow<'a, [u8]> {
    if query.is_empty() || public_url.contains('?') {
        Cow::Borrowed(public_url.as_bytes())
    } else {
        let mut url = Vec::with_capacity(public_url.len() + 1 + query.len());
        url.extend_from_slice(public_url.as_bytes());
        url.push(b'?');
        url.extend_from_slice(query.as_bytes());
        Cow::Owned(url)
    }
}

pub(crate) fn first_header<'h>(headers: &'h dyn Headers, names: &[String]) -> Option<&'h [u8]> {
    names.iter().find_map(|n| headers.get(n))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [byte] => haystack.iter().position(|b| b == byte),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}

/// A secret compared whole (tokens, `user:password`, client states): kept as its SHA-256
/// so comparison is constant-time whatever the lengths, and as bytes for signing.
/// `Debug` is redacted.
#[derive(Clone)]
pub(crate) struct SecretToken {
    digest: [u8; 32],
    raw: Vec<u8>,
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken([redacted])")
    }
}

impl SecretToken {
    pub(crate) fn new(raw: &[u8]) -> Self {
        Self {
            digest: sha256(raw),
            raw: raw.to_vec(),
        }
    }

    /// Constant-time: compares SHA-256 digests, so neither content nor length leaks.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.digest.ct_eq(&sha256(presented)).into()
    }

    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
