//! The `standard-webhooks` scheme (Standard Webhooks, Svix, Clerk, Resend):
//! `webhook-signature` carries space-separated `v1,<base64 HMAC-SHA256>` and
//! `v1a,<base64 Ed25519>` signatures over `{id}.{timestamp}.{body}`. `whsec_<base64>`
//! secrets are HMAC keys (the decoded bytes), `whpk_<base64>` keys are Ed25519 public
//! keys; any key may match any signature of its kind.

use base64::Engine;
use ed25519_dalek::VerifyingKey;

use super::{Envelope, MAX_SIGNATURE, Request, ed25519};
use crate::{
    config::Algorithm,
    verify::{Key, Rejection},
};

/// One configured key.
#[derive(Clone)]
pub(crate) enum SwKey {
    /// `whsec_…`: HMAC-SHA256 with the decoded secret.
    Hmac(Key),
    /// `whpk_…`: an Ed25519 public key.
    Ed25519(VerifyingKey),
}

/// A configured Standard Webhooks scheme.
#[derive(Clone)]
pub(crate) struct StandardWebhooks {
    pub(crate) envelope: Envelope,
    pub(crate) hmac_keys: Vec<Key>,
    pub(crate) public_keys: Vec<VerifyingKey>,
}

impl StandardWebhooks {
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let opened = self.envelope.open(request, now)?;
        let fields = opened.fields();
        let mut matched = false;
        let mut buf = [0u8; MAX_SIGNATURE];
        for key in &self.hmac_keys {
            let tag = key.tag(|sink| self.envelope.template.feed_fields(&fields, sink));
            for text in self.signatures(opened.header, b"v1,") {
                if let Some(n) = self.envelope.decode_into(text, &mut buf) {
                    matched |= tag.matches(&buf[..n]);
                }
            }
        }
        let public = &self.public_keys;
        if !matched && !public.is_empty() {
            let mut message = None;
            for text in self.signatures(opened.header, b"v1a,") {
                let Some(signature) = self
                    .envelope
                    .decode_into(text, &mut buf)
                    .and_then(|n| ed25519::signature(&buf[..n]))
                else {
                    continue;
                };
                let message =
                    message.get_or_insert_with(|| self.envelope.template.to_bytes(&fields));
                matched |= ed25519::any_key_verifies(public, message, &signature);
            }
        }
        if matched {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }

    /// The signatures of one version (`v1,` or `v1a,`), version stripped.
    fn signatures<'h>(
        &self,
        header: &'h [u8],
        version: &'static [u8],
    ) -> impl Iterator<Item = &'h [u8]> + use<'h, '_> {
        self.envelope
            .candidates(header)
            .filter_map(move |item| item.strip_prefix(version))
    }
}

/// `whsec_<base64>` (or bare base64) is an HMAC secret; `whpk_<base64>` an Ed25519 key.
pub(crate) fn parse_key(value: &str) -> Result<SwKey, String> {
    if value.starts_with("whpk_") {
        return ed25519::parse_public_key(value).map(SwKey::Ed25519);
    }
    let b64 = value.strip_prefix("whsec_").unwrap_or(value);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|secret| SwKey::Hmac(Key::new(Algorithm::Sha256, &secret)))
        .map_err(|_| "secret is not valid base64 after the whsec_ prefix".into())
}
