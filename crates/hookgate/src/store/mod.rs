//! Every SQL statement, by concern. The tables are `event_keys` (dedup keys, partitioned by
//! key bucket), `event_records` and `event_payloads` (metadata and bodies, partitioned by
//! time), the view `events` over those two, and `outbox` (one row per event not yet
//! confirmed by the broker); see `migrations/`.
//!
//! - [`events`]: the writer's group-committed insert (hot path).
//! - [`outbox`]: the relay's recovery sweep (claim by lease), the batched deletes after
//!   confirms, defers of returned and nacked rows, and the backlog figures.
//! - [`partitions`]: creating partitions ahead and retiring expired ones.
//! - [`retention`]: retention's checks on the outbox (unpublished events hold a partition).
//! - [`footprint`]: bytes on disk per table.
//! - [`admin`]: listings, lookups and replays for operators.

pub mod admin;
pub mod events;
pub mod footprint;
pub mod outbox;
pub mod partitions;
pub mod retention;

pub use admin::{EventFilter, EventSummary, ReplayCount};
pub use events::NewEvent;
pub use outbox::OutboxRow;
