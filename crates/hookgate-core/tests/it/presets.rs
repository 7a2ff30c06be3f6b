//! Known-answer vectors per preset. Published examples where the provider publishes one
//! (Standard Webhooks, GitHub, Slack); the others computed independently with
//! `printf '%s' "<signed bytes>" | openssl dgst -sha256 -hmac <secret>` and pasted here.

use hookgate_core::Rejection;

use crate::{headers, provider, verify};

#[test]
fn standard_webhooks_published_vector() {
    let p = provider(
        r#"preset = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]"#,
    );
    let h = headers(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    let body = br#"{"test": 2432232314}"#;
    let v = verify(&p, &h, body, 1614265330).expect("published vector verifies");
    assert_eq!(v.event_id(), "msg_p5jXN8AQM9LWM0D4loKWxJek");
    assert_eq!(v.event_type(), "unknown");
    // The `svix` alias is the same scheme.
    let svix = provider(
        r#"preset = "svix"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]"#,
    );
    assert!(verify(&svix, &h, body, 1614265330).is_ok());
    // And our signer reproduces the published signature.
    let signed = p.sign(body, "msg_p5jXN8AQM9LWM0D4loKWxJek", "x", 1614265330);
    assert!(signed.contains(&(
        "webhook-signature".into(),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into()
    )));
}

#[test]
fn standard_webhooks_without_id_header_does_not_verify() {
    let p = provider(
        r#"preset = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]"#,
    );
    let h = headers(&[
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    assert_eq!(
        verify(&p, &h, br#"{"test": 2432232314}"#, 1614265330).unwrap_err(),
        Rejection::InvalidSignature
    );
}

#[test]
fn stripe_documented_scheme() {
    // Stripe signs "<t>.<body>" with HMAC-SHA256 and sends `t=<t>,v1=<hex>`; v0 is ignored.
    let p = provider(
        r#"preset = "stripe"
secrets = ["whsec_stripe_test"]"#,
    );
    let body = br#"{"id":"evt_1Stripe","type":"invoice.paid"}"#;
    let good = "0790c0f8f998b7532d5f9bf649d9fce2713f57a6d5462a1c6ae720f13461f8f2";
    let h = headers(&[(
        "Stripe-Signature",
        &format!(
            "t=1700000000,v1={good},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
        ),
    )]);
    let v = verify(&p, &h, body, 1700000000).expect("stripe verifies");
    assert_eq!(
        (v.event_id(), v.event_type()),
        ("evt_1Stripe", "invoice.paid")
    );
    // Several v1 entries (secret rolling on Stripe's side): any may match.
    let h = headers(&[(
        "stripe-signature",
        &format!("t=1700000000,v1={},v1={good}", "ab".repeat(32)),
    )]);
    assert!(verify(&p, &h, body, 1700000000).is_ok());
    // Missing t= is an invalid timestamp, not a crash.
    let h = headers(&[("stripe-signature", &format!("v1={good}"))]);
    assert_eq!(
        verify(&p, &h, body, 1700000000).unwrap_err(),
        Rejection::InvalidTimestamp
    );
}

#[test]
fn groq_vector() {
    let p = provider(
        r#"preset = "groq"
secrets = ["groq_test_secret"]"#,
    );
    let body = br#"{"id":"evt_groq_1","type":"resource.created","data":{}}"#;
    let h = headers(&[
        (
            "X-Groq-Signature",
            "17b7523fb7e86a751125fbc4ed3037081a75201a8bb6fdd1fa2e74d5b25247a2",
        ),
        ("X-Groq-Timestamp", "1700000000"),
    ]);
    let v = verify(&p, &h, body, 1700000100).expect("groq verifies");
    assert_eq!(
        (v.event_id(), v.event_type()),
        ("evt_groq_1", "resource.created")
    );
}

#[test]
fn vastai_vector_with_both_header_families_and_fallbacks() {
    let p = provider(
        r#"preset = "vastai"
secrets = ["vast_test_secret"]"#,
    );
    let body = br#"{"event_id":"ev_vast_1","notif_type":"instance_outbid"}"#;
    let sig = "22a927e9e9c93a5235dd82c909af6679dc3e772ff16d466a1897e6f27b2899e5";
    let documented = headers(&[
        ("X-Vast-Signature-256", &format!("sha256={sig}")),
        ("X-Vast-Timestamp", "1700000000"),
    ]);
    let v = verify(&p, &documented, body, 1700000000).expect("X-Vast-* verifies");
    assert_eq!(
        (v.event_id(), v.event_type()),
        ("ev_vast_1", "instance_outbid")
    );
    let legacy = headers(&[
        ("x-vastai-signature", sig),
        ("x-vastai-timestamp", "1700000000"),
    ]);
    assert!(
        verify(&p, &legacy, body, 1700000000).is_ok(),
        "x-vastai-* without prefix verifies"
    );
    // The event-id header wins over the body.
    let with_id = headers(&[
        ("x-vast-signature-256", sig),
        ("x-vast-timestamp", "1700000000"),
        ("x-vast-event-id", "hdr-7"),
    ]);
    assert_eq!(
        verify(&p, &with_id, body, 1700000000)
            .expect("ok")
            .event_id(),
        "hdr-7"
    );
}

#[test]
fn github_published_vector() {
    // docs.github.com "Validating webhook deliveries" test values.
    let p = provider(
        r#"preset = "github"
secrets = ["It's a Secret to Everybody"]"#,
    );
    let h = headers(&[
        (
            "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-GitHub-Event", "push"),
    ]);
    // The body is not JSON; GitHub's sources are all headers, so nothing parses it.
    let v = verify(&p, &h, b"Hello, World!", 0).expect("github verifies without a timestamp");
    assert_eq!(
        (v.event_id(), v.event_type()),
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push")
    );
}

#[test]
fn slack_published_vector_and_json_events() {
    // api.slack.com "Verifying requests from Slack" example (a form-encoded slash command).
    let p = provider(
        r#"preset = "slack"
secrets = ["8f742231b10e8888abcd99yyyzzz85a5"]"#,
    );
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let h = headers(&[
        (
            "X-Slack-Signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
        ("X-Slack-Request-Timestamp", "1531420618"),
    ]);
    // The signature matches; the preset's JSON sources then cannot read a form body.
    assert_eq!(
        verify(&p, &h, body, 1531420618).unwrap_err(),
        Rejection::MalformedPayload
    );
    let mut flipped = body.to_vec();
    flipped[0] ^= 1;
    assert_eq!(
        verify(&p, &h, &flipped, 1531420618).unwrap_err(),
        Rejection::InvalidSignature
    );

    let p = provider(
        r#"preset = "slack"
secrets = ["slack_test_secret"]"#,
    );
    let body = br#"{"event_id":"Ev123","event":{"type":"app_mention"},"type":"event_callback"}"#;
    let h = headers(&[
        (
            "x-slack-signature",
            "v0=fad7f068ceb0d19c08fd441339b195afa016a69e6f9317c9711ecddebc99abfa",
        ),
        ("x-slack-request-timestamp", "1700000000"),
    ]);
    let v = verify(&p, &h, body, 1700000000).expect("slack events api verifies");
    assert_eq!((v.event_id(), v.event_type()), ("Ev123", "app_mention"));
}

#[test]
fn shopify_vector() {
    let p = provider(
        r#"preset = "shopify"
secrets = ["shpss_test_secret"]"#,
    );
    let h = headers(&[
        (
            "X-Shopify-Hmac-Sha256",
            "LnwdZPLBbdjkBwPD/lDL1/rYEGby/GHPtL1aAH6Dxjc=",
        ),
        (
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("X-Shopify-Topic", "orders/create"),
    ]);
    let v = verify(
        &p,
        &h,
        br#"{"id":820982911946154508,"email":"jon@example.com"}"#,
        0,
    )
    .expect("shopify verifies");
    assert_eq!(
        (v.event_id(), v.event_type()),
        ("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/create")
    );
}

#[test]
fn generic_hmac_sha512_with_id_and_sha1() {
    let p = provider(
        r#"scheme = "hmac"
algorithm = "sha512"
signature_header = "x-acme-signature"
signature_prefix = "sha512="
timestamp_header = "x-acme-timestamp"
id_header = "x-acme-delivery"
signed_payload = "{id}.{timestamp}.{body}"
event_id = ["header:x-acme-delivery", "json:/id"]
secrets = ["acme_secret"]"#,
    );
    let h = headers(&[
        (
            "x-acme-signature",
            "sha512=b2c388f8ab8a45724e5c6e1e74eaf7b5a0aa99577fef3df75652454da45e979e46f0f7caa474a2fdeec869c2d9df2881788ff6f454392b9a05b209878f334c90",
        ),
        ("x-acme-timestamp", "1700000000"),
        ("x-acme-delivery", "dlv-9"),
    ]);
    let v = verify(&p, &h, br#"{"id":"a1"}"#, 1700000000).expect("sha512 verifies");
    assert_eq!(v.event_id(), "dlv-9");

    let p = provider(
        r#"scheme = "hmac"
algorithm = "sha1"
signature_header = "x-sig"
secrets = ["acme_secret"]"#,
    );
    let h = headers(&[("x-sig", "60A52B033F18479F7620870F24FE2E33B0DE55F8")]);
    assert!(
        verify(&p, &h, br#"{"id":"a1"}"#, 0).is_ok(),
        "upper-case hex is accepted"
    );
}

#[test]
fn slack_url_verification_is_answered_with_its_challenge() {
    let p = provider(
        r#"preset = "slack"
secrets = ["slack_test_secret"]"#,
    );
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let h = p.sign(body, "", "", 1700000000);
    let v = verify(&p, &h, body, 1700000000).expect("verifies");
    assert_eq!(
        p.handshake_reply(&v).as_deref(),
        Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );
    let event = br#"{"event_id":"Ev1","event":{"type":"app_mention"},"type":"event_callback"}"#;
    let h = p.sign(event, "", "", 1700000000);
    let v = verify(&p, &h, event, 1700000000).expect("verifies");
    assert_eq!(
        p.handshake_reply(&v),
        None,
        "ordinary events are not handshakes"
    );
    let groq = provider("preset = \"groq\"\nsecrets = [\"x\"]");
    let h = groq.sign(body, "", "", 1700000000);
    let v = verify(&groq, &h, body, 1700000000).expect("verifies");
    assert_eq!(v.event_type(), "url_verification");
    assert_eq!(
        groq.handshake_reply(&v),
        None,
        "only Slack has this handshake"
    );
}
