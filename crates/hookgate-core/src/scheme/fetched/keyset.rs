//! Key material as fetched: an X.509 certificate (PEM; SNS, PayPal) or a JWKS (Pub/Sub),
//! parsed once into RSA public keys, and RSA PKCS#1 v1.5 verification with `ring`.
//!
//! Certificates are not checked for dates or chains: the trust comes from the URL rule
//! (an allowlisted provider host over https), as in the providers' own validators; an
//! expired certificate still served at the official URL is what the provider signs with.

use base64::Engine;
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use x509_cert::{Certificate, der::DecodePem};

/// What a URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// One PEM X.509 certificate (the first, when a chain is served).
    Certificate,
    /// A JSON Web Key Set: `{"keys": [{"kty": "RSA", "kid": …, "n": …, "e": …}]}`.
    Jwks,
}

/// Why fetched bytes are not usable key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No PEM certificate block, or it does not parse.
    #[error("not a PEM X.509 certificate")]
    Certificate,
    /// The certificate's key is not an RSA key.
    #[error("the certificate's key is not RSA")]
    NotRsa,
    /// Not a JWKS with at least one RSA signing key.
    #[error("not a JWKS with an RSA signing key")]
    Jwks,
}

/// The hash of an RSA PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    /// SNS `SignatureVersion` 1 only.
    Sha1,
    Sha256,
}

impl Hash {
    fn params(self) -> &'static RsaParameters {
        match self {
            Hash::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

#[derive(Clone)]
enum RsaKey {
    /// PKCS#1 `RSAPublicKey` DER, as inside a certificate's SPKI.
    Der(Vec<u8>),
    /// A JWK's modulus and exponent, big-endian.
    Components { n: Vec<u8>, e: Vec<u8> },
}

#[derive(Clone)]
struct PublicKey {
    kid: Option<String>,
    key: RsaKey,
}

/// The public keys one URL served. Public keys are not secret, but `Debug` still shows
/// only the key IDs.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| k.kid.as_deref().unwrap_or("-")))
            .finish()
    }
}

/// rsaEncryption, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

impl KeySet {
    /// Parse what a URL of `kind` served.
    pub fn parse(kind: KeyKind, bytes: &[u8]) -> Result<Self, KeyError> {
        match kind {
            KeyKind::Certificate => certificate(bytes),
            KeyKind::Jwks => jwks(bytes),
        }
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none (never true for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether it holds the key `kid` (JWKS).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether `sig` is a valid signature of `msg` by the key `kid` (any key when `None`).
    pub(crate) fn verify(&self, kid: Option<&str>, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
        self.keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .any(|k| match &k.key {
                RsaKey::Der(der) => UnparsedPublicKey::new(hash.params(), der)
                    .verify(msg, sig)
                    .is_ok(),
                RsaKey::Components { n, e } => RsaPublicKeyComponents { n, e }
                    .verify(hash.params(), msg, sig)
                    .is_ok(),
            })
    }
}

fn certificate(bytes: &[u8]) -> Result<KeySet, KeyError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let start = find(bytes, BEGIN).ok_or(KeyError::Certificate)?;
    let end = find(&bytes[start..], END).ok_or(KeyError::Certificate)? + start + END.len();
    let cert = Certificate::from_pem(&bytes[start..end]).map_err(|_| KeyError::Certificate)?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
        return Err(KeyError::NotRsa);
    }
    let der = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Certificate)?;
    Ok(KeySet {
        keys: vec![PublicKey {
            kid: None,
            key: RsaKey::Der(der.to_vec()),
        }],
    })
}

#[derive(serde::Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(serde::Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

fn jwks(bytes: &[u8]) -> Result<KeySet, KeyError> {
    let set: Jwks = serde_json::from_slice(bytes).map_err(|_| KeyError::Jwks)?;
    let b64 = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .ok()
    };
    let keys: Vec<PublicKey> = set
        .keys
        .into_iter()
        .filter(|k| k.kty.as_deref() == Some("RSA"))
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
        .filter_map(|k| {
            let n = b64(k.n.as_deref()?)?;
            let e = b64(k.e.as_deref()?)?;
            Some(PublicKey {
                kid: Some(k.kid?),
                key: RsaKey::Components { n, e },
            })
        })
        .collect();
    if keys.is_empty() {
        return Err(KeyError::Jwks);
    }
    Ok(KeySet { keys })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNS_CERT: &str = include_str!("../../../tests/fixtures/sns-signing-cert-2021.pem");

    #[test]
    fn a_certificate_gives_one_rsa_key_and_a_chain_its_first() {
        let set = KeySet::parse(KeyKind::Certificate, SNS_CERT.as_bytes()).expect("cert");
        assert_eq!(set.len(), 1);
        let chain = format!("junk\n{SNS_CERT}{SNS_CERT}");
        assert_eq!(
            KeySet::parse(KeyKind::Certificate, chain.as_bytes())
                .expect("chain")
                .len(),
            1
        );
        assert_eq!(
            KeySet::parse(KeyKind::Certificate, b"<html>not found</html>").map(|_| ()),
            Err(KeyError::Certificate)
        );
        let cut = &SNS_CERT[..SNS_CERT.len() / 2];
        assert!(KeySet::parse(KeyKind::Certificate, cut.as_bytes()).is_err());
    }

    #[test]
    fn a_jwks_keeps_rsa_signing_keys_by_kid() {
        let jwks = br#"{"keys":[
            {"kty":"RSA","kid":"a","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"},
            {"kty":"EC","kid":"b","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","kid":"c","use":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"}
        ]}"#;
        let set = KeySet::parse(KeyKind::Jwks, jwks).expect("jwks");
        assert_eq!(set.len(), 1);
        assert!(set.has_kid("a") && !set.has_kid("b") && !set.has_kid("c"));
        assert_eq!(
            KeySet::parse(KeyKind::Jwks, br#"{"keys":[]}"#).map(|_| ()),
            Err(KeyError::Jwks)
        );
        assert!(KeySet::parse(KeyKind::Jwks, b"{}").is_err());
    }
}
