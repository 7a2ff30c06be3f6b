//! The consumer's retry bookkeeping on a message: how many handler attempts failed and the
//! last error, carried in the [`ATTEMPTS`] and [`LAST_ERROR`] headers of the copies it
//! republishes to a retry queue or the dead-letter queue. Anyone reading a DLQ reads these.

use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable},
};

use crate::{
    envelope::PERSISTENT,
    headers::{self, ATTEMPTS, LAST_ERROR, long},
};

/// Longest [`LAST_ERROR`] value, in bytes; longer errors are cut at a character boundary.
pub const LAST_ERROR_MAX: usize = 1000;

/// Failed attempts so far (0 on a message the gateway published).
pub fn attempts(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get(ATTEMPTS) {
            Some(AMQPValue::LongUInt(n)) => Some(*n),
            Some(AMQPValue::LongInt(n)) => u32::try_from(*n).ok(),
            Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

/// The last handler error recorded on the message, if any.
pub fn last_error(properties: &BasicProperties) -> Option<String> {
    headers::string(properties.headers().as_ref(), LAST_ERROR)
}

/// The properties of a failed message's copy: the original's (envelope included), persistent,
/// with `attempts` failed attempts and the last `error` recorded.
pub fn after_failure(properties: &BasicProperties, attempts: u32, error: &str) -> BasicProperties {
    let mut table: FieldTable = properties.headers().clone().unwrap_or_default();
    table.insert(ATTEMPTS.into(), AMQPValue::LongUInt(attempts));
    table.insert(LAST_ERROR.into(), long(truncate(error, LAST_ERROR_MAX)));
    properties
        .clone()
        .with_headers(table)
        .with_delivery_mode(PERSISTENT)
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::Envelope;

    #[test]
    fn a_failed_copy_keeps_the_envelope_and_counts_attempts() {
        let env = Envelope {
            provider: "groq".into(),
            event_id: "evt_1".into(),
            event_type: "t".into(),
            received_at: UNIX_EPOCH + Duration::from_secs(7),
            content_type: None,
        };
        let first = env.properties();
        assert_eq!((attempts(&first), last_error(&first)), (0, None));
        let copy = after_failure(&first, 1, "boom");
        assert_eq!(attempts(&copy), 1);
        assert_eq!(last_error(&copy).as_deref(), Some("boom"));
        assert_eq!(Envelope::attempt(&copy), 2);
        assert_eq!(Envelope::from_properties(&copy), env);
        let again = after_failure(&copy, 2, "bang");
        assert_eq!(
            (attempts(&again), last_error(&again).as_deref()),
            (2, Some("bang"))
        );
        assert_eq!(*again.delivery_mode(), Some(PERSISTENT));
    }

    #[test]
    fn attempts_read_any_integer_width_and_ignore_other_types() {
        let with = |v: AMQPValue| {
            let mut t = FieldTable::default();
            t.insert(ATTEMPTS.into(), v);
            attempts(&BasicProperties::default().with_headers(t))
        };
        assert_eq!(with(AMQPValue::LongInt(3)), 3);
        assert_eq!(with(AMQPValue::LongLongInt(4)), 4);
        assert_eq!(with(AMQPValue::LongInt(-1)), 0);
        assert_eq!(with(long("5")), 0);
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let error = "é".repeat(LAST_ERROR_MAX); // 2 bytes each
        let copy = after_failure(&BasicProperties::default(), 1, &error);
        let kept = last_error(&copy).expect("error header");
        assert_eq!(kept.len(), LAST_ERROR_MAX);
        let odd = format!("x{error}");
        let kept =
            last_error(&after_failure(&BasicProperties::default(), 1, &odd)).expect("error header");
        assert_eq!(kept.len(), LAST_ERROR_MAX - 1);
    }
}
