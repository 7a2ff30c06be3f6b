//! `hookgate explain` on captured raw requests, run as the real binary: a good request
//! (CRLF and LF captures), a wrong secret, a stale timestamp (and the same with `--at`),
//! a missing header, a non-JSON body, an unknown provider. Each exit status is checked,
//! and no secret, signature or body ever appears in the output.

use hookgate_core::config;

use crate::cli::{Run, SERVICES, Scratch, hookgate};

const GITHUB_SECRET: &str = "gh-secret-for-explain-0001";
const OLD_SECRET: &str = "gh-old-secret-for-explain-0002";
const STRIPE_SECRET: &str = "whsec_stripe-secret-for-explain";
const MARKER: &str = "BODY-MARKER-never-printed";

/// A raw HTTP/1.1 request to `/webhooks/{provider}`.
fn capture(
    provider: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    eol: &str,
) -> Vec<u8> {
    let mut raw = format!(
        "POST /webhooks/{provider}{}{query} HTTP/1.1{eol}Host: hooks.example.com{eol}User-Agent: test{eol}",
        if query.is_empty() { "" } else { "?" }
    );
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}{eol}"));
    }
    raw.push_str(&format!("Content-Length: {}{eol}{eol}", body.len()));
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// The output must not show a secret, a signature header's value or the body.
fn assert_nothing_secret(run: &Run, signatures: &[&str]) {
    let all = format!("{}{}", run.stdout, run.stderr);
    for secret in [GITHUB_SECRET, OLD_SECRET, STRIPE_SECRET, MARKER]
        .iter()
        .chain(signatures)
    {
        assert!(!all.contains(secret), "output shows {secret:?}:\n{all}");
    }
}

#[test]
fn explain_says_which_check_fails_and_exits_zero_only_when_accepted() {
    let dir = Scratch::new("explain");
    let config = dir.write(
        "hookgate.toml",
        format!(
            r#"{SERVICES}
[providers.github]
preset = "github"
secrets = ["{OLD_SECRET}", "{GITHUB_SECRET}"]
[providers.github-other]
preset = "github"
secrets = ["a-different-secret-entirely"]
[providers.github-new]
preset = "github"
secrets = ["{GITHUB_SECRET}"]
[providers.stripe]
preset = "stripe"
secrets = ["{STRIPE_SECRET}"]
"#
        ),
    );
    let (_, registry) = config::load(&config).expect("config");
    // Signed with the second of github's two secrets (a provider mid-rotation).
    let github = registry.get("github-new").expect("github-new");
    let stripe = registry.get("stripe").expect("stripe");
    let now = hookgate::unix_now();
    let body = format!(r#"{{"action":"opened","secret_note":"{MARKER}"}}"#).into_bytes();
    let mut gh_headers = github.sign(&body, "d-1", "pull_request", now);
    gh_headers.push(("Content-Type".into(), "application/json".into()));
    let gh_signature = gh_headers
        .iter()
        .find(|(k, _)| k == "x-hub-signature-256")
        .map(|(_, v)| v.clone())
        .expect("signature header");
    let sig_hex = gh_signature.trim_start_matches("sha256=").to_owned();
    let secrets = [gh_signature.as_str(), sig_hex.as_str()];
    let explain = |name: &str, provider: &str, raw: &[u8], extra: &[&str]| -> Run {
        let path = dir.write(name, raw);
        let path = path.display().to_string();
        let mut args = vec!["explain", "--provider", provider, "--request", &path];
        args.extend_from_slice(extra);
        let run = hookgate(&config, &args);
        assert_nothing_secret(&run, &secrets);
        run
    };

    // Good, CRLF.
    let good = capture("github", "", &gh_headers, &body, "\r\n");
    let run = explain("good.http", "github", &good, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "ok    provider",
        "ok    body size",
        "present: x-hub-signature-256",
        "compared with 2 configured key(s): key 2 matches",
        "\"d-1\" from header:x-github-delivery",
        "\"pull_request\" from header:x-github-event",
        "verdict: accepted, 200",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing:\n{}",
            run.stdout
        );
    }
    // Good, LF line endings (a capture pasted into an editor).
    let lf = capture("github", "", &gh_headers, &body, "\n");
    assert_eq!(explain("lf.http", "github", &lf, &[]).code, 0);

    // Wrong secret.
    let run = explain("wrong.http", "github-other", &good, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  signature"), "{}", run.stdout);
    assert!(run.stdout.contains("1 configured key(s): none matches"));
    assert!(
        run.stdout
            .contains("verdict: refused, 401 invalid_signature")
    );
    assert!(run.stdout.contains("hint: "));

    // Missing header: named.
    let without: Vec<(String, String)> = gh_headers
        .iter()
        .filter(|(k, _)| k != "x-hub-signature-256")
        .cloned()
        .collect();
    let run = explain(
        "missing.http",
        "github",
        &capture("github", "", &without, &body, "\r\n"),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("FAIL  headers     missing: x-hub-signature-256 (signature)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("401 missing_signature"));

    // Stale timestamp: refused now, accepted at the capture time.
    let then = now - 3600;
    let stripe_body =
        format!(r#"{{"id":"evt_9","type":"invoice.paid","x":"{MARKER}"}}"#).into_bytes();
    let st_headers = stripe.sign(&stripe_body, "", "", then);
    let stale = capture("stripe", "", &st_headers, &stripe_body, "\r\n");
    let run = explain("stale.http", "stripe", &stale, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  timestamp"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(" s in the past, outside the tolerance ±300 s"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("timestamp_out_of_tolerance"));
    assert!(run.stdout.contains("--at"));
    let at = then.to_string();
    let run = explain("stale.http", "stripe", &stale, &["--at", &at]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("\"evt_9\" from json:/id"),
        "{}",
        run.stdout
    );

    // A correctly signed body that is not JSON, while the ID is read from JSON.
    let form = b"id=evt_1&type=x".to_vec();
    let form_headers = stripe.sign(&form, "", "", now);
    let run = explain(
        "form.http",
        "stripe",
        &capture("stripe", "", &form_headers, &form, "\r\n"),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("ok    signature"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  event id"), "{}", run.stdout);
    assert!(run.stdout.contains("400 malformed_payload"));

    // A body changed after signing (an editor's trailing newline, without Content-Length).
    let mut edited = good.clone();
    let head_len = edited.len() - body.len();
    edited.truncate(head_len);
    let text = String::from_utf8(edited).expect("utf8");
    let text = text.replace(&format!("Content-Length: {}\r\n", body.len()), "");
    let mut edited = text.into_bytes();
    edited.extend_from_slice(&body);
    edited.push(b'\n');
    let run = explain("edited.http", "github", &edited, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("note: no Content-Length"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("invalid_signature"));

    // Unknown provider, unreadable capture.
    let run = explain("good.http", "nope", &good, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("configured: github, github-new, github-other, stripe"),
        "{}",
        run.stdout
    );
    let run = explain("bad.http", "github", b"HTTP/1.1 200 OK\r\n\r\n", &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not a request"), "{}", run.stderr);
}
