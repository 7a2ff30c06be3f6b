//! Producing correctly signed requests for a configured provider: `hookgate sign`,
//! `hookgate send`, the load generator and the tests all use this, so "signed by us
//! verifies by us" is one property test away.

use base64::Engine;
use serde_json::{Map, Value};

use crate::{
    config::{Encoding, SchemeKind},
    extract::Source,
    provider::Provider,
    template::Part,
};

impl Provider {
    /// Headers that make `body` a valid request signed at unix time `now` with the
    /// provider's first secret. Header sources of the event-ID and type chains are filled
    /// with `event_id` and `event_type`.
    pub fn sign(
        &self,
        body: &[u8],
        event_id: &str,
        event_type: &str,
        now: i64,
    ) -> Vec<(String, String)> {
        let timestamp = now.to_string();
        let id = if self.template.uses(&Part::Id) {
            event_id
        } else {
            ""
        };
        let key = &self.keys[0];
        let tag = key.tag(|sink| {
            self.template
                .feed(timestamp.as_bytes(), id.as_bytes(), body, sink)
        });
        let encoded = match self.encoding {
            Encoding::Hex => hex::encode(tag.as_bytes()),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag.as_bytes()),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        let signature = match self.scheme {
            SchemeKind::Stripe => format!("t={timestamp},v1={encoded}"),
            SchemeKind::StandardWebhooks => format!("v1,{encoded}"),
            SchemeKind::Hmac => {
                format!(
                    "{}{encoded}",
                    self.signature_prefix.as_deref().unwrap_or("")
                )
            }
        };
        headers.push((self.signature_headers[0].clone(), signature));
        if let Some(name) = self.timestamp_headers.first() {
            headers.push((name.clone(), timestamp));
        }
        if let (Some(name), true) = (&self.id_header, self.template.uses(&Part::Id)) {
            headers.push((name.clone(), event_id.into()));
        }
        for (chain, value) in [(&self.event_id, event_id), (&self.event_type, event_type)] {
            if let Some(Source::Header(name)) = chain.first()
                && !headers.iter().any(|(k, _)| k == name)
            {
                headers.push((name.clone(), value.into()));
            }
        }
        headers
    }

    /// A JSON body carrying `event_id` and `event_type` where the provider's first JSON
    /// sources read them, padded with a `padding` field to about `size` bytes.
    pub fn sample_body(&self, event_id: &str, event_type: &str, size: usize) -> Vec<u8> {
        let mut root = Value::Object(Map::new());
        for (chain, value) in [(&self.event_id, event_id), (&self.event_type, event_type)] {
            if let Some(Source::Json(pointer)) = chain.iter().find(|s| matches!(s, Source::Json(_)))
            {
                set_pointer(&mut root, pointer, value);
            }
        }
        if let Value::Object(map) = &mut root {
            map.entry("data")
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let mut body = serde_json::to_vec(&root).unwrap_or_default();
        if body.len() + 14 < size {
            if let Value::Object(map) = &mut root {
                map.insert(
                    "padding".into(),
                    Value::String("x".repeat(size - body.len() - 14)),
                );
            }
            body = serde_json::to_vec(&root).unwrap_or_default();
        }
        body
    }
}

/// Set the string at the pointer `tokens`, creating objects on the way.
fn set_pointer(root: &mut Value, tokens: &[String], value: &str) {
    let mut node = root;
    for (i, token) in tokens.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if i + 1 == tokens.len() {
            map.insert(token.clone(), Value::String(value.into()));
            return;
        }
        node = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `evt_<unix nanos hex><pid hex>`: a fresh event ID for test and benchmark events.
pub fn unique_event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("evt_{nanos:x}{:x}", std::process::id())
}
