//! One test runs every `[[vectors]]` entry of every built-in preset file: published
//! examples (GitHub, Slack, Twilio, Standard Webhooks, SendGrid, Square, Paddle, Coinbase,
//! the Zoom handshake) and handshake examples, each with its expected outcome.

use hookgate_core::{PresetCatalog, Received, Unverified, catalog::Vector};

use crate::preset_provider_env;

fn outcome(preset: &str, v: &Vector) -> Result<(), String> {
    let mut extra = String::new();
    if let Some(url) = &v.public_url {
        extra.push_str(&format!(
            "public_url = {}\n",
            serde_json::to_string(url).expect("quote")
        ));
    }
    if v.verify_token.is_some() {
        extra.push_str("verify_token_env = \"VECTOR_VERIFY_TOKEN\"\n");
    }
    let secrets: Vec<&str> = v.secrets.iter().map(String::as_str).collect();
    let token = v.verify_token.clone();
    let p = preset_provider_env(preset, &secrets, &extra, move |name| {
        (name == "VECTOR_VERIFY_TOKEN")
            .then(|| token.clone())
            .flatten()
    })
    .map_err(|e| format!("config: {e}"))?;
    let headers: Vec<(String, String)> = v
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let request = || {
        Unverified::new(&headers, v.body.as_bytes())
            .with_method(&v.method)
            .with_query(&v.query)
    };
    if v.expect == "verified" {
        return p
            .check(&request(), v.now)
            .map_err(|e| format!("check: {}", e.code()));
    }
    let got = match p.receive(request(), v.now) {
        Err(rejection) => rejection.code().to_owned(),
        Ok(Received::MethodNotAllowed) => "method_not_allowed".to_owned(),
        Ok(Received::Handshake(reply)) => {
            if let Some(status) = v.reply_status
                && status != reply.status
            {
                return Err(format!("reply status {} != {status}", reply.status));
            }
            if let Some(body) = &v.reply_body
                && body.as_bytes() != reply.body.as_slice()
            {
                return Err(format!(
                    "reply body {:?} != {body:?}",
                    String::from_utf8_lossy(&reply.body)
                ));
            }
            "handshake".to_owned()
        }
        Ok(Received::Event(event)) => {
            if let Some(id) = &v.event_id
                && id != event.event_id()
            {
                return Err(format!("event id {} != {id}", event.event_id()));
            }
            if let Some(t) = &v.event_type
                && t != event.event_type()
            {
                return Err(format!("event type {} != {t}", event.event_type()));
            }
            "accepted".to_owned()
        }
        Ok(Received::Subscription(_)) => "subscription".to_owned(),
    };
    if got == v.expect {
        Ok(())
    } else {
        Err(format!("got {got}, expected {}", v.expect))
    }
}

#[test]
fn every_vector_of_every_preset_file_has_its_expected_outcome() {
    let catalog = PresetCatalog::builtin().expect("catalog");
    let mut failures = Vec::new();
    let mut count = 0;
    for preset in catalog.iter() {
        for v in preset.vectors() {
            count += 1;
            if let Err(why) = outcome(preset.name(), v) {
                failures.push(format!("{} / {}: {why}", preset.name(), v.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(count >= 15, "only {count} vectors found");
    // Each provider that publishes an example has it in its preset file.
    for name in [
        "github",
        "slack",
        "twilio",
        "standard-webhooks",
        "sendgrid",
        "square",
        "paddle",
        "coinbase",
        "zoom",
    ] {
        let p = catalog.get(name).expect("preset");
        assert!(
            p.vectors()
                .iter()
                .any(|v| !v.source.is_empty() && v.expect != "invalid_signature"),
            "{name} lacks its published vector"
        );
    }
}
