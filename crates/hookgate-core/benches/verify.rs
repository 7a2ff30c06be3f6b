//! Verification cost per preset for a 1 KiB JSON body, beside the bare `hmac` crate
//! computing the same MAC over the same bytes in the same run.
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
use hookgate_core::{Provider, ProviderRegistry, Unverified, config::ProviderConfig};

const NOW: i64 = 1_700_000_000;
const PRESETS: &[&str] = &[
    "groq",
    "vastai",
    "standard-webhooks",
    "stripe",
    "github",
    "slack",
    "shopify",
];

fn provider(name: &str) -> Provider {
    let secret = if name == "standard-webhooks" {
        "whsec_dGVzdC1zZWNyZXQ="
    } else {
        "test-secret"
    };
    let toml = format!("[p]\npreset = \"{name}\"\nsecrets = [\"{secret}\"]\n");
    let tables: BTreeMap<String, ProviderConfig> =
        Figment::from(Toml::string(&toml)).extract().expect("table");
    let registry = ProviderRegistry::from_config(&tables, |_| None).expect("provider");
    registry.get("p").expect("p").as_ref().clone()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_1KiB");
    for name in PRESETS {
        let p = provider(name);
        let body = p.sample_body("evt_bench_1", "resource.created", 1024);
        let headers = p.sign(&body, "evt_bench_1", "resource.created", NOW);
        group.bench_function(format!("signature/{name}"), |b| {
            b.iter(|| {
                p.check_signature(&headers, black_box(&body), NOW)
                    .expect("verifies")
            })
        });
        group.bench_function(format!("verify_extract/{name}"), |b| {
            b.iter(|| {
                let v = p.verify(Unverified::new(&headers, black_box(body.as_slice())), NOW);
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
