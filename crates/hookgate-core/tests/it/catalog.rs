//! The preset catalog: every preset name of SPEC §3.4, the listing behind
//! `hookgate presets`, operator preset files from `presets_dir` (and a clash with a
//! built-in preset stopping start-up, naming the file), signing for every preset.

// `Jail::expect_with` fixes the closure's error type to `figment::Error`.
#![allow(clippy::result_large_err)]

use std::path::Path;

use figment::Jail;
use hookgate_core::{PresetCatalog, Unverified, config, config::SchemeKind, sign::SigningKey};

use crate::preset_provider;

const ALL: &[&str] = &[
    "groq",
    "vastai",
    "standard-webhooks",
    "svix",
    "stripe",
    "github",
    "slack",
    "shopify",
    "gitlab",
    "bitbucket",
    "jira",
    "discord",
    "sendgrid",
    "twilio",
    "mailgun",
    "postmark",
    "zoom",
    "twitch",
    "meta",
    "dropbox",
    "square",
    "paddle",
    "linear",
    "hubspot",
    "intercom",
    "typeform",
    "calendly",
    "pagerduty",
    "sentry",
    "vercel",
    "clerk",
    "resend",
    "okta",
    "coinbase",
    "x",
    "microsoft-graph",
    "aws-sns",
    "google-pubsub",
    "paypal",
];

#[test]
fn every_spec_preset_exists_and_is_listed() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    let mut names = catalog.names();
    names.sort_unstable();
    let mut expected = ALL.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let list = catalog.list();
    assert_eq!(list.len(), ALL.len() - 1, "svix is an alias");
    for row in &list {
        let body_proof = matches!(
            row.scheme,
            SchemeKind::Mailgun | SchemeKind::ClientState | SchemeKind::AwsSns
        );
        assert_eq!(row.signature_header.is_none(), body_proof, "{}", row.name);
        assert!(!row.docs.dashboard.is_empty(), "{}", row.name);
    }
    let meta = list.iter().find(|r| r.name == "meta").expect("meta");
    assert_eq!(
        (meta.handshake, meta.handshake_get),
        (Some("verify-token"), true)
    );
    let slack = list.iter().find(|r| r.name == "slack").expect("slack");
    assert_eq!(
        (slack.handshake, slack.handshake_get),
        (Some("challenge"), false)
    );
    let sw = list
        .iter()
        .find(|r| r.name == "standard-webhooks")
        .expect("sw");
    assert_eq!(sw.aliases, ["svix"]);
}

/// The key material each preset's signer needs (a private key for asymmetric ones).
fn keys_for(name: &str) -> (Vec<String>, Option<SigningKey>, String) {
    let url = "public_url = \"https://hooks.example.com/webhooks/p\"".to_string();
    match name {
        "discord" => {
            let k = SigningKey::ed25519_from_seed(&[9; 32]);
            (vec![k.public_key()], Some(k), String::new())
        }
        "sendgrid" => {
            let k = SigningKey::p256_from_bytes(&[9; 32]).expect("p256");
            (vec![k.public_key()], Some(k), String::new())
        }
        "standard-webhooks" | "svix" | "clerk" | "resend" => {
            (vec!["whsec_c2VjcmV0LWJ5dGVz".into()], None, String::new())
        }
        "twilio" | "square" | "hubspot" => (vec!["s3cret".into()], None, url),
        "meta" => (vec!["s3cret".into()], None, String::new()),
        "postmark" => (vec!["user:pass".into()], None, String::new()),
        _ => (vec!["s3cret".into()], None, String::new()),
    }
}

#[test]
fn our_signer_produces_verifiable_requests_for_every_preset() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    // Fetched-key presets are signed by the provider only (tests/it/fetched.rs).
    let names = catalog
        .names()
        .into_iter()
        .filter(|n| catalog.get(n).is_some_and(|p| !p.scheme().fetches_keys()));
    for name in names {
        let (keys, private, extra) = keys_for(name);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let p = if name == "meta" {
            crate::preset_provider_env(name, &keys, "verify_token_env = \"V\"", |_| {
                Some("v".into())
            })
            .expect("meta")
        } else {
            preset_provider(name, &keys, &extra)
        };
        let body = p.sample_body("evt_42", "thing.happened", 512);
        let signed = p
            .sign_request(&body, "evt_42", "thing.happened", 5000, private.as_ref())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let request =
            Unverified::new(&signed.headers, signed.body.clone()).with_query(&signed.query);
        let v = p
            .verify(request, 5000)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!v.event_id().is_empty(), "{name}");
    }
    // Asymmetric presets refuse to sign without their private key.
    let k = SigningKey::ed25519_from_seed(&[9; 32]);
    let discord = preset_provider("discord", &[&k.public_key()], "");
    assert!(discord.sign_request(b"{}", "", "", 0, None).is_err());
    let whpk = preset_provider(
        "standard-webhooks",
        &[&k.public_key_whpk().expect("whpk")],
        "",
    );
    let signed = whpk
        .sign_request(b"{}", "msg_1", "", 5000, Some(&k))
        .expect("v1a signs");
    assert!(signed.headers.iter().any(|(_, v)| v.starts_with("v1a,")));
    assert!(
        whpk.verify(Unverified::new(&signed.headers, &b"{}"[..]), 5000)
            .is_ok()
    );
}

#[test]
fn private_keys_load_from_pem() {
    // Keys generated by `cryptography` (OpenSSL), an independent implementation.
    let pem = crate::independent::python(
        r#"
from cryptography.hazmat.primitives.asymmetric import ed25519, ec
from cryptography.hazmat.primitives import serialization
import sys
if sys.argv[1] == "ed":
    k = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32)
else:
    k = ec.derive_private_key(12345, ec.SECP256R1())
print(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
      serialization.NoEncryption()).decode())
"#,
        &["ed"],
    );
    let ed = SigningKey::from_pem(&pem).expect("ed25519 pem");
    assert_eq!(
        ed.public_key(),
        SigningKey::ed25519_from_seed(&[9; 32]).public_key()
    );
    let pem = crate::independent::python(
        r#"
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
k = ec.derive_private_key(12345, ec.SECP256R1())
print(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
      serialization.NoEncryption()).decode())
print(k.public_key().public_bytes(serialization.Encoding.DER,
      serialization.PublicFormat.SubjectPublicKeyInfo).hex())
"#,
        &[],
    );
    let (pem, spki_hex) = pem.rsplit_once('\n').expect("two parts");
    let ec = SigningKey::from_pem(pem).expect("p256 pem");
    use base64::Engine;
    let spki = base64::engine::general_purpose::STANDARD
        .decode(ec.public_key())
        .expect("b64");
    assert_eq!(hex::encode(spki), spki_hex.trim());
    assert!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .is_err()
    );
    assert_eq!(format!("{ed:?}"), "SigningKey::Ed25519([redacted])");
}

const OPERATOR_PRESET: &str = r#"
scheme = "hmac"
algorithm = "sha512"
encoding = "base64"
signature_header = "x-acme-sig"
signature_separator = ","
signature_prefix = "s1="
signature_timestamp = "ts="
signed_payload = "{timestamp}|{method}|{body}"
tolerance = "2m"
event_id = ["json:/uid"]
event_type = ["json:/kind"]

[docs]
display_name = "Acme"
docs_url = "https://acme.example/docs/webhooks"
dashboard = ["Settings → Webhooks"]
"#;

const BASE: &str = r#"
[database]
url = "postgres://x/y"
[amqp]
url = "amqp://x"
"#;

#[test]
fn operator_presets_load_from_presets_dir() {
    Jail::expect_with(|jail| {
        std::fs::create_dir("presets").expect("mkdir");
        jail.create_file("presets/acme.toml", OPERATOR_PRESET)?;
        jail.create_file(
            "hookgate.toml",
            &format!(
                "presets_dir = \"presets\"\n{BASE}\n[providers.acme]\npreset = \"acme\"\nsecrets = [\"acme-secret\"]\n"
            ),
        )?;
        let (cfg, registry) = config::load(Path::new("hookgate.toml")).expect("loads");
        let catalog = cfg.preset_catalog().expect("catalog");
        assert!(catalog.get("acme").is_some() && catalog.get("github").is_some());
        let p = registry.get("acme").expect("acme");
        let body = p.sample_body("u-1", "k", 0);
        let h = p.sign(&body, "u-1", "k", 1000);
        assert!(h[0].1.starts_with("ts=1000,s1="), "{h:?}");
        let v = p
            .verify(Unverified::new(&h, body.clone()), 1000)
            .expect("verifies");
        assert_eq!((v.event_id(), v.event_type()), ("u-1", "k"));
        assert!(
            p.verify(Unverified::new(&h, body).with_method("PUT"), 1000)
                .is_err()
        );
        Ok(())
    });
}

#[test]
fn a_preset_file_clashing_with_a_builtin_stops_start_up_naming_the_file() {
    Jail::expect_with(|jail| {
        std::fs::create_dir("presets").expect("mkdir");
        for clash in ["github", "svix"] {
            jail.create_file(format!("presets/{clash}.toml"), OPERATOR_PRESET)?;
            jail.create_file(
                "hookgate.toml",
                &format!("presets_dir = \"presets\"\n{BASE}"),
            )?;
            let err = config::load(Path::new("hookgate.toml")).expect_err("clash");
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("{clash}.toml")) && msg.contains("clashes"),
                "{msg}"
            );
            std::fs::remove_file(format!("presets/{clash}.toml")).expect("rm");
        }
        jail.create_file(
            "presets/broken.toml",
            "scheme = \"hmac\"\nsecrets = [\"x\"]\n",
        )?;
        let err = config::load(Path::new("hookgate.toml")).expect_err("broken");
        assert!(err.to_string().contains("broken.toml"), "{err}");
        std::fs::remove_file("presets/broken.toml").expect("rm");
        jail.create_file(
            "hookgate.toml",
            &format!("presets_dir = \"nowhere\"\n{BASE}"),
        )?;
        let err = config::load(Path::new("hookgate.toml")).expect_err("missing dir");
        assert!(err.to_string().contains("presets_dir"), "{err}");
        Ok(())
    });
}
