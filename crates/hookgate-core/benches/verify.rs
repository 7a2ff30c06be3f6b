//! Verification cost per preset for a 1 KiB body, beside the bare `hmac` crate computing
//! the same MAC over the same bytes (the floor). Run: `cargo bench -p hookgate-core`.

use std::{collections::BTreeMap, hint::black_box};

use criterion::{Criterion, criterion_group, criterion_main};
use figment::{
    Figment,
    providers::{Format, Toml},
};
use hmac::{Hmac, Mac};
use hookgate_core::{ProviderRegistry, Unverified, config::ProviderConfig, preset};

const NOW: i64 = 1_700_000_000;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_1KiB");
    for name in [
        "groq",
        "vastai",
        "standard-webhooks",
        "stripe",
        "github",
        "slack",
        "shopify",
    ] {
        assert!(preset::NAMES.contains(&name));
        let secret = if name == "standard-webhooks" {
            "whsec_dGVzdC1zZWNyZXQ="
        } else {
            "test-secret"
        };
        let toml = format!("[p]\npreset = \"{name}\"\nsecrets = [\"{secret}\"]\n");
        let tables: BTreeMap<String, ProviderConfig> =
            Figment::from(Toml::string(&toml)).extract().expect("table");
        let registry = ProviderRegistry::from_config(&tables, |_| None).expect("provider");
        let p = registry.get("p").expect("p").clone();
        let body = p.sample_body("evt_bench_1", "resource.created", 1024);
        let headers = p.sign(&body, "evt_bench_1", "resource.created", NOW);
        group.bench_function(format!("hookgate/{name}"), |b| {
            b.iter(|| {
                let v = p.verify(Unverified::new(&headers, black_box(body.as_slice())), NOW);
                black_box(v.expect("verifies"));
            })
        });
    }
    // The floor: HMAC-SHA256 with key set-up over "<ts>.<1 KiB body>" and a constant-time
    // check, exactly what every preset must at least do.
    let body = vec![b'x'; 1024];
    let ts = NOW.to_string();
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"test-secret").expect("key");
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
