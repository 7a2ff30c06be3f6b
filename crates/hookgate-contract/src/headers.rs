//! Header names of a hookgate message. The CloudEvents attributes follow the CloudEvents
//! AMQP protocol binding in binary mode (attribute `x` travels as header `cloudEvents:x`);
//! the rest are hookgate's own.

use lapin::types::{AMQPValue, FieldTable, LongString};

/// CloudEvents spec version (always [`SPEC_VERSION`]).
pub const CE_SPECVERSION: &str = "cloudEvents:specversion";
/// CloudEvents event ID (the provider's event ID, also `message_id`).
pub const CE_ID: &str = "cloudEvents:id";
/// CloudEvents source: `/webhooks/{provider}`.
pub const CE_SOURCE: &str = "cloudEvents:source";
/// CloudEvents event type (also the `type` property).
pub const CE_TYPE: &str = "cloudEvents:type";
/// CloudEvents time: the gateway's receive time, RFC 3339 with milliseconds.
pub const CE_TIME: &str = "cloudEvents:time";
/// The CloudEvents spec version the headers follow.
pub const SPEC_VERSION: &str = "1.0";

/// The provider name, as configured in the gateway.
pub const PROVIDER: &str = "hookgate-provider";

/// Failed handler attempts so far; set by the consumer on retried and dead-lettered copies.
pub const ATTEMPTS: &str = "x-hookgate-attempts";
/// The last handler error (at most [`crate::attempts::LAST_ERROR_MAX`] bytes); set with
/// [`ATTEMPTS`].
pub const LAST_ERROR: &str = "x-hookgate-last-error";

/// The CloudEvents source of a provider's events.
pub fn source(provider: &str) -> String {
    format!("/webhooks/{provider}")
}

/// A string header value as the gateway writes it (AMQP long string).
pub(crate) fn long(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// A string header, long or short; `None` if absent or of another type.
pub(crate) fn string(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}
