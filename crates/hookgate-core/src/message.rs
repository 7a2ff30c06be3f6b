//! The shape of an event on RabbitMQ (SPEC §4), independent of any AMQP client: routing
//! key, properties and the CloudEvents AMQP binding (binary mode) headers. The server maps
//! this onto its client's types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::template::RoutingKey;

/// `app_id` property of every message.
pub const APP_ID: &str = "hookgate";
/// AMQP `delivery_mode` for persistent messages.
pub const PERSISTENT: u8 = 2;

/// What a stored event needs to become a message.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// Event ID; becomes `message_id` and `cloudEvents:id`.
    pub event_id: &'a str,
    /// Event type; becomes `type` and `cloudEvents:type`.
    pub event_type: &'a str,
    /// When the gateway received the request.
    pub received_at: SystemTime,
}

impl Envelope<'_> {
    /// The routing key rendered from the configured template.
    pub fn routing_key(&self, template: &RoutingKey) -> String {
        template.render(self.provider, self.event_type)
    }

    /// Receive time in whole unix seconds (the AMQP `timestamp` property).
    pub fn timestamp_secs(&self) -> u64 {
        self.received_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    }

    /// The message headers: CloudEvents attributes plus `hookgate-provider`.
    pub fn headers(&self) -> [(&'static str, String); 6] {
        [
            ("cloudEvents:specversion", "1.0".into()),
            ("cloudEvents:id", self.event_id.into()),
            ("cloudEvents:source", format!("/webhooks/{}", self.provider)),
            ("cloudEvents:type", self.event_type.into()),
            (
                "cloudEvents:time",
                humantime::format_rfc3339_millis(self.received_at).to_string(),
            ),
            ("hookgate-provider", self.provider.into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_cloudevents_binding() {
        let env = Envelope {
            provider: "groq",
            event_id: "evt_1",
            event_type: "resource.created",
            received_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
        };
        let h = env.headers();
        assert_eq!(h[2], ("cloudEvents:source", "/webhooks/groq".to_string()));
        assert_eq!(h[4].1, "2023-11-14T22:13:20.250Z");
        assert_eq!(env.timestamp_secs(), 1_700_000_000);
        let key = RoutingKey::parse("{provider}.{event_type}").expect("template");
        assert_eq!(env.routing_key(&key), "groq.resource.created");
    }
}
