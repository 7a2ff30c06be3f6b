//! The `mailgun` scheme: the signature travels inside the JSON body,
//! `{"signature": {"timestamp": "…", "token": "…", "signature": "<hex>"}, "event-data": …}`,
//! as HMAC-SHA256 (key: the webhook signing key) over `{timestamp}{token}`.
//!
//! The body itself is **not** signed by Mailgun: a captured request's `event-data` could be
//! altered without failing this check. The timestamp window limits replay; the token is
//! random per request. This is the one scheme (with `client-state`) that parses JSON
//! before verification, because that is where the signature is.

use serde::Deserialize;

use super::{MAX_SIGNATURE, Request};
use crate::{
    config::{Encoding, TimestampFormat},
    timestamp,
    verify::{Key, Rejection},
};

/// A configured Mailgun scheme.
#[derive(Clone)]
pub(crate) struct MailgunScheme {
    pub(crate) keys: Vec<Key>,
    pub(crate) tolerance_ms: i64,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    signature: Option<Signature<'a>>,
}

#[derive(Deserialize)]
struct Signature<'a> {
    #[serde(borrow)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    token: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    signature: Option<std::borrow::Cow<'a, str>>,
}

impl MailgunScheme {
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let envelope: Envelope<'_> =
            serde_json::from_slice(request.body).map_err(|_| Rejection::MissingSignature)?;
        let fields = envelope.signature.ok_or(Rejection::MissingSignature)?;
        let signature = fields.signature.ok_or(Rejection::MissingSignature)?;
        let ts = fields.timestamp.ok_or(Rejection::InvalidTimestamp)?;
        let token = fields.token.unwrap_or_default();
        let parsed = timestamp::parse(ts.as_bytes(), TimestampFormat::Unix)?;
        timestamp::check_window(parsed, now, self.tolerance_ms)?;
        let mut buf = [0u8; MAX_SIGNATURE];
        let n = super::decode_into(Encoding::Hex, signature.as_bytes(), &mut buf)
            .ok_or(Rejection::InvalidSignature)?;
        let matched = self.keys.iter().fold(false, |ok, key| {
            let tag = key.tag(|sink| {
                sink(ts.as_bytes());
                sink(token.as_bytes());
            });
            ok | tag.matches(&buf[..n])
        });
        if matched {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}
