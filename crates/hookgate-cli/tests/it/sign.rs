//! `hookgate sign` for every kind of scheme, run as the real binary: the request it prints
//! (headers, the signed query on the URL, the body as it must be sent) verifies with the
//! core's own verifier. Asymmetric presets sign with a private key made by `openssl` in
//! the test, whose public key is the one in the config.

use base64::Engine;
use hookgate_core::{Received, Unverified, config};

use crate::cli::{SERVICES, Scratch, hookgate, openssl};

/// Key pairs made by openssl: (Ed25519 PEM path, its raw public key), (P-256 PEM path,
/// its base64 SPKI public key).
fn keys(dir: &Scratch) -> ((String, [u8; 32]), (String, String)) {
    let ed = dir.0.join("ed25519.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        &ed.display().to_string(),
    ]);
    let der = openssl(&[
        "pkey",
        "-in",
        &ed.display().to_string(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    let raw: [u8; 32] = der[der.len() - 32..].try_into().expect("32-byte key");
    let ec = dir.0.join("p256.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &ec.display().to_string(),
    ]);
    let spki = openssl(&[
        "pkey",
        "-in",
        &ec.display().to_string(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    let spki = base64::engine::general_purpose::STANDARD.encode(spki);
    (
        (ed.display().to_string(), raw),
        (ec.display().to_string(), spki),
    )
}

fn now() -> i64 {
    hookgate::unix_now()
}

#[test]
fn signed_requests_of_every_scheme_verify_with_the_core() {
    let dir = Scratch::new("sign");
    let ((ed_pem, ed_raw), (ec_pem, ec_spki)) = keys(&dir);
    let whpk = format!(
        "whpk_{}",
        base64::engine::general_purpose::STANDARD.encode(ed_raw)
    );
    let hex: String = ed_raw.iter().map(|b| format!("{b:02x}")).collect();
    let config = dir.write(
        "hookgate.toml",
        format!(
            r#"{SERVICES}
[providers.github]
preset = "github"
secrets = ["gh-secret"]
[providers.stripe]
preset = "stripe"
secrets = ["whsec_stripe_secret"]
[providers.twilio]
preset = "twilio"
secrets = ["twilio-auth-token"]
public_url = "https://hooks.example.com/webhooks/twilio"
[providers.hubspot]
preset = "hubspot"
secrets = ["hubspot-client-secret"]
public_url = "https://hooks.example.com/webhooks/hubspot"
[providers.mailgun]
preset = "mailgun"
secrets = ["mailgun-signing-key"]
[providers.graph]
preset = "microsoft-graph"
secrets = ["graph-client-state"]
[providers.postmark]
preset = "postmark"
secrets = ["user:pass"]
[providers.discord]
preset = "discord"
secrets = ["{hex}"]
[providers.sendgrid]
preset = "sendgrid"
secrets = ["{ec_spki}"]
[providers.sw]
preset = "standard-webhooks"
secrets = ["{whpk}"]
"#
        ),
    );
    let (_, registry) = config::load(&config).expect("config loads");
    let json_body = dir.write(
        "twilio.json",
        br#"{"MessageSid":"SM1","MessageStatus":"sent"}"#,
    );
    let json_body = json_body.display().to_string();
    let cases: [(&str, Option<&str>, Option<&str>); 11] = [
        ("github", None, None),
        ("stripe", None, None),
        ("twilio", None, None),
        ("twilio", None, Some(&json_body)),
        ("hubspot", None, None),
        ("mailgun", None, None),
        ("graph", None, None),
        ("postmark", None, None),
        ("discord", Some(&ed_pem), None),
        ("sendgrid", Some(&ec_pem), None),
        ("sw", Some(&ed_pem), None),
    ];
    for (provider, key, body_file) in cases {
        let mut args = vec![
            "sign",
            "--provider",
            provider,
            "--type",
            "order.paid",
            "--json",
        ];
        if let Some(key) = key {
            args.extend(["--private-key", key]);
        }
        if let Some(file) = body_file {
            args.extend(["--body", file]);
        }
        let run = hookgate(&config, &args);
        assert_eq!(run.code, 0, "{provider}: {}", run.stderr);
        let out: serde_json::Value = serde_json::from_str(&run.stdout).expect("sign --json");
        let url = out["url"].as_str().expect("url");
        assert!(url.contains(&format!("/webhooks/{provider}")), "{url}");
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let headers: Vec<(String, String)> =
            serde_json::from_value(out["headers"].clone()).expect("headers");
        let body = out["body"].as_str().expect("text body").as_bytes().to_vec();
        let p = registry.get(provider).expect("provider");
        let request = Unverified::new(&headers, body.clone()).with_query(query);
        assert!(
            p.check(&request, now()).is_ok(),
            "{provider}: printed request does not verify: {}",
            run.stdout
        );
        match p.receive(Unverified::new(&headers, body).with_query(query), now()) {
            Ok(Received::Event(e)) => assert!(!e.event_id().is_empty()),
            other => panic!("{provider}: {other:?}"),
        }
        if provider == "twilio" && body_file.is_some() {
            assert!(
                query.starts_with("bodySHA256="),
                "JSON bodies sign bodySHA256: {url}"
            );
        }
        if provider == "mailgun" {
            let sent = out["body"].as_str().unwrap_or_default();
            assert!(sent.contains("\"signature\""), "the proof is in the body");
        }
        if provider == "sw" {
            assert!(run.stdout.contains("v1a,"), "whpk keys sign v1a");
        }
    }
}

#[test]
fn human_output_and_a_body_file_verify_and_asymmetric_presets_need_a_key() {
    let dir = Scratch::new("sign-text");
    let ((_, ed_raw), _) = keys(&dir);
    let hex: String = ed_raw.iter().map(|b| format!("{b:02x}")).collect();
    let config = dir.write(
        "hookgate.toml",
        format!(
            "{SERVICES}[providers.slack]\npreset = \"slack\"\nsecrets = [\"slack-signing\"]\n[providers.discord]\npreset = \"discord\"\nsecrets = [\"{hex}\"]\n"
        ),
    );
    let body = dir.write(
        "body.json",
        br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#,
    );
    let run = hookgate(
        &config,
        &[
            "sign",
            "--provider",
            "slack",
            "--body",
            &body.display().to_string(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (head, curl) = run
        .stdout
        .split_once("\n\n")
        .expect("headers, blank line, curl");
    let headers: Vec<(String, String)> = head
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("header line");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert!(curl.starts_with("curl -sS -X POST 'http://127.0.0.1:8080/webhooks/slack'"));
    assert!(
        curl.contains("--data-binary @"),
        "an unchanged body file is sent as is"
    );
    let (_, registry) = config::load(&config).expect("config");
    let slack = registry.get("slack").expect("slack");
    let bytes = std::fs::read(&body).expect("body");
    assert!(
        slack
            .check(&Unverified::new(&headers, bytes), now())
            .is_ok()
    );

    let run = hookgate(&config, &["sign", "--provider", "discord"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--private-key"), "{}", run.stderr);
    let run = hookgate(&config, &["sign", "--provider", "nope"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no provider named"), "{}", run.stderr);
}
