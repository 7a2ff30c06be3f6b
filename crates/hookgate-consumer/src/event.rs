//! [`Event`]: what a handler receives, read from a message hookgate published through the
//! shared contract ([`hookgate_contract::Envelope::from_properties`]).

use std::time::SystemTime;

use hookgate_contract::Envelope;
use lapin::BasicProperties;

/// One event as delivered to a handler.
#[derive(Debug, Clone)]
pub struct Event {
    /// Provider name (`hookgate-provider` header).
    pub provider: String,
    /// Event ID (`message_id`).
    pub id: String,
    /// Event type (`type`).
    pub event_type: String,
    /// When the gateway received it (`cloudEvents:time`, else `timestamp`).
    pub received_at: SystemTime,
    /// The provider's original bytes.
    pub body: Vec<u8>,
    /// The original request's Content-Type.
    pub content_type: Option<String>,
    /// 1 for the first delivery, 2 after one retry, ...
    pub attempt: u32,
}

impl Event {
    /// Deserialize the body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Build from a delivery's properties and body.
    pub fn from_message(properties: &BasicProperties, body: Vec<u8>) -> Self {
        let Envelope {
            provider,
            event_id,
            event_type,
            received_at,
            content_type,
        } = Envelope::from_properties(properties);
        Self {
            provider,
            id: event_id,
            event_type,
            received_at,
            body,
            content_type,
            attempt: Envelope::attempt(properties),
        }
    }
}
