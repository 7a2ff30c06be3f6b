//! Command line: `hookgate [--config PATH] <command>` (SPEC §5). Each subcommand is a thin
//! edge that loads the config and calls into the library.

mod replay;
pub mod sign;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookgate_core::config;
use tokio_util::sync::CancellationToken;

use crate::app::{Application, Options};

/// hookgate: verify, deduplicate and publish inbound webhooks.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Config file.
    #[arg(long, global = true, env = "HOOKGATE_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if needed, migrate, declare the AMQP topology and serve.
    Serve {
        /// Do not create the database or apply migrations.
        #[arg(long)]
        no_migrate: bool,
    },
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
    Bench(crate::bench::BenchArgs),
    /// Drain a queue, writing each message's ID (fault-injection audits).
    #[command(hide = true)]
    AuditQueue(crate::bench::audit::AuditArgs),
    /// GET a URL and exit 0 on a 2xx answer (container health checks).
    Healthcheck {
        /// URL to probe.
        #[arg(default_value = "http://127.0.0.1:8080/health/ready")]
        url: String,
    },
}

/// Parse arguments, run the command, map errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(
    path: &std::path::Path,
) -> anyhow::Result<(config::Config, hookgate_core::ProviderRegistry)> {
    config::load(path).with_context(|| format!("invalid configuration ({})", path.display()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { no_migrate } => {
            let (config, registry) = load(&cli.config)?;
            tokio_runtime()?.block_on(serve(config, registry, !no_migrate, cli.config.clone()))?;
        }
        Command::Migrate => {
            let (config, _) = load(&cli.config)?;
            tokio_runtime()?.block_on(async {
                crate::db::create_if_missing(&config.database.url).await?;
                let pool = crate::db::pool(&config.database)?;
                crate::db::migrate(&pool).await?;
                println!("migrations applied");
                anyhow::Ok(())
            })?;
        }
        Command::CheckConfig => {
            let (config, registry) = load(&cli.config)?;
            let names: Vec<_> = registry.iter().map(|p| p.name().to_string()).collect();
            println!(
                "config OK: {} provider(s) [{}], exchange {:?}",
                names.len(),
                names.join(", "),
                config.amqp.exchange
            );
        }
        Command::Sign(args) => {
            let (config, registry) = load(&cli.config)?;
            sign::sign(&config, &registry, &args)?;
        }
        Command::Send(args) => {
            let (config, registry) = load(&cli.config)?;
            return actix_web::rt::System::new().block_on(sign::send(&config, &registry, &args));
        }
        Command::Replay(args) => {
            let (config, _) = load(&cli.config)?;
            tokio_runtime()?.block_on(replay::run(&config, &args))?;
        }
        Command::Bench(args) => {
            let (config, registry) = load(&cli.config)?;
            let report = actix_web::rt::System::new()
                .block_on(crate::bench::run(&config, &registry, &args))?;
            let lost = report.delivery.map(|d| d.missing).unwrap_or(0);
            if lost > 0 {
                eprintln!("{lost} acknowledged event(s) were not delivered");
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::AuditQueue(args) => {
            let (config, _) = load(&cli.config)?;
            let n = tokio_runtime()?.block_on(crate::bench::audit::run(&config.amqp.url, &args))?;
            eprintln!("{n} message(s) drained from {}", args.queue);
        }
        Command::Healthcheck { url } => {
            return actix_web::rt::System::new().block_on(healthcheck(&url));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn serve(
    config: config::Config,
    registry: hookgate_core::ProviderRegistry,
    migrate: bool,
    path: std::path::PathBuf,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let options = Options {
        migrate,
        admin_token: config.admin.token(|name| std::env::var(name).ok()),
        config_path: Some(path),
    };
    let app = Application::build(config, registry, options, shutdown.clone()).await?;
    let live = app.live_config().clone();
    tokio::spawn(reload_on_sighup(live));
    tokio::spawn(async move {
        wait_for_signal().await;
        shutdown.cancel();
    });
    app.run_until_stopped().await
}

/// SIGHUP reloads providers, secrets and limits; an invalid file is logged and ignored.
async fn reload_on_sighup(live: crate::reload::LiveConfig) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match live.reload() {
            Ok(providers) => tracing::info!(?providers, "configuration reloaded (SIGHUP)"),
            Err(e) => {
                tracing::error!(error = %e, "configuration reload refused; keeping the current one")
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn healthcheck(url: &str) -> anyhow::Result<ExitCode> {
    let response = awc::Client::default()
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
    Ok(if response.status().is_success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{url}: {}", response.status());
        ExitCode::FAILURE
    })
}
