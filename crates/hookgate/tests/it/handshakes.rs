//! Every handshake over real HTTP: the provider's request, the exact answer (status,
//! content type, headers, body), nothing stored or published, counted as
//! `outcome="handshake"`; GET answered only where the preset's handshake is a GET.

use std::process::{Command, Stdio};

use hookgate_core::sign::SigningKey;

use crate::helpers::*;

/// A raw answer: status, headers and body bytes.
struct Raw {
    status: u16,
    content_type: String,
    nosniff: bool,
    body: Vec<u8>,
}

async fn send(
    app: &TestApp,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Raw {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = awc::Client::default().request(method, app.url(path_and_query));
    for (k, v) in headers {
        req = req.insert_header((k.as_str(), v.as_str()));
    }
    let mut res = req.send_body(body).await.expect("request");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header("content-type");
    let nosniff = header("x-content-type-options") == "nosniff";
    Raw {
        status: res.status().as_u16(),
        content_type,
        nosniff,
        body: res.body().await.expect("body").to_vec(),
    }
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `base64(HMAC-SHA256(key, data))` by the openssl CLI: an independent signer.
fn openssl_hmac_b64(key: &str, data: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key, "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl output");
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

const DISCORD_SEED: [u8; 32] = [7; 32];

async fn app_with_handshake_providers() -> TestApp {
    let discord = SigningKey::ed25519_from_seed(&DISCORD_SEED).public_key();
    let mut settings = Settings::new();
    settings.tables_extra = format!(
        r#"
[providers.slack]
preset = "slack"
secrets = ["slack-secret"]

[providers.zoom]
preset = "zoom"
secrets = ["secretValueTest"]

[providers.twitch]
preset = "twitch"
secrets = ["twitch-secret-0123456789"]

[providers.discord]
preset = "discord"
secrets = ["{discord}"]

[providers.meta]
preset = "meta"
secrets = ["app-secret"]
verify_token_env = "META_VERIFY_TOKEN"

[providers.dropbox]
preset = "dropbox"
secrets = ["app-secret"]

[providers.x]
preset = "x"
secrets = ["consumer-secret"]

[providers.okta]
preset = "okta"
secrets = ["Bearer okta-hook-secret"]

[providers.graph]
preset = "microsoft-graph"
secrets = ["client-state"]
"#
    );
    settings
        .env
        .insert("META_VERIFY_TOKEN".into(), "meta-verify".into());
    spawn_app_with(settings).await
}

/// Nothing was stored or published, and every answer was counted as a handshake.
async fn nothing_kept(app: &TestApp, inbox: &Inbox, counted: &[(&str, u32)]) {
    assert!(app.stored_ids().await.is_empty(), "a handshake was stored");
    app.drained().await;
    assert!(
        inbox.take_all().await.is_empty(),
        "a handshake was published"
    );
    let metrics = app.metrics.encode();
    for (provider, n) in counted {
        let line =
            format!(r#"hookgate_requests_total{{provider="{provider}",outcome="handshake"}} {n}"#);
        assert!(metrics.contains(&line), "missing {line}");
    }
}

#[actix_web::test]
async fn signed_post_handshakes_are_answered_after_verification() {
    let app = app_with_handshake_providers().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let now = hookgate::unix_now();

    let slack = app.registry.get("slack").expect("slack");
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let r = send(
        &app,
        "POST",
        "/webhooks/slack",
        &slack.sign(body, "", "", now),
        body.to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    assert_eq!(
        r.body,
        br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
    );
    let unsigned = send(&app, "POST", "/webhooks/slack", &[], body.to_vec()).await;
    assert_eq!(unsigned.status, 401, "an unsigned handshake is refused");

    // Zoom's published example: secret `secretValueTest`, plainToken below.
    let zoom = app.registry.get("zoom").expect("zoom");
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let r = send(
        &app,
        "POST",
        "/webhooks/zoom",
        &zoom.sign(body, "", "", now),
        body.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(json["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        json["encryptedToken"],
        "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff"
    );

    let twitch = app.registry.get("twitch").expect("twitch");
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let mut headers = twitch.sign(body, "msg-1", "channel.follow", now);
    headers.push((
        "Twitch-Eventsub-Message-Type".into(),
        "webhook_callback_verification".into(),
    ));
    let r = send(&app, "POST", "/webhooks/twitch", &headers, body.to_vec()).await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    assert_eq!(r.body, b"pogchamp-kappa-360noscope-vohiyo");

    let discord = app.registry.get("discord").expect("discord");
    let key = SigningKey::ed25519_from_seed(&DISCORD_SEED);
    let ping = br#"{"id":"1","type":1,"application_id":"2"}"#;
    let signed = discord
        .sign_request(ping, "", "", now, Some(&key))
        .expect("signs");
    let r = send(
        &app,
        "POST",
        "/webhooks/discord",
        &signed.headers,
        signed.body.clone(),
    )
    .await;
    assert_eq!((r.status, r.body.as_slice()), (200, &br#"{"type":1}"#[..]));
    // Discord checks that a bad signature is refused.
    let mut bad = signed.headers.clone();
    let sig = bad
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-signature-ed25519"))
        .expect("signature header");
    let last = sig.1.pop();
    sig.1.push(if last == Some('0') { '1' } else { '0' });
    let r = send(&app, "POST", "/webhooks/discord", &bad, signed.body).await;
    assert_eq!(r.status, 401);

    nothing_kept(
        &app,
        &inbox,
        &[("slack", 1), ("zoom", 1), ("twitch", 1), ("discord", 1)],
    )
    .await;
    app.stop().await;
}

#[actix_web::test]
async fn get_handshakes_are_answered_only_where_the_preset_has_one() {
    let app = app_with_handshake_providers().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;

    let ok = send(
        &app,
        "GET",
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=meta-verify&hub.challenge=1158201444",
        &[],
        vec![],
    )
    .await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"1158201444"[..]));
    let wrong = send(
        &app,
        "GET",
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444",
        &[],
        vec![],
    )
    .await;
    assert_eq!(wrong.status, 403);

    let r = send(
        &app,
        "GET",
        "/webhooks/dropbox?challenge=%3Cb%3Ehi",
        &[],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<b>hi"[..]));
    assert!(r.content_type.starts_with("text/plain") && r.nosniff);

    let r = send(
        &app,
        "GET",
        "/webhooks/x?crc_token=challenge-123",
        &[],
        vec![],
    )
    .await;
    let expected = openssl_hmac_b64("consumer-secret", "challenge-123");
    assert_eq!(
        String::from_utf8(r.body).expect("utf8"),
        format!(r#"{{"response_token":"sha256={expected}"}}"#)
    );

    let okta = h(&[
        ("Authorization", "Bearer okta-hook-secret"),
        (
            "X-Okta-Verification-Challenge",
            "3aKQYpAYuA8pFEX7yPlFg4Bd7kBvV5rR",
        ),
    ]);
    let r = send(&app, "GET", "/webhooks/okta", &okta, vec![]).await;
    assert_eq!(
        r.body,
        br#"{"verification":"3aKQYpAYuA8pFEX7yPlFg4Bd7kBvV5rR"}"#
    );
    let forged = h(&[
        ("Authorization", "Bearer guess"),
        ("X-Okta-Verification-Challenge", "c"),
    ]);
    assert_eq!(
        send(&app, "GET", "/webhooks/okta", &forged, vec![])
            .await
            .status,
        401
    );

    for method in ["POST", "GET"] {
        let r = send(
            &app,
            method,
            "/webhooks/graph?validationToken=Validation%3A+Testing%20client",
            &[],
            vec![],
        )
        .await;
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"Validation: Testing client"[..]),
            "{method}"
        );
    }

    // No GET handshake: 405, as for any provider (and for an unknown name).
    for path in [
        "/webhooks/github",
        "/webhooks/groq?challenge=1",
        "/webhooks/nobody",
    ] {
        let r = send(&app, "GET", path, &[], vec![]).await;
        assert_eq!(r.status, 405, "{path}");
    }
    let no_challenge = send(&app, "GET", "/webhooks/dropbox", &[], vec![]).await;
    assert_eq!(no_challenge.status, 405, "a GET that is not the handshake");

    nothing_kept(
        &app,
        &inbox,
        &[
            ("meta", 2),
            ("dropbox", 1),
            ("x", 1),
            ("okta", 1),
            ("graph", 2),
        ],
    )
    .await;
    app.stop().await;
}
