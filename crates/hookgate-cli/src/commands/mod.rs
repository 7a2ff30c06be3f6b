//! One file per subcommand.

pub mod bench;
pub mod check_config;
pub mod healthcheck;
pub mod migrate;
pub mod replay;
pub mod serve;
pub mod sign;
