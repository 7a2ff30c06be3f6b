//! Retry and dead-letter topology for a work queue `Q`, named and configured by
//! [`hookgate_contract::queues`]:
//!
//! - `Q.retry.<n>` (n = 1 .. max_attempts-1): durable, dead-lettering to the default
//!   exchange with routing key `Q`. A failed message is republished there with a
//!   per-message TTL of the n-th backoff; when it expires RabbitMQ moves it back to `Q`. One
//!   queue per attempt keeps every TTL in a queue equal, so no message waits behind a
//!   longer one.
//! - `Q.dlq`: durable; messages land there after `max_attempts` failures, with the attempt
//!   count and the last error in headers.
//!
//! The gateway may have declared `Q.dlq` already (`dead_letter = true`), as a quorum queue
//! if `quorum = true`. RabbitMQ refuses a re-declaration with other arguments
//! (`PRECONDITION_FAILED`), so a queue that exists is used as it is and only missing ones
//! are declared, with the contract's arguments for the configured [`QueueKind`].

use std::time::Duration;

use hookgate_contract::{
    attempts,
    queues::{self, QueueKind},
};
use lapin::{
    BasicProperties, Channel, Connection,
    options::{BasicPublishOptions, QueueDeclareOptions},
    protocol::{AMQPErrorKind, AMQPSoftError},
    types::FieldTable,
};

pub use hookgate_contract::queues::{dead_letter_queue, retry_queue};

/// Backoff before attempt `attempt + 1`: `base * 2^(attempt-1)`, at most `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max)
}

/// Declare whichever of the retry queues and the DLQ of `queue` do not exist yet.
pub async fn declare(
    connection: &Connection,
    queue: &str,
    max_attempts: u32,
    kind: QueueKind,
) -> lapin::Result<()> {
    let mut wanted: Vec<(String, FieldTable)> = (1..max_attempts)
        .map(|n| {
            let args = queues::retry_queue_arguments(queue, kind);
            (retry_queue(queue, n), args)
        })
        .collect();
    wanted.push((
        dead_letter_queue(queue),
        queues::dead_letter_queue_arguments(kind),
    ));
    let channel = connection.create_channel().await?;
    for (name, args) in wanted {
        if !exists(connection, &name).await? {
            // Should another party declare it in between with other arguments, this fails
            // and the consumer's next session finds it existing.
            channel
                .queue_declare(name.as_str().into(), queues::durable(), args)
                .await?;
        }
    }
    let _ = channel.close(200, "retry topology declared".into()).await;
    Ok(())
}

/// Whether `queue` exists. A passive declare of a missing queue closes its channel, so it
/// is asked on a throwaway one.
pub async fn exists(connection: &Connection, queue: &str) -> lapin::Result<bool> {
    let probe = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match probe
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
    {
        Ok(_) => {
            let _ = probe.close(200, "probed".into()).await;
            Ok(true)
        }
        Err(e) if is_soft(&e, AMQPSoftError::NOTFOUND) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `error` is the broker's channel-level `code` (e.g. `NOT_FOUND`).
pub fn is_soft(error: &lapin::Error, code: AMQPSoftError) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(e) if *e.kind() == AMQPErrorKind::Soft(code)
    )
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
    let mut props = attempts::after_failure(properties, attempts, error);
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
