//! Bad input keeps the SPEC's error rows for every scheme: a missing key header is
//! `missing_signature`; a signature of the wrong form, length or encoding, an Ed25519
//! signature only a non-strict verifier accepts, a malformed `Paddle-Signature` are
//! `invalid_signature`; timestamps are parsed strictly in their format; key material that
//! does not decode stops start-up naming its variable.

use std::collections::BTreeMap;

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate_core::{
    ProviderRegistry, Rejection, Unverified, config::ProviderConfig, sign::SigningKey,
};

use crate::{headers, independent::python, preset_provider};

const NOW: i64 = 1_700_000_000;

fn run(p: &hookgate_core::Provider, h: &[(&str, &str)], body: &[u8]) -> Result<(), Rejection> {
    let h = headers(h);
    p.verify(Unverified::new(&h, body), NOW).map(|_| ())
}

#[test]
fn an_ed25519_signature_only_a_lax_verifier_accepts_is_invalid() {
    // R = the identity point (small order), S = k·a: cofactorless non-strict verification
    // accepts it for the key's owner's message, verify_strict does not.
    let key = SigningKey::ed25519_from_seed(&[3; 32]);
    let p = preset_provider("discord", &[&key.public_key()], "");
    let body = r#"{"id":"1","type":2}"#;
    let message = format!("{NOW}{body}");
    let sig = python(
        r#"
import hashlib, sys
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization
seed = bytes([3]) * 32
h = hashlib.sha512(seed).digest()
a = int.from_bytes(h[:32], "little")
a &= (1 << 254) - 8
a |= 1 << 254
A = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
R = bytes([1]) + bytes(31)
l = 2**252 + 27742317777372353535851937790883648493
k = int.from_bytes(hashlib.sha512(R + A + sys.argv[1].encode()).digest(), "little") % l
print((R + ((k * a) % l).to_bytes(32, "little")).hex())
"#,
        &[&message],
    );
    let raw: [u8; 64] = hex::decode(&sig)
        .expect("hex")
        .try_into()
        .expect("64 bytes");
    let public: [u8; 32] = hex::decode(key.public_key())
        .expect("hex")
        .try_into()
        .expect("32");
    use ed25519_dalek::Verifier;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("key");
    let signature = ed25519_dalek::Signature::from_bytes(&raw);
    assert!(
        vk.verify(message.as_bytes(), &signature).is_ok(),
        "the lax check accepts it, so the test is meaningful"
    );
    assert!(vk.verify_strict(message.as_bytes(), &signature).is_err());
    let ts = NOW.to_string();
    assert_eq!(
        run(
            &p,
            &[
                ("x-signature-ed25519", &sig),
                ("x-signature-timestamp", &ts)
            ],
            body.as_bytes()
        ),
        Err(Rejection::InvalidSignature)
    );
}

#[test]
fn malformed_asymmetric_signatures_are_invalid_never_a_panic() {
    let key = SigningKey::ed25519_from_seed(&[5; 32]);
    let discord = preset_provider("discord", &[&key.public_key()], "");
    let ts = NOW.to_string();
    let long = "ab".repeat(65);
    let zeros = "00".repeat(64);
    for sig in [
        "",
        "zz",
        &"a".repeat(127),
        long.as_str(),
        zeros.as_str(),
        "é",
    ] {
        assert_eq!(
            run(
                &discord,
                &[("x-signature-ed25519", sig), ("x-signature-timestamp", &ts)],
                b"{}"
            ),
            Err(Rejection::InvalidSignature),
            "{sig:?}"
        );
    }
    assert_eq!(
        run(&discord, &[("x-signature-timestamp", &ts)], b"{}"),
        Err(Rejection::MissingSignature)
    );
    assert_eq!(
        run(&discord, &[("x-signature-ed25519", &zeros)], b"{}"),
        Err(Rejection::InvalidTimestamp)
    );
    assert_eq!(
        run(
            &discord,
            &[
                ("x-signature-ed25519", &zeros),
                ("x-signature-timestamp", "soon")
            ],
            b"{}"
        ),
        Err(Rejection::InvalidTimestamp)
    );
    let stale = (NOW - 301).to_string();
    assert_eq!(
        run(
            &discord,
            &[
                ("x-signature-ed25519", &zeros),
                ("x-signature-timestamp", &stale)
            ],
            b"{}"
        ),
        Err(Rejection::TimestampOutOfTolerance)
    );

    let ec = SigningKey::p256_from_bytes(&[7; 32]).expect("p256");
    let sendgrid = preset_provider("sendgrid", &[&ec.public_key()], "");
    let not_der = hookgate_core_b64(&[0x30; 64]);
    for sig in ["", "!!!", not_der.as_str(), "MEUCIQ=="] {
        assert_eq!(
            run(
                &sendgrid,
                &[
                    ("x-twilio-email-event-webhook-signature", sig),
                    ("x-twilio-email-event-webhook-timestamp", &ts)
                ],
                b"[]"
            ),
            Err(Rejection::InvalidSignature),
            "{sig:?}"
        );
    }

    let sw = preset_provider(
        "standard-webhooks",
        &[&key.public_key_whpk().expect("whpk")],
        "",
    );
    let short = format!("v1a,{}", hookgate_core_b64(&[1; 63]));
    for sig in ["v1a,xx", short.as_str(), "v2,AAAA", "v1a", "v1a,"] {
        assert_eq!(
            run(
                &sw,
                &[
                    ("webhook-signature", sig),
                    ("webhook-timestamp", &ts),
                    ("webhook-id", "m")
                ],
                b"{}"
            ),
            Err(Rejection::InvalidSignature),
            "{sig:?}"
        );
    }
}

fn hookgate_core_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn malformed_paddle_twilio_and_token_headers() {
    let paddle = preset_provider("paddle", &["pdl_ntf_x"], "");
    for header in [
        "garbage",
        "ts=;h1=",
        ";;;",
        "ts=1700000000",
        "",
        "h2=abcd;ts=1700000000",
    ] {
        assert_eq!(
            run(&paddle, &[("paddle-signature", header)], b"{}"),
            Err(Rejection::InvalidSignature),
            "{header:?}"
        );
    }
    // A signature without its timestamp is the SPEC's invalid_timestamp, as for Stripe.
    assert_eq!(
        run(&paddle, &[("paddle-signature", "h1=00")], b"{}"),
        Err(Rejection::InvalidTimestamp)
    );
    assert_eq!(
        run(&paddle, &[("paddle-signature", "ts=abc;h1=00")], b"{}"),
        Err(Rejection::InvalidTimestamp)
    );

    let twilio = preset_provider(
        "twilio",
        &["token"],
        "public_url = \"https://example.com/sms\"",
    );
    for sig in ["", "!!", "AAAAAAAAAAAAAA==", &"A".repeat(200)] {
        assert_eq!(
            run(&twilio, &[("x-twilio-signature", sig)], b"a=1"),
            Err(Rejection::InvalidSignature),
            "{sig:?}"
        );
    }
    assert_eq!(run(&twilio, &[], b"a=1"), Err(Rejection::MissingSignature));

    let basic = preset_provider("postmark", &["user:pass"], "");
    let right = format!("Basic {}", hookgate_core_b64(b"user:pass"));
    let lower = format!("basic  {}", hookgate_core_b64(b"user:pass"));
    assert_eq!(run(&basic, &[("authorization", &right)], b"{}"), Ok(()));
    assert_eq!(run(&basic, &[("authorization", &lower)], b"{}"), Ok(()));
    let wrong = format!("Basic {}", hookgate_core_b64(b"user:passs"));
    let bearer = format!("Bearer {}", hookgate_core_b64(b"user:pass"));
    for value in [wrong.as_str(), bearer.as_str(), "Basic !!!", "Basic", ""] {
        assert_eq!(
            run(&basic, &[("authorization", value)], b"{}"),
            Err(Rejection::InvalidSignature),
            "{value:?}"
        );
    }
    let gitlab = preset_provider("gitlab", &["glpat-secret-token"], "");
    for value in [
        "glpat-secret-toke",
        "glpat-secret-tokenn",
        "",
        "GLPAT-SECRET-TOKEN",
    ] {
        assert_eq!(
            run(&gitlab, &[("x-gitlab-token", value)], b"{}"),
            Err(Rejection::InvalidSignature),
            "{value:?}"
        );
    }
    assert_eq!(run(&gitlab, &[], b"{}"), Err(Rejection::MissingSignature));
}

#[test]
fn timestamps_follow_each_presets_format_and_window() {
    let twitch = preset_provider("twitch", &["twitch-secret-0123456789"], "");
    let body = br#"{"subscription":{"type":"x"}}"#;
    for (ts, expected) in [
        (NOW - 9 * 60, true),
        (NOW + 9 * 60, true),
        (NOW - 11 * 60, false),
        (NOW + 11 * 60, false),
    ] {
        let h = twitch.sign(body, "m1", "x", ts);
        let r = twitch.verify(Unverified::new(&h, &body[..]), NOW);
        assert_eq!(r.is_ok(), expected, "twitch at {}", ts - NOW);
        if !expected {
            assert_eq!(r.unwrap_err(), Rejection::TimestampOutOfTolerance);
        }
    }
    let mut h = twitch.sign(body, "m1", "x", NOW);
    let slot = h
        .iter_mut()
        .find(|(k, _)| k == "twitch-eventsub-message-timestamp")
        .expect("ts header");
    slot.1 = NOW.to_string();
    assert_eq!(
        twitch
            .verify(Unverified::new(&h, &body[..]), NOW)
            .unwrap_err(),
        Rejection::InvalidTimestamp,
        "unix seconds are not RFC 3339"
    );

    // HubSpot's timestamp is in milliseconds: seconds are decades away.
    let hubspot = preset_provider(
        "hubspot",
        &["client-secret"],
        "public_url = \"https://hooks.example.com/hubspot\"",
    );
    let body = br#"[{"eventId":1}]"#;
    let mut h = hubspot.sign(body, "", "", NOW);
    assert!(hubspot.verify(Unverified::new(&h, &body[..]), NOW).is_ok());
    let slot = h
        .iter_mut()
        .find(|(k, _)| k == "x-hubspot-request-timestamp")
        .expect("ts header");
    slot.1 = NOW.to_string();
    assert_eq!(
        hubspot
            .verify(Unverified::new(&h, &body[..]), NOW)
            .unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );

    // Linear's timestamp is in the body, checked after the signature, 60 s.
    let linear = preset_provider("linear", &["lin-secret"], "");
    let body = linear.sample_body("d1", "Issue", 0);
    let signed = linear
        .sign_request(&body, "d1", "Issue", NOW, None)
        .expect("signs");
    let ok = |now: i64| {
        linear
            .verify(Unverified::new(&signed.headers, signed.body.clone()), now)
            .map(|_| ())
    };
    assert_eq!(ok(NOW + 60), Ok(()));
    assert_eq!(ok(NOW + 61), Err(Rejection::TimestampOutOfTolerance));
    assert_eq!(ok(NOW - 61), Err(Rejection::TimestampOutOfTolerance));
    let mut forged = signed.headers.clone();
    forged[0].1 = crate::tamper(&forged[0].1);
    assert_eq!(
        linear
            .verify(Unverified::new(&forged, signed.body.clone()), NOW + 3600)
            .unwrap_err(),
        Rejection::InvalidSignature,
        "the signature is checked before the body's timestamp"
    );
    let no_ts = br#"{"type":"Issue"}"#;
    let body_only = crate::provider(
        "scheme = \"hmac\"\nsignature_header = \"linear-signature\"\nsecrets = [\"lin-secret\"]",
    );
    let h = body_only.sign(no_ts, "d1", "Issue", NOW);
    assert_eq!(
        linear
            .verify(Unverified::new(&h, &no_ts[..]), NOW)
            .unwrap_err(),
        Rejection::InvalidTimestamp
    );
}

fn resolve_err(table: &str, env: &[(&str, &str)]) -> String {
    let tables: BTreeMap<String, ProviderConfig> =
        Figment::from(Toml::string(&format!("[acme]\n{table}")))
            .extract()
            .expect("table parses");
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ProviderRegistry::from_config(&tables, |name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .expect_err("config must be rejected")
    .to_string()
}

#[test]
fn undecodable_keys_and_missing_urls_stop_start_up_naming_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "preset = \"discord\"\nsecrets_env = [\"DISCORD_PUBLIC_KEY\"]",
            "zz-not-a-key",
            "DISCORD_PUBLIC_KEY",
        ),
        (
            "preset = \"discord\"\nsecrets_env = [\"DISCORD_PUBLIC_KEY\"]",
            &"ab".repeat(31),
            "DISCORD_PUBLIC_KEY",
        ),
        (
            "preset = \"sendgrid\"\nsecrets_env = [\"SENDGRID_KEY\"]",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            "SENDGRID_KEY",
        ),
        (
            "preset = \"sendgrid\"\nsecrets_env = [\"SENDGRID_KEY\"]",
            "!!!",
            "SENDGRID_KEY",
        ),
        (
            "preset = \"standard-webhooks\"\nsecrets_env = [\"SW_KEY\"]",
            "whpk_!!!",
            "SW_KEY",
        ),
        (
            "preset = \"standard-webhooks\"\nsecrets_env = [\"SW_KEY\"]",
            "whpk_AAAA",
            "SW_KEY",
        ),
    ];
    for (table, value, var) in cases {
        let var_name = table.split('"').nth(3).expect("variable name in the table");
        let msg = resolve_err(table, &[(var_name, value)]);
        assert!(msg.contains(var), "{table}: {msg}");
        assert!(
            !msg.contains(value) || value.len() < 5,
            "{msg} echoes the key"
        );
    }
    for preset in ["twilio", "square", "hubspot"] {
        let msg = resolve_err(&format!("preset = \"{preset}\"\nsecrets = [\"s\"]"), &[]);
        assert!(msg.contains("providers.acme.public_url"), "{preset}: {msg}");
    }
    let msg = resolve_err(
        "preset = \"square\"\nsecrets = [\"s\"]\npublic_url = \"hooks.example.com/x\"",
        &[],
    );
    assert!(msg.contains("public_url"), "{msg}");
    let msg = resolve_err(
        "scheme = \"hmac\"\nsignature_header = \"x-s\"\nsignature_timestamp = \"t=\"\nsecrets = [\"s\"]",
        &[],
    );
    assert!(msg.contains("signature_timestamp"), "{msg}");
    let msg = resolve_err(
        "scheme = \"hmac\"\nsignature_header = \"x-s\"\ntimestamp_json = \"/ts\"\nsigned_payload = \"{timestamp}{body}\"\nsecrets = [\"s\"]",
        &[],
    );
    assert!(msg.contains("signed_payload"), "{msg}");
}
