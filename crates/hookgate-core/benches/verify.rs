//! Verification cost per scheme family for a 1 KiB body (HMAC variants, Ed25519, ECDSA
//! P-256, Twilio, token/Basic, in-body proofs), beside the bare `hmac` crate computing
//! the same MAC over the same bytes in the same run.
//!
//! Run: `cargo bench -p hookgate-core --bench verify`. Reported in BENCHMARKS.md as
//! ratios `bare / hookgate` (1.0 = no overhead).
//!
//! - `signature/<preset>`: header parsing, timestamp window, decoding and the
//!   constant-time MAC check (what the ≥ 0.8 target is about).
//! - `verify_extract/<preset>`: the above plus event-ID and type extraction (a JSON pass
//!   for presets whose sources read the body).
//! - `bare_hmac_sha256`: `Hmac::new_from_slice` + update + `verify_slice`, per call.
//! - `bare_hmac_sha256_prekeyed`: the same from a keyed state cloned per call, which is
//!   what hookgate does, so it is the strict floor.

use std::{collections::BTreeMap, hint::black_box};

use criterion::{Criterion, criterion_group, criterion_main};
use figment::{
    Figment,
    providers::{Format, Toml},
};
use hmac::{Hmac, Mac};
use hookgate_core::{
    Provider, ProviderRegistry, Unverified, config::ProviderConfig, sign::SigningKey,
};

const NOW: i64 = 1_700_000_000;
/// One preset per scheme family (bench name, preset).
const PRESETS: &[(&str, &str)] = &[
    ("groq", "groq"),
    ("vastai", "vastai"),
    ("standard-webhooks", "standard-webhooks"),
    ("standard-webhooks-v1a-ed25519", "standard-webhooks"),
    ("stripe", "stripe"),
    ("github", "github"),
    ("slack", "slack"),
    ("shopify", "shopify"),
    ("paddle-multi", "paddle"),
    ("hubspot-url-method-ms", "hubspot"),
    ("twitch-rfc3339", "twitch"),
    ("intercom-sha1", "intercom"),
    ("discord-ed25519", "discord"),
    ("sendgrid-ecdsa-p256", "sendgrid"),
    ("twilio-form", "twilio"),
    ("gitlab-token", "gitlab"),
    ("postmark-basic", "postmark"),
    ("mailgun-in-body", "mailgun"),
    ("graph-client-state", "microsoft-graph"),
];

/// The provider for a bench case and the private key its signer needs.
fn provider(case: &str, name: &str) -> (Provider, Option<SigningKey>) {
    let (secret, key) = match case {
        "standard-webhooks" => ("whsec_dGVzdC1zZWNyZXQ=".to_string(), None),
        "standard-webhooks-v1a-ed25519" => {
            let k = SigningKey::ed25519_from_seed(&[1; 32]);
            (k.public_key_whpk().expect("whpk"), Some(k))
        }
        "discord-ed25519" => {
            let k = SigningKey::ed25519_from_seed(&[1; 32]);
            (k.public_key(), Some(k))
        }
        "sendgrid-ecdsa-p256" => {
            let k = SigningKey::p256_from_bytes(&[1; 32]).expect("p256");
            (k.public_key(), Some(k))
        }
        "postmark-basic" => ("user:password".to_string(), None),
        _ => ("test-secret".to_string(), None),
    };
    let toml = format!(
        "[p]\npreset = \"{name}\"\nsecrets = [\"{secret}\"]\npublic_url = \"https://hooks.example.com/webhooks/p\"\n"
    );
    let tables: BTreeMap<String, ProviderConfig> =
        Figment::from(Toml::string(&toml)).extract().expect("table");
    let registry = ProviderRegistry::from_config(&tables, |_| None).expect("provider");
    (registry.get("p").expect("p").as_ref().clone(), key)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_1KiB");
    for (case, name) in PRESETS {
        let (p, key) = provider(case, name);
        let body = p.sample_body("evt_bench_1", "resource.created", 1024);
        let signed = p
            .sign_request(&body, "evt_bench_1", "resource.created", NOW, key.as_ref())
            .expect("signs");
        let (headers, body, query) = (signed.headers, signed.body, signed.query);
        group.bench_function(format!("signature/{case}"), |b| {
            b.iter(|| {
                p.check(
                    &Unverified::new(&headers, black_box(body.as_slice())).with_query(&query),
                    NOW,
                )
                .expect("verifies")
            })
        });
        group.bench_function(format!("verify_extract/{case}"), |b| {
            b.iter(|| {
                let v = p.verify(
                    Unverified::new(&headers, black_box(body.as_slice())).with_query(&query),
                    NOW,
                );
                black_box(v.expect("verifies"));
            })
        });
    }
    // HMAC-SHA256 over "<ts>.<1 KiB body>" with a constant-time check.
    let body = vec![b'x'; 1024];
    let ts = NOW.to_string();
    let keyed = Hmac::<sha2::Sha256>::new_from_slice(b"test-secret").expect("key");
    let mut m = keyed.clone();
    m.update(ts.as_bytes());
    m.update(b".");
    m.update(&body);
    let tag = m.finalize().into_bytes();
    group.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"test-secret").expect("key");
            m.update(ts.as_bytes());
            m.update(b".");
            m.update(black_box(&body));
            black_box(m.verify_slice(&tag).is_ok());
        })
    });
    group.bench_function("bare_hmac_sha256_prekeyed", |b| {
        b.iter(|| {
            let mut m = keyed.clone();
            m.update(ts.as_bytes());
            m.update(b".");
            m.update(black_box(&body));
            black_box(m.verify_slice(&tag).is_ok());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
