//! Property tests: what `sign` produces always verifies; flipping any byte of the body,
//! the signature, the id or the timestamp never does; random header values never panic.

use proptest::prelude::*;

use crate::{headers, provider, verify};

const TS: i64 = 1_700_000_000;

fn presets() -> impl Strategy<Value = &'static str> {
    prop::sample::select(hookgate_core::preset::NAMES)
}

fn preset_provider(preset: &str) -> hookgate_core::Provider {
    let secret = if matches!(preset, "standard-webhooks" | "svix") {
        "whsec_dGVzdC1zZWNyZXQ="
    } else {
        "test-secret"
    };
    provider(&format!("preset = \"{preset}\"\nsecrets = [\"{secret}\"]"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_requests_verify(preset in presets(), body in prop::collection::vec(any::<u8>(), 0..512), id in "[a-zA-Z0-9_-]{1,40}") {
        let p = preset_provider(preset);
        // Presets with JSON sources need a JSON body to get past extraction.
        let body = if preset == "github" || preset == "shopify" { body } else { p.sample_body(&id, "t.x", body.len()) };
        let h = p.sign(&body, &id, "t.x", TS);
        prop_assert!(verify(&p, &h, &body, TS).is_ok());
    }

    #[test]
    fn flipping_a_body_byte_fails(preset in presets(), body in prop::collection::vec(any::<u8>(), 1..256), idx in any::<prop::sample::Index>(), bit in 0u8..8) {
        let p = preset_provider(preset);
        let h = p.sign(&body, "evt", "t", TS);
        let mut tampered = body.clone();
        tampered[idx.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(verify(&p, &h, &tampered, TS).unwrap_err(), hookgate_core::Rejection::InvalidSignature);
    }

    #[test]
    fn flipping_a_signed_header_byte_fails(preset in presets(), which in 0usize..3, idx in any::<prop::sample::Index>(), bit in 0u8..7) {
        let p = preset_provider(preset);
        let body = p.sample_body("evt_1", "t", 64);
        let mut h = p.sign(&body, "evt_1", "t", TS);
        // Header 0 is the signature; then the timestamp and the id when the scheme signs them.
        let signed = match preset { "standard-webhooks" | "svix" => 3, "github" | "shopify" | "stripe" => 1, _ => 2 };
        let which = which % signed;
        let value = h[which].1.clone().into_bytes();
        let mut flipped = value.clone();
        let i = idx.index(value.len());
        flipped[i] ^= 1 << bit;
        prop_assume!(flipped != value);
        let Ok(text) = String::from_utf8(flipped) else { return Ok(()) };
        // A flipped hex letter's case (e.g. 'a' -> 'A') decodes to the same bytes: not a change.
        prop_assume!(!text.eq_ignore_ascii_case(&h[which].1) || text.starts_with("v1,"));
        h[which].1 = text;
        prop_assert!(verify(&p, &h, &body, TS).is_err());
    }

    #[test]
    fn random_header_values_never_panic(preset in presets(), sig in ".{0,200}", ts in ".{0,30}", id in ".{0,50}", body in prop::collection::vec(any::<u8>(), 0..128)) {
        let p = preset_provider(preset);
        let names = ["x-groq-signature", "x-groq-timestamp", "x-vast-signature-256", "x-vast-timestamp",
            "webhook-signature", "webhook-timestamp", "webhook-id", "stripe-signature", "x-hub-signature-256",
            "x-slack-signature", "x-slack-request-timestamp", "x-shopify-hmac-sha256"];
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, if n.contains("timestamp") { ts.as_str() } else if n.ends_with("-id") { id.as_str() } else { sig.as_str() })).collect();
        let _ = verify(&p, &headers(&pairs), &body, TS);
    }
}

/// Every preset of the catalog with key material of its kind.
fn every_preset() -> Vec<hookgate_core::Provider> {
    let ed = hookgate_core::sign::SigningKey::ed25519_from_seed(&[1; 32]);
    let ec = hookgate_core::sign::SigningKey::p256_from_bytes(&[1; 32]).expect("p256");
    let catalog = hookgate_core::PresetCatalog::builtin().expect("catalog");
    let mut all: Vec<_> = catalog
        .names()
        .into_iter()
        .filter(|name| {
            catalog
                .get(name)
                .is_some_and(|p| !p.scheme().fetches_keys())
        })
        .map(|name| {
            let key = match name {
                "standard-webhooks" | "svix" | "clerk" | "resend" => "whsec_c2VjcmV0".to_string(),
                "discord" => ed.public_key(),
                "sendgrid" => ec.public_key(),
                _ => "prop-secret-5b4a39281706f8e7".to_string(),
            };
            crate::preset_provider(
                name,
                &[&key],
                "public_url = \"https://h.example/w\"\nverify_token_env = \"TEST_VERIFY_TOKEN\"",
            )
        })
        .collect();
    all.extend(crate::fetched::every_fetched_preset());
    all.push(crate::preset_provider(
        "standard-webhooks",
        &[&ed.public_key_whpk().expect("whpk")],
        "",
    ));
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_requests_never_panic_or_verify_for_any_scheme(
        which in any::<prop::sample::Index>(),
        get in any::<bool>(),
        sig in ".{0,160}",
        ts in prop_oneof![Just("1700000000".to_string()), Just("2023-11-14T22:13:20Z".to_string()), ".{0,30}"],
        query in ".{0,60}",
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            Just(br#"{"signature":{"timestamp":"1700000000","token":"t","signature":"00"},"value":[{"clientState":"x"}],"type":1}"#.to_vec()),
        ],
    ) {
        thread_local!(static ALL: Vec<hookgate_core::Provider> = every_preset());
        let names = ["x-signature-ed25519", "x-signature-timestamp", "webhook-signature", "webhook-timestamp",
            "webhook-id", "x-twilio-email-event-webhook-signature", "x-twilio-email-event-webhook-timestamp",
            "x-twilio-signature", "paddle-signature", "authorization", "x-gitlab-token", "linear-signature",
            "twitch-eventsub-message-signature", "twitch-eventsub-message-timestamp", "twitch-eventsub-message-id",
            "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "x-okta-verification-challenge", "stripe-signature"];
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, if n.contains("timestamp") { ts.as_str() } else { sig.as_str() })).collect();
        let h = headers(&pairs);
        ALL.with(|all| {
            let p = &all[which.index(all.len())];
            let request = hookgate_core::Unverified::new(&h, body.clone())
                .with_method(if get { "GET" } else { "POST" })
                .with_query(&query);
            let r = p.receive(request, TS);
            assert!(!matches!(r, Ok(hookgate_core::Received::Event(_))), "{} verified random input", p.name());
        });
    }
}
