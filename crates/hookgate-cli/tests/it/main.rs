//! Integration tests of the `hookgate` binary itself, run as a child process against the
//! real Postgres and RabbitMQ: signals (SIGTERM under load, SIGHUP reload).

mod helpers;
mod process;
mod shutdown;
mod sighup;
