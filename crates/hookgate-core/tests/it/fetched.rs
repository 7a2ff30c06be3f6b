//! The fetched-key presets (`aws-sns`, `google-pubsub`, `paypal`) at the core level: real
//! SNS messages signed by AWS (aws-php-sns-message-validator's functional vectors) with
//! their certificate, and messages signed by an independent signer
//! (`tests/fixtures/fetched_signer.py`, Python `cryptography`) with the test keys;
//! tampering, the host rule before any fetch, subscription messages, JWT claims, PayPal's
//! CRC, and the config errors naming their key.

use std::{collections::BTreeMap, io::Write, process::Command, sync::Arc};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate_core::{
    Provider, ProviderRegistry, Received, Rejection, Unverified,
    config::ProviderConfig,
    fetched::{FetchedKeys, KeyKind, KeySet, Subscription},
};
use serde_json::{Value, json};

/// The fixtures directory.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// Run the independent signer over `jobs`.
pub fn signer(jobs: Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(fixture("fetched_signer.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (with the `cryptography` package installed)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&serde_json::to_vec(&jobs).expect("json"))
        .expect("write jobs");
    let out = child.wait_with_output().expect("signer output");
    assert!(out.status.success(), "fetched signer failed");
    serde_json::from_slice(&out.stdout).expect("signer JSON")
}

fn provider_result(table: &str) -> Result<Provider, hookgate_core::config::ConfigError> {
    let tables: BTreeMap<String, ProviderConfig> =
        Figment::from(Toml::string(&format!("[p]\n{table}")))
            .extract()
            .expect("provider table parses");
    let registry = ProviderRegistry::from_config(&tables, |_| None)?;
    Ok(registry.get("p").expect("provider p").as_ref().clone())
}

fn provider(table: &str) -> Provider {
    provider_result(table).unwrap_or_else(|e| panic!("{e}"))
}

/// One provider of each fetched preset, for the property tests.
pub fn every_fetched_preset() -> Vec<Provider> {
    vec![
        provider("preset = \"aws-sns\""),
        provider("preset = \"google-pubsub\"\naudience = \"https://h.example/w\""),
        provider("preset = \"paypal\"\nwebhook_id = \"WH-1\""),
    ]
}

const LOCAL: &str = "key_hosts = [\"127.0.0.1:9\"]\nkey_fetch_insecure = true";
const CERT_URL: &str = "http://127.0.0.1:9/SimpleNotificationService-test.pem";

fn cert_keys(url: &str, pem: &str) -> FetchedKeys {
    FetchedKeys::new(
        url,
        Arc::new(KeySet::parse(KeyKind::Certificate, pem.as_bytes()).expect("certificate")),
    )
}

fn receive(
    p: &Provider,
    headers: &Vec<(String, String)>,
    body: &[u8],
    keys: Option<&FetchedKeys>,
    now: i64,
) -> Result<Received<Vec<u8>>, Rejection> {
    let mut request = Unverified::new(headers, body.to_vec());
    if let Some(k) = keys {
        request = request.with_keys(k);
    }
    p.receive(request, now)
}

fn event(r: Result<Received<Vec<u8>>, Rejection>) -> (String, String) {
    match r {
        Ok(Received::Event(e)) => (e.event_id().to_owned(), e.event_type().to_owned()),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn real_sns_messages_verify_with_the_aws_certificate_and_tampering_fails() {
    let sns = provider("preset = \"aws-sns\"");
    let cert = read("sns-signing-cert-2021.pem");
    let none: Vec<(String, String)> = Vec::new();
    for name in [
        "sns-v1-nosubject.json",
        "sns-v1-subject.json",
        "sns-v2-nosubject.json",
        "sns-v2-subject.json",
    ] {
        let body = read(name);
        let message: Value = serde_json::from_str(&body).expect("json");
        let url = message["SigningCertURL"].as_str().expect("url");
        let request = Unverified::new(&none, body.as_bytes());
        let key_ref = sns.key_ref(&request).expect("allowed").expect("a key");
        assert_eq!(
            (key_ref.url(), key_ref.kind(), key_ref.kid()),
            (url, KeyKind::Certificate, None)
        );
        let keys = cert_keys(url, &cert);
        // No date checks: the certificate expired in 2022.
        let (id, kind) = event(receive(
            &sns,
            &none,
            body.as_bytes(),
            Some(&keys),
            2_000_000_000,
        ));
        assert_eq!(id, message["MessageId"].as_str().expect("id"), "{name}");
        assert!(kind.starts_with("publish-and-verify-"), "{name}: {kind}");

        let tampered = body.replace("\"Hello world\"", "\"Hello world!\"");
        assert_ne!(tampered, body);
        assert_eq!(
            receive(&sns, &none, tampered.as_bytes(), Some(&keys), 0).map(|_| ()),
            Err(Rejection::InvalidSignature),
            "{name}: tampered"
        );
        // Without keys, or with keys fetched for another URL, nothing verifies.
        assert_eq!(
            receive(&sns, &none, body.as_bytes(), None, 0).map(|_| ()),
            Err(Rejection::InvalidSignature)
        );
        let elsewhere = cert_keys(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem",
            &cert,
        );
        assert_eq!(
            receive(&sns, &none, body.as_bytes(), Some(&elsewhere), 0).map(|_| ()),
            Err(Rejection::InvalidSignature)
        );
        // A header naming another type is refused.
        let mismatch = crate::headers(&[("x-amz-sns-message-type", "SubscriptionConfirmation")]);
        assert_eq!(
            receive(&sns, &mismatch, body.as_bytes(), Some(&keys), 0).map(|_| ()),
            Err(Rejection::InvalidSignature)
        );
    }
    // "Subject": null verifies like an absent Subject.
    let mut with_null: Value = serde_json::from_str(&read("sns-v1-nosubject.json")).expect("json");
    with_null["Subject"] = Value::Null;
    let url = with_null["SigningCertURL"]
        .as_str()
        .expect("url")
        .to_owned();
    let body = serde_json::to_vec(&with_null).expect("json");
    assert!(matches!(
        receive(&sns, &none, &body, Some(&cert_keys(&url, &cert)), 0),
        Ok(Received::Event(_))
    ));
}

#[test]
fn certificate_urls_outside_key_hosts_are_rejected_before_any_fetch() {
    let sns = provider("preset = \"aws-sns\"");
    let none: Vec<(String, String)> = Vec::new();
    let body = read("sns-v2-subject.json");
    for url in [
        "https://sns.s3-ap-southeast-2.amazonaws.com/SimpleNotificationService-1.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-2.amazonaws.com@evil.com/SimpleNotificationService-1.pem",
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-2.amazonaws.com:8443/SimpleNotificationService-1.pem",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.pem?x=.pem",
        "https://sns.us-east-2.amazonaws.com/evil.pem",
    ] {
        let mut message: Value = serde_json::from_str(&body).expect("json");
        message["SigningCertURL"] = Value::String(url.into());
        let changed = serde_json::to_vec(&message).expect("json");
        assert_eq!(
            sns.key_ref(&Unverified::new(&none, &changed[..])),
            Err(Rejection::InvalidSignature),
            "{url}"
        );
    }
    // Raw message delivery: no signature at all.
    assert_eq!(
        sns.key_ref(&Unverified::new(&none, &b"Hello world"[..])),
        Err(Rejection::MissingSignature)
    );
    // Other providers need no key.
    let gh = crate::preset_provider("github", &["s"], "");
    assert_eq!(gh.key_ref(&Unverified::new(&none, &b"{}"[..])), Ok(None));
}

fn sns_message(kind: &str, topic: &str, subscribe_url: Option<&str>) -> Value {
    let mut m = json!({
        "Type": kind,
        "MessageId": format!("{kind}-1"),
        "TopicArn": topic,
        "Message": "line one\nline two, \"quoted\", é",
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "http://127.0.0.1:9/?Action=Unsubscribe",
    });
    if kind == "Notification" {
        m["Subject"] = json!("A subject");
    } else {
        m["Token"] = json!("2336412f37fb687f5d51e6e241d09c80");
        m["SubscribeURL"] = json!(subscribe_url.unwrap_or_default());
    }
    m
}

#[test]
fn independently_signed_sns_messages_v1_v2_and_subscriptions() {
    let sns = provider(&format!("preset = \"aws-sns\"\n{LOCAL}"));
    let topic = "arn:aws:sns:us-east-1:123456789012:orders";
    let confirm =
        format!("http://127.0.0.1:9/?Action=ConfirmSubscription&TopicArn={topic}&Token=2336412f");
    let key = fixture("test-rsa-a.key.pem");
    let jobs: Vec<Value> = [
        ("1", sns_message("Notification", topic, None)),
        ("2", sns_message("Notification", topic, None)),
        (
            "2",
            sns_message("SubscriptionConfirmation", topic, Some(&confirm)),
        ),
        (
            "1",
            sns_message("UnsubscribeConfirmation", topic, Some(&confirm)),
        ),
        (
            "2",
            sns_message(
                "SubscriptionConfirmation",
                topic,
                Some(&confirm.replace("127.0.0.1:9", "evil.example")),
            ),
        ),
    ]
    .into_iter()
    .map(|(v, m)| json!({"op": "sns", "key": key, "version": v, "message": m}))
    .collect();
    let signed = signer(Value::Array(jobs));
    let keys = cert_keys(CERT_URL, &read("test-rsa-a.cert.pem"));
    let other_keys = cert_keys(CERT_URL, &read("test-rsa-b.cert.pem"));
    let body = |v: &Value| serde_json::to_vec(v).expect("json");
    let typed = |kind: &str| crate::headers(&[("x-amz-sns-message-type", kind)]);

    for n in &signed[..2] {
        assert_eq!(
            event(receive(
                &sns,
                &typed("Notification"),
                &body(n),
                Some(&keys),
                0
            )),
            ("Notification-1".to_owned(), "orders".to_owned())
        );
        assert_eq!(
            receive(&sns, &typed("Notification"), &body(n), Some(&other_keys), 0).map(|_| ()),
            Err(Rejection::InvalidSignature),
            "another key"
        );
        for field in ["Message", "Subject", "MessageId", "TopicArn", "Timestamp"] {
            let mut changed = n.clone();
            changed[field] = json!(format!("{}x", n[field].as_str().expect("text")));
            assert_eq!(
                receive(
                    &sns,
                    &typed("Notification"),
                    &body(&changed),
                    Some(&keys),
                    0
                )
                .map(|_| ()),
                Err(Rejection::InvalidSignature),
                "{field} changed"
            );
        }
        // Unsigned fields may differ.
        let mut changed = n.clone();
        changed["UnsubscribeURL"] = json!("anything");
        assert!(
            receive(
                &sns,
                &typed("Notification"),
                &body(&changed),
                Some(&keys),
                0
            )
            .is_ok()
        );
    }
    // A configured event type replaces the topic name.
    let by_subject = provider(&format!(
        "preset = \"aws-sns\"\n{LOCAL}\nevent_type = [\"json:/Subject\"]"
    ));
    assert_eq!(
        event(receive(
            &by_subject,
            &typed("Notification"),
            &body(&signed[0]),
            Some(&keys),
            0
        ))
        .1,
        "A subject"
    );

    let r = receive(
        &sns,
        &typed("SubscriptionConfirmation"),
        &body(&signed[2]),
        Some(&keys),
        0,
    );
    match r {
        Ok(Received::Subscription(s @ Subscription::Confirm { .. })) => {
            assert_eq!(s.topic_arn(), topic);
            let Subscription::Confirm { confirm_url, .. } = &s else {
                unreachable!()
            };
            assert_eq!(confirm_url, &confirm);
            assert_eq!(
                (s.reply().status, s.reply().body),
                (200, br#"{"status":"subscribed"}"#.to_vec())
            );
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
    let mut token_changed = signed[2].clone();
    token_changed["Token"] = json!("other");
    assert_eq!(
        receive(&sns, &none(), &body(&token_changed), Some(&keys), 0).map(|_| ()),
        Err(Rejection::InvalidSignature)
    );
    assert!(matches!(
        receive(
            &sns,
            &typed("UnsubscribeConfirmation"),
            &body(&signed[3]),
            Some(&keys),
            0
        ),
        Ok(Received::Subscription(Subscription::Unsubscribed { .. }))
    ));
    // Authentic, but its SubscribeURL is outside key_hosts: refused, never to be fetched.
    assert_eq!(
        receive(&sns, &none(), &body(&signed[4]), Some(&keys), 0).map(|_| ()),
        Err(Rejection::InvalidSignature)
    );
}

fn none() -> Vec<(String, String)> {
    Vec::new()
}

const AUDIENCE: &str = "https://hooks.example.com/webhooks/pubsub";
const EMAIL: &str = "push@project.iam.gserviceaccount.com";
const NOW: i64 = 1_700_000_000;

fn pubsub_body() -> &'static [u8] {
    br#"{"message":{"attributes":{"k":"v"},"data":"SGVsbG8=","messageId":"2070443601311540","message_id":"2070443601311540","publishTime":"2021-02-26T19:13:55.749Z"},"subscription":"projects/p/subscriptions/s"}"#
}

#[test]
fn pubsub_tokens_are_checked_for_key_issuer_audience_expiry_and_email() {
    let jwks_url = "http://127.0.0.1:9/oauth2/v3/certs";
    let p = provider(&format!(
        "preset = \"google-pubsub\"\n{LOCAL}\njwks_url = \"{jwks_url}\"\naudience = \"{AUDIENCE}\"\nservice_account_email = \"{EMAIL}\""
    ));
    let claims = json!({"iss": "https://accounts.google.com", "aud": AUDIENCE, "azp": "1", "sub": "1",
        "email": EMAIL, "email_verified": true, "iat": NOW - 10, "exp": NOW + 3590});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        f(&mut c);
        c
    };
    let (a, b) = (fixture("test-rsa-a.key.pem"), fixture("test-rsa-b.key.pem"));
    let cases = [
        ("valid", a.clone(), "ka", claims.clone()),
        (
            "legacy issuer",
            a.clone(),
            "ka",
            with(&|c| c["iss"] = json!("accounts.google.com")),
        ),
        (
            "wrong audience",
            a.clone(),
            "ka",
            with(&|c| c["aud"] = json!("https://other.example/")),
        ),
        (
            "expired",
            a.clone(),
            "ka",
            with(&|c| {
                c["iat"] = json!(NOW - 7200);
                c["exp"] = json!(NOW - 3600)
            }),
        ),
        (
            "wrong email",
            a.clone(),
            "ka",
            with(&|c| c["email"] = json!("x@evil.example")),
        ),
        (
            "unverified email",
            a.clone(),
            "ka",
            with(&|c| c["email_verified"] = json!(false)),
        ),
        (
            "other issuer",
            a.clone(),
            "ka",
            with(&|c| c["iss"] = json!("https://evil.example")),
        ),
        ("key b", b.clone(), "kb", claims.clone()),
        ("key b named a", b.clone(), "ka", claims.clone()),
    ];
    let mut jobs: Vec<Value> = cases
        .iter()
        .map(|(_, key, kid, claims)| json!({"op": "jwt", "key": key, "kid": kid, "claims": claims}))
        .collect();
    jobs.push(json!({"op": "jwks", "keys": [{"key": a, "kid": "ka"}]}));
    let out = signer(Value::Array(jobs));
    let jwks = serde_json::to_vec(&out[cases.len()]["jwks"]).expect("jwks");
    let keys = FetchedKeys::new(
        jwks_url,
        Arc::new(KeySet::parse(KeyKind::Jwks, &jwks).expect("jwks")),
    );
    let expect = [
        Ok(()),
        Ok(()),
        Err(Rejection::InvalidSignature),
        Err(Rejection::TimestampOutOfTolerance),
        Err(Rejection::InvalidSignature),
        Err(Rejection::InvalidSignature),
        Err(Rejection::InvalidSignature),
        Err(Rejection::InvalidSignature),
        Err(Rejection::InvalidSignature),
    ];
    for (i, ((name, _, kid, _), expected)) in cases.iter().zip(expect).enumerate() {
        let token = out[i]["token"].as_str().expect("token");
        let headers = crate::headers(&[("authorization", &format!("Bearer {token}"))]);
        let key_ref = p
            .key_ref(&Unverified::new(&headers, pubsub_body()))
            .expect("well-formed")
            .expect("a key");
        assert_eq!(
            (key_ref.url(), key_ref.kind(), key_ref.kid()),
            (jwks_url, KeyKind::Jwks, Some(*kid))
        );
        assert_eq!(key_ref.found_in(keys.set()), *kid == "ka", "{name}");
        let got = receive(&p, &headers, pubsub_body(), Some(&keys), NOW);
        assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), expected, "{name}");
        if *name == "valid" {
            assert_eq!(
                event(got),
                ("2070443601311540".to_owned(), "message".to_owned())
            );
        }
    }
    // Key rotation: once the JWKS holds key b, its tokens verify.
    let rotated =
        signer(json!([{"op": "jwks", "keys": [{"key": a, "kid": "ka"}, {"key": b, "kid": "kb"}]}]));
    let rotated = FetchedKeys::new(
        jwks_url,
        Arc::new(
            KeySet::parse(
                KeyKind::Jwks,
                &serde_json::to_vec(&rotated[0]["jwks"]).expect("json"),
            )
            .expect("jwks"),
        ),
    );
    let token = out[7]["token"].as_str().expect("token");
    let headers = crate::headers(&[("authorization", &format!("Bearer {token}"))]);
    assert!(matches!(
        receive(&p, &headers, pubsub_body(), Some(&rotated), NOW),
        Ok(Received::Event(_))
    ));
    // No token at all.
    assert_eq!(
        p.key_ref(&Unverified::new(&none(), pubsub_body())),
        Err(Rejection::MissingSignature)
    );
}

#[test]
fn paypal_signs_the_transmission_and_the_body_crc() {
    let p = provider(&format!(
        "preset = \"paypal\"\n{LOCAL}\nwebhook_id = \"8PT597110X687430LKGECATA\""
    ));
    let cert_url = "http://127.0.0.1:9/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270";
    // A body whose CRC-32 is above 2^31, so a signed rendering would differ.
    let mut body = r#"{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_type":"PAYMENT.SALE.COMPLETED","resource":{"amount":{"total":"1.00"}}}"#.to_owned();
    while crc32fast::hash(body.as_bytes()) < 1 << 31 {
        body.push(' ');
    }
    let (id, time) = (
        "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "2016-02-18T20:01:35Z",
    );
    let out = signer(json!([
        {"op": "paypal", "key": fixture("test-rsa-a.key.pem"), "id": id, "time": time,
         "webhook_id": "8PT597110X687430LKGECATA", "body": body},
    ]));
    let sig = out[0]["signature"].as_str().expect("signature");
    let headers = |sig: &str, algo: &str, url: &str| {
        crate::headers(&[
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", time),
            ("paypal-transmission-sig", sig),
            ("paypal-cert-url", url),
            ("paypal-auth-algo", algo),
        ])
    };
    let good = headers(sig, "SHA256withRSA", cert_url);
    let keys = cert_keys(cert_url, &read("test-rsa-a.cert.pem"));
    assert_eq!(
        p.key_ref(&Unverified::new(&good, body.as_bytes()))
            .expect("ok")
            .expect("key")
            .url(),
        cert_url
    );
    assert_eq!(
        event(receive(&p, &good, body.as_bytes(), Some(&keys), 0)),
        (
            "WH-2WR32451HC0233532-67976317FL4543714".to_owned(),
            "PAYMENT.SALE.COMPLETED".to_owned()
        )
    );
    let mut tampered = body.clone().into_bytes();
    tampered[10] ^= 1;
    assert_eq!(
        receive(&p, &good, &tampered, Some(&keys), 0).map(|_| ()),
        Err(Rejection::InvalidSignature)
    );
    let other_id = provider(&format!(
        "preset = \"paypal\"\n{LOCAL}\nwebhook_id = \"OTHER\""
    ));
    assert_eq!(
        receive(&other_id, &good, body.as_bytes(), Some(&keys), 0).map(|_| ()),
        Err(Rejection::InvalidSignature)
    );
    assert_eq!(
        receive(
            &p,
            &headers(sig, "SHA1withRSA", cert_url),
            body.as_bytes(),
            Some(&keys),
            0
        )
        .map(|_| ()),
        Err(Rejection::InvalidSignature)
    );
    let outside = headers(
        sig,
        "SHA256withRSA",
        "http://127.0.0.1:10/v1/notifications/certs/CERT-1",
    );
    assert_eq!(
        p.key_ref(&Unverified::new(&outside, body.as_bytes())),
        Err(Rejection::InvalidSignature)
    );
    // The official presets never allow plain http, nor the test host.
    let official = provider("preset = \"paypal\"\nwebhook_id = \"W\"");
    assert_eq!(
        official.key_ref(&Unverified::new(&good, body.as_bytes())),
        Err(Rejection::InvalidSignature)
    );
    assert_eq!(
        official.key_ref(&Unverified::new(&none(), body.as_bytes())),
        Err(Rejection::MissingSignature)
    );
}

#[test]
fn config_errors_name_the_key() {
    let err = |table: &str| provider_result(table).expect_err("refused").to_string();
    let e = err("preset = \"google-pubsub\"");
    assert!(
        e.contains("providers.p.audience") && e.contains("required"),
        "{e}"
    );
    let e = err("preset = \"paypal\"");
    assert!(e.contains("providers.p.webhook_id"), "{e}");
    let e = err("preset = \"aws-sns\"\nsecrets = [\"x\"]");
    assert!(
        e.contains("providers.p.secrets") && e.contains("fetches its keys"),
        "{e}"
    );
    let e = err("preset = \"github\"\nsecrets = [\"x\"]\nkey_hosts = [\"x\"]");
    assert!(e.contains("providers.p.key_hosts"), "{e}");
    let e = err("preset = \"github\"\nsecrets = [\"x\"]\nwebhook_id = \"x\"");
    assert!(e.contains("providers.p.webhook_id"), "{e}");
    let e = err(
        "preset = \"google-pubsub\"\naudience = \"a\"\njwks_url = \"https://evil.example/certs\"",
    );
    assert!(e.contains("providers.p.jwks_url"), "{e}");
    let e = err("preset = \"aws-sns\"\nkey_hosts = [\"*.amazonaws.com\"]");
    assert!(e.contains("providers.p.key_hosts"), "{e}");
    let e = err("preset = \"aws-sns\"\nkey_hosts = []");
    assert!(e.contains("providers.p.key_hosts"), "{e}");
    // These presets need no secrets at all.
    assert_eq!(
        provider("preset = \"aws-sns\"").scheme().as_str(),
        "aws-sns"
    );
    // Our signer cannot sign for the provider.
    let sns = provider("preset = \"aws-sns\"");
    assert!(sns.sign_request(b"{}", "", "", 0, None).is_err());
}

#[test]
fn explain_names_the_key_and_the_host_rule_without_fetching() {
    use hookgate_core::explain::{Outcome, Verdict};
    let sns = provider("preset = \"aws-sns\"");
    let none: Vec<(String, String)> = Vec::new();
    let body = read("sns-v2-subject.json");
    let ex = sns.explain(&Unverified::new(&none, body.as_bytes()), 0);
    let key = ex.steps.iter().find(|s| s.name == "key").expect("key step");
    assert_eq!(key.outcome, Outcome::Info, "{ex:#?}");
    assert!(
        key.detail.contains("https://sns.us-east-2.amazonaws.com/"),
        "{ex:#?}"
    );
    assert_eq!(ex.verdict, Verdict::Rejected(Rejection::InvalidSignature));

    let outside = body.replace(
        "sns.us-east-2.amazonaws.com",
        "sns.s3-us-east-2.amazonaws.com",
    );
    let ex = sns.explain(&Unverified::new(&none, outside.as_bytes()), 0);
    let key = ex.steps.iter().find(|s| s.name == "key").expect("key step");
    assert_eq!(key.outcome, Outcome::Fail, "{ex:#?}");
    assert_eq!(ex.verdict, Verdict::Rejected(Rejection::InvalidSignature));
    assert!(ex.steps.iter().all(|s| s.name != "verifier"), "{ex:#?}");
}
