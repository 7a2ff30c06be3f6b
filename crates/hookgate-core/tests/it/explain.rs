//! `Provider::explain` agrees with `Provider::receive`: over every published vector, and
//! over a signed round trip of every preset with each header dropped or altered, the body
//! altered, the clock moved, a GET, an oversized body and a wrong key, the explanation's
//! steps imply the verdict and the verdict is the verifier's own. No step shows a key, a
//! signature or the body.

use hookgate_core::{
    PresetCatalog, Provider, Received, Unverified,
    explain::{Explanation, Outcome, Verdict},
    sign::SigningKey,
};

use crate::{preset_provider, preset_provider_env};

/// Assert the explanation is self-consistent and leaks none of `secrets`.
fn check(what: &str, ex: &Explanation, secrets: &[&str]) {
    assert!(
        ex.consistent(),
        "{what}: steps disagree with the verdict: {ex:#?}"
    );
    for step in &ex.steps {
        for secret in secrets.iter().filter(|s| s.len() >= 8) {
            assert!(
                !step.detail.contains(secret),
                "{what}: step {} shows a secret or signature: {}",
                step.name,
                step.detail
            );
        }
    }
}

fn explain(
    p: &Provider,
    headers: &Vec<(String, String)>,
    body: &[u8],
    method: &str,
    query: &str,
    now: i64,
) -> Explanation {
    let request = Unverified::new(headers, body)
        .with_method(method)
        .with_query(query);
    let ex = p.explain(&request, now);
    // The verdict is `receive`'s own (after the server's max_body check).
    let received = Unverified::new(headers, body.to_vec())
        .with_method(method)
        .with_query(query);
    let expected = if body.len() > p.max_body() {
        "payload_too_large".to_owned()
    } else {
        match p.receive(received, now) {
            Ok(Received::Event(e)) => {
                assert_eq!(
                    ex.verdict,
                    Verdict::Accepted {
                        event_id: e.event_id().to_owned(),
                        event_type: e.event_type().to_owned()
                    }
                );
                "accepted".to_owned()
            }
            Ok(Received::Handshake(r)) if (200..300).contains(&r.status) => "handshake".to_owned(),
            Ok(Received::Handshake(_)) => "handshake_refused".to_owned(),
            Ok(Received::MethodNotAllowed) => "method_not_allowed".to_owned(),
            Ok(Received::Subscription(_)) => "handshake".to_owned(),
            Err(r) => r.code().to_owned(),
        }
    };
    assert_eq!(ex.verdict.code(), expected, "{ex:#?}");
    ex
}

#[test]
fn explain_matches_every_vector() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    let mut count = 0;
    for preset in catalog.iter() {
        for v in preset.vectors() {
            let mut extra = String::new();
            if let Some(url) = &v.public_url {
                extra.push_str(&format!(
                    "public_url = {}\n",
                    serde_json::to_string(url).expect("q")
                ));
            }
            if v.verify_token.is_some() {
                extra.push_str("verify_token_env = \"VECTOR_VERIFY_TOKEN\"\n");
            }
            let secrets: Vec<&str> = v.secrets.iter().map(String::as_str).collect();
            let token = v.verify_token.clone();
            let p = preset_provider_env(preset.name(), &secrets, &extra, move |_| token.clone())
                .expect("vector config");
            let headers: Vec<(String, String)> = v
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let ex = explain(&p, &headers, v.body.as_bytes(), &v.method, &v.query, v.now);
            let what = format!("{} / {}", preset.name(), v.name);
            let signatures: Vec<&str> = v
                .headers
                .iter()
                .filter(|(k, _)| {
                    let k = k.to_ascii_lowercase();
                    k.contains("signature") && !k.contains("timestamp")
                })
                .map(|(_, v)| v.as_str())
                .collect();
            check(
                &what,
                &ex,
                &[secrets.as_slice(), signatures.as_slice()].concat(),
            );
            if v.expect != "verified" {
                let code = match ex.verdict.code() {
                    "handshake_refused" => "handshake",
                    code => code,
                };
                assert_eq!(code, v.expect, "{what}: {ex:#?}");
            }
            count += 1;
        }
    }
    assert!(count >= 15, "only {count} vectors");
}

/// A provider of preset `name` with key material of its kind, its private key if
/// asymmetric, and the strings that must never be shown.
fn provider_for(name: &str) -> (Provider, Option<SigningKey>, Vec<String>) {
    let (keys, private): (Vec<String>, Option<SigningKey>) = match name {
        "discord" => {
            let k = SigningKey::ed25519_from_seed(&[7; 32]);
            (vec![k.public_key()], Some(k))
        }
        "sendgrid" => {
            let k = SigningKey::p256_from_bytes(&[7; 32]).expect("p256");
            (vec![k.public_key()], Some(k))
        }
        "standard-webhooks" | "svix" | "clerk" | "resend" => {
            (vec!["whsec_c2VjcmV0LWJ5dGVzLWZvci1leHBsYWlu".into()], None)
        }
        "postmark" => (vec!["explain-user:explain-pass".into()], None),
        _ => (vec!["explain-secret-0123456789".into()], None),
    };
    let keys_ref: Vec<&str> = keys.iter().map(String::as_str).collect();
    let extra = "public_url = \"https://hooks.example.com/webhooks/p\"\nverify_token_env = \"TEST_VERIFY_TOKEN\"\n";
    let extra = if name == "meta" {
        extra
    } else {
        &extra[..extra.find("verify").unwrap_or(0)]
    };
    (preset_provider(name, &keys_ref, extra), private, keys)
}

#[test]
fn explain_matches_receive_for_every_preset_and_every_alteration() {
    const NOW: i64 = 1_700_000_000;
    let catalog = PresetCatalog::builtin().expect("catalog");
    let mut cases = 0;
    // Fetched-key presets cannot be signed here; fetched.rs explains them.
    let names = catalog
        .names()
        .into_iter()
        .filter(|n| catalog.get(n).is_some_and(|p| !p.scheme().fetches_keys()));
    for name in names {
        let (p, private, keys) = provider_for(name);
        let body = p.sample_body("evt_explain", "thing.happened", 300);
        let signed = p
            .sign_request(
                &body,
                "evt_explain",
                "thing.happened",
                NOW,
                private.as_ref(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut secrets: Vec<String> = keys.clone();
        secrets.extend(
            signed
                .headers
                .iter()
                .filter(|(k, _)| {
                    let k = k.to_ascii_lowercase();
                    (k.contains("signature") && !k.contains("timestamp"))
                        || k == "authorization"
                        || k == "x-gitlab-token"
                })
                .map(|(_, v)| v.clone()),
        );
        secrets.push("x".repeat(40)); // the sample body's padding
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let run = |what: &str,
                   headers: &Vec<(String, String)>,
                   body: &[u8],
                   method: &str,
                   query: &str,
                   now: i64| {
            let ex = explain(&p, headers, body, method, query, now);
            check(&format!("{name}: {what}"), &ex, &secrets);
            ex
        };

        let good = run(
            "signed",
            &signed.headers,
            &signed.body,
            "POST",
            &signed.query,
            NOW,
        );
        assert!(good.verdict.succeeds(), "{name}: {good:#?}");
        assert!(!good.steps.iter().any(|s| s.outcome == Outcome::Fail));
        cases += 1;

        for i in 0..signed.headers.len() {
            let mut dropped = signed.headers.clone();
            dropped.remove(i);
            run(
                "header dropped",
                &dropped,
                &signed.body,
                "POST",
                &signed.query,
                NOW,
            );
            let mut altered = signed.headers.clone();
            altered[i].1 = crate::tamper(&altered[i].1);
            run(
                "header altered",
                &altered,
                &signed.body,
                "POST",
                &signed.query,
                NOW,
            );
            cases += 2;
        }
        let mut body = signed.body.clone();
        if let Some(b) = body.iter_mut().rev().find(|b| b.is_ascii_alphanumeric()) {
            *b = if *b == b'1' { b'2' } else { b'1' };
        }
        run(
            "body altered",
            &signed.headers,
            &body,
            "POST",
            &signed.query,
            NOW,
        );
        run(
            "not JSON",
            &signed.headers,
            b"a=1&b=2",
            "POST",
            &signed.query,
            NOW,
        );
        for shift in [-3600, -200, 200, 3600] {
            run(
                "clock moved",
                &signed.headers,
                &signed.body,
                "POST",
                &signed.query,
                NOW + shift,
            );
        }
        run(
            "GET",
            &signed.headers,
            b"",
            "GET",
            "hub.mode=subscribe&hub.challenge=c&hub.verify_token=test-verify-token&challenge=c&crc_token=c&validationToken=v",
            NOW,
        );
        run(
            "query changed",
            &signed.headers,
            &signed.body,
            "POST",
            "a=b",
            NOW,
        );
        run("no headers", &Vec::new(), &signed.body, "POST", "", NOW);
        let big = vec![b'{'; p.max_body() + 1];
        let ex = run("oversized", &signed.headers, &big, "POST", "", NOW);
        assert_eq!(ex.verdict, Verdict::PayloadTooLarge);
        cases += 10;

        // A key that is not the signer's: refused, and the step says how many keys.
        if private.is_none() && !matches!(name, "microsoft-graph") {
            let (other, _, _) = {
                let keys = match name {
                    "standard-webhooks" | "svix" | "clerk" | "resend" => "whsec_b3RoZXItc2VjcmV0",
                    "postmark" => "someone:else",
                    _ => "another-secret-98765",
                };
                let extra = if name == "meta" {
                    "verify_token_env = \"TEST_VERIFY_TOKEN\"\n"
                } else {
                    "public_url = \"https://hooks.example.com/webhooks/p\"\n"
                };
                (preset_provider(name, &[keys], extra), (), ())
            };
            let ex = other.explain(
                &Unverified::new(&signed.headers, signed.body.as_slice()).with_query(&signed.query),
                NOW,
            );
            check(&format!("{name}: wrong key"), &ex, &secrets);
            assert!(
                !ex.verdict.succeeds() || ex.verdict.code() == "handshake",
                "{name}: {ex:#?}"
            );
            cases += 1;
        }
    }
    assert!(cases > 36 * 12, "only {cases} cases");
}

/// A preset, a handshake body and the extra headers that make it one.
type HandshakeCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn explain_answers_every_handshake_as_receive_does() {
    const NOW: i64 = 1_700_000_000;
    let signed_cases: [HandshakeCase; 4] = [
        (
            "slack",
            r#"{"type":"url_verification","challenge":"ch-1"}"#,
            &[],
        ),
        (
            "zoom",
            r#"{"event":"endpoint.url_validation","payload":{"plainToken":"pt-1"}}"#,
            &[],
        ),
        ("discord", r#"{"type":1}"#, &[]),
        (
            "twitch",
            r#"{"challenge":"ch-2","subscription":{"type":"x"}}"#,
            &[(
                "twitch-eventsub-message-type",
                "webhook_callback_verification",
            )],
        ),
    ];
    for (name, body, extra) in signed_cases {
        let (p, private, keys) = provider_for(name);
        let signed = p
            .sign_request(body.as_bytes(), "m-1", "x", NOW, private.as_ref())
            .expect("signs");
        let mut headers = signed.headers.clone();
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let ex = explain(&p, &headers, &signed.body, "POST", &signed.query, NOW);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        check(name, &ex, &keys);
        assert!(
            matches!(ex.verdict, Verdict::Handshake { status: 200, .. }),
            "{name}: {ex:#?}"
        );
        assert!(
            ex.steps
                .iter()
                .any(|s| s.name == "handshake" && s.outcome == Outcome::Pass)
        );
        // Unsigned, the same request is refused before any handshake is answered.
        let ex = explain(&p, &Vec::new(), &signed.body, "POST", "", NOW);
        check(name, &ex, &keys);
        assert!(!ex.verdict.succeeds(), "{name}: {ex:#?}");
    }
    let get_cases = [
        ("dropbox", "challenge=c-3", 200),
        ("x", "crc_token=c-4", 200),
        ("microsoft-graph", "validationToken=v-5", 200),
        (
            "meta",
            "hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=c-6",
            200,
        ),
        (
            "meta",
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=c-6",
            403,
        ),
    ];
    for (name, query, status) in get_cases {
        let (p, _, keys) = provider_for(name);
        let ex = explain(&p, &Vec::new(), b"", "GET", query, NOW);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        check(name, &ex, &keys);
        assert_eq!(
            ex.verdict,
            Verdict::Handshake {
                kind: p.handshake_kind().expect("kind"),
                status
            },
            "{name}"
        );
        // Without the trigger, a GET is 405.
        let ex = explain(&p, &Vec::new(), b"", "GET", "", NOW);
        check(name, &ex, &keys);
        assert_eq!(ex.verdict, Verdict::MethodNotAllowed, "{name}");
    }
}
