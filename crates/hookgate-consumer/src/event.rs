//! [`Event`]: what a handler receives, built from a message hookgate published (SPEC §4).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::{BasicProperties, types::AMQPValue};

/// Attempt counter header set by the consumer when it retries a message.
pub const ATTEMPTS_HEADER: &str = "x-hookgate-attempts";
/// Last handler error, set on retried and dead-lettered messages.
pub const LAST_ERROR_HEADER: &str = "x-hookgate-last-error";

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
        let header = |name: &str| {
            properties
                .headers()
                .as_ref()
                .and_then(|h| match h.inner().get(name) {
                    Some(AMQPValue::LongString(s)) => Some(s.to_string()),
                    Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
                    _ => None,
                })
        };
        let received_at = header("cloudEvents:time")
            .and_then(|t| humantime::parse_rfc3339(&t).ok())
            .or_else(|| {
                properties
                    .timestamp()
                    .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            })
            .unwrap_or(UNIX_EPOCH);
        Self {
            provider: header("hookgate-provider").unwrap_or_default(),
            id: properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            event_type: properties
                .kind()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            received_at,
            body,
            content_type: properties.content_type().as_ref().map(|s| s.to_string()),
            attempt: attempts(properties) + 1,
        }
    }
}

/// Failed attempts so far, from [`ATTEMPTS_HEADER`].
pub fn attempts(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get(ATTEMPTS_HEADER) {
            Some(AMQPValue::LongUInt(n)) => Some(*n),
            Some(AMQPValue::LongInt(n)) => u32::try_from(*n).ok(),
            Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}
