//! [`Envelope`]: one event as a message on RabbitMQ, and its mapping onto AMQP properties in
//! both directions: [`Envelope::properties`] is what the gateway publishes,
//! [`Envelope::from_properties`] is what a consumer reads.
//!
//! Properties: `delivery_mode` [`PERSISTENT`], `message_id` = event ID, `type` = event type,
//! `timestamp` = receive time (unix seconds), `content_type` = the request's Content-Type,
//! `app_id` = [`APP_ID`]; headers: the CloudEvents binary-mode attributes and
//! `hookgate-provider` (see [`crate::headers`]). The body (the provider's original bytes) is
//! not part of the envelope.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::{BasicProperties, types::FieldTable};

use crate::{
    attempts,
    headers::{self, long},
};

/// `app_id` property of every message the gateway publishes.
pub const APP_ID: &str = "hookgate";
/// AMQP `delivery_mode` for persistent messages.
pub const PERSISTENT: u8 = 2;

/// What identifies one event on the broker; everything but the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Provider name; becomes `hookgate-provider` and the CloudEvents source.
    pub provider: String,
    /// Event ID; becomes `message_id` and `cloudEvents:id`.
    pub event_id: String,
    /// Event type; becomes `type` and `cloudEvents:type`.
    pub event_type: String,
    /// When the gateway received the request; travels with millisecond precision
    /// (`cloudEvents:time`) and in whole seconds (`timestamp`).
    pub received_at: SystemTime,
    /// The original request's Content-Type, if it had one.
    pub content_type: Option<String>,
}

impl Envelope {
    /// Receive time in whole unix seconds (the AMQP `timestamp` property).
    pub fn timestamp_secs(&self) -> u64 {
        self.received_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    }

    /// The message headers: CloudEvents attributes plus `hookgate-provider`.
    pub fn headers(&self) -> FieldTable {
        let time = humantime::format_rfc3339_millis(self.received_at).to_string();
        let mut table = FieldTable::default();
        for (name, value) in [
            (headers::CE_SPECVERSION, headers::SPEC_VERSION),
            (headers::CE_ID, &self.event_id),
            (headers::CE_SOURCE, &headers::source(&self.provider)),
            (headers::CE_TYPE, &self.event_type),
            (headers::CE_TIME, &time),
            (headers::PROVIDER, &self.provider),
        ] {
            table.insert(name.into(), long(value));
        }
        table
    }

    /// The persistent message properties the gateway publishes this event with.
    pub fn properties(&self) -> BasicProperties {
        let props = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_message_id(self.event_id.as_str().into())
            .with_type(self.event_type.as_str().into())
            .with_timestamp(self.timestamp_secs())
            .with_app_id(APP_ID.into())
            .with_headers(self.headers());
        match &self.content_type {
            Some(ct) => props.with_content_type(ct.as_str().into()),
            None => props,
        }
    }

    /// Read an envelope back from a delivery's properties. Lenient, so messages from other
    /// producers still read: the ID and type fall back to their CloudEvents headers, the
    /// receive time to `timestamp` and then to the epoch, anything else missing to empty.
    pub fn from_properties(properties: &BasicProperties) -> Self {
        let table = properties.headers().as_ref();
        let header = |name| headers::string(table, name);
        let received_at = header(headers::CE_TIME)
            .and_then(|t| humantime::parse_rfc3339(&t).ok())
            .or_else(|| {
                properties
                    .timestamp()
                    .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            })
            .unwrap_or(UNIX_EPOCH);
        Self {
            provider: header(headers::PROVIDER).unwrap_or_default(),
            event_id: properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .or_else(|| header(headers::CE_ID))
                .unwrap_or_default(),
            event_type: properties
                .kind()
                .as_ref()
                .map(|s| s.to_string())
                .or_else(|| header(headers::CE_TYPE))
                .unwrap_or_default(),
            received_at,
            content_type: properties.content_type().as_ref().map(|s| s.to_string()),
        }
    }

    /// The attempt a delivery with these properties is: 1 for the first delivery, 2 after
    /// one retry, ... (see [`attempts::attempts`]).
    pub fn attempt(properties: &BasicProperties) -> u32 {
        attempts::attempts(properties).saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use lapin::types::{AMQPValue, LongString};

    use super::*;

    fn groq() -> Envelope {
        Envelope {
            provider: "groq".into(),
            event_id: "evt_1".into(),
            event_type: "resource.created".into(),
            received_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
            content_type: Some("application/json".into()),
        }
    }

    fn header(props: &BasicProperties, name: &str) -> Option<AMQPValue> {
        props.headers().as_ref()?.inner().get(name).cloned()
    }

    fn text(value: &str) -> Option<AMQPValue> {
        Some(AMQPValue::LongString(LongString::from(value)))
    }

    #[test]
    fn properties_follow_the_spec_and_the_cloudevents_binding() {
        let props = groq().properties();
        assert_eq!(*props.delivery_mode(), Some(2));
        assert_eq!(
            props.message_id().as_ref().map(|s| s.as_str()),
            Some("evt_1")
        );
        assert_eq!(
            props.kind().as_ref().map(|s| s.as_str()),
            Some("resource.created")
        );
        assert_eq!(*props.timestamp(), Some(1_700_000_000));
        assert_eq!(
            props.app_id().as_ref().map(|s| s.as_str()),
            Some("hookgate")
        );
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(header(&props, "cloudEvents:specversion"), text("1.0"));
        assert_eq!(header(&props, "cloudEvents:id"), text("evt_1"));
        assert_eq!(header(&props, "cloudEvents:source"), text("/webhooks/groq"));
        assert_eq!(header(&props, "cloudEvents:type"), text("resource.created"));
        assert_eq!(
            header(&props, "cloudEvents:time"),
            text("2023-11-14T22:13:20.250Z")
        );
        assert_eq!(header(&props, "hookgate-provider"), text("groq"));
        assert_eq!(props.headers().as_ref().map(|h| h.inner().len()), Some(6));
    }

    #[test]
    fn no_content_type_is_published_as_none() {
        let env = Envelope {
            content_type: None,
            ..groq()
        };
        assert_eq!(*env.properties().content_type(), None);
    }

    #[test]
    fn reading_back_what_the_gateway_publishes_gives_the_same_envelope() {
        let env = groq();
        let props = env.properties();
        assert_eq!(Envelope::from_properties(&props), env);
        assert_eq!(Envelope::attempt(&props), 1);
        let no_ct = Envelope {
            content_type: None,
            ..groq()
        };
        assert_eq!(Envelope::from_properties(&no_ct.properties()), no_ct);
    }

    #[test]
    fn the_receive_time_falls_back_to_the_timestamp_then_the_epoch() {
        let props = BasicProperties::default().with_timestamp(1_700_000_000);
        let env = Envelope::from_properties(&props);
        assert_eq!(
            env.received_at,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert_eq!(env.event_id, "");
        assert_eq!(env.provider, "");
        let bare = Envelope::from_properties(&BasicProperties::default());
        assert_eq!(bare.received_at, UNIX_EPOCH);
        assert_eq!(bare.content_type, None);
    }

    #[test]
    fn id_and_type_fall_back_to_their_cloudevents_headers_and_short_strings_read() {
        let mut table = FieldTable::default();
        table.insert(
            "cloudEvents:id".into(),
            AMQPValue::ShortString("evt_9".into()),
        );
        table.insert("cloudEvents:type".into(), long("a.b"));
        table.insert(
            "hookgate-provider".into(),
            AMQPValue::ShortString("x".into()),
        );
        let env = Envelope::from_properties(&BasicProperties::default().with_headers(table));
        assert_eq!(
            (
                env.event_id.as_str(),
                env.event_type.as_str(),
                env.provider.as_str()
            ),
            ("evt_9", "a.b", "x")
        );
    }
}
