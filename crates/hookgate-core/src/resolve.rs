//! Turning one `[providers.<name>]` table into a [`Provider`]: merge its preset, check
//! every field the scheme needs (naming the key when one is wrong), decode the key
//! material (naming the variable when a key does not decode), compile the handshake.
//! Fetched-key schemes (`aws-sns`, `google-pubsub`, `paypal`) take no key material; their
//! fields are checked in [`crate::scheme::fetched`].

use secrecy::ExposeSecret;

use crate::{
    catalog::PresetCatalog,
    config::{Algorithm, ConfigError, Encoding, ProviderConfig, SchemeKind, TimestampFormat},
    extract::Source,
    handshake::{Handshake, HandshakeSpec},
    preset,
    provider::{DEFAULT_MAX_BODY, DEFAULT_TOLERANCE, Provider},
    scheme::{
        Envelope, Scheme, SecretToken, TimestampSource,
        client_state::ClientStateScheme,
        ecdsa::{self, EcdsaScheme},
        ed25519::{self, Ed25519Scheme},
        fetched,
        hmac::HmacScheme,
        mailgun::MailgunScheme,
        standard_webhooks::{self, StandardWebhooks, SwKey},
        token::{TokenKind, TokenScheme},
        twilio::TwilioScheme,
    },
    template::{Part, SignedPayload},
    verify::Key,
};

/// Key material as configured, with where it came from (for error messages).
struct RawKey {
    origin: String,
    value: String,
}

pub(crate) fn resolve(
    name: &str,
    table: &ProviderConfig,
    catalog: &PresetCatalog,
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
    let (cfg, handshake_spec) = match &table.preset {
        Some(p) => {
            let preset = catalog.get(p).ok_or_else(|| {
                invalid(
                    "preset",
                    format!(
                        "unknown preset {p:?} (known: {})",
                        catalog.names().join(", ")
                    ),
                )
            })?;
            (
                preset::apply(table, preset.config().clone()),
                preset.handshake().cloned(),
            )
        }
        None => (table.clone(), None),
    };
    let kind = cfg
        .scheme
        .ok_or_else(|| invalid("scheme", "missing: set `scheme` or `preset`".into()))?;

    let sources = |field: &str, specs: Option<&Vec<String>>| {
        specs
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|s| Source::parse(s).map_err(|r| invalid(field, r)))
            .collect::<Result<Vec<_>, _>>()
    };
    let event_id = sources("event_id", cfg.event_id.as_ref())?;
    let event_type = sources("event_type", cfg.event_type.as_ref())?;
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
    let tolerance_ms =
        i64::try_from(cfg.tolerance.unwrap_or(DEFAULT_TOLERANCE).as_millis()).unwrap_or(i64::MAX);
    if let Some(url) = &cfg.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(invalid(
            "public_url",
            "must be an absolute http(s) URL, exactly as given to the provider".into(),
        ));
    }

    let raw_keys = if kind.fetches_keys() {
        if let Some(field) = [
            ("secrets_env", !cfg.secrets_env.is_empty()),
            ("secrets", !cfg.secrets.is_empty()),
        ]
        .into_iter()
        .find_map(|(f, set)| set.then_some(f))
        {
            return Err(invalid(
                field,
                format!(
                    "the {} scheme fetches its keys (key_hosts); remove {field}",
                    kind.as_str()
                ),
            ));
        }
        Vec::new()
    } else {
        if let Some(field) = fetched::fields_set(&cfg).next() {
            return Err(invalid(
                field,
                "only read by the aws-sns, google-pubsub and paypal schemes".into(),
            ));
        }
        key_material(&cfg, env, &invalid)?
    };
    let key_error = |k: &RawKey, reason: String| {
        ConfigError::invalid(format!("providers.{name}.{}", k.origin), reason)
    };
    let algorithm = cfg.algorithm.unwrap_or(match kind {
        SchemeKind::Twilio => Algorithm::Sha1,
        _ => Algorithm::Sha256,
    });
    let mac_keys = || -> Vec<Key> {
        raw_keys
            .iter()
            .map(|k| Key::new(algorithm, k.value.as_bytes()))
            .collect()
    };
    let tokens = || -> Vec<SecretToken> {
        raw_keys
            .iter()
            .map(|k| SecretToken::new(k.value.as_bytes()))
            .collect()
    };

    let scheme = match kind {
        SchemeKind::Hmac | SchemeKind::Stripe => Scheme::Hmac(HmacScheme {
            envelope: envelope(kind, &cfg, tolerance_ms, &invalid)?,
            keys: mac_keys(),
        }),
        SchemeKind::StandardWebhooks => {
            let envelope = envelope(kind, &cfg, tolerance_ms, &invalid)?;
            let mut hmac_keys = Vec::new();
            let mut public_keys = Vec::new();
            for k in &raw_keys {
                match standard_webhooks::parse_key(&k.value).map_err(|r| key_error(k, r))? {
                    SwKey::Hmac(key) => hmac_keys.push(key),
                    SwKey::Ed25519(key) => public_keys.push(key),
                }
            }
            Scheme::StandardWebhooks(StandardWebhooks {
                envelope,
                hmac_keys,
                public_keys,
            })
        }
        SchemeKind::Ed25519 => Scheme::Ed25519(Ed25519Scheme {
            envelope: envelope(kind, &cfg, tolerance_ms, &invalid)?,
            keys: raw_keys
                .iter()
                .map(|k| ed25519::parse_public_key(&k.value).map_err(|r| key_error(k, r)))
                .collect::<Result<_, _>>()?,
        }),
        SchemeKind::EcdsaP256 => Scheme::EcdsaP256(EcdsaScheme {
            envelope: envelope(kind, &cfg, tolerance_ms, &invalid)?,
            keys: raw_keys
                .iter()
                .map(|k| ecdsa::parse_public_key(&k.value).map_err(|r| key_error(k, r)))
                .collect::<Result<_, _>>()?,
        }),
        SchemeKind::Twilio => Scheme::Twilio(TwilioScheme {
            signature_headers: signature_headers(&cfg, &invalid)?,
            public_url: cfg.public_url.clone().ok_or_else(|| {
                invalid(
                    "public_url",
                    "required: the twilio scheme signs the URL the provider was given".into(),
                )
            })?,
            keys: mac_keys(),
        }),
        SchemeKind::Token | SchemeKind::Basic => Scheme::Token(TokenScheme {
            kind: if kind == SchemeKind::Token {
                TokenKind::Token
            } else {
                TokenKind::Basic
            },
            header: cfg
                .token_header
                .as_deref()
                .unwrap_or("authorization")
                .to_ascii_lowercase(),
            keys: tokens(),
        }),
        SchemeKind::Mailgun => Scheme::Mailgun(MailgunScheme {
            keys: mac_keys(),
            tolerance_ms,
        }),
        SchemeKind::ClientState => Scheme::ClientState(ClientStateScheme { keys: tokens() }),
        SchemeKind::AwsSns | SchemeKind::GooglePubsub | SchemeKind::Paypal => {
            Scheme::Fetched(fetched::resolve(kind, &cfg, &invalid)?)
        }
    };

    let verify_token = match &cfg.verify_token_env {
        Some(var) => Some(env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            invalid(
                "verify_token_env",
                format!("environment variable {var} is not set or empty"),
            )
        })?),
        None => None,
    };
    let handshake = handshake_spec
        .as_ref()
        .map(|spec| {
            if matches!(spec, HandshakeSpec::Zoom { .. } | HandshakeSpec::Crc { .. })
                && scheme.first_mac_key().is_none()
            {
                return Err(invalid(
                    "scheme",
                    format!("the {} handshake needs an HMAC secret", spec.kind()),
                ));
            }
            Handshake::compile(spec, &event_type, verify_token.as_deref()).map_err(|r| {
                let field = if matches!(spec, HandshakeSpec::VerifyToken {}) {
                    "verify_token_env"
                } else {
                    "preset"
                };
                invalid(field, r)
            })
        })
        .transpose()?;

    Ok(Provider {
        name: name.into(),
        kind,
        scheme,
        event_id,
        event_type,
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
        rate_limit,
        handshake,
        handshake_kind: handshake_spec.as_ref().map(HandshakeSpec::kind),
        inline_secrets: !cfg.secrets.is_empty(),
    })
}

/// The configured key material: every `secrets_env` variable, then inline `secrets`.
fn key_material(
    cfg: &ProviderConfig,
    env: &impl Fn(&str) -> Option<String>,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Vec<RawKey>, ConfigError> {
    let mut keys = Vec::new();
    for var in &cfg.secrets_env {
        match env(var) {
            Some(value) if !value.is_empty() => keys.push(RawKey {
                origin: format!("secrets_env ({var})"),
                value,
            }),
            _ => {
                return Err(invalid(
                    "secrets_env",
                    format!("environment variable {var} is not set or empty"),
                ));
            }
        }
    }
    for (i, s) in cfg.secrets.iter().enumerate() {
        let value = s.expose_secret();
        if value.is_empty() {
            return Err(invalid("secrets", format!("secret #{i} is empty")));
        }
        keys.push(RawKey {
            origin: format!("secrets[{i}]"),
            value: value.to_owned(),
        });
    }
    if keys.is_empty() {
        return Err(invalid(
            "secrets_env",
            "no secrets: set `secrets_env` (or `secrets`)".into(),
        ));
    }
    Ok(keys)
}

fn signature_headers(
    cfg: &ProviderConfig,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Vec<String>, ConfigError> {
    let headers = lower(
        cfg.signature_header
            .as_ref()
            .ok_or_else(|| invalid("signature_header", "missing".into()))?
            .to_vec(),
    );
    if headers.is_empty() || headers.iter().any(String::is_empty) {
        return Err(invalid(
            "signature_header",
            "must name at least one header".into(),
        ));
    }
    Ok(headers)
}

/// The header, timestamp and template rules of a header-signed scheme.
fn envelope(
    kind: SchemeKind,
    cfg: &ProviderConfig,
    tolerance_ms: i64,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Envelope, ConfigError> {
    let signature_headers = signature_headers(cfg, invalid)?;
    let (default_separator, default_prefix, default_item) = match kind {
        SchemeKind::Stripe => (Some(","), Some("v1="), Some("t=")),
        SchemeKind::StandardWebhooks => (Some(" "), None, None),
        _ => (None, None, None),
    };
    let separator = cfg
        .signature_separator
        .clone()
        .or(default_separator.map(str::to_owned))
        .filter(|s| !s.is_empty());
    let signature_prefix = cfg
        .signature_prefix
        .clone()
        .or(default_prefix.map(str::to_owned))
        .filter(|p| !p.is_empty());
    let item = cfg
        .signature_timestamp
        .clone()
        .or(default_item.map(str::to_owned))
        .filter(|p| !p.is_empty());
    let timestamp_headers = lower(
        cfg.timestamp_header
            .as_ref()
            .map(|h| h.to_vec())
            .unwrap_or_default(),
    );
    let timestamp = match (item, timestamp_headers.is_empty(), &cfg.timestamp_json) {
        (None, true, None) => TimestampSource::None,
        (None, false, None) => TimestampSource::Header(timestamp_headers),
        (Some(item), true, None) => {
            if separator.is_none() {
                return Err(invalid(
                    "signature_timestamp",
                    "needs signature_separator (the header's items)".into(),
                ));
            }
            TimestampSource::Item(item)
        }
        (None, true, Some(pointer)) => match Source::parse(&format!("json:{pointer}")) {
            Ok(Source::Json(tokens)) => TimestampSource::Json(tokens),
            Ok(_) => return Err(invalid("timestamp_json", "must be a JSON pointer".into())),
            Err(r) => return Err(invalid("timestamp_json", r)),
        },
        _ => {
            return Err(invalid(
                "timestamp_header",
                "set only one of timestamp_header, signature_timestamp and timestamp_json".into(),
            ));
        }
    };
    let signs_timestamp = matches!(
        timestamp,
        TimestampSource::Header(_) | TimestampSource::Item(_)
    );
    let template_text = cfg.signed_payload.clone().unwrap_or_else(|| {
        match kind {
            SchemeKind::StandardWebhooks => "{id}.{timestamp}.{body}",
            _ if signs_timestamp => "{timestamp}.{body}",
            _ => "{body}",
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
    let id_header = cfg.id_header.as_ref().map(|h| h.to_ascii_lowercase());
    if template.uses(&Part::Id) && id_header.is_none() {
        return Err(invalid(
            "signed_payload",
            "uses {id} but no id_header is set".into(),
        ));
    }
    if template.uses(&Part::Url) && cfg.public_url.is_none() {
        return Err(invalid(
            "public_url",
            "required: signed_payload signs {url}; set the exact URL the provider was given".into(),
        ));
    }
    let encoding = cfg.encoding.unwrap_or(match kind {
        SchemeKind::StandardWebhooks | SchemeKind::EcdsaP256 => Encoding::Base64,
        _ => Encoding::Hex,
    });
    Ok(Envelope {
        signature_headers,
        signature_prefix,
        separator,
        encoding,
        timestamp,
        timestamp_format: cfg.timestamp_format.unwrap_or(TimestampFormat::Unix),
        tolerance_ms,
        id_header,
        template,
        public_url: cfg.public_url.clone(),
    })
}

fn lower(names: Vec<String>) -> Vec<String> {
    names.into_iter().map(|n| n.to_ascii_lowercase()).collect()
}
