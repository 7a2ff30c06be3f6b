//! The `ecdsa-p256` scheme (SendGrid): ECDSA over P-256 with SHA-256 of the template's
//! bytes, a DER-encoded signature (base64 in the header) and SPKI public keys. The signed
//! bytes are hashed as they stream, then checked as a prehash against every key.

use base64::Engine;
use p256::ecdsa::{DerSignature, VerifyingKey, signature::hazmat::PrehashVerifier};
use sha2::Digest;

use super::{Envelope, MAX_SIGNATURE, Request};
use crate::verify::Rejection;

/// A configured ECDSA P-256 scheme.
#[derive(Clone)]
pub(crate) struct EcdsaScheme {
    pub(crate) envelope: Envelope,
    pub(crate) keys: Vec<VerifyingKey>,
}

impl EcdsaScheme {
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let opened = self.envelope.open(request, now)?;
        let mut hasher = sha2::Sha256::new();
        self.envelope
            .template
            .feed_fields(&opened.fields(), |b| hasher.update(b));
        let digest = hasher.finalize();
        let mut buf = [0u8; MAX_SIGNATURE];
        let mut matched = false;
        for text in self.envelope.candidates(opened.header) {
            let Some(n) = self.envelope.decode_into(text, &mut buf) else {
                continue;
            };
            let Ok(signature) = DerSignature::try_from(&buf[..n]) else {
                continue;
            };
            matched |= self.keys.iter().fold(false, |ok, key| {
                ok | key.verify_prehash(&digest, &signature).is_ok()
            });
        }
        if !matched {
            return Err(Rejection::InvalidSignature);
        }
        self.envelope.after_signature(request, now)
    }
}

/// A public key as SendGrid publishes it: base64 of the DER SubjectPublicKeyInfo, or the
/// same in a PEM `PUBLIC KEY` block.
pub(crate) fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    use p256::pkcs8::DecodePublicKey;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text)
            .map_err(|_| "not a P-256 public key in PEM (SubjectPublicKeyInfo)".to_string());
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| "public key is not valid base64".to_string())?;
    VerifyingKey::from_public_key_der(&der)
        .map_err(|_| "not a P-256 public key (base64 DER SubjectPublicKeyInfo)".to_string())
}
