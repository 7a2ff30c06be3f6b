//! The `token` and `basic` schemes (GitLab, Okta, Postmark): a header compared whole with
//! a configured secret. `token` compares the header's value as sent (`token_header`,
//! default `authorization`); `basic` decodes `Authorization: Basic <base64>` and compares
//! the `user:password` inside. Comparisons are of SHA-256 digests, constant-time.

use base64::Engine;

use super::{Request, SecretToken};
use crate::verify::Rejection;

/// How the header is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// The whole value is the token.
    Token,
    /// `Basic <base64 of user:password>`.
    Basic,
}

/// A configured token or Basic scheme.
#[derive(Clone)]
pub(crate) struct TokenScheme {
    pub(crate) kind: TokenKind,
    pub(crate) header: String,
    pub(crate) keys: Vec<SecretToken>,
}

impl TokenScheme {
    pub(crate) fn verify(&self, request: &Request<'_>) -> Result<(), Rejection> {
        let value = request
            .headers
            .get(&self.header)
            .ok_or(Rejection::MissingSignature)?;
        let mut decoded = [0u8; 512];
        let presented: &[u8] = match self.kind {
            TokenKind::Token => value,
            TokenKind::Basic => {
                let value = value.trim_ascii();
                let (scheme, credentials) = value
                    .iter()
                    .position(|b| *b == b' ')
                    .map(|at| (&value[..at], value[at + 1..].trim_ascii()))
                    .ok_or(Rejection::InvalidSignature)?;
                if !scheme.eq_ignore_ascii_case(b"basic") {
                    return Err(Rejection::InvalidSignature);
                }
                let n = base64::engine::general_purpose::STANDARD
                    .decode_slice(credentials, &mut decoded)
                    .map_err(|_| Rejection::InvalidSignature)?;
                &decoded[..n]
            }
        };
        let matched = self
            .keys
            .iter()
            .fold(false, |ok, key| ok | key.matches(presented));
        if matched {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }

    /// The header value that carries the first secret (signing side).
    pub(crate) fn header_value(&self) -> Option<String> {
        let raw = self.keys.first()?.raw();
        Some(match self.kind {
            TokenKind::Token => String::from_utf8_lossy(raw).into_owned(),
            TokenKind::Basic => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ),
        })
    }
}
