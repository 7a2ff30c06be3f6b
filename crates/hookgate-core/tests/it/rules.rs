//! The rules every scheme follows: rotation, replay window both ways, distinct rejection
//! kinds, no crash on malformed signatures, redacted debug output.

use hookgate_core::Rejection;

use crate::{headers, provider, verify};

const GROQ: &str = r#"preset = "groq"
secrets = ["old_secret", "new_secret"]"#;

fn groq_request(secret_index: usize, ts: i64) -> (Vec<(String, String)>, Vec<u8>) {
    let table = if secret_index == 0 {
        "preset = \"groq\"\nsecrets = [\"old_secret\"]"
    } else {
        "preset = \"groq\"\nsecrets = [\"new_secret\"]"
    };
    let signer = provider(table);
    let body = signer.sample_body("evt_1", "resource.created", 0);
    let h = signer.sign(&body, "evt_1", "resource.created", ts);
    (h, body)
}

#[test]
fn any_configured_secret_matches() {
    let p = provider(GROQ);
    for i in 0..2 {
        let (h, body) = groq_request(i, 1000);
        assert!(verify(&p, &h, &body, 1000).is_ok(), "secret #{i}");
    }
    let other = provider("preset = \"groq\"\nsecrets = [\"unrelated\"]");
    let (h, body) = groq_request(0, 1000);
    assert_eq!(
        verify(&other, &h, &body, 1000).unwrap_err(),
        Rejection::InvalidSignature
    );
}

#[test]
fn each_failure_has_its_own_kind() {
    let p = provider(GROQ);
    let (h, body) = groq_request(1, 1000);
    let without = |name: &str| {
        h.iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        verify(&p, &without("x-groq-signature"), &body, 1000).unwrap_err(),
        Rejection::MissingSignature
    );
    assert_eq!(
        verify(&p, &without("x-groq-timestamp"), &body, 1000).unwrap_err(),
        Rejection::InvalidTimestamp
    );
    let mut bad_ts = without("x-groq-timestamp");
    bad_ts.push(("x-groq-timestamp".into(), "soon".into()));
    assert_eq!(
        verify(&p, &bad_ts, &body, 1000).unwrap_err(),
        Rejection::InvalidTimestamp
    );
    assert_eq!(
        verify(&p, &h, &body, 1000 + 301).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
    assert_eq!(
        verify(&p, &h, &body, 1000 - 301).unwrap_err(),
        Rejection::TimestampOutOfTolerance,
        "future"
    );
    assert!(verify(&p, &h, &body, 1000 + 300).is_ok());
    assert!(verify(&p, &h, &body, 1000 - 300).is_ok());
}

#[test]
fn malformed_signatures_are_mismatches() {
    let p = provider(GROQ);
    for sig in [
        "",
        "zz",
        "abc",
        &"a".repeat(63),
        &"a".repeat(65),
        &"00".repeat(64),
        "sha256=",
        "\u{00e9}\u{00e9}",
    ] {
        let h = headers(&[("x-groq-signature", sig), ("x-groq-timestamp", "1000")]);
        assert_eq!(
            verify(&p, &h, b"{}", 1000).unwrap_err(),
            Rejection::InvalidSignature,
            "{sig:?}"
        );
    }
}

#[test]
fn non_json_body_with_json_sources_is_malformed_after_verification() {
    let p = provider(GROQ);
    let signer = provider("preset = \"groq\"\nsecrets = [\"new_secret\"]");
    let h = signer.sign(b"not json", "x", "y", 1000);
    assert_eq!(
        verify(&p, &h, b"not json", 1000).unwrap_err(),
        Rejection::MalformedPayload
    );
    // Unsigned garbage is rejected before any parsing is attempted.
    assert_eq!(
        verify(&p, &h, b"not json!", 1000).unwrap_err(),
        Rejection::InvalidSignature
    );
}

#[test]
fn missing_id_source_falls_back_to_body_hash() {
    let p = provider(GROQ);
    let signer = provider("preset = \"groq\"\nsecrets = [\"new_secret\"]");
    let body = br#"{"type":"resource.deleted"}"#;
    let h = signer.sign(body, "", "", 1000);
    let v = verify(&p, &h, body, 1000).expect("verifies");
    assert_eq!(
        v.event_id(),
        "sha256:755f6a321fd438651df7f2385c27f176af03738305fb114872c0fa88e53dc582"
    );
    assert_eq!(v.event_type(), "resource.deleted");
}

#[test]
fn debug_output_never_shows_secrets() {
    let p = provider(GROQ);
    let shown = format!("{p:?}");
    assert!(
        !shown.contains("old_secret") && !shown.contains("new_secret"),
        "{shown}"
    );
    assert!(shown.contains("redacted"));
}

#[test]
fn sign_output_verifies_for_every_preset() {
    for preset in hookgate_core::preset::NAMES {
        let secret = if matches!(*preset, "standard-webhooks" | "svix") {
            "whsec_c2VjcmV0"
        } else {
            "s3cret"
        };
        let p = provider(&format!("preset = \"{preset}\"\nsecrets = [\"{secret}\"]"));
        let body = p.sample_body("evt_42", "thing.happened", 1024);
        assert!(
            body.len() >= 1000 && body.len() <= 1100,
            "{preset}: {} bytes",
            body.len()
        );
        let h = p.sign(&body, "evt_42", "thing.happened", 5000);
        let v = verify(&p, &h, &body, 5000).unwrap_or_else(|e| panic!("{preset}: {e}"));
        assert_eq!(
            (v.event_id(), v.event_type()),
            ("evt_42", "thing.happened"),
            "{preset}"
        );
    }
}
