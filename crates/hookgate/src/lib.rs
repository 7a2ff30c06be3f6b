//! hookgate server: the running gateway. It wires the pure `hookgate-core` to actix-web,
//! Postgres (sqlx) and RabbitMQ (lapin).
//!
//! # Layout
//!
//! The data path, in the order an event takes it:
//!
//! 1. [`ingress`]: `POST /webhooks/{provider}`: limits, raw body, verification, answer.
//! 2. [`writer`]: the [`writer::BatchWriter`], group-committing verified events into the
//!    `events` table and the `outbox` ([`store::events`]); one per server worker, on its
//!    thread ([`writer::Writers`]).
//! 3. [`handoff`]: the bounded channel by which the writer hands each committed batch (with
//!    its bodies) to the relay.
//! 4. [`relay`]: the [`relay::Relay`], publishing handed-over batches with publisher
//!    confirms, and sweeping the outbox ([`store::outbox`]) for what that path missed.
//! 5. [`broker`]: AMQP connection, topology and the mapping of an event to a message.
//!
//! Around it:
//!
//! - [`app`]: [`app::Application`] builds every part from the config and runs it until a
//!   shutdown token is cancelled.
//! - [`store`]: every SQL statement, one file per concern.
//! - [`retention`]: the periodic purge of expired keys and payloads.
//! - [`live`]: the hot-reloadable config snapshot; [`limits`]: the pre-body abuse limits.
//! - [`http`]: the route table, health, metrics and the admin API; [`state`]: what every
//!   handler can reach; [`filter`]: the event filter operators give.
//! - [`keys`]: the key material fetched for `aws-sns`, `google-pubsub` and `paypal`
//!   (client, cache, metrics).
//! - [`db`]: the pool, database creation and the embedded migrations.
//! - [`metrics`]: the Prometheus registry; [`telemetry`]: the `tracing` subscriber.
//! - [`console`]: the operator console (`/console`), reading [`traffic`] (answers per
//!   provider over the last day) and [`rejections`] (recent refused requests, in memory).
//!
//! Dependencies point one way: `hookgate-core` knows nothing of this crate, and the
//! binary (`hookgate-cli`) and the load generator (`hookgate-bench`) only call into it.

pub mod app;
pub mod broker;
pub mod console;
pub mod db;
pub mod filter;
pub mod handoff;
pub mod http;
pub mod ingress;
pub mod keys;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod rejections;
pub mod relay;
pub mod retention;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod traffic;
pub mod writer;

/// Current unix time in seconds (the clock handed to the verifier).
pub fn unix_now() -> i64 {
    unix_now_us() / 1_000_000
}

/// Current unix time in microseconds (receive times, lags, pinned replay ranges).
pub fn unix_now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}
