//! The `hmac` scheme (and `stripe`, which is `hmac` with Stripe's header rules): an HMAC
//! over the template's bytes, compared in constant time with every signature the header
//! carries (`sha256=<hex>`; `t=…,v1=…,v1=…`; `ts=…;h1=…;h1=…`), for every configured
//! secret (rotation).

use super::{Envelope, MAX_SIGNATURE, Request};
use crate::verify::{Key, Rejection};

/// A configured HMAC scheme.
#[derive(Clone)]
pub(crate) struct HmacScheme {
    pub(crate) envelope: Envelope,
    pub(crate) keys: Vec<Key>,
}

impl HmacScheme {
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let opened = self.envelope.open(request, now)?;
        let fields = opened.fields();
        let mut matched = false;
        for key in &self.keys {
            let tag = key.tag(|sink| self.envelope.template.feed_fields(&fields, sink));
            // Every candidate is checked, so timing does not reveal which one matched.
            let mut buf = [0u8; MAX_SIGNATURE];
            for text in self.envelope.candidates(opened.header) {
                if let Some(n) = self.envelope.decode_into(text, &mut buf) {
                    matched |= tag.matches(&buf[..n]);
                }
            }
            if matched {
                break;
            }
        }
        if !matched {
            return Err(Rejection::InvalidSignature);
        }
        self.envelope.after_signature(request, now)
    }
}
