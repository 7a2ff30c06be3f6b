//! Every preset against an independent signer: `independent_signer.py` (Python's hmac,
//! hashlib and `cryptography`, written from the providers' documentation) signs a request
//! per preset; hookgate must accept it, reject it after a one-byte change of every signed
//! part (each signed header, the body, the URL, the method), accept it when its key is any
//! of several (rotation) and reject it when no configured key matches.

use std::{io::Write, process::Command};

use hookgate_core::{PresetCatalog, Rejection, Unverified};
use serde_json::{Value, json};

use crate::{preset_provider, tamper};

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://hooks.example.com/webhooks/p";

/// Run the independent signer over `cases` (names of presets or signer variants).
pub fn independent(cases: &[&str]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| json!({ "case": c, "now": NOW, "id": format!("evt_ind_{i}"), "url": URL }))
        .collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/independent_signer.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (with the `cryptography` package installed)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&serde_json::to_vec(&input).expect("json"))
        .expect("write cases");
    let out = child.wait_with_output().expect("signer output");
    assert!(out.status.success(), "independent signer failed");
    serde_json::from_slice(&out.stdout).expect("signer JSON")
}

/// base64(HMAC-SHA256(key, message)) computed by Python.
pub fn python_hmac_b64(key: &str, message: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys,hmac,hashlib,base64;print(base64.b64encode(hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).digest()).decode())",
            key,
            message,
        ])
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// Run a Python snippet with `args`, returning its trimmed stdout.
pub fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn headers_of(v: &Value) -> Vec<(String, String)> {
    v["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("header value").to_owned()))
        .collect()
}

fn extra(v: &Value, public_url: Option<&str>) -> String {
    let mut extra = match public_url.or(v["public_url"].as_str()) {
        Some(url) => format!(
            "public_url = {}\n",
            serde_json::to_string(url).expect("quote")
        ),
        None => String::new(),
    };
    if text(v, "preset") == "meta" {
        extra.push_str("verify_token_env = \"TEST_VERIFY_TOKEN\"\n");
    }
    extra
}

fn check(
    p: &hookgate_core::Provider,
    v: &Value,
    headers: &Vec<(String, String)>,
    body: &[u8],
    method: &str,
) -> Result<(), Rejection> {
    let request = Unverified::new(headers, body)
        .with_method(method)
        .with_query(text(v, "query"));
    p.verify(request, NOW).map(|_| ())
}

#[test]
fn every_preset_verifies_an_independent_signers_requests_and_rejects_tampering() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    // Fetched-key presets have their own independent-signer tests (fetched.rs).
    let mut cases: Vec<&str> = catalog
        .iter()
        .filter(|p| !p.scheme().fetches_keys())
        .map(|p| p.name())
        .collect();
    cases.extend(["svix", "standard-webhooks-v1a", "twilio-json"]);
    let signed = independent(&cases);
    assert_eq!(signed.len(), cases.len());
    for v in &signed {
        let case = text(v, "case");
        let preset = text(v, "preset");
        let key = text(v, "key");
        let other = text(v, "other_key");
        let headers = headers_of(v);
        let body = text(v, "body").as_bytes().to_vec();
        let p = preset_provider(preset, &[key], &extra(v, None));

        assert_eq!(
            check(&p, v, &headers, &body, "POST"),
            Ok(()),
            "{case}: independent signature"
        );
        let verified = p
            .verify(
                Unverified::new(&headers, body.clone()).with_query(text(v, "query")),
                NOW,
            )
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(!verified.event_id().is_empty(), "{case}");

        // Rotation: any configured key may match; none matching is a rejection.
        let rotated = preset_provider(preset, &[other, key], &extra(v, None));
        assert_eq!(
            check(&rotated, v, &headers, &body, "POST"),
            Ok(()),
            "{case}: rotation"
        );
        let wrong = preset_provider(preset, &[other], &extra(v, None));
        assert_eq!(
            check(&wrong, v, &headers, &body, "POST"),
            Err(Rejection::InvalidSignature),
            "{case}: another key"
        );

        // One changed byte in every signed header.
        for name in v["tamper_headers"].as_array().expect("list") {
            let name = name.as_str().expect("name");
            let mut changed = headers.clone();
            let slot = changed
                .iter_mut()
                .find(|(k, _)| k == name)
                .expect("tampered header present");
            slot.1 = tamper(&slot.1);
            let result = check(&p, v, &changed, &body, "POST");
            assert!(
                matches!(
                    result,
                    Err(Rejection::InvalidSignature
                        | Rejection::TimestampOutOfTolerance
                        | Rejection::InvalidTimestamp)
                ),
                "{case}: changed {name} gave {result:?}"
            );
            let without: Vec<_> = headers.iter().filter(|(k, _)| k != name).cloned().collect();
            assert!(
                check(&p, v, &without, &body, "POST").is_err(),
                "{case}: without {name}"
            );
        }
        // One changed byte of the body, at the start, the middle and the end.
        if v["body_signed"].as_bool().expect("flag") {
            for at in [0, body.len() / 2, body.len() - 1] {
                let mut changed = body.clone();
                changed[at] ^= 0x01;
                assert_eq!(
                    check(&p, v, &headers, &changed, "POST"),
                    Err(Rejection::InvalidSignature),
                    "{case}: body byte {at}"
                );
            }
        }
        if v["url_signed"].as_bool().expect("flag") {
            let elsewhere = preset_provider(
                preset,
                &[key],
                &extra(v, Some("https://hooks.example.com/webhooks/q")),
            );
            assert_eq!(
                check(&elsewhere, v, &headers, &body, "POST"),
                Err(Rejection::InvalidSignature),
                "{case}: another URL"
            );
        }
        if v["method_signed"].as_bool().expect("flag") {
            assert_eq!(
                check(&p, v, &headers, &body, "PUT"),
                Err(Rejection::InvalidSignature),
                "{case}: another method"
            );
        }
        // Without its signature header the request is a missing signature.
        if let Some(header) = catalog.get(preset).and_then(|p| p.signature_header()) {
            let first = header.split(", ").next().unwrap_or_default().to_owned();
            let without: Vec<_> = headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case(&first))
                .cloned()
                .collect();
            assert_eq!(
                check(&p, v, &without, &body, "POST"),
                Err(Rejection::MissingSignature),
                "{case}: without {first}"
            );
        }
    }
}

#[test]
fn proofs_inside_the_body_are_checked_field_by_field() {
    let signed = independent(&["mailgun", "microsoft-graph"]);
    // Mailgun: timestamp, token and signature inside the body are each signed or checked.
    let mailgun = &signed[0];
    let p = preset_provider("mailgun", &[text(mailgun, "key")], "");
    let body: Value = serde_json::from_str(text(mailgun, "body")).expect("json");
    let no_headers: Vec<(String, String)> = Vec::new();
    let run = |b: &Value| {
        p.verify(
            Unverified::new(&no_headers, serde_json::to_vec(b).expect("json")),
            NOW,
        )
        .map(|v| (v.event_id().to_owned(), v.event_type().to_owned()))
    };
    assert_eq!(
        run(&body),
        Ok(("evt_ind_0".to_owned(), "delivered".to_owned()))
    );
    for field in ["timestamp", "token", "signature"] {
        let mut changed = body.clone();
        let value = changed["signature"][field]
            .as_str()
            .expect("field")
            .to_owned();
        changed["signature"][field] = Value::String(tamper(&value));
        assert!(run(&changed).is_err(), "mailgun {field} changed");
    }
    let mut stale = body.clone();
    stale["signature"]["timestamp"] = Value::String((NOW - 3600).to_string());
    assert!(run(&stale).is_err());
    assert_eq!(
        run(&json!({"event-data": {}})),
        Err(Rejection::MissingSignature)
    );

    // Graph: every notification must carry the client state.
    let graph = &signed[1];
    let p = preset_provider("microsoft-graph", &[text(graph, "key")], "");
    let body: Value = serde_json::from_str(text(graph, "body")).expect("json");
    let run = |b: &Value| {
        p.verify(
            Unverified::new(&no_headers, serde_json::to_vec(b).expect("json")),
            NOW,
        )
        .map(|v| v.event_type().to_owned())
    };
    assert_eq!(run(&body), Ok("created".to_owned()));
    let mut changed = body.clone();
    changed["value"][1]["clientState"] = Value::String("guess".into());
    assert_eq!(run(&changed), Err(Rejection::InvalidSignature));
    let mut missing = body.clone();
    missing["value"][0]
        .as_object_mut()
        .expect("object")
        .remove("clientState");
    assert_eq!(run(&missing), Err(Rejection::InvalidSignature));
    assert_eq!(run(&json!({"value": []})), Err(Rejection::InvalidSignature));
    assert_eq!(run(&json!({"other": 1})), Err(Rejection::MissingSignature));
}
