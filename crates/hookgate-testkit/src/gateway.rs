//! A gateway for one test: [`Settings`] (its config, with its own database and exchange),
//! [`spawn_app`] (in process, on port 0) and [`TestApp`] (signing, posting, inspecting,
//! stopping). Database, exchange and configured queues are removed when the app is
//! stopped or dropped, also when the test panics.

use std::time::Duration;

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate::app::{Application, Options};
use hookgate_core::{ProviderRegistry, config::Config};
use tokio_util::sync::CancellationToken;

use crate::{
    AMQP, PG,
    broker::BrokerCleanup,
    database::{DropDatabaseOnExit, TestDatabase},
    http::{Answer, answer, post},
    names::{self, unique},
    wait::eventually,
};

/// Secret of the `groq` and `small` test providers.
pub const GROQ_SECRET: &str = "test-groq-secret";

/// Per-test knobs: the config of one test gateway.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct Settings {
    pub database: String,
    pub exchange: String,
    pub db_url: String,
    pub amqp_url: String,
    pub batch_max: usize,
    pub queue_capacity: usize,
    pub writer_concurrency: usize,
    /// Admin token handed to the gateway (the binary reads it from `admin.token_env`).
    pub admin_token: Option<String>,
    /// Extra `[server]` lines.
    pub server_extra: String,
    /// Extra `[relay]` lines.
    pub relay_extra: String,
    /// Extra tables appended to the config.
    pub tables_extra: String,
    /// Config file for hot reloads.
    pub config_path: Option<std::path::PathBuf>,
    /// actix worker threads (1 keeps most tests light).
    pub workers: usize,
    /// Variables the config's `*_env` fields may name, seen only by this gateway (the
    /// process environment is the fallback).
    pub env: std::collections::BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self::new()
    }
}

impl Settings {
    /// Fresh unique names, the default knobs.
    pub fn new() -> Self {
        let database = unique(names::DATABASE_PREFIX);
        Self {
            db_url: format!("{PG}/{database}"),
            exchange: unique("hookgate.test"),
            database,
            amqp_url: AMQP.into(),
            batch_max: 256,
            queue_capacity: 1024,
            writer_concurrency: 2,
            admin_token: None,
            server_extra: String::new(),
            relay_extra: String::new(),
            tables_extra: String::new(),
            config_path: None,
            workers: 1,
            env: Default::default(),
        }
    }

    /// The config file text.
    pub fn toml(&self) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
workers = {workers}
shutdown_timeout = "10s"
{server_extra}

[database]
url = "{db}"
pool_max = 4
acquire_timeout = "500ms"

[amqp]
url = "{amqp}"
exchange = "{exchange}"

[writer]
batch_max = {batch}
queue_capacity = {cap}
concurrency = {conc}

[relay]
sweep_interval = "100ms"
reconnect_backoff = "50ms"
{relay_extra}

[providers.groq]
preset = "groq"
secrets = ["{GROQ_SECRET}"]

[providers.small]
preset = "groq"
max_body = "1KiB"
secrets = ["{GROQ_SECRET}"]

[providers.github]
preset = "github"
secrets = ["gh-secret"]

{tables_extra}
"#,
            db = self.db_url,
            amqp = self.amqp_url,
            exchange = self.exchange,
            batch = self.batch_max,
            cap = self.queue_capacity,
            conc = self.writer_concurrency,
            server_extra = self.server_extra,
            relay_extra = self.relay_extra,
            workers = self.workers,
            tables_extra = self.tables_extra,
        )
    }

    /// Guards that remove this test's database, exchange and configured queues when
    /// dropped, for a gateway run as a separate process.
    pub fn cleanup_on_exit(&self) -> (DropDatabaseOnExit, BrokerCleanup) {
        let (config, _) = self.config();
        (
            DropDatabaseOnExit(self.database.clone()),
            broker_cleanup(&config),
        )
    }

    /// The parsed config and its providers.
    pub fn config(&self) -> (Config, ProviderRegistry) {
        let config: Config = Figment::from(Toml::string(&self.toml()))
            .extract()
            .expect("test config parses");
        let registry = config
            .validate(|name| {
                self.env
                    .get(name)
                    .cloned()
                    .or_else(|| std::env::var(name).ok())
            })
            .expect("test config is valid");
        (config, registry)
    }
}

/// A running in-process gateway.
pub struct TestApp {
    /// The bound port.
    pub port: u16,
    /// What it was started with.
    pub settings: Settings,
    /// Its providers (for signing).
    pub registry: ProviderRegistry,
    /// The test database, with a direct pool (not through any proxy).
    pub db: TestDatabase,
    /// The gateway's metrics.
    pub metrics: hookgate::metrics::Metrics,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped after `db`'s pool users: deletes the exchange and configured queues.
    _broker: BrokerCleanup,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Create the test database and schema directly, then start a gateway on `settings`
/// (whose URLs may point through a proxy).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let db = TestDatabase::create_named(settings.database.clone()).await;
    let (config, registry) = settings.config();
    let broker = broker_cleanup(&config);
    let shutdown = CancellationToken::new();
    let app = Application::build(
        config,
        registry.clone(),
        Options {
            migrate: false,
            admin_token: settings.admin_token.clone().map(Into::into),
            config_path: settings.config_path.clone(),
        },
        shutdown.clone(),
    )
    .await
    .expect("gateway builds");
    let port = app.port();
    let metrics = app.metrics().clone();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        port,
        settings,
        registry,
        db,
        metrics,
        shutdown,
        task: Some(task),
        _broker: broker,
    }
}

/// The exchange and configured queues (with their DLQs) of `config`, deleted on drop.
fn broker_cleanup(config: &Config) -> BrokerCleanup {
    let mut broker = BrokerCleanup::new();
    broker.exchange(config.amqp.exchange.clone());
    for queue in &config.amqp.queues {
        broker.queue(queue.name.clone());
        broker.queue(format!("{}.dlq", queue.name));
    }
    broker
}

/// A gateway on fresh [`Settings`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::new()).await
}

impl TestApp {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A signed request for `provider` with event `id` and `event_type`.
    pub fn signed(
        &self,
        provider: &str,
        id: &str,
        event_type: &str,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        self.signed_sized(provider, id, event_type, 256)
    }

    /// [`Self::signed`] with a body of about `size` bytes.
    pub fn signed_sized(
        &self,
        provider: &str,
        id: &str,
        event_type: &str,
        size: usize,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let p = self.registry.get(provider).expect("provider");
        let body = p.sample_body(id, event_type, size);
        let mut headers = p.sign(&body, id, event_type, hookgate::unix_now());
        headers.push(("content-type".into(), "application/json".into()));
        (headers, body)
    }

    /// POST to the provider's webhook path.
    pub async fn post(
        &self,
        provider: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Answer {
        post(&self.url(&format!("/webhooks/{provider}")), headers, body).await
    }

    /// Send a freshly signed event.
    pub async fn send(&self, provider: &str, id: &str, event_type: &str) -> Answer {
        let (h, b) = self.signed(provider, id, event_type);
        self.post(provider, &h, b).await
    }

    /// An admin API request with an optional bearer token and JSON body.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = awc::Client::default().request(method, self.url(path));
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let mut res = match body {
            Some(json) => req.send_json(&json).await,
            None => req.send().await,
        }
        .expect("admin request");
        answer(&mut res).await
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> Answer {
        let mut res = awc::Client::default()
            .get(self.url(path))
            .send()
            .await
            .expect("GET");
        answer(&mut res).await
    }

    /// An unlabelled metric's value from the gateway's registry (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Rows not yet confirmed by the broker.
    pub async fn pending(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }

    /// Event IDs in the table, in insertion order.
    pub async fn stored_ids(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_id FROM events ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .expect("ids")
    }

    /// Wait (bounded) until `/health/ready` reports the broker `state`: `ok` once the
    /// relay holds a broker connection, `down` once it lost it.
    pub async fn broker_is(&self, state: &str) {
        eventually(Duration::from_secs(10), || async {
            self.get("/health/ready").await.json["broker"] == state
        })
        .await;
    }

    /// Wait (bounded) until every stored event was confirmed by the broker.
    pub async fn drained(&self) {
        eventually(Duration::from_secs(20), || async {
            self.pending().await == 0
        })
        .await;
    }

    /// SIGTERM-equivalent: stop in order and wait; then the database, exchange and
    /// queues go (as they do on `Drop` when a test panics).
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// Stop the gateway in order and wait, keeping the database (and this handle) for
    /// checks of what the stop left behind.
    pub async fn shut_down(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("clean stop");
        }
    }
}
