//! Applying a preset to a provider table: a preset fills every scheme field; a field set
//! beside it in the config overrides the preset's. The presets themselves are data, in
//! [`crate::catalog`].

use crate::{catalog::PresetCatalog, config::ProviderConfig};

/// The presets of the first release (HMAC secrets only), aliases included. Kept for
/// callers that iterate them with a plain secret; [`PresetCatalog::names`] lists every
/// preset.
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

/// The scheme fields of built-in preset `name`, or `None` if there is no such preset.
pub fn lookup(name: &str) -> Option<ProviderConfig> {
    PresetCatalog::builtin()
        .ok()?
        .get(name)
        .map(|p| p.config().clone())
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
        signature_separator: c.signature_separator.or(preset.signature_separator),
        signature_timestamp: c.signature_timestamp.or(preset.signature_timestamp),
        encoding: c.encoding.or(preset.encoding),
        timestamp_header: c.timestamp_header.or(preset.timestamp_header),
        timestamp_json: c.timestamp_json.or(preset.timestamp_json),
        timestamp_format: c.timestamp_format.or(preset.timestamp_format),
        id_header: c.id_header.or(preset.id_header),
        signed_payload: c.signed_payload.or(preset.signed_payload),
        public_url: c.public_url,
        verify_token_env: c.verify_token_env,
        token_header: c.token_header.or(preset.token_header),
        tolerance: c.tolerance.or(preset.tolerance),
        event_id: c.event_id.or(preset.event_id),
        event_type: c.event_type.or(preset.event_type),
        max_body: c.max_body.or(preset.max_body),
        rate_limit: c.rate_limit,
        rate_burst: c.rate_burst,
        secrets_env: c.secrets_env,
        secrets: c.secrets,
        key_hosts: c.key_hosts.or(preset.key_hosts),
        key_fetch_insecure: c.key_fetch_insecure,
        audience: c.audience,
        service_account_email: c.service_account_email,
        jwks_url: c.jwks_url.or(preset.jwks_url),
        webhook_id: c.webhook_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OneOrMany;

    #[test]
    fn every_listed_preset_exists_and_unknown_does_not() {
        for name in NAMES {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert!(lookup("no-such-provider").is_none());
    }

    #[test]
    fn a_field_beside_the_preset_overrides_it() {
        let cfg = ProviderConfig {
            signature_header: Some(OneOrMany::One("x-custom".into())),
            ..ProviderConfig::default()
        };
        let merged = apply(&cfg, lookup("groq").expect("groq"));
        assert_eq!(
            merged.signature_header,
            Some(OneOrMany::One("x-custom".into()))
        );
        assert_eq!(
            merged.timestamp_header,
            Some(OneOrMany::One("x-groq-timestamp".into()))
        );
    }
}
