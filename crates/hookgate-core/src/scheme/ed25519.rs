//! The `ed25519` scheme (Discord): an Ed25519 signature over the template's bytes,
//! checked with `verify_strict` (no malleable or small-order signatures, no weak keys)
//! against every configured public key.

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};

use super::{Envelope, MAX_SIGNATURE, Request};
use crate::verify::Rejection;

/// A configured Ed25519 scheme.
#[derive(Clone)]
pub(crate) struct Ed25519Scheme {
    pub(crate) envelope: Envelope,
    pub(crate) keys: Vec<VerifyingKey>,
}

impl Ed25519Scheme {
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let opened = self.envelope.open(request, now)?;
        let message = self.envelope.template.to_bytes(&opened.fields());
        let mut buf = [0u8; MAX_SIGNATURE];
        let mut matched = false;
        for text in self.envelope.candidates(opened.header) {
            if let Some(signature) = self
                .envelope
                .decode_into(text, &mut buf)
                .and_then(|n| signature(&buf[..n]))
            {
                matched |= any_key_verifies(&self.keys, &message, &signature);
            }
        }
        if !matched {
            return Err(Rejection::InvalidSignature);
        }
        self.envelope.after_signature(request, now)
    }
}

/// A 64-byte signature, or `None` for any other length.
pub(crate) fn signature(bytes: &[u8]) -> Option<Signature> {
    <[u8; 64]>::try_from(bytes)
        .ok()
        .map(|b| Signature::from_bytes(&b))
}

/// Whether any key verifies `signature` over `message`, strictly.
pub(crate) fn any_key_verifies(
    keys: &[VerifyingKey],
    message: &[u8],
    signature: &Signature,
) -> bool {
    keys.iter().fold(false, |ok, key| {
        ok | key.verify_strict(message, signature).is_ok()
    })
}

/// A public key as providers publish it: 64 hex characters (Discord), `whpk_<base64>`
/// (Standard Webhooks) or the base64 of the 32 raw bytes. Weak (small-order) keys are
/// refused.
pub(crate) fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    let bytes = if let Some(b64) = text.strip_prefix("whpk_") {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "public key is not valid base64 after the whpk_ prefix".to_string())?
    } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| "public key is not valid hex".to_string())?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| "public key is neither 64 hex characters nor base64".to_string())?
    };
    let raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("an Ed25519 public key has 32 bytes, not {}", bytes.len()))?;
    let key = VerifyingKey::from_bytes(&raw)
        .map_err(|_| "not a valid Ed25519 public key (point does not decode)".to_string())?;
    if key.is_weak() {
        return Err("weak (small-order) Ed25519 public key".into());
    }
    Ok(key)
}
