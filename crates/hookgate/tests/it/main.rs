//! Integration tests of the running gateway against the real Postgres and RabbitMQ. Every
//! test gets its own database, exchange and queue, so they run in parallel.

mod admin;
mod console;
mod delivery;
mod docs;
mod faults;
mod fetched_keys;
mod handshakes;
mod helpers;
mod http_api;
mod limits;
mod log_audit;
mod proxy;
mod relay;
mod reload;
mod slow_clients;
mod storage;
