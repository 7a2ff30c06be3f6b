//! Integration tests of the verification core: known-answer vectors per preset (every
//! `[[vectors]]` of every preset file), round trips against an independent signer
//! (Python's hmac and `cryptography`), tampering, rotation, handshakes, the rules every
//! scheme follows, property tests and configuration loading; the fetched-key presets
//! (`aws-sns`, `google-pubsub`, `paypal`) with real SNS vectors and an independent signer.

mod catalog;
mod config;
mod errors;
mod explain;
mod fetched;
mod handshakes;
mod independent;
mod presets;
mod properties;
mod rules;
mod vectors;

use std::collections::BTreeMap;

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate_core::{
    Provider, ProviderRegistry, Rejection, Unverified, Verified, config::ProviderConfig,
};

/// Build one provider named `p` from the body of a `[providers.p]` table.
pub fn provider(table: &str) -> Provider {
    let tables: BTreeMap<String, ProviderConfig> =
        Figment::from(Toml::string(&format!("[p]\n{table}")))
            .extract()
            .expect("provider table parses");
    let registry = ProviderRegistry::from_config(&tables, |_| None).expect("provider resolves");
    registry.get("p").expect("provider p").as_ref().clone()
}

/// Headers from `(name, value)` literals.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

/// Verify `body` with `headers` at unix time `now`.
pub fn verify(
    p: &Provider,
    headers: &Vec<(String, String)>,
    body: &[u8],
    now: i64,
) -> Result<Verified<Vec<u8>>, Rejection> {
    p.verify(Unverified::new(headers, body.to_vec()), now)
}

/// Build one provider named `p` from preset `preset` with `keys` as inline secrets and
/// `extra` TOML lines; `env` answers variable lookups.
pub fn preset_provider_env(
    preset: &str,
    keys: &[&str],
    extra: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Provider, hookgate_core::config::ConfigError> {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| serde_json::to_string(k).expect("quote"))
        .collect();
    let table = format!(
        "[p]\npreset = \"{preset}\"\nsecrets = [{}]\n{extra}",
        keys.join(", ")
    );
    let tables: BTreeMap<String, ProviderConfig> = Figment::from(Toml::string(&table))
        .extract()
        .expect("provider table parses");
    let registry = ProviderRegistry::from_config(&tables, env)?;
    Ok(registry.get("p").expect("provider p").as_ref().clone())
}

/// [`preset_provider_env`] without environment variables, expecting success.
pub fn preset_provider(preset: &str, keys: &[&str], extra: &str) -> Provider {
    preset_provider_env(preset, keys, extra, |name| {
        (name == "TEST_VERIFY_TOKEN").then(|| "test-verify-token".to_string())
    })
    .unwrap_or_else(|e| panic!("{preset}: {e}"))
}

/// Change the character before the last one (a signature's or timestamp's digit).
pub fn tamper(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let i = chars.len().saturating_sub(2);
    if let Some(c) = chars.get_mut(i) {
        *c = if *c == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}
