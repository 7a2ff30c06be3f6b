//! Queue naming and queue arguments for every queue role around a work queue `Q`:
//!
//! - `Q`, the work queue the gateway binds to its exchange; with a DLQ it dead-letters
//!   messages the broker rejects (e.g. `basic.reject` without requeue) to `Q.dlq`.
//! - `Q.dlq` ([`dead_letter_queue`]): where messages end after the consumer's last attempt.
//! - `Q.retry.<n>` ([`retry_queue`]): where the consumer parks a message after its n-th
//!   failure, with a per-message TTL; on expiry RabbitMQ dead-letters it back to `Q`.
//!
//! RabbitMQ refuses to re-declare a queue with different arguments (`PRECONDITION_FAILED`,
//! which also closes the channel), so the gateway and the consumer take the arguments of
//! each role from one function here, with the same [`QueueKind`].

use lapin::{options::QueueDeclareOptions, types::FieldTable};

use crate::headers::long;

/// Queue argument selecting the queue type.
pub const QUEUE_TYPE: &str = "x-queue-type";
/// Queue argument: the exchange rejected or expired messages are republished to.
pub const DEAD_LETTER_EXCHANGE: &str = "x-dead-letter-exchange";
/// Queue argument: the routing key they are republished with.
pub const DEAD_LETTER_ROUTING_KEY: &str = "x-dead-letter-routing-key";

/// The RabbitMQ queue type of a work queue and the queues around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueKind {
    /// A classic queue (RabbitMQ's default; no `x-queue-type` argument).
    #[default]
    Classic,
    /// A replicated quorum queue (`x-queue-type=quorum`).
    Quorum,
}

impl QueueKind {
    /// The kind selected by a `quorum = true/false` setting.
    pub fn from_quorum(quorum: bool) -> Self {
        if quorum { Self::Quorum } else { Self::Classic }
    }

    fn arguments(self) -> FieldTable {
        let mut args = FieldTable::default();
        if self == Self::Quorum {
            args.insert(QUEUE_TYPE.into(), long("quorum"));
        }
        args
    }
}

/// Name of the dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Name of the queue holding messages of `queue` that failed `attempt` times.
pub fn retry_queue(queue: &str, attempt: u32) -> String {
    format!("{queue}.retry.{attempt}")
}

/// Declare options of every hookgate queue: durable, shared, kept when unused.
pub fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Arguments of the work queue `queue`; with `dead_letter`, rejected messages go to
/// [`dead_letter_queue`]`(queue)`.
pub fn work_queue_arguments(queue: &str, kind: QueueKind, dead_letter: bool) -> FieldTable {
    let mut args = kind.arguments();
    if dead_letter {
        dead_letter_to(&mut args, &dead_letter_queue(queue));
    }
    args
}

/// Arguments of a dead-letter queue.
pub fn dead_letter_queue_arguments(kind: QueueKind) -> FieldTable {
    kind.arguments()
}

/// Arguments of every retry queue of `queue`: expired messages return to `queue` through
/// the default exchange. Quorum retry queues work as well as classic ones: RabbitMQ (3.10
/// and later) honours per-message TTL and dead-letters on expiry in quorum queues too.
pub fn retry_queue_arguments(queue: &str, kind: QueueKind) -> FieldTable {
    let mut args = kind.arguments();
    dead_letter_to(&mut args, queue);
    args
}

/// Dead-letter through the default exchange, which routes by queue name.
fn dead_letter_to(args: &mut FieldTable, queue: &str) {
    args.insert(DEAD_LETTER_EXCHANGE.into(), long(""));
    args.insert(DEAD_LETTER_ROUTING_KEY.into(), long(queue));
}

#[cfg(test)]
mod tests {
    use lapin::types::AMQPValue;

    use super::*;

    fn get<'a>(args: &'a FieldTable, name: &str) -> Option<&'a AMQPValue> {
        args.inner().get(name)
    }

    #[test]
    fn names_hang_off_the_work_queue() {
        assert_eq!(dead_letter_queue("billing"), "billing.dlq");
        assert_eq!(retry_queue("billing", 3), "billing.retry.3");
    }

    #[test]
    fn a_work_queue_with_a_dlq_dead_letters_to_it() {
        let args = work_queue_arguments("billing", QueueKind::Classic, true);
        assert_eq!(get(&args, DEAD_LETTER_EXCHANGE), Some(&long("")));
        assert_eq!(
            get(&args, DEAD_LETTER_ROUTING_KEY),
            Some(&long("billing.dlq"))
        );
        assert_eq!(get(&args, QUEUE_TYPE), None);
        assert!(
            work_queue_arguments("billing", QueueKind::Classic, false)
                .inner()
                .is_empty()
        );
    }

    #[test]
    fn quorum_applies_to_every_role() {
        let quorum = Some(long("quorum"));
        let q = QueueKind::from_quorum(true);
        assert_eq!(q, QueueKind::Quorum);
        assert_eq!(
            get(&work_queue_arguments("w", q, false), QUEUE_TYPE).cloned(),
            quorum
        );
        assert_eq!(
            get(&work_queue_arguments("w", q, true), QUEUE_TYPE).cloned(),
            quorum
        );
        assert_eq!(
            get(&dead_letter_queue_arguments(q), QUEUE_TYPE).cloned(),
            quorum
        );
        assert_eq!(
            get(&retry_queue_arguments("w", q), QUEUE_TYPE).cloned(),
            quorum
        );
        assert!(
            dead_letter_queue_arguments(QueueKind::from_quorum(false))
                .inner()
                .is_empty()
        );
    }

    #[test]
    fn retry_queues_return_expired_messages_to_the_work_queue() {
        let args = retry_queue_arguments("billing", QueueKind::Classic);
        assert_eq!(get(&args, DEAD_LETTER_EXCHANGE), Some(&long("")));
        assert_eq!(get(&args, DEAD_LETTER_ROUTING_KEY), Some(&long("billing")));
        assert_eq!(args.inner().len(), 2);
        assert!(durable().durable);
    }
}
