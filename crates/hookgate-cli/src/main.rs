//! The `hookgate` binary: `hookgate [--config PATH] <command>` (the README's "Command
//! line"). Each subcommand is one file under [`commands`], a thin edge that loads the
//! config and calls into the server library (`hookgate`) or the load generator
//! (`hookgate-bench`). [`guide`] renders the README's provider guide from the presets.

mod capture;
mod commands;
mod guide;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookgate_core::{ProviderRegistry, config};

use commands::{
    bench, check_config, explain, healthcheck, migrate, presets, replay, send, serve, sign,
};

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
    Send(send::SendArgs),
    /// Republish stored events (within retention) through the outbox.
    Replay(replay::ReplayArgs),
    /// Signed load against a running gateway, with delivery check and raw ceilings.
    Bench(Box<hookgate_bench::BenchCommand>),
    /// GET a URL and exit 0 on a 2xx answer (container health checks).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// List every preset: name, aliases, scheme, signature header, handshake.
    Presets(presets::PresetsArgs),
    /// Say which check a captured request passes or fails, and why (no secrets printed).
    Explain(explain::ExplainArgs),
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
    let path = cli.config;
    match cli.command {
        // The health probe and the preset listing need no valid config (so no secrets).
        Command::Healthcheck(args) => healthcheck::run(&args),
        Command::Presets(args) => presets::run(&path, &args),
        Command::Serve(args) => {
            let (config, registry) = load(&path)?;
            serve::run(config, registry, &args, path)
        }
        Command::Migrate => migrate::run(&load(&path)?.0),
        Command::CheckConfig => {
            let (config, registry) = load(&path)?;
            check_config::run(&config, &registry)
        }
        Command::Sign(args) => {
            let (config, registry) = load(&path)?;
            sign::run(&config, &registry, &args)
        }
        Command::Send(args) => {
            let (config, registry) = load(&path)?;
            send::run(&config, &registry, &args)
        }
        Command::Replay(args) => replay::run(&load(&path)?.0, &args),
        Command::Explain(args) => {
            let (_, registry) = load(&path)?;
            explain::run(&path, &registry, &args)
        }
        Command::Bench(args) => {
            let (config, registry) = load(&path)?;
            bench::run(&config, &registry, &args)
        }
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
