//! Fuzz header parsing, handshakes and verification for every preset and scheme:
//! arbitrary header values, query strings, methods and bodies must never panic, and must
//! never verify an event without the key.
#![no_main]

use std::collections::BTreeMap;

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate_core::{
    PresetCatalog, ProviderRegistry, Received, Unverified, config::ProviderConfig,
    sign::SigningKey,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret-9f8e7d6c5b4a39281706";

/// Every header any preset reads.
const NAMES: &[&str] = &[
    "x-groq-signature", "x-groq-timestamp", "x-vast-signature-256", "x-vastai-signature",
    "x-vast-timestamp", "webhook-signature", "webhook-timestamp", "webhook-id",
    "stripe-signature", "x-hub-signature-256", "x-hub-signature", "x-slack-signature",
    "x-slack-request-timestamp", "x-shopify-hmac-sha256", "x-gitlab-token", "authorization",
    "x-signature-ed25519", "x-signature-timestamp", "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp", "x-twilio-signature", "x-zm-signature",
    "x-zm-request-timestamp", "twitch-eventsub-message-signature",
    "twitch-eventsub-message-id", "twitch-eventsub-message-timestamp",
    "twitch-eventsub-message-type", "x-dropbox-signature", "x-square-hmacsha256-signature",
    "paddle-signature", "linear-signature", "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp", "typeform-signature", "calendly-webhook-signature",
    "x-pagerduty-signature", "sentry-hook-signature", "x-vercel-signature", "svix-signature",
    "svix-timestamp", "svix-id", "x-cc-webhook-signature", "x-twitter-webhooks-signature",
    "x-okta-verification-challenge",
];

fn registry() -> ProviderRegistry {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    let ec = SigningKey::p256_from_bytes(&[1; 32]).expect("p256");
    let catalog = PresetCatalog::builtin().expect("catalog");
    let mut toml = String::new();
    for (i, name) in catalog.names().iter().enumerate() {
        let key = match *name {
            "standard-webhooks" | "svix" | "clerk" | "resend" => "whsec_c2VjcmV0".to_string(),
            "discord" => ed.public_key(),
            "sendgrid" => ec.public_key(),
            _ => SECRET.to_string(),
        };
        toml.push_str(&format!(
            "[p{i}]\npreset = \"{name}\"\nsecrets = [\"{key}\"]\npublic_url = \"https://h.example/w\"\nverify_token_env = \"VT\"\n"
        ));
    }
    // A v1a-only Standard Webhooks provider too.
    toml.push_str(&format!(
        "[v1a]\npreset = \"standard-webhooks\"\nsecrets = [\"{}\"]\n",
        ed.public_key_whpk().expect("whpk")
    ));
    let tables: BTreeMap<String, ProviderConfig> = Figment::from(Toml::string(&toml)).extract().expect("tables");
    ProviderRegistry::from_config(&tables, |_| Some(SECRET.into())).expect("registry")
}

fuzz_target!(|data: &[u8]| {
    thread_local!(static REGISTRY: ProviderRegistry = registry());
    // Layout: 1 byte provider/method choice, then header values, query and body split on 0xFF.
    let Some((&choice, rest)) = data.split_first() else { return };
    let mut parts = rest.split(|b| *b == 0xFF);
    let sig = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let ts = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let headers: Vec<(String, String)> = NAMES
        .iter()
        .map(|n| {
            let v = if n.contains("timestamp") { &ts } else if n.ends_with("-id") || n.ends_with("-type") { &id } else { &sig };
            (n.to_string(), v.clone())
        })
        .collect();
    let method = if choice & 0x80 == 0 { "POST" } else { "GET" };
    REGISTRY.with(|r| {
        let providers: Vec<_> = r.iter().collect();
        let p = providers[(choice & 0x7F) as usize % providers.len()];
        let now = ts.parse::<i64>().unwrap_or(0);
        let request = Unverified::new(&headers, body).with_method(method).with_query(&query);
        // Forging a MAC, a signature or a 32-byte token by chance is infeasible: an event
        // verifying here is a broken comparison.
        let received = p.receive(request, now);
        assert!(
            !matches!(received, Ok(Received::Event(_))),
            "random input verified for {}",
            p.name()
        );
    });
});
