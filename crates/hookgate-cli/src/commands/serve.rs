//! `hookgate serve`: build the [`Application`] and run it until SIGTERM or Ctrl-C; SIGHUP
//! reloads providers, secrets and limits.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;
use hookgate::{
    app::{Application, Options},
    live::LiveConfig,
};
use hookgate_core::{ProviderRegistry, config::Config};
use tokio_util::sync::CancellationToken;

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Do not create the database or apply migrations.
    #[arg(long)]
    no_migrate: bool,
}

/// Serve until a termination signal.
pub fn run(
    config: Config,
    registry: ProviderRegistry,
    args: &ServeArgs,
    path: PathBuf,
) -> anyhow::Result<ExitCode> {
    crate::tokio_runtime()?.block_on(serve(config, registry, !args.no_migrate, path))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    config: Config,
    registry: ProviderRegistry,
    migrate: bool,
    path: PathBuf,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let options = Options {
        migrate,
        admin_token: config.admin.token(|name| std::env::var(name).ok()),
        config_path: Some(path),
    };
    let app = Application::build(config, registry, options, shutdown.clone()).await?;
    tokio::spawn(reload_on_sighup(app.live_config().clone()));
    tokio::spawn(async move {
        wait_for_signal().await;
        shutdown.cancel();
    });
    app.run_until_stopped().await
}

/// SIGHUP reloads providers, secrets and limits; an invalid file is logged and ignored.
async fn reload_on_sighup(live: LiveConfig) {
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
