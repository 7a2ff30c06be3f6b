//! The message contract between the hookgate gateway and its consumers, defined once.
//!
//! The gateway publishes with it and the consumer crate reads with it, so the two sides
//! cannot drift apart (the shape svix-bridge gives its shared `svix-bridge-types` crate).
//! It owns what a message on RabbitMQ looks like and how the queues around it are named and
//! declared; it opens no connection. Routing keys are not here: they are rendered from the
//! configured template by `hookgate-core`.
//!
//! # Layout
//!
//! - [`headers`]: every header name: the CloudEvents AMQP binding (binary mode),
//!   `hookgate-provider`, and the consumer's retry bookkeeping.
//! - [`envelope`]: the [`Envelope`] of one event and its mapping to AMQP properties (what the
//!   gateway publishes) and back (what a consumer reads); `APP_ID` and the persistent
//!   delivery mode.
//! - [`attempts`]: the consumer's attempt counter and last error on a retried message.
//! - [`queues`]: queue naming (`<q>.dlq`, `<q>.retry.<n>`) and the arguments of each queue
//!   role, so whichever side declares a queue first declares it identically.

pub mod attempts;
pub mod envelope;
pub mod headers;
pub mod queues;

pub use envelope::{APP_ID, Envelope, PERSISTENT};
pub use queues::{QueueKind, dead_letter_queue, retry_queue};
