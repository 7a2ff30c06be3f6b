//! Retry and dead-letter topology for a work queue `Q`:
//!
//! - `Q.retry.<n>` (n = 1 .. max_attempts-1): durable, dead-lettering to the default
//!   exchange with routing key `Q`. A failed message is republished there with a
//!   per-message TTL of the n-th backoff; when it expires RabbitMQ moves it back to `Q`. One
//!   queue per attempt keeps every TTL in a queue equal, so no message waits behind a
//!   longer one.
//! - `Q.dlq`: durable; messages land there after `max_attempts` failures, with the attempt
//!   count and the last error in headers.

use std::time::Duration;

use lapin::{
    BasicProperties, Channel,
    options::{BasicPublishOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};

use crate::event::{ATTEMPTS_HEADER, LAST_ERROR_HEADER};

/// Backoff before attempt `attempt + 1`: `base * 2^(attempt-1)`, at most `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max)
}

/// Name of the retry queue for messages that failed `attempt` times.
pub fn retry_queue(queue: &str, attempt: u32) -> String {
    format!("{queue}.retry.{attempt}")
}

/// Name of the dead-letter queue.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Declare the retry queues and the DLQ for `queue`.
pub async fn declare(channel: &Channel, queue: &str, max_attempts: u32) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for attempt in 1..max_attempts {
        let mut args = FieldTable::default();
        args.insert("x-dead-letter-exchange".into(), long(""));
        args.insert("x-dead-letter-routing-key".into(), long(queue));
        channel
            .queue_declare(retry_queue(queue, attempt).as_str().into(), durable, args)
            .await?;
    }
    channel
        .queue_declare(
            dead_letter_queue(queue).as_str().into(),
            durable,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_owned()))
}

/// Republish a failed message (after `attempts` failures) to `target` with the attempt
/// count, the last error and an optional TTL; waits for the broker's confirm.
pub async fn republish(
    channel: &Channel,
    target: &str,
    properties: &BasicProperties,
    body: &[u8],
    attempts: u32,
    error: &str,
    ttl: Option<Duration>,
) -> anyhow::Result<()> {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(attempts));
    let mut error = error.to_owned();
    error.truncate(1000);
    headers.insert(LAST_ERROR_HEADER.into(), long(&error));
    let mut props = properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(ttl) = ttl {
        props = props.with_expiration(ttl.as_millis().max(1).to_string().as_str().into());
    }
    let confirm = channel
        .basic_publish(
            "".into(),
            target.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await?
        .await?;
    anyhow::ensure!(
        confirm.is_ack(),
        "broker did not confirm the republish to {target}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (b, m) = (Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<_> = (1..=6).map(|a| backoff(b, m, a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }
}
