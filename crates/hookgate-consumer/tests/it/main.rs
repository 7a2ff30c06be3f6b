//! Consumer behaviour against the real RabbitMQ (and Postgres for the idempotency store):
//! the handler registry, retries with backoff, dead-lettering, idempotency by message_id,
//! graceful shutdown, and the message contract shared with the gateway. Each test has its
//! own queues (and exchange, and database) and deletes them when it ends, also on panic.

mod contract;
mod helpers;
mod idempotency;
mod registry;
mod retry;
mod shutdown;
