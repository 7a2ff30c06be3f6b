//! Test support shared by every crate's integration tests (crates.io's test-db crate and
//! zero2prod's `spawn_app` are the models).
//!
//! # Layout
//!
//! - [`names`]: unique database, exchange and queue names that carry the test process's
//!   id, and [`names::sweep_leftovers`], which removes what crashed earlier runs left.
//! - [`database`]: [`database::TestDatabase`], created per test and dropped on `Drop`
//!   (also when the test panics).
//! - [`broker`]: [`broker::BrokerCleanup`] (exchanges and queues deleted on `Drop`) and
//!   [`broker::Inbox`], a test's own queue on an exchange.
//! - [`http`]: signed POSTs and decoded answers.
//! - [`gateway`]: [`gateway::Settings`] (the config of one test) and
//!   [`gateway::spawn_app`], an in-process gateway on port 0.
//! - [`wait`]: [`wait::eventually`], polling with a deadline instead of sleeping.

pub mod broker;
pub mod database;
pub mod gateway;
pub mod http;
pub mod names;
pub mod wait;

/// Postgres of the test machine (trust auth).
pub const PG: &str = "postgres://postgres@127.0.0.1:5432";
/// Its address, for TCP proxies.
pub const PG_ADDR: &str = "127.0.0.1:5432";
/// RabbitMQ of the test machine.
pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Its address, for TCP proxies.
pub const AMQP_ADDR: &str = "127.0.0.1:5672";

/// Run `cleanup` on a fresh runtime in its own thread: usable from `Drop`, inside or
/// outside a runtime, also while a test panics. Bounded, so a cleanup can never hang a
/// test run.
pub(crate) fn block_on_side<F>(cleanup: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let worker = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            let _ = rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(15), cleanup).await
            });
        }
    });
    let _ = worker.join();
}
