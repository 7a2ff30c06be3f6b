//! Audit: run the conformance cases with every log captured (debug for all crates, trace
//! for hookgate's own) and check that no secret, signature or payload reaches a log line;
//! that a verified event the gateway could not store is named at the default level; and
//! that a clean stop logs nothing at WARN or above.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use crate::helpers::*;

/// A `MakeWriter` appending to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// Capture every log line of this test process at `filter`. Global: the HTTP workers
    /// log from their own threads. Two tests here install one, which needs a process per
    /// test, as nextest (`scripts/test`) runs them; under plain `cargo test` one would
    /// panic.
    fn install(filter: &str) -> Self {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    }

    /// The captured lines, parsed.
    fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8 logs");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON log line"))
            .collect()
    }
}

#[actix_web::test]
async fn no_secret_signature_or_payload_reaches_the_logs() {
    let logs = Captured::install("debug,hookgate=trace,hookgate_core=trace");

    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let p = app.registry.get("groq").expect("groq");
    let marker = "PAYLOAD-MARKER-93c1e";
    let body = format!(r#"{{"id":"evt_audit","type":"audit.t","data":{{"card":"{marker}"}}}}"#)
        .into_bytes();
    let now = hookgate::unix_now();
    let good = p.sign(&body, "evt_audit", "audit.t", now);
    let signature = good
        .iter()
        .find(|(k, _)| k == "x-groq-signature")
        .expect("sig")
        .1
        .clone();
    let mut sent_signatures = vec![signature.clone()];

    assert_eq!(app.post("groq", &good, body.clone()).await.status, 200);
    assert_eq!(
        app.post("groq", &good, body.clone()).await.status,
        200,
        "duplicate"
    );
    let forged = "ab".repeat(32);
    sent_signatures.push(forged.clone());
    let bad: Vec<_> = good
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "x-groq-signature" {
                    forged.clone()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    assert_eq!(app.post("groq", &bad, body.clone()).await.status, 401);
    let stale = p.sign(&body, "evt_audit", "audit.t", now - 3600);
    sent_signatures.push(stale[0].1.clone());
    assert_eq!(app.post("groq", &stale, body.clone()).await.status, 401);
    let no_sig: Vec<_> = good
        .iter()
        .filter(|(k, _)| k != "x-groq-signature")
        .cloned()
        .collect();
    assert_eq!(app.post("groq", &no_sig, body.clone()).await.status, 401);
    let form = format!("card={marker}").into_bytes();
    let form_sig = p.sign(&form, "x", "y", now);
    sent_signatures.push(form_sig[0].1.clone());
    assert_eq!(app.post("groq", &form_sig, form).await.status, 400);
    assert_eq!(app.post("nope", &good, body.clone()).await.status, 404);
    let small = app.registry.get("small").expect("small");
    let big = format!("{{\"pad\":\"{}\"}}", marker.repeat(100)).into_bytes();
    assert_eq!(
        app.post("small", &small.sign(&big, "b", "t", now), big)
            .await
            .status,
        413
    );
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_audit"]);
    app.stop().await;

    let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8 logs");
    assert!(
        text.contains(r#""name":"webhook""#) && text.contains("invalid_signature"),
        "the request spans and rejections were captured"
    );
    for (what, needle) in [
        ("secret", GROQ_SECRET),
        ("payload", marker),
        ("secret", "gh-secret"),
    ] {
        assert!(!text.contains(needle), "a {what} reached the logs");
    }
    for sig in &sent_signatures {
        assert!(!text.contains(sig.as_str()), "a signature reached the logs");
    }
}

#[actix_web::test]
async fn a_verified_event_that_could_not_be_stored_is_named_at_the_default_level() {
    // The shipped default filter: the request span (which carries the event ID) is off.
    let logs = Captured::install("info");
    let pg = crate::proxy::Proxy::start(PG_ADDR.parse().expect("addr")).await;
    let mut settings = Settings::new();
    settings.db_url = format!("postgres://postgres@{}/{}", pg.addr(), settings.database);
    let app = spawn_app_with(settings).await;
    pg.cut();
    let lost = app.send("groq", "evt_not_stored", "t").await;
    assert_eq!(lost.status, 503, "{lost:?}");
    let forged = app.post("groq", &[], b"{}".to_vec()).await;
    assert_eq!(forged.status, 401, "{forged:?}");
    pg.restore();
    app.stop().await;

    let rejected: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "webhook rejected")
        .map(|l| l["fields"].clone())
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(
        (
            rejected[0]["code"].as_str(),
            rejected[0]["event_id"].as_str()
        ),
        (Some("unavailable"), Some("evt_not_stored")),
        "the 503 names the verified event the provider will resend"
    );
    assert_eq!(
        (rejected[1]["code"].as_str(), rejected[1].get("event_id")),
        (Some("missing_signature"), None),
        "an unverified request names no event"
    );
}

#[actix_web::test]
async fn a_clean_stop_after_publishing_logs_no_warning_or_error() {
    // lapin's own events too: its channels once logged a "connection error" at every stop.
    let logs = Captured::install("info");
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.broker_is("ok").await;
    for n in 0..3 {
        let sent = app.send("groq", &format!("evt_clean_stop_{n}"), "t").await;
        assert_eq!(sent.status, 200, "{sent:?}");
    }
    app.drained().await;
    assert_eq!(inbox.take_all().await.len(), 3, "the events were published");
    drop(inbox);
    app.stop().await;

    // The stop's lines, from its first to its last: the test config's inline secrets are
    // warned of at start, and the test kit's clean-up after (sqlx warns of a statement
    // slower than 1 s, as its `DROP DATABASE` can be on a busy box).
    let lines = logs.lines();
    let at = |message: &str| lines.iter().position(|l| l["fields"]["message"] == message);
    let (Some(first), Some(last)) = (
        at("shutting down: finishing in-flight requests"),
        at("stopped"),
    ) else {
        panic!("the stop was not captured: {lines:?}");
    };
    let lines = &lines[first..=last];
    let loud: Vec<_> = lines
        .iter()
        .filter(|l| matches!(l["level"].as_str(), Some("WARN" | "ERROR")))
        .collect();
    assert!(loud.is_empty(), "a clean stop logged {loud:?}");
}
