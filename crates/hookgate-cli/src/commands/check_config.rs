//! `hookgate check-config`: the config and the secrets it names are valid (loading them
//! already checked everything); print a summary.

use std::process::ExitCode;

use hookgate_core::{ProviderRegistry, config::Config};

/// Print what was validated.
pub fn run(config: &Config, registry: &ProviderRegistry) -> anyhow::Result<ExitCode> {
    let names = registry.names();
    println!(
        "config OK: {} provider(s) [{}], exchange {:?}",
        names.len(),
        names.join(", "),
        config.amqp.exchange
    );
    Ok(ExitCode::SUCCESS)
}
