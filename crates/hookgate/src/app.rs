//! [`Application`]: builds the pool, writer, relay, retention task and HTTP server from a
//! validated config, and runs them until the shutdown token is cancelled.
//!
//! Shutdown order is what makes "acknowledged means durable" hold on SIGTERM: stop
//! accepting and let in-flight requests finish (each is answered only after its commit),
//! so the workers' writers end with their workers holding nothing acknowledged; then let
//! the relay publish what was handed to it and finish its confirms (and a last drain
//! round).

use std::{net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use hookgate_core::{ProviderRegistry, config::Config};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    console::ConsoleState,
    db, handoff, http,
    keys::KeyFetcher,
    limits::Limits,
    live::{LiveConfig, Snapshot},
    metrics::Metrics,
    rejections::RejectionLog,
    relay::{BrokerState, Relay},
    retention,
    state::AppState,
    writer::Writers,
};

/// After answering on a connection it closes (a 408, a refused body), how long actix
/// lingers, discarding what the client still sends, before it closes the socket: a
/// hostile client must not keep it much longer. Not shorter: actix computes the deadline
/// from its cached clock, refreshed every 500 ms, and a deadline that is already past when
/// the timer is set only fires at the client's next byte (measured: a 100 ms setting
/// closed trickling connections up to a full trickle interval late). 600 ms keeps the
/// deadline at least 100 ms ahead of a stale clock.
const CLIENT_DISCONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(600);

/// Longest wait for each background stage at shutdown.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Await `stage`, giving up (with a warning) after `limit`.
async fn bounded<F: std::future::Future>(name: &str, limit: std::time::Duration, stage: F) {
    if tokio::time::timeout(limit, stage).await.is_err() {
        tracing::warn!(
            stage = name,
            ?limit,
            "shutdown stage did not finish in time; continuing"
        );
    }
}

/// Start-up choices that are not part of the config file.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the database if missing and apply migrations before serving.
    pub migrate: bool,
    /// Admin API bearer token (resolved from `admin.token_env`); `None` keeps it off.
    pub admin_token: Option<secrecy::SecretString>,
    /// The config file, for hot reloads (SIGHUP, `POST /admin/reload`).
    pub config_path: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            migrate: true,
            admin_token: None,
            config_path: None,
        }
    }
}

/// A built, bound, not yet running gateway.
pub struct Application {
    port: u16,
    server: Server,
    pool: PgPool,
    metrics: Metrics,
    broker: BrokerState,
    writers: Writers,
    writer_stop: CancellationToken,
    relay_task: JoinHandle<()>,
    relay_stop: CancellationToken,
    retention_task: JoinHandle<()>,
    shutdown: CancellationToken,
    live: LiveConfig,
}

impl Application {
    /// Bind the listener and start the background parts. The gateway keeps running while
    /// the broker is down; the database must be reachable only when `migrate` is on.
    pub async fn build(
        config: Config,
        registry: ProviderRegistry,
        options: Options,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        for provider in registry.iter().filter(|p| p.has_inline_secrets()) {
            tracing::warn!(provider = %provider.name(), "inline secrets in the config file; use secrets_env in production");
        }
        if options.migrate {
            db::create_if_missing(&config.database.url).await?;
        }
        let pool = db::pool(&config.database)?;
        if options.migrate {
            db::migrate(&pool).await?;
        }
        // Inserts need the partitions of the current time: create them before serving. With
        // the database down, the retention task creates them once it is back.
        if let Err(e) = retention::prepare(&pool, &config.retention).await {
            if options.migrate {
                return Err(e).context("creating partitions");
            }
            tracing::warn!(error = %e, "cannot create partitions yet; will retry");
        }
        let config = Arc::new(config);
        let metrics = Metrics::new();
        let broker = BrokerState::default();

        let (handoff, committed) = handoff::channel(config.relay.backpressure_wait);
        let writer_stop = CancellationToken::new();
        // Each server worker starts its own writer (on its own thread) as it builds its app.
        let workers = match config.server.workers {
            0 => std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(hookgate_core::config::MAX_WORKERS),
            n => n,
        };
        let writers = Writers::new(
            db::options(&config.database.url)?,
            config.database.acquire_timeout,
            &config.writer,
            workers,
            metrics.clone(),
            handoff.clone(),
            writer_stop.clone(),
        );
        let relay = Relay::new(
            pool.clone(),
            config.clone(),
            metrics.clone(),
            (handoff, committed),
            broker.clone(),
        );
        let relay_stop = CancellationToken::new();
        let relay_task = tokio::spawn(relay.run(relay_stop.clone()));
        let retention_task = tokio::spawn(retention::run(
            pool.clone(),
            config.retention.clone(),
            metrics.clone(),
            shutdown.child_token(),
        ));

        let listener = TcpListener::bind(&config.server.listen)
            .with_context(|| format!("binding server.listen = {}", config.server.listen))?;
        let port = listener.local_addr()?.port();
        let limits = Limits::new(&config.server, &registry);
        let live = LiveConfig::new(Snapshot { registry, limits }, options.config_path.clone());
        let admin_token = options.admin_token.clone().map(Arc::new);
        if admin_token.is_some() {
            tracing::info!("admin API and console (/console) enabled");
        }
        let keys = KeyFetcher::new(metrics.keys.clone());
        let rejections = RejectionLog::new(&config);
        let console = Arc::new(ConsoleState::new(config.amqp.routing_key.clone()));
        let server_writers = writers.clone();
        let (server_live, server_pool, server_broker, server_metrics) =
            (live.clone(), pool.clone(), broker.clone(), metrics.clone());
        // One listener: actix calls the factory once per worker and listener, so a second
        // listener would start a second writer per worker.
        let server = HttpServer::new(move || {
            // Called on each worker's thread, in its runtime: its writer runs there too.
            let state = AppState {
                live: server_live.clone(),
                writer: server_writers.start(),
                pool: server_pool.clone(),
                broker: server_broker.clone(),
                metrics: server_metrics.clone(),
                admin_token: admin_token.clone(),
                keys: keys.clone(),
                rejections: rejections.clone(),
                console: console.clone(),
            };
            App::new()
                .app_data(web::Data::new(state))
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_timeout.as_secs())
        .max_connections(config.server.max_connections)
        .client_request_timeout(config.server.client_request_timeout)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        .keep_alive(config.server.keep_alive);
        tracing::info!(port, "listening");
        Ok(Self {
            port,
            server: server.run(),
            pool,
            metrics,
            broker,
            writers,
            writer_stop,
            relay_task,
            relay_stop,
            retention_task,
            shutdown,
            live,
        })
    }

    /// The bound port (useful with `listen = "127.0.0.1:0"`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool the gateway uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The hot-reloadable part of the config (for SIGHUP).
    pub fn live_config(&self) -> &LiveConfig {
        &self.live
    }

    /// The relay's broker state.
    pub fn broker(&self) -> &BrokerState {
        &self.broker
    }

    /// Serve until the shutdown token is cancelled, then stop in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let shutdown = self.shutdown.clone();
        let stopper = tokio::spawn(async move {
            shutdown.cancelled().await;
            tracing::info!("shutting down: finishing in-flight requests");
            handle.stop(true).await;
        });
        let served = self.server.await;
        self.shutdown.cancel();
        let _ = stopper.await;
        // Every stage after the HTTP server is bounded: what is not done in time stays in
        // the outbox (nothing acknowledged is lost), and the log says which stage overran.
        // The workers have stopped, and their writers with them; a writer whose worker is
        // still running commits what it holds and ends.
        tracing::info!("waiting for the writers");
        self.writer_stop.cancel();
        bounded("writer", DRAIN_LIMIT, self.writers.stopped()).await;
        tracing::info!("draining the relay");
        self.relay_stop.cancel();
        bounded("relay", DRAIN_LIMIT, self.relay_task).await;
        bounded("retention", DRAIN_LIMIT, self.retention_task).await;
        bounded("database pool", DRAIN_LIMIT, self.pool.close()).await;
        tracing::info!("stopped");
        served.context("HTTP server failed")
    }
}
