//! Producing correctly signed requests for a configured provider: `hookgate sign`,
//! `hookgate send`, the load generator and the tests all use this, so "signed by us
//! verifies by us" is one property test away (and the tests also check every scheme
//! against an independent signer).
//!
//! Symmetric schemes sign with the provider's first secret. Asymmetric ones (`ed25519`,
//! `ecdsa-p256`, `standard-webhooks` with only `whpk_` keys) need the private key, given
//! as a [`SigningKey`] (PEM or raw bytes), for tests and local development. Schemes whose
//! proof lives in the body (`mailgun`, `client-state`, a `timestamp_json`) rewrite the
//! body: use [`Provider::sign_request`] and send the body it returns.

use std::borrow::Cow;

use ed25519_dalek::Signer;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use serde_json::{Map, Value};
use sha2::Digest;

use crate::{
    config::{Encoding, SchemeKind},
    extract::Source,
    provider::Provider,
    scheme::{self, Envelope, Scheme, TimestampSource, twilio},
    template::{Fields, Part},
    timestamp,
};

/// A private key for signing test requests of asymmetric schemes. `Debug` is redacted.
#[derive(Clone)]
#[non_exhaustive]
pub enum SigningKey {
    /// Ed25519 (Discord, Standard Webhooks `v1a`).
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256 (SendGrid).
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::Ed25519(_) => f.write_str("SigningKey::Ed25519([redacted])"),
            SigningKey::P256(_) => f.write_str("SigningKey::P256([redacted])"),
        }
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The scheme is asymmetric and no (fitting) private key was given.
    #[error("the {0} scheme needs an {1} private key to sign")]
    NeedsPrivateKey(&'static str, &'static str),
    /// The private key could not be read.
    #[error("the private key could not be read: {0}")]
    BadKey(&'static str),
    /// The body cannot carry the proof this scheme puts in it (not a JSON object).
    #[error("the {0} scheme signs inside a JSON object body; this body is not one")]
    BodyNotJson(&'static str),
    /// The scheme verifies with keys the provider publishes (a certificate, a JWKS):
    /// only the provider can sign for it.
    #[error("the {0} scheme verifies with the provider's published keys; only the provider signs")]
    ProviderKeys(&'static str),
}

impl SigningKey {
    /// A PKCS#8 `PRIVATE KEY` PEM (Ed25519 or P-256), or a SEC1 `EC PRIVATE KEY` PEM.
    pub fn from_pem(pem: &str) -> Result<Self, SignError> {
        use p256::pkcs8::DecodePrivateKey;
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Ed25519(key));
        }
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::P256(key));
        }
        if let Ok(secret) = p256::SecretKey::from_sec1_pem(pem) {
            return Ok(SigningKey::P256(secret.into()));
        }
        Err(SignError::BadKey(
            "not a PKCS#8 Ed25519/P-256 or SEC1 P-256 private key PEM",
        ))
    }

    /// An Ed25519 key from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// A P-256 key from its 32-byte scalar.
    pub fn p256_from_bytes(scalar: &[u8]) -> Result<Self, SignError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(SigningKey::P256)
            .map_err(|_| SignError::BadKey("not a P-256 private scalar"))
    }

    /// The public key in the form the provider publishes it, for the config: 64 hex
    /// characters for Ed25519 (Discord; `whpk_` + base64 for Standard Webhooks is
    /// [`SigningKey::public_key_whpk`]), base64 SPKI DER for P-256 (SendGrid).
    pub fn public_key(&self) -> String {
        use p256::pkcs8::EncodePublicKey;
        match self {
            SigningKey::Ed25519(k) => hex::encode(k.verifying_key().as_bytes()),
            SigningKey::P256(k) => k
                .verifying_key()
                .to_public_key_der()
                .map(|der| scheme::encode(Encoding::Base64, der.as_bytes()))
                .unwrap_or_default(),
        }
    }

    /// An Ed25519 public key as `whpk_<base64>` (Standard Webhooks); `None` for P-256.
    pub fn public_key_whpk(&self) -> Option<String> {
        match self {
            SigningKey::Ed25519(k) => Some(format!(
                "whpk_{}",
                scheme::encode(Encoding::Base64, k.verifying_key().as_bytes())
            )),
            SigningKey::P256(_) => None,
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Query string to append to the endpoint URL (`?` + this) when not empty (Twilio's
    /// `bodySHA256`).
    pub query: String,
    /// Headers, signature included.
    pub headers: Vec<(String, String)>,
    /// The body to send (rewritten where the scheme's proof lives in it).
    pub body: Vec<u8>,
}

impl Provider {
    /// Headers that make `body` a valid request signed at unix time `now` with the
    /// provider's first secret. Header sources of the event-ID and type chains are filled
    /// with `event_id` and `event_type`.
    ///
    /// For schemes that need a private key or rewrite the body, the signature is left out;
    /// use [`Provider::sign_request`].
    pub fn sign(
        &self,
        body: &[u8],
        event_id: &str,
        event_type: &str,
        now: i64,
    ) -> Vec<(String, String)> {
        match self.sign_request(body, event_id, event_type, now, None) {
            Ok(signed) if signed.body == body && signed.query.is_empty() => signed.headers,
            _ => self.source_headers(Vec::new(), event_id, event_type),
        }
    }

    /// A complete signed request for `body` at unix time `now`: the private key is needed
    /// for asymmetric schemes only.
    pub fn sign_request(
        &self,
        body: &[u8],
        event_id: &str,
        event_type: &str,
        now: i64,
        private_key: Option<&SigningKey>,
    ) -> Result<SignedRequest, SignError> {
        let mut out = SignedRequest {
            query: String::new(),
            headers: Vec::new(),
            body: body.to_vec(),
        };
        match &self.scheme {
            Scheme::Hmac(s) => {
                let key = s.keys.first();
                sign_envelope(&s.envelope, &mut out, event_id, now, |bytes| {
                    key.map(|k| k.tag(|sink| sink(bytes)).as_bytes().to_vec())
                        .unwrap_or_default()
                })?;
            }
            Scheme::StandardWebhooks(s) => {
                let ed = match private_key {
                    Some(SigningKey::Ed25519(k)) => Some(k),
                    _ => None,
                };
                let (version, key) = match (s.hmac_keys.first(), ed) {
                    (_, Some(k)) => ("v1a,", Err(k)),
                    (Some(k), None) => ("v1,", Ok(k)),
                    (None, None) => {
                        return Err(SignError::NeedsPrivateKey("standard-webhooks", "Ed25519"));
                    }
                };
                let mut envelope = s.envelope.clone();
                envelope.signature_prefix = Some(version.into());
                sign_envelope(&envelope, &mut out, event_id, now, |bytes| match key {
                    Ok(k) => k.tag(|sink| sink(bytes)).as_bytes().to_vec(),
                    Err(k) => k.sign(bytes).to_bytes().to_vec(),
                })?;
            }
            Scheme::Ed25519(s) => {
                let Some(SigningKey::Ed25519(k)) = private_key else {
                    return Err(SignError::NeedsPrivateKey("ed25519", "Ed25519"));
                };
                sign_envelope(&s.envelope, &mut out, event_id, now, |bytes| {
                    k.sign(bytes).to_bytes().to_vec()
                })?;
            }
            Scheme::EcdsaP256(s) => {
                let Some(SigningKey::P256(k)) = private_key else {
                    return Err(SignError::NeedsPrivateKey("ecdsa-p256", "P-256"));
                };
                sign_envelope(&s.envelope, &mut out, event_id, now, |bytes| {
                    let digest = sha2::Sha256::digest(bytes);
                    let sig: Result<p256::ecdsa::DerSignature, _> = k.sign_prehash(&digest);
                    sig.map(|s| s.as_bytes().to_vec()).unwrap_or_default()
                })?;
            }
            Scheme::Twilio(s) => {
                let json = body
                    .trim_ascii_start()
                    .first()
                    .is_some_and(|b| *b == b'{' || *b == b'[');
                let (url, params) = if json {
                    out.query = format!("bodySHA256={}", hex::encode(sha2::Sha256::digest(body)));
                    (scheme::signed_url(&s.public_url, &out.query), Vec::new())
                } else {
                    (
                        Cow::Borrowed(s.public_url.as_bytes()),
                        twilio::sorted_params(body),
                    )
                };
                let url = String::from_utf8_lossy(&url).into_owned();
                if let Some(key) = s.keys.first() {
                    let tag = key.tag(|sink| twilio::feed(&url, &params, sink));
                    out.headers.push((
                        s.signature_headers[0].clone(),
                        scheme::encode(Encoding::Base64, tag.as_bytes()),
                    ));
                }
            }
            Scheme::Token(s) => {
                if let Some(value) = s.header_value() {
                    out.headers.push((s.header.clone(), value));
                }
            }
            Scheme::Mailgun(s) => {
                let ts = now.to_string();
                let token = format!("{:x}", sha2::Sha256::digest(format!("{event_id}{now}")));
                let signature = s
                    .keys
                    .first()
                    .map(|k| {
                        hex::encode(
                            k.tag(|sink| {
                                sink(ts.as_bytes());
                                sink(token.as_bytes());
                            })
                            .as_bytes(),
                        )
                    })
                    .unwrap_or_default();
                out.body = rewrite_json(body, "mailgun", |root| {
                    root.insert(
                        "signature".into(),
                        serde_json::json!({ "timestamp": ts, "token": token, "signature": signature }),
                    );
                })?;
            }
            Scheme::Fetched(_) => return Err(SignError::ProviderKeys(self.kind.as_str())),
            Scheme::ClientState(s) => {
                let state = s
                    .keys
                    .first()
                    .map(|k| String::from_utf8_lossy(k.raw()).into_owned())
                    .unwrap_or_default();
                out.body = rewrite_json(body, "client-state", |root| {
                    if let Some(Value::Array(items)) = root.get_mut("value") {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            item.insert("clientState".into(), Value::String(state.clone()));
                        }
                    }
                })?;
            }
        }
        out.headers = self.source_headers(std::mem::take(&mut out.headers), event_id, event_type);
        Ok(out)
    }

    /// `headers` plus the header sources of the event-ID and type chains.
    fn source_headers(
        &self,
        mut headers: Vec<(String, String)>,
        event_id: &str,
        event_type: &str,
    ) -> Vec<(String, String)> {
        for (chain, value) in [(&self.event_id, event_id), (&self.event_type, event_type)] {
            if let Some(Source::Header(name)) = chain.first()
                && !headers.iter().any(|(k, _)| k == name)
            {
                headers.push((name.clone(), value.into()));
            }
        }
        headers
    }

    /// A body carrying `event_id` and `event_type` where the provider's first body
    /// sources read them (JSON, or form fields for Twilio), padded to about `size` bytes.
    pub fn sample_body(&self, event_id: &str, event_type: &str, size: usize) -> Vec<u8> {
        if self.kind == SchemeKind::Twilio {
            return form_body(&self.event_id, &self.event_type, event_id, event_type, size);
        }
        let mut root = Value::Object(Map::new());
        if self.kind == SchemeKind::ClientState {
            root = serde_json::json!({
                "value": [{ "subscriptionId": event_id, "changeType": event_type, "clientState": "" }]
            });
        }
        for (chain, value) in [(&self.event_id, event_id), (&self.event_type, event_type)] {
            if let Some(Source::Json(pointer)) = chain.iter().find(|s| matches!(s, Source::Json(_)))
                && self.kind != SchemeKind::ClientState
            {
                set_pointer(&mut root, pointer, value);
            }
        }
        if let Value::Object(map) = &mut root {
            map.entry("data")
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let mut body = serde_json::to_vec(&root).unwrap_or_default();
        if body.len() + 14 < size {
            if let Value::Object(map) = &mut root {
                map.insert(
                    "padding".into(),
                    Value::String("x".repeat(size - body.len() - 14)),
                );
            }
            body = serde_json::to_vec(&root).unwrap_or_default();
        }
        body
    }
}

/// Sign an envelope-based request: timestamp, id, template bytes, signature header.
fn sign_envelope(
    envelope: &Envelope,
    out: &mut SignedRequest,
    event_id: &str,
    now: i64,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(), SignError> {
    let ts = timestamp::format(now, envelope.timestamp_format);
    if let TimestampSource::Json(pointer) = &envelope.timestamp {
        let value: Value = match envelope.timestamp_format {
            crate::config::TimestampFormat::Rfc3339 => Value::String(ts.clone()),
            _ => ts.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        };
        out.body = rewrite_json(&out.body, "timestamp_json", |root| {
            let mut node = Value::Object(std::mem::take(root));
            set_value(&mut node, pointer, value);
            if let Value::Object(map) = node {
                *root = map;
            }
        })?;
    }
    let id = if envelope.template.uses(&Part::Id) {
        event_id
    } else {
        ""
    };
    let url = scheme::signed_url(envelope.public_url.as_deref().unwrap_or(""), &out.query);
    let fields = Fields {
        timestamp: ts.as_bytes(),
        id: id.as_bytes(),
        body: &out.body,
        url: &url,
        method: b"POST",
    };
    let signature = scheme::encode(
        envelope.encoding,
        &sign(&envelope.template.to_bytes(&fields)),
    );
    let prefix = envelope.signature_prefix.as_deref().unwrap_or("");
    let value = match (&envelope.timestamp, &envelope.separator) {
        (TimestampSource::Item(item), Some(sep)) => format!("{item}{ts}{sep}{prefix}{signature}"),
        _ => format!("{prefix}{signature}"),
    };
    out.headers
        .push((envelope.signature_headers[0].clone(), value));
    if let TimestampSource::Header(names) = &envelope.timestamp {
        out.headers.push((names[0].clone(), ts));
    }
    if let (Some(name), true) = (&envelope.id_header, envelope.template.uses(&Part::Id)) {
        out.headers.push((name.clone(), event_id.into()));
    }
    Ok(())
}

/// Parse `body` as a JSON object, let `edit` change it, serialise it again.
fn rewrite_json(
    body: &[u8],
    scheme: &'static str,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Result<Vec<u8>, SignError> {
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else {
        return Err(SignError::BodyNotJson(scheme));
    };
    edit(&mut root);
    Ok(serde_json::to_vec(&Value::Object(root)).unwrap_or_default())
}

/// A form body with the first form sources filled, padded to about `size` bytes.
fn form_body(ids: &[Source], types: &[Source], id: &str, kind: &str, size: usize) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (chain, value) in [(ids, id), (types, kind)] {
        if let Some(Source::Form(field)) = chain.iter().find(|s| matches!(s, Source::Form(_))) {
            form.append_pair(field, value);
        }
    }
    let mut body = form.finish();
    if body.len() + 9 < size {
        body.push_str("&Padding=");
        body.push_str(&"x".repeat(size - body.len()));
    }
    body.into_bytes()
}

/// Set the string at the pointer `tokens`, creating objects on the way.
fn set_pointer(root: &mut Value, tokens: &[String], value: &str) {
    set_value(root, tokens, Value::String(value.into()));
}

fn set_value(root: &mut Value, tokens: &[String], value: Value) {
    let mut node = root;
    for (i, token) in tokens.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if i + 1 == tokens.len() {
            map.insert(token.clone(), value);
            return;
        }
        node = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `evt_<unix nanos hex><pid hex>`: a fresh event ID for test and benchmark events.
pub fn unique_event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("evt_{nanos:x}{:x}", std::process::id())
}
