//! Integration tests of the verification core: known-answer vectors per preset, the rules
//! every scheme follows, property tests and configuration loading.

mod config;
mod presets;
mod properties;
mod rules;

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
