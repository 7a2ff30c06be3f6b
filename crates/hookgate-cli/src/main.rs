//! The `hookgate` binary: `hookgate [--config PATH] <command>` (the README's "Command
//! line"). Each subcommand is one file under [`commands`], a thin edge that loads the
//! config and calls into the server library (`hookgate`) or the load generator
//! (`hookgate-bench`).

mod commands;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookgate_core::{ProviderRegistry, config};

use commands::{bench, check_config, healthcheck, migrate, replay, serve, sign};

/// hookgate: verify, deduplicate and publish inbound webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookgate", version, about)]
struct Cli {
    /// Config file.
    #[arg(long, global = true, env = "HOOKGATE_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database if needed, migrate, declare the AMQP topology and serve.
    Serve(serve::ServeArgs),
    /// Create the database if needed and apply the migrations.
    Migrate,
    /// Validate the config and the secrets it names; exit non-zero with the reason.
    CheckConfig,
    /// Print the headers and a curl line of a correctly signed request.
    Sign(sign::SignArgs),
    /// Send one signed test event to a running gateway and print the answer.
    Send(sign::SendArgs),
    /// Republish stored events (within retention) through the outbox.
    Replay(replay::ReplayArgs),
    /// Signed load against a running gateway, with delivery check and raw ceilings.
    Bench(hookgate_bench::BenchCommand),
    /// GET a URL and exit 0 on a 2xx answer (container health checks).
    Healthcheck(healthcheck::HealthcheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    hookgate::telemetry::init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Load and validate the config file.
fn load(path: &std::path::Path) -> anyhow::Result<(config::Config, ProviderRegistry)> {
    config::load(path).with_context(|| format!("invalid configuration ({})", path.display()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The health probe needs no config (and so no secrets).
    if let Command::Healthcheck(args) = &cli.command {
        return healthcheck::run(args);
    }
    let (config, registry) = load(&cli.config)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, registry, &args, cli.config),
        Command::Migrate => migrate::run(&config),
        Command::CheckConfig => check_config::run(&config, &registry),
        Command::Sign(args) => sign::sign(&config, &registry, &args),
        Command::Send(args) => sign::send(&config, &registry, &args),
        Command::Replay(args) => replay::run(&config, &args),
        Command::Bench(args) => bench::run(&config, &registry, &args),
        Command::Healthcheck(_) => unreachable!("answered above"),
    }
}

/// A multi-threaded tokio runtime for the commands that need one.
fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
