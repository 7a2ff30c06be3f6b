//! A provider resolved from its config table (preset, overrides, secrets) and the
//! [`ProviderRegistry`] the server looks providers up in by path segment.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use base64::Engine;
use secrecy::ExposeSecret;

use crate::{
    config::{ConfigError, Encoding, ProviderConfig, SchemeKind},
    extract::{self, Body, Source},
    preset,
    template::{Part, SignedPayload},
    verify::{self, Headers, Key, Rejection, Unverified, Verified},
};

/// Default `max_body` when neither the config nor the preset sets one.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// Default replay window when a timestamp is signed and no tolerance is set.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// At most this many signatures from one header are considered.
const MAX_CANDIDATES: usize = 16;

/// One configured provider, ready to verify requests. `Debug` never shows secrets.
#[derive(Clone)]
pub struct Provider {
    pub(crate) name: Arc<str>,
    pub(crate) scheme: SchemeKind,
    pub(crate) keys: Vec<Key>,
    pub(crate) signature_headers: Vec<String>,
    pub(crate) signature_prefix: Option<String>,
    pub(crate) encoding: Encoding,
    pub(crate) timestamp_headers: Vec<String>,
    pub(crate) id_header: Option<String>,
    pub(crate) template: SignedPayload,
    pub(crate) tolerance: Duration,
    pub(crate) event_id: Vec<Source>,
    pub(crate) event_type: Vec<Source>,
    pub(crate) max_body: usize,
    pub(crate) rate_limit: Option<(f64, u32)>,
    pub(crate) handshake: Option<preset::Handshake>,
    pub(crate) inline_secrets: bool,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field("secrets", &format_args!("[{} redacted]", self.keys.len()))
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider's name (its path segment).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Largest accepted body in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The rate limit as (requests per second, burst), when one is configured.
    pub fn rate_limit(&self) -> Option<(f64, u32)> {
        self.rate_limit
    }

    /// For a verified request that is the provider's endpoint-verification handshake, the
    /// challenge to answer with (the event is then neither stored nor published).
    ///
    /// The event type `verify` extracted is checked first, so ordinary events cost no
    /// extra pass over the body.
    pub fn handshake_reply<B: AsRef<[u8]>>(&self, verified: &Verified<B>) -> Option<String> {
        let h = self.handshake.as_ref()?;
        if verified.event_type() != h.type_value {
            return None;
        }
        let body = verified.body().as_ref();
        let kind = crate::json_seek::seek(body, &h.type_pointer).ok()??;
        if kind != h.type_value {
            return None;
        }
        crate::json_seek::seek(body, &h.challenge_pointer).ok()?
    }

    /// Whether any secret came from the config file rather than the environment.
    pub fn has_inline_secrets(&self) -> bool {
        self.inline_secrets
    }

    /// Verify the signature over the exact bytes, then (and only then) extract the event
    /// ID and type. `now` is the current unix time in seconds.
    pub fn verify<B: AsRef<[u8]>>(
        &self,
        request: Unverified<'_, B>,
        now: i64,
    ) -> Result<Verified<B>, Rejection> {
        let headers = request.headers;
        self.check_signature(headers, request.body.as_ref(), now)?;
        let body = Body::new(request.body.as_ref());
        let event_id = extract::event_id(&self.event_id, headers, &body)
            .map_err(|_| Rejection::MalformedPayload)?;
        let event_type = extract::event_type(&self.event_type, headers, &body)
            .map_err(|_| Rejection::MalformedPayload)?;
        Ok(Verified {
            provider: self.name.clone(),
            event_id,
            event_type,
            body: request.body,
        })
    }

    /// Only the signature check of [`Provider::verify`] (no extraction); for benchmarks
    /// and diagnostics.
    pub fn check_signature(
        &self,
        headers: &dyn Headers,
        body: &[u8],
        now: i64,
    ) -> Result<(), Rejection> {
        let signature =
            first_header(headers, &self.signature_headers).ok_or(Rejection::MissingSignature)?;
        let timestamp = match self.scheme {
            // Stripe always signs a timestamp: without `t=` the request cannot be checked.
            SchemeKind::Stripe => Some(stripe_timestamp(signature).unwrap_or_default()),
            SchemeKind::Hmac | SchemeKind::StandardWebhooks
                if !self.timestamp_headers.is_empty() =>
            {
                Some(
                    first_header(headers, &self.timestamp_headers)
                        .ok_or(Rejection::InvalidTimestamp)?,
                )
            }
            SchemeKind::Hmac | SchemeKind::StandardWebhooks => None,
        };
        if let Some(raw) = timestamp {
            let ts = verify::parse_timestamp(raw)?;
            verify::check_window(ts, now, self.tolerance.as_secs() as i64)?;
        }
        let id: &[u8] = match (&self.id_header, self.template.uses(&Part::Id)) {
            (Some(name), true) => headers.get(name).ok_or(Rejection::InvalidSignature)?,
            _ => b"",
        };
        let ts = timestamp.unwrap_or_default();
        for key in &self.keys {
            let tag = key.tag(|sink| self.template.feed(ts, id, body, sink));
            if self.any_candidate(signature, |candidate| tag.matches(candidate)) {
                return Ok(());
            }
        }
        Err(Rejection::InvalidSignature)
    }

    /// Decode every signature the header carries (into a stack buffer, no allocation) and
    /// report whether `matches` accepted any. All candidates are checked, so timing does
    /// not reveal which one matched.
    fn any_candidate(&self, header: &[u8], mut matches: impl FnMut(&[u8]) -> bool) -> bool {
        let mut buf = [0u8; 96];
        let mut matched = false;
        let mut check = |text: &[u8]| {
            if let Some(n) = self.decode_into(text, &mut buf) {
                matched |= matches(&buf[..n]);
            }
        };
        match self.scheme {
            SchemeKind::Stripe => header
                .split(|b| *b == b',')
                .take(MAX_CANDIDATES)
                .filter_map(|item| item.trim_ascii().strip_prefix(b"v1="))
                .for_each(&mut check),
            SchemeKind::StandardWebhooks => header
                .split(|b| *b == b' ')
                .take(MAX_CANDIDATES)
                .filter_map(|item| item.strip_prefix(b"v1,"))
                .for_each(&mut check),
            SchemeKind::Hmac => {
                let mut sig = header.trim_ascii();
                if let Some(prefix) = &self.signature_prefix {
                    sig = sig.strip_prefix(prefix.as_bytes()).unwrap_or(sig);
                }
                check(sig);
            }
        }
        matched
    }

    /// Decode one signature into `buf`; `None` when it cannot be a MAC of ours.
    fn decode_into(&self, text: &[u8], buf: &mut [u8; 96]) -> Option<usize> {
        match self.encoding {
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
}

/// The `t=` value of a `Stripe-Signature` header.
fn stripe_timestamp(header: &[u8]) -> Option<&[u8]> {
    header
        .split(|b| *b == b',')
        .find_map(|item| item.trim_ascii().strip_prefix(b"t="))
}

fn first_header<'h>(headers: &'h dyn Headers, names: &[String]) -> Option<&'h [u8]> {
    names.iter().find_map(|n| headers.get(n))
}

/// All configured providers, by name.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<Provider>>,
}

impl ProviderRegistry {
    /// The provider serving `POST /webhooks/{name}`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.get(name)
    }

    /// Every provider, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    /// Resolve every `[providers.<name>]` table; `env` looks up secret variables.
    pub fn from_config(
        tables: &BTreeMap<String, ProviderConfig>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut providers = BTreeMap::new();
        for (name, table) in tables {
            let provider = resolve(name, table, &env)?;
            providers.insert(name.clone(), Arc::new(provider));
        }
        Ok(Self { providers })
    }
}

fn resolve(
    name: &str,
    table: &ProviderConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Provider, ConfigError> {
    let key = |field: &str| format!("providers.{name}.{field}");
    let invalid = |field: &str, reason: String| ConfigError::invalid(key(field), reason);

    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::invalid(
            format!("providers.{name}"),
            "provider names may only contain a-z, 0-9, '-' and '_'",
        ));
    }
    let cfg = match &table.preset {
        Some(p) => {
            let preset = preset::lookup(p).ok_or_else(|| {
                invalid(
                    "preset",
                    format!("unknown preset {p:?} (known: {})", preset::NAMES.join(", ")),
                )
            })?;
            preset::apply(table, preset)
        }
        None => table.clone(),
    };
    let scheme = cfg
        .scheme
        .ok_or_else(|| invalid("scheme", "missing: set `scheme` or `preset`".into()))?;
    let algorithm = cfg.algorithm.unwrap_or(crate::config::Algorithm::Sha256);
    let encoding = cfg.encoding.unwrap_or(Encoding::Hex);
    let signature_headers = lower(
        cfg.signature_header
            .ok_or_else(|| invalid("signature_header", "missing".into()))?
            .to_vec(),
    );
    if signature_headers.is_empty() || signature_headers.iter().any(String::is_empty) {
        return Err(invalid(
            "signature_header",
            "must name at least one header".into(),
        ));
    }
    let timestamp_headers = lower(cfg.timestamp_header.map(|h| h.to_vec()).unwrap_or_default());
    let signs_timestamp = scheme == SchemeKind::Stripe || !timestamp_headers.is_empty();
    let template_text = cfg.signed_payload.unwrap_or_else(|| {
        if signs_timestamp {
            "{timestamp}.{body}"
        } else {
            "{body}"
        }
        .into()
    });
    let template =
        SignedPayload::parse(&template_text).map_err(|r| invalid("signed_payload", r))?;
    if template.uses(&Part::Timestamp) && !signs_timestamp {
        return Err(invalid(
            "signed_payload",
            "uses {timestamp} but no timestamp_header is set".into(),
        ));
    }
    let id_header = cfg.id_header.map(|h| h.to_ascii_lowercase());
    if template.uses(&Part::Id) && id_header.is_none() {
        return Err(invalid(
            "signed_payload",
            "uses {id} but no id_header is set".into(),
        ));
    }
    let sources = |field: &str, specs: Option<Vec<String>>| {
        specs
            .unwrap_or_default()
            .iter()
            .map(|s| Source::parse(s).map_err(|r| invalid(field, r)))
            .collect::<Result<Vec<_>, _>>()
    };
    let event_id = sources("event_id", cfg.event_id)?;
    let event_type = sources("event_type", cfg.event_type)?;
    let max_body = cfg.max_body.map(|b| b.as_u64()).unwrap_or(DEFAULT_MAX_BODY);
    if max_body == 0 {
        return Err(invalid("max_body", "must be greater than 0".into()));
    }
    let rate_limit = match cfg.rate_limit {
        Some(rate) if !(rate.is_finite() && rate > 0.0) => {
            return Err(invalid(
                "rate_limit",
                "must be a positive number of requests per second".into(),
            ));
        }
        Some(rate) => Some((rate, cfg.rate_burst.unwrap_or(rate.ceil() as u32).max(1))),
        None => None,
    };

    let mut raw_secrets: Vec<(String, String)> = Vec::new();
    for var in &cfg.secrets_env {
        match env(var) {
            Some(v) if !v.is_empty() => raw_secrets.push((format!("secrets_env ({var})"), v)),
            _ => {
                return Err(invalid(
                    "secrets_env",
                    format!("environment variable {var} is not set or empty"),
                ));
            }
        }
    }
    for (i, s) in cfg.secrets.iter().enumerate() {
        let v = s.expose_secret();
        if v.is_empty() {
            return Err(invalid("secrets", format!("secret #{i} is empty")));
        }
        raw_secrets.push((format!("secrets[{i}]"), v.to_owned()));
    }
    if raw_secrets.is_empty() {
        return Err(invalid(
            "secrets_env",
            "no secrets: set `secrets_env` (or `secrets`)".into(),
        ));
    }
    let keys = raw_secrets
        .iter()
        .map(|(origin, value)| {
            let bytes = secret_bytes(scheme, value)
                .map_err(|r| ConfigError::invalid(format!("providers.{name}.{origin}"), r))?;
            Ok(Key::new(algorithm, &bytes))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;

    Ok(Provider {
        name: name.into(),
        scheme,
        keys,
        signature_headers,
        signature_prefix: cfg.signature_prefix.filter(|p| !p.is_empty()),
        encoding,
        timestamp_headers,
        id_header,
        template,
        tolerance: cfg.tolerance.unwrap_or(DEFAULT_TOLERANCE),
        event_id,
        event_type,
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
        rate_limit,
        handshake: table.preset.as_deref().and_then(preset::handshake),
        inline_secrets: !cfg.secrets.is_empty(),
    })
}

fn lower(names: Vec<String>) -> Vec<String> {
    names.into_iter().map(|n| n.to_ascii_lowercase()).collect()
}

/// Standard Webhooks secrets are `whsec_<base64>`; the MAC key is the decoded bytes.
fn secret_bytes(scheme: SchemeKind, value: &str) -> Result<Vec<u8>, String> {
    match scheme {
        SchemeKind::StandardWebhooks => {
            let b64 = value.strip_prefix("whsec_").unwrap_or(value);
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| "secret is not valid base64 after the whsec_ prefix".into())
        }
        _ => Ok(value.as_bytes().to_vec()),
    }
}
