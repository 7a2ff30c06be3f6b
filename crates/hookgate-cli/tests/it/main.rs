//! Integration tests of the `hookgate` binary itself, run as a child process: signals
//! against the real Postgres and RabbitMQ (SIGTERM under load, SIGHUP reload), and the
//! commands that need no services (`presets`, `sign`, `explain`).

mod cli;
mod explain;
mod helpers;
mod presets;
mod process;
mod shutdown;
mod sighup;
mod sign;
