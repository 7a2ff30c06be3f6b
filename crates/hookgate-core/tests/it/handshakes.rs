//! Every handshake at the pure level: the request the provider sends, the exact reply, the
//! rejection when the request's own verification fails, and GET answered only by the
//! providers whose handshake is a GET.

use hookgate_core::{
    HandshakeReply, PresetCatalog, Provider, Received, Rejection, Unverified, sign::SigningKey,
};

use crate::{headers, preset_provider, preset_provider_env};

const NOW: i64 = 1_700_000_000;

fn receive(
    p: &Provider,
    method: &str,
    query: &str,
    h: &Vec<(String, String)>,
    body: &[u8],
) -> Result<Received<Vec<u8>>, Rejection> {
    p.receive(
        Unverified::new(h, body.to_vec())
            .with_method(method)
            .with_query(query),
        NOW,
    )
}

fn reply(r: Result<Received<Vec<u8>>, Rejection>) -> HandshakeReply {
    match r {
        Ok(Received::Handshake(reply)) => reply,
        other => panic!("expected a handshake, got {other:?}"),
    }
}

fn is_event(r: &Result<Received<Vec<u8>>, Rejection>) -> bool {
    matches!(r, Ok(Received::Event(_)))
}

fn is_405(r: &Result<Received<Vec<u8>>, Rejection>) -> bool {
    matches!(r, Ok(Received::MethodNotAllowed))
}

#[test]
fn slack_url_verification_after_its_signature() {
    let p = preset_provider("slack", &["slack-secret"], "");
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let h = p.sign(body, "", "", NOW);
    let r = reply(receive(&p, "POST", "", &h, body));
    assert_eq!((r.status, r.content_type), (200, "application/json"));
    assert_eq!(
        r.body,
        br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
    );
    let unsigned = headers(&[("x-slack-request-timestamp", "1700000000")]);
    assert_eq!(
        receive(&p, "POST", "", &unsigned, body).unwrap_err(),
        Rejection::MissingSignature
    );
    assert!(is_405(&receive(&p, "GET", "", &h, b"")));
}

#[test]
fn zoom_url_validation_answers_the_encrypted_token() {
    // Zoom's documented example token; the published secret/answer pair is a vector in
    // presets/zoom.toml.
    let p = preset_provider("zoom", &["secretValueTest"], "");
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let h = p.sign(body, "", "", NOW);
    let r = reply(receive(&p, "POST", "", &h, body));
    assert_eq!(
        r.body,
        br#"{"encryptedToken":"70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}"#
    );
    let mut forged = h.clone();
    forged[0].1 = crate::tamper(&forged[0].1);
    assert_eq!(
        receive(&p, "POST", "", &forged, body).unwrap_err(),
        Rejection::InvalidSignature
    );
    let event = br#"{"event":"meeting.started","payload":{}}"#;
    let h = p.sign(event, "", "", NOW);
    assert!(is_event(&receive(&p, "POST", "", &h, event)));
}

#[test]
fn twitch_callback_verification_answers_the_raw_challenge_as_text() {
    let p = preset_provider("twitch", &["twitch-secret-0123456789"], "");
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let mut h = p.sign(body, "msg-1", "channel.follow", NOW);
    h.push((
        "Twitch-Eventsub-Message-Type".into(),
        "webhook_callback_verification".into(),
    ));
    let r = reply(receive(&p, "POST", "", &h, body));
    assert_eq!(r.content_type, "text/plain; charset=utf-8");
    assert_eq!(r.body, b"pogchamp-kappa-360noscope-vohiyo");
    // The same body as a notification is an event, and a forged verification is refused.
    let notification: Vec<_> = h
        .iter()
        .map(|(k, v)| {
            let v = if v == "webhook_callback_verification" {
                "notification"
            } else {
                v
            };
            (k.clone(), v.to_owned())
        })
        .collect();
    assert!(is_event(&receive(&p, "POST", "", &notification, body)));
    let mut forged = h.clone();
    forged[0].1 = crate::tamper(&forged[0].1);
    assert_eq!(
        receive(&p, "POST", "", &forged, body).unwrap_err(),
        Rejection::InvalidSignature
    );
}

#[test]
fn discord_ping_is_answered_with_type_1_and_bad_signatures_are_401() {
    let key = SigningKey::ed25519_from_seed(&[3; 32]);
    let p = preset_provider("discord", &[&key.public_key()], "");
    let ping = br#"{"id":"1","type":1,"application_id":"2"}"#;
    let signed = p
        .sign_request(ping, "", "", NOW, Some(&key))
        .expect("signs");
    let r = reply(receive(&p, "POST", "", &signed.headers, &signed.body));
    assert_eq!(r.body, br#"{"type":1}"#);
    let mut bad = signed.headers.clone();
    bad[0].1 = crate::tamper(&bad[0].1);
    assert_eq!(
        receive(&p, "POST", "", &bad, ping).unwrap_err(),
        Rejection::InvalidSignature
    );
    let command = br#"{"id":"3","type":2}"#;
    let signed = p
        .sign_request(command, "", "", NOW, Some(&key))
        .expect("signs");
    assert!(is_event(&receive(
        &p,
        "POST",
        "",
        &signed.headers,
        &signed.body
    )));
}

#[test]
fn meta_get_verification_checks_the_verify_token() {
    let p = preset_provider_env(
        "meta",
        &["app-secret"],
        "verify_token_env = \"META_VERIFY\"",
        |n| (n == "META_VERIFY").then(|| "tok en&1".to_string()),
    )
    .expect("meta");
    assert!(p.answers_get());
    let none = headers(&[]);
    let ok = reply(receive(
        &p,
        "GET",
        "hub.mode=subscribe&hub.verify_token=tok+en%261&hub.challenge=1158201444",
        &none,
        b"",
    ));
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"1158201444"[..]));
    let wrong = reply(receive(
        &p,
        "GET",
        "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444",
        &none,
        b"",
    ));
    assert_eq!(wrong.status, 403);
    assert!(!wrong.body.windows(10).any(|w| w == b"1158201444"));
    assert!(is_405(&receive(&p, "GET", "", &none, b"")));
    assert!(is_405(&receive(
        &p,
        "GET",
        "hub.mode=unsubscribe&hub.verify_token=tok+en%261&hub.challenge=1",
        &none,
        b""
    )));
    // Without the variable, start-up fails naming it.
    let err = preset_provider_env("meta", &["s"], "verify_token_env = \"UNSET_VAR\"", |_| None)
        .expect_err("unset");
    assert!(err.to_string().contains("verify_token_env"), "{err}");
    let err = preset_provider_env("meta", &["s"], "", |_| None).expect_err("missing");
    assert!(err.to_string().contains("verify_token_env"), "{err}");
}

#[test]
fn dropbox_echoes_the_challenge_with_nosniff() {
    let p = preset_provider("dropbox", &["app-secret"], "");
    let none = headers(&[]);
    let r = reply(receive(&p, "GET", "challenge=%3Cb%3Ehi", &none, b""));
    assert_eq!(r.body, b"<b>hi");
    assert!(r.content_type.starts_with("text/plain"));
    assert!(
        r.headers
            .contains(&("X-Content-Type-Options", "nosniff".to_string()))
    );
    assert!(is_405(&receive(&p, "GET", "", &none, b"")));
    let body = br#"{"list_folder":{"accounts":["dbid:1"]},"delta":{"users":[1]}}"#;
    let h = p.sign(body, "", "", NOW);
    let r = receive(&p, "POST", "", &h, body);
    assert!(matches!(&r, Ok(Received::Event(e)) if e.event_type() == "list_folder"));
}

#[test]
fn x_crc_answers_the_hmac_of_the_token() {
    let p = preset_provider("x", &["consumer-secret"], "");
    let r = reply(receive(
        &p,
        "GET",
        "crc_token=challenge-123",
        &headers(&[]),
        b"",
    ));
    // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"consumer-secret",b"challenge-123",hashlib.sha256).digest()).decode())'
    let expected = crate::independent::python_hmac_b64("consumer-secret", "challenge-123");
    assert_eq!(
        String::from_utf8(r.body).expect("utf8"),
        format!(r#"{{"response_token":"sha256={expected}"}}"#)
    );
    assert!(is_405(&receive(&p, "GET", "", &headers(&[]), b"")));
}

#[test]
fn okta_verification_needs_the_auth_header_first() {
    let p = preset_provider("okta", &["Bearer okta-hook-secret"], "");
    let ok = headers(&[
        ("Authorization", "Bearer okta-hook-secret"),
        (
            "X-Okta-Verification-Challenge",
            "3aKQYpAYuA8pFEX7yPlFg4Bd7kBvV5rR",
        ),
    ]);
    let r = reply(receive(&p, "GET", "", &ok, b""));
    assert_eq!(
        r.body,
        br#"{"verification":"3aKQYpAYuA8pFEX7yPlFg4Bd7kBvV5rR"}"#
    );
    let wrong = headers(&[
        ("Authorization", "Bearer guess"),
        ("X-Okta-Verification-Challenge", "c"),
    ]);
    assert_eq!(
        receive(&p, "GET", "", &wrong, b"").unwrap_err(),
        Rejection::InvalidSignature
    );
    let missing = headers(&[("X-Okta-Verification-Challenge", "c")]);
    assert_eq!(
        receive(&p, "GET", "", &missing, b"").unwrap_err(),
        Rejection::MissingSignature
    );
    assert!(is_405(&receive(
        &p,
        "GET",
        "",
        &headers(&[("Authorization", "Bearer okta-hook-secret")]),
        b""
    )));
}

#[test]
fn graph_validation_token_is_echoed_on_post_and_get() {
    let p = preset_provider("microsoft-graph", &["client-state"], "");
    let none = headers(&[]);
    for method in ["POST", "GET"] {
        let r = reply(receive(
            &p,
            method,
            "validationToken=Validation%3A+Testing%20client",
            &none,
            b"",
        ));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"Validation: Testing client"[..])
        );
    }
    let body = p.sample_body("sub-1", "updated", 0);
    let signed = p.sign_request(&body, "", "", NOW, None).expect("signs");
    assert!(is_event(&receive(&p, "POST", "", &none, &signed.body)));
}

#[test]
fn get_is_answered_only_by_presets_with_a_get_handshake() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    let with_get: Vec<String> = catalog
        .list()
        .into_iter()
        .filter(|s| s.handshake_get)
        .map(|s| s.name)
        .collect();
    assert_eq!(
        with_get,
        ["dropbox", "meta", "microsoft-graph", "okta", "x"]
    );
    let gh = preset_provider("github", &["s"], "");
    assert!(!gh.answers_get());
    assert!(is_405(&receive(
        &gh,
        "GET",
        "challenge=1",
        &headers(&[]),
        b""
    )));
    // GitHub's ping is an ordinary signed event.
    let h = gh.sign(b"{\"zen\":\"x\"}", "d-1", "ping", NOW);
    let r = receive(&gh, "POST", "", &h, b"{\"zen\":\"x\"}");
    assert!(matches!(&r, Ok(Received::Event(e)) if e.event_type() == "ping"));
}
