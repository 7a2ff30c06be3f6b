//! One file per subcommand.

pub mod bench;
pub mod check_config;
pub mod explain;
pub mod healthcheck;
pub mod migrate;
pub mod presets;
pub mod replay;
pub mod send;
pub mod serve;
pub mod sign;
