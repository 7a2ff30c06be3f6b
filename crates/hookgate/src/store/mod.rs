//! Every SQL statement, by concern. The tables are `events` (dedup key and payload, unique
//! on `(provider, event_id)`) and `outbox` (one row per event not yet confirmed by the
//! broker); see `migrations/`.
//!
//! - [`events`]: the writer's group-committed insert (hot path).
//! - [`outbox`]: the relay's recovery sweep (claim by lease), the batched deletes after
//!   confirms, defers of returned and nacked rows, and the backlog figures.
//! - [`retention`]: purging expired keys and payloads.
//! - [`admin`]: listings, lookups and replays for operators.

pub mod admin;
pub mod events;
pub mod outbox;
pub mod retention;

pub use admin::{EventFilter, EventSummary, ReplayCount};
pub use events::NewEvent;
pub use outbox::OutboxRow;
