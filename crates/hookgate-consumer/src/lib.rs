//! Consume the queues hookgate publishes to.
//!
//! One async handler per event type (the handler-registry pattern of the providers'
//! documentation), a fallback for unknown types (logged and acked by default), ack on
//! success, retries with exponential backoff through per-attempt retry queues, a dead-letter
//! queue after N attempts, and idempotency by `message_id`.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use hookgate_consumer::{Consumer, Event};
//! use tokio_util::sync::CancellationToken;
//!
//! let consumer = Consumer::builder("amqp://guest:guest@127.0.0.1:5672/%2f", "billing")
//!     .on("invoice.paid", |event: Event| async move {
//!         let invoice: serde_json::Value = event.json()?;
//!         println!("paid: {}", invoice["id"]);
//!         Ok(())
//!     })
//!     .max_attempts(5)
//!     .build();
//! consumer.run(CancellationToken::new()).await
//! # }
//! ```
//!
//! # Layout
//!
//! - [`event`]: the typed [`Event`] built from a hookgate message.
//! - [`consumer`]: [`Consumer`], its builder and the delivery loop.
//! - [`retry`]: the retry/dead-letter topology and republishing.
//! - [`contract`]: the message contract shared with the gateway (`hookgate-contract`):
//!   header names, the property mapping, queue names and arguments.
//! - [`idempotency`]: the [`IdempotencyStore`] trait, a bounded in-memory store and a
//!   Postgres store.

pub mod consumer;
pub mod event;
pub mod idempotency;
pub mod retry;

/// The message contract shared with the gateway.
pub use hookgate_contract as contract;

pub use consumer::{Consumer, ConsumerBuilder, HandlerError};
pub use event::Event;
pub use idempotency::{IdempotencyStore, MemoryStore, PostgresStore};
