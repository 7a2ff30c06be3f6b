//! Built-in provider presets. A preset fills every scheme field of a provider; fields set
//! beside it in the config override the preset's.

use std::time::Duration;

use crate::config::{Algorithm, Encoding, OneOrMany, ProviderConfig, SchemeKind};

/// The preset names accepted in `preset = "..."` (aliases included).
pub const NAMES: &[&str] = &[
    "groq",
    "vastai",
    "standard-webhooks",
    "svix",
    "stripe",
    "github",
    "slack",
    "shopify",
];

const FIVE_MINUTES: Duration = Duration::from_secs(300);

fn one(s: &str) -> Option<OneOrMany> {
    Some(OneOrMany::One(s.into()))
}

fn many(v: &[&str]) -> Option<OneOrMany> {
    Some(OneOrMany::Many(v.iter().map(|s| (*s).into()).collect()))
}

fn list(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| (*s).into()).collect())
}

fn hmac_sha256(encoding: Encoding) -> ProviderConfig {
    ProviderConfig {
        scheme: Some(SchemeKind::Hmac),
        algorithm: Some(Algorithm::Sha256),
        encoding: Some(encoding),
        ..ProviderConfig::default()
    }
}

/// The scheme fields of preset `name`, or `None` if there is no such preset.
pub fn lookup(name: &str) -> Option<ProviderConfig> {
    let p = match name {
        "groq" => ProviderConfig {
            signature_header: one("x-groq-signature"),
            timestamp_header: one("x-groq-timestamp"),
            signed_payload: Some("{timestamp}.{body}".into()),
            tolerance: Some(FIVE_MINUTES),
            event_id: list(&["json:/id"]),
            event_type: list(&["json:/type"]),
            ..hmac_sha256(Encoding::Hex)
        },
        "vastai" => ProviderConfig {
            signature_header: many(&["x-vast-signature-256", "x-vastai-signature"]),
            signature_prefix: Some("sha256=".into()),
            timestamp_header: many(&["x-vast-timestamp", "x-vastai-timestamp"]),
            signed_payload: Some("{timestamp}.{body}".into()),
            tolerance: Some(FIVE_MINUTES),
            event_id: list(&["header:x-vast-event-id", "json:/event_id", "json:/id"]),
            event_type: list(&["json:/notif_type", "json:/type"]),
            ..hmac_sha256(Encoding::Hex)
        },
        "standard-webhooks" | "svix" => ProviderConfig {
            scheme: Some(SchemeKind::StandardWebhooks),
            algorithm: Some(Algorithm::Sha256),
            encoding: Some(Encoding::Base64),
            signature_header: one("webhook-signature"),
            timestamp_header: one("webhook-timestamp"),
            id_header: Some("webhook-id".into()),
            signed_payload: Some("{id}.{timestamp}.{body}".into()),
            tolerance: Some(FIVE_MINUTES),
            event_id: list(&["header:webhook-id"]),
            event_type: list(&["json:/type"]),
            ..ProviderConfig::default()
        },
        "stripe" => ProviderConfig {
            scheme: Some(SchemeKind::Stripe),
            algorithm: Some(Algorithm::Sha256),
            encoding: Some(Encoding::Hex),
            signature_header: one("stripe-signature"),
            signed_payload: Some("{timestamp}.{body}".into()),
            tolerance: Some(FIVE_MINUTES),
            event_id: list(&["json:/id"]),
            event_type: list(&["json:/type"]),
            ..ProviderConfig::default()
        },
        "github" => ProviderConfig {
            signature_header: one("x-hub-signature-256"),
            signature_prefix: Some("sha256=".into()),
            signed_payload: Some("{body}".into()),
            event_id: list(&["header:x-github-delivery"]),
            event_type: list(&["header:x-github-event"]),
            ..hmac_sha256(Encoding::Hex)
        },
        "slack" => ProviderConfig {
            signature_header: one("x-slack-signature"),
            signature_prefix: Some("v0=".into()),
            timestamp_header: one("x-slack-request-timestamp"),
            signed_payload: Some("v0:{timestamp}:{body}".into()),
            tolerance: Some(FIVE_MINUTES),
            event_id: list(&["json:/event_id"]),
            event_type: list(&["json:/event/type", "json:/type"]),
            ..hmac_sha256(Encoding::Hex)
        },
        "shopify" => ProviderConfig {
            signature_header: one("x-shopify-hmac-sha256"),
            signed_payload: Some("{body}".into()),
            event_id: list(&["header:x-shopify-webhook-id"]),
            event_type: list(&["header:x-shopify-topic"]),
            ..hmac_sha256(Encoding::Base64)
        },
        _ => return None,
    };
    Some(p)
}

/// A provider's endpoint-verification request: a signed body whose `type_pointer` holds
/// `type_value` is answered with the value at `challenge_pointer` instead of being stored.
#[derive(Debug, Clone)]
pub(crate) struct Handshake {
    pub(crate) type_pointer: Vec<String>,
    pub(crate) type_value: &'static str,
    pub(crate) challenge_pointer: Vec<String>,
}

/// The handshake of preset `name`, if it has one (Slack's `url_verification`).
pub(crate) fn handshake(name: &str) -> Option<Handshake> {
    (name == "slack").then(|| Handshake {
        type_pointer: vec!["type".into()],
        type_value: "url_verification",
        challenge_pointer: vec!["challenge".into()],
    })
}

/// `config` with every unset scheme field taken from `preset`.
pub fn apply(config: &ProviderConfig, preset: ProviderConfig) -> ProviderConfig {
    let c = config.clone();
    ProviderConfig {
        preset: c.preset,
        scheme: c.scheme.or(preset.scheme),
        algorithm: c.algorithm.or(preset.algorithm),
        signature_header: c.signature_header.or(preset.signature_header),
        signature_prefix: c.signature_prefix.or(preset.signature_prefix),
        encoding: c.encoding.or(preset.encoding),
        timestamp_header: c.timestamp_header.or(preset.timestamp_header),
        id_header: c.id_header.or(preset.id_header),
        signed_payload: c.signed_payload.or(preset.signed_payload),
        tolerance: c.tolerance.or(preset.tolerance),
        event_id: c.event_id.or(preset.event_id),
        event_type: c.event_type.or(preset.event_type),
        max_body: c.max_body.or(preset.max_body),
        rate_limit: c.rate_limit,
        rate_burst: c.rate_burst,
        secrets_env: c.secrets_env,
        secrets: c.secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_preset_exists_and_unknown_does_not() {
        for name in NAMES {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert!(lookup("paypal").is_none());
    }

    #[test]
    fn a_field_beside_the_preset_overrides_it() {
        let cfg = ProviderConfig {
            signature_header: one("x-custom"),
            ..ProviderConfig::default()
        };
        let merged = apply(&cfg, lookup("groq").expect("groq"));
        assert_eq!(merged.signature_header, one("x-custom"));
        assert_eq!(merged.timestamp_header, one("x-groq-timestamp"));
    }
}
