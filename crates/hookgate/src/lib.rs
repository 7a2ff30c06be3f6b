//! hookgate server: wires the pure core to actix-web, Postgres (sqlx) and RabbitMQ (lapin).
//!
//! # Layout
//!
//! - [`app`]: [`app::Application`] builds every part from the config and runs it until a
//!   shutdown token is cancelled.
//! - [`db`]: the pool, database creation and the embedded migrations.
//! - [`store`]: every SQL statement on the `events` table (dedup + outbox).
//! - [`writer`]: the [`writer::BatchWriter`], group-committing verified events.
//! - [`relay`]: the [`relay::Relay`], publishing committed events with publisher confirms.
//! - [`broker`]: AMQP connection, topology and the mapping of the core message shape to
//!   AMQP properties.
//! - [`retention`]: purging old event keys and payloads.
//! - [`reload`]: hot reload of providers, secrets and limits.
//! - [`http`]: the actix handlers (ingest, health, metrics) and the one error-to-status map.
//! - [`metrics`]: the Prometheus registry.
//! - [`telemetry`]: `tracing` subscriber set-up.
//! - [`bench`]: the `hookgate bench` load generator and raw ceilings.
//!
//! Dependencies point one way: `hookgate-core` knows nothing of this crate, and the binary
//! (`main.rs` and [`cli`]) only calls into it.

pub mod app;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod db;
pub mod http;
pub mod metrics;
pub mod relay;
pub mod reload;
pub mod retention;
pub mod store;
pub mod telemetry;
pub mod writer;

/// Current unix time in seconds (the clock handed to the verifier).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
