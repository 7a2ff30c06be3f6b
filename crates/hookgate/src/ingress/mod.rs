//! Stage 1 of the data path, `POST /webhooks/{provider}`: find the provider, check the
//! limits, read the raw body within `max_body`, verify it, hand it to the
//! [`crate::writer`] and answer once it is durable.
//!
//! - [`handler`]: the request handler (routed by [`crate::http`]) and its outcome metrics.
//! - [`body`]: reading the body within its size limit.
//! - [`error`]: the one mapping from an ingest failure to its HTTP status and JSON code.

mod body;
mod error;
mod handler;

pub use error::{IngestError, RETRY_AFTER_SECS};
pub use handler::ingest;
