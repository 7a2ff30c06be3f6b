//! `hookgate bench`: hands over to the load generator of `hookgate-bench`; exits non-zero
//! when an acknowledged event was not delivered.

use std::process::ExitCode;

use hookgate_bench::BenchCommand;
use hookgate_core::{ProviderRegistry, config::Config};

/// Run the benchmark (or its `audit` subcommand).
pub fn run(
    config: &Config,
    registry: &ProviderRegistry,
    command: &BenchCommand,
) -> anyhow::Result<ExitCode> {
    let ok =
        actix_web::rt::System::new().block_on(hookgate_bench::main(config, registry, command))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
