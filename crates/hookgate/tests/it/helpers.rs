//! `spawn_app` and friends: a gateway on port 0 with its own database and exchange, a
//! signing client, and a broker-side view of what was delivered.

use std::{
    future::Future,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate::app::{Application, Options};
use hookgate_core::{ProviderRegistry, config::Config};
use lapin::{
    Channel, Connection, ExchangeKind,
    message::BasicGetMessage,
    options::{
        BasicAckOptions, BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::FieldTable,
};
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

pub const PG: &str = "postgres://postgres@127.0.0.1:5432";
pub const PG_ADDR: &str = "127.0.0.1:5432";
pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const AMQP_ADDR: &str = "127.0.0.1:5672";
pub const GROQ_SECRET: &str = "test-groq-secret";

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!(
        "{prefix}_{}_{:x}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Per-test knobs.
#[derive(Clone)]
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
    /// Extra tables appended to the config.
    pub tables_extra: String,
    /// Config file for hot reloads.
    pub config_path: Option<std::path::PathBuf>,
}

impl Settings {
    pub fn new() -> Self {
        let database = unique("hookgate_test");
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
            tables_extra: String::new(),
            config_path: None,
        }
    }

    pub fn toml(&self) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
workers = 1
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
            tables_extra = self.tables_extra,
        )
    }

    pub fn config(&self) -> (Config, ProviderRegistry) {
        hookgate_core::config::from_figment(Figment::from(Toml::string(&self.toml())))
            .expect("test config is valid")
    }
}

/// A running in-process gateway.
pub struct TestApp {
    pub port: u16,
    pub settings: Settings,
    pub registry: ProviderRegistry,
    /// A direct pool to the test database (not through any proxy).
    pub db: PgPool,
    pub metrics: hookgate::metrics::Metrics,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Create the test database and schema directly, then start a gateway on `settings`
/// (whose URLs may point through a proxy).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let direct = format!("{PG}/{}", settings.database);
    hookgate::db::create_if_missing(&direct)
        .await
        .expect("create test database");
    let db = PgPool::connect(&direct)
        .await
        .expect("connect test database");
    hookgate::db::migrate(&db).await.expect("migrate");
    let (config, registry) = settings.config();
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
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::new()).await
}

/// An HTTP answer: status, headers we care about, JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub json: serde_json::Value,
}

impl TestApp {
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
        let p = self.registry.get(provider).expect("provider");
        let body = p.sample_body(id, event_type, 256);
        let mut headers = p.sign(&body, id, event_type, hookgate::unix_now());
        headers.push(("content-type".into(), "application/json".into()));
        (headers, body)
    }

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

    pub async fn get(&self, path: &str) -> Answer {
        let mut res = awc::Client::default()
            .get(self.url(path))
            .send()
            .await
            .expect("GET");
        answer(&mut res).await
    }

    /// Rows not yet confirmed by the broker.
    pub async fn pending(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&self.db)
            .await
            .expect("count")
    }

    pub async fn stored_ids(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_id FROM events ORDER BY id")
            .fetch_all(&self.db)
            .await
            .expect("ids")
    }

    /// Wait (bounded) until every stored event was confirmed by the broker.
    pub async fn drained(&self) {
        eventually(Duration::from_secs(20), || async {
            self.pending().await == 0
        })
        .await;
    }

    /// SIGTERM-equivalent: stop in order and wait.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("clean stop");
        }
        self.db.close().await;
        drop_database(&self.settings.database).await;
    }
}

pub async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&format!("{PG}/postgres")).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
    }
}

/// A POST to `url` carrying `headers` (30 s timeout), ready to send.
pub fn post_request(url: &str, headers: &[(String, String)]) -> awc::ClientRequest {
    let mut req = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
        .post(url);
    for (k, v) in headers {
        req = req.insert_header((k.as_str(), v.as_str()));
    }
    req
}

pub async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    let mut res = post_request(url, headers)
        .send_body(body)
        .await
        .expect("POST");
    answer(&mut res).await
}

async fn answer<S>(res: &mut awc::ClientResponse<S>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>>
        + Unpin,
{
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.body().limit(1 << 20).await.expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&body).into(),
    ));
    Answer {
        status: res.status().as_u16(),
        retry_after,
        json,
    }
}

/// Poll `cond` until true; panics after `limit` (a deadline, not a synchronisation sleep).
pub async fn eventually<F, Fut>(limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The broker side: the test's own queue bound to the test exchange.
pub struct Inbox {
    _connection: Connection,
    channel: Channel,
    pub queue: String,
}

impl Inbox {
    /// Declare the exchange (as the gateway does) and an exclusive queue bound with `pattern`.
    pub async fn bind(exchange: &str, pattern: &str) -> Self {
        let connection = Connection::connect(AMQP, Default::default())
            .await
            .expect("amqp");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("exchange");
        let queue = unique("q");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        Self {
            _connection: connection,
            channel,
            queue,
        }
    }

    /// Every message currently in the queue (acked). Call after the outbox drained: a
    /// confirmed publish is already enqueued, so this is the complete set.
    pub async fn take_all(&self) -> Vec<BasicGetMessage> {
        let mut out = Vec::new();
        while let Some(msg) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            msg.delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
            out.push(msg);
        }
        out
    }
}

/// The `message_id`s of `messages`.
pub fn message_ids(messages: &[BasicGetMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .collect()
}
