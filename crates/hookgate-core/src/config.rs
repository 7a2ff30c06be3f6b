//! Configuration: the typed shape of `config/hookgate.toml`, loading it with figment
//! (file, then `HOOKGATE_<SECTION>__<KEY>` environment overrides) and validating it.
//!
//! Every field is documented here and mirrored, commented, in the shipped TOML. Unknown keys
//! are errors, so a typo never silently falls back to a default.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use bytesize::ByteSize;
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{provider::ProviderRegistry, template::RoutingKey};

/// Default location of the config file, relative to the working directory.
pub const DEFAULT_PATH: &str = "config/hookgate.toml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP listener.
    #[serde(default)]
    pub server: ServerConfig,
    /// Postgres: dedup keys and the outbox.
    pub database: DatabaseConfig,
    /// RabbitMQ: where accepted events are published.
    pub amqp: AmqpConfig,
    /// Group-commit writer tuning.
    #[serde(default)]
    pub writer: WriterConfig,
    /// Relay (outbox -> RabbitMQ) tuning.
    #[serde(default)]
    pub relay: RelayConfig,
    /// How long event keys and bodies are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The admin API (event listing, replay); off unless a token is configured.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Providers by name; the name is the path segment of `POST /webhooks/{name}`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// A directory of operator-written preset files (`<name>.toml`, the same shape as the
    /// built-in ones), loaded beside the built-in presets. A name that clashes with a
    /// built-in preset stops start-up.
    #[serde(default)]
    pub presets_dir: Option<PathBuf>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// actix worker threads, each with a writer of its own; 0 means one per CPU core.
    pub workers: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Concurrent connections per worker; beyond it new connections wait in the backlog.
    pub max_connections: usize,
    /// A client must send the whole request head within this (slow-loris guard).
    #[serde(with = "humantime_serde")]
    pub client_request_timeout: Duration,
    /// A client must send the whole request body within this, counted from the end of the
    /// head (slow-body guard); 408 and the connection is closed after it.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Idle keep-alive connections are closed after this.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// Most request headers accepted (431 beyond).
    pub max_headers: usize,
    /// Largest total size of header names and values (431 beyond).
    pub max_header_bytes: ByteSize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            workers: 1,
            shutdown_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            client_request_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(30),
            max_headers: 64,
            max_header_bytes: ByteSize::kib(16),
        }
    }
}

/// Most `server.workers` (actix' own limit).
pub const MAX_WORKERS: usize = 512;

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Postgres connection URL.
    pub url: String,
    /// Maximum connections in the shared pool (relay, retention, health, admin and console).
    /// The writer's commit slots have their own connections: `writer.concurrency` in all,
    /// but at least one per server worker.
    #[serde(default = "default_pool_max")]
    pub pool_max: u32,
    /// How long a request for a pooled connection waits before the database counts as down.
    #[serde(default = "default_acquire_timeout", with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

fn default_pool_max() -> u32 {
    8
}

fn default_acquire_timeout() -> Duration {
    Duration::from_secs(2)
}

/// `[amqp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Durable topic exchange the events are published to; declared at start.
    #[serde(default = "default_exchange")]
    pub exchange: String,
    /// Routing-key template over `{provider}` and `{event_type}`, parsed once here.
    #[serde(
        default = "default_routing_key",
        deserialize_with = "deserialize_routing_key"
    )]
    pub routing_key: RoutingKey,
    /// Queues (and their bindings) declared at start; optional.
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
}

fn default_exchange() -> String {
    "hookgate.events".into()
}

/// The default routing key, `{provider}.{event_type}`.
pub const DEFAULT_ROUTING_KEY: &str = "{provider}.{event_type}";

fn default_routing_key() -> RoutingKey {
    RoutingKey::parse(DEFAULT_ROUTING_KEY).unwrap_or_else(|e| unreachable!("{e}"))
}

fn deserialize_routing_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RoutingKey, D::Error> {
    let template = String::deserialize(d)?;
    RoutingKey::parse(&template).map_err(serde::de::Error::custom)
}

/// One `[[amqp.queues]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue name (durable).
    pub name: String,
    /// Topic binding patterns on the exchange, e.g. `stripe.invoice.*`, `groq.#`.
    #[serde(default)]
    pub bindings: Vec<String>,
    /// Also declare `<name>.dlq` and dead-letter rejected messages to it.
    #[serde(default)]
    pub dead_letter: bool,
    /// Declare it (and its DLQ) as a replicated quorum queue (RabbitMQ clusters).
    #[serde(default)]
    pub quorum: bool,
}

/// `[writer]`: the group-commit batch writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriterConfig {
    /// Most events committed in one transaction. 1 disables group commit.
    pub batch_max: usize,
    /// Verified events waiting for the writer, in all (shared out among the server
    /// workers); when full, requests answer 503.
    pub queue_capacity: usize,
    /// Transactions committed concurrently (each is one batch), in all: shared out among the
    /// server workers, at least one each, each slot with a connection of its own.
    pub concurrency: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_max: 512,
            queue_capacity: 8192,
            concurrency: 2,
        }
    }
}

/// `[relay]`: publishes committed events to RabbitMQ.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Rows claimed (and publishes in flight awaiting confirms) per round.
    pub batch_max: i64,
    /// Periodic sweep for rows that were not published right after commit.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// First reconnect delay after the broker connection is lost; doubles up to 30 s.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff: Duration,
    /// Confirm-mode channels publishing in parallel, each claiming its own rows.
    pub concurrency: usize,
    /// Longest a group commit waits for the relay to take its batch while the broker is
    /// connected but slower than the ingress: the back-pressure that keeps
    /// acknowledgements at the pace of confirms. After it the batch's rows are left due in
    /// the outbox for the sweep (a backlog, which the metrics show). `0s` turns the
    /// back-pressure off: bursts are acknowledged at once and absorbed by the outbox.
    #[serde(with = "humantime_serde")]
    pub backpressure_wait: Duration,
}

/// The longest `relay.backpressure_wait` accepted: every acknowledgement may wait this
/// long, and providers time out deliveries after a few seconds (GitHub after 10).
pub const MAX_BACKPRESSURE_WAIT: Duration = Duration::from_secs(2);

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_max: 512,
            sweep_interval: Duration::from_secs(1),
            reconnect_backoff: Duration::from_millis(200),
            concurrency: 4,
            backpressure_wait: Duration::from_millis(250),
        }
    }
}

/// `[retention]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Dedup window: event keys older than this are purged (a retry after it is new again).
    #[serde(with = "humantime_serde")]
    pub events: Duration,
    /// Bodies of published events may be dropped after this (must be <= `events`).
    #[serde(with = "humantime_serde")]
    pub payloads: Duration,
    /// How often the purge runs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let week = Duration::from_secs(7 * 24 * 3600);
        Self {
            events: week,
            payloads: week,
            interval: Duration::from_secs(60),
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Name of the environment variable holding the admin bearer token. The admin API
    /// (`/admin/*`) is served only when that variable is set and not empty.
    pub token_env: Option<String>,
}

impl AdminConfig {
    /// The token, when the admin API is on.
    pub fn token(&self, env: impl Fn(&str) -> Option<String>) -> Option<SecretString> {
        let name = self.token_env.as_deref()?;
        env(name).filter(|t| !t.is_empty()).map(SecretString::from)
    }
}

/// Signature scheme of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeKind {
    /// HMAC over a templated payload; the header may carry several signatures.
    Hmac,
    /// Standard Webhooks (Svix): `webhook-signature: v1,<base64> v1a,<base64> ...`;
    /// `whsec_` HMAC secrets and `whpk_` Ed25519 public keys.
    StandardWebhooks,
    /// Stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>]` (an `hmac` with these
    /// header rules filled in).
    Stripe,
    /// Ed25519 over the template's bytes; keys are 32-byte public keys.
    Ed25519,
    /// ECDSA P-256 with SHA-256 over the template's bytes; DER signatures, SPKI keys.
    EcdsaP256,
    /// Twilio: HMAC-SHA1 over the public URL and the sorted form fields (or
    /// `bodySHA256`).
    Twilio,
    /// A header compared whole with a configured token.
    Token,
    /// HTTP Basic authentication compared with a configured `user:password`.
    Basic,
    /// Mailgun: the signature is inside the JSON body (`signature.timestamp`,
    /// `.token`, `.signature`); the body itself is not signed.
    Mailgun,
    /// Microsoft Graph: every notification in `value[]` carries the configured
    /// `clientState`.
    ClientState,
    /// Amazon SNS: RSA over fixed body fields, certificate at `SigningCertURL`.
    AwsSns,
    /// Google Cloud Pub/Sub push: an RS256 OIDC token, keys from a JWKS.
    GooglePubsub,
    /// PayPal: SHA256withRSA over `id|time|webhook_id|crc32`, certificate at
    /// `PAYPAL-CERT-URL`.
    Paypal,
}

impl SchemeKind {
    /// The name used in the config (`hmac`, `ecdsa-p256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemeKind::Hmac => "hmac",
            SchemeKind::StandardWebhooks => "standard-webhooks",
            SchemeKind::Stripe => "stripe",
            SchemeKind::Ed25519 => "ed25519",
            SchemeKind::EcdsaP256 => "ecdsa-p256",
            SchemeKind::Twilio => "twilio",
            SchemeKind::Token => "token",
            SchemeKind::Basic => "basic",
            SchemeKind::Mailgun => "mailgun",
            SchemeKind::ClientState => "client-state",
            SchemeKind::AwsSns => "aws-sns",
            SchemeKind::GooglePubsub => "google-pubsub",
            SchemeKind::Paypal => "paypal",
        }
    }

    /// Whether the scheme verifies with keys the gateway fetches (SPEC §3.5) rather than
    /// configured secrets.
    pub fn fetches_keys(self) -> bool {
        matches!(
            self,
            SchemeKind::AwsSns | SchemeKind::GooglePubsub | SchemeKind::Paypal
        )
    }
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// Unix seconds, ASCII digits only.
    #[default]
    Unix,
    /// Unix milliseconds, ASCII digits only (HubSpot, Linear).
    UnixMs,
    /// RFC 3339, e.g. `2024-05-01T12:00:00.123456789Z` (Twitch).
    Rfc3339,
}

/// HMAC hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA256
    Sha256,
    /// HMAC-SHA512
    Sha512,
    /// HMAC-SHA1 (legacy signers only)
    Sha1,
}

/// Text encoding of the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal (either case).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// One name or several (the first present header wins).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single header name.
    One(String),
    /// Several header names, tried in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The names, in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[providers.<name>]`: every scheme field is optional when a preset fills it; a field set
/// beside a preset overrides the preset's. A preset file (`presets/<name>.toml`) holds the
/// same scheme fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Preset name: a built-in one (`hookgate presets` lists them) or one from
    /// `presets_dir`.
    pub preset: Option<String>,
    /// `hmac` | `standard-webhooks` | `stripe` | `ed25519` | `ecdsa-p256` | `twilio` |
    /// `token` | `basic` | `mailgun` | `client-state` | `aws-sns` | `google-pubsub` |
    /// `paypal`.
    pub scheme: Option<SchemeKind>,
    /// `sha256` | `sha512` | `sha1` (HMAC schemes).
    pub algorithm: Option<Algorithm>,
    /// Header carrying the signature; a list means "first present wins".
    pub signature_header: Option<OneOrMany>,
    /// Prefix of a signature (e.g. `sha256=`, `v1=`, `h1=`). Alone it is stripped when
    /// present; with `signature_separator`, only items with this prefix are signatures.
    pub signature_prefix: Option<String>,
    /// The signature header carries several items separated by this (`,` for
    /// `t=…,v1=…,v1=…`, `;` for Paddle's `ts=…;h1=…;h1=…`); any signature item may match.
    pub signature_separator: Option<String>,
    /// The item of the signature header that carries the timestamp, e.g. `t=` (Stripe,
    /// Calendly) or `ts=` (Paddle); needs `signature_separator`.
    pub signature_timestamp: Option<String>,
    /// `hex` | `base64`.
    pub encoding: Option<Encoding>,
    /// Header carrying the timestamp; without a timestamp source there is no replay window.
    pub timestamp_header: Option<OneOrMany>,
    /// JSON pointer to a timestamp inside the body (Linear's `/webhookTimestamp`), checked
    /// only after the signature verified. It cannot be signed as `{timestamp}`.
    pub timestamp_json: Option<String>,
    /// `unix` (default) | `unix_ms` | `rfc3339`.
    pub timestamp_format: Option<TimestampFormat>,
    /// Header whose value fills `{id}` in `signed_payload`.
    pub id_header: Option<String>,
    /// Template of the signed bytes over `{timestamp}`, `{id}`, `{body}`, `{url}` and
    /// `{method}`.
    pub signed_payload: Option<String>,
    /// The exact URL the provider was given for this endpoint (e.g.
    /// `https://hooks.example.com/webhooks/twilio`). Required when the scheme signs the
    /// URL (`{url}`, `twilio`); never derived from `Host` or `X-Forwarded-*`. When it has
    /// no query string, the request's own query string is appended to it.
    pub public_url: Option<String>,
    /// Name of the environment variable holding the verify token of a GET handshake
    /// (`meta`'s `hub.verify_token`).
    pub verify_token_env: Option<String>,
    /// Header compared by the `token` scheme (default `authorization`).
    pub token_header: Option<String>,
    /// Accepted clock difference, both into the past and the future.
    #[serde(default, with = "humantime_serde")]
    pub tolerance: Option<Duration>,
    /// Event-ID sources, first present wins: `header:<name>`, `json:<pointer>`,
    /// `form:<field>` or `const:<text>`.
    pub event_id: Option<Vec<String>>,
    /// Event-type sources, first present wins: `header:<name>`, `json:<pointer>`,
    /// `form:<field>` or `const:<text>`.
    pub event_type: Option<Vec<String>>,
    /// Largest accepted body, e.g. `1MiB`.
    pub max_body: Option<ByteSize>,
    /// Optional rate limit, requests per second (token bucket; 429 beyond).
    pub rate_limit: Option<f64>,
    /// Requests that may arrive at once above `rate_limit` (default: one second's worth).
    pub rate_burst: Option<u32>,
    /// Names of environment variables holding the key material, several = rotation: HMAC
    /// secrets; public keys for asymmetric schemes (hex for Discord, base64 SPKI for
    /// SendGrid, `whpk_…` for Standard Webhooks); the token for `token`;
    /// `user:password` for `basic`.
    #[serde(default)]
    pub secrets_env: Vec<String>,
    /// Inline key material (development only; a warning is logged).
    #[serde(default)]
    pub secrets: Vec<SecretString>,
    /// Fetched-key schemes: the hosts key material (and an SNS `SubscribeURL`) may be
    /// fetched from, `host` or `host:port`; a label may be `{region}` (an AWS region). The
    /// preset's default is the provider's official hosts; a URL elsewhere is
    /// `invalid_signature` and is never fetched.
    pub key_hosts: Option<Vec<String>>,
    /// Fetched-key schemes: also allow plain `http://` key URLs. For tests only.
    pub key_fetch_insecure: Option<bool>,
    /// `google-pubsub`: the token's expected `aud`, as set on the push subscription (its
    /// push endpoint URL when none was set). Required.
    pub audience: Option<String>,
    /// `google-pubsub`: the push subscription's service account; when set, the token's
    /// `email` must equal it and `email_verified` be true.
    pub service_account_email: Option<String>,
    /// `google-pubsub`: the JWKS of the token issuer (Google's by default); its host must
    /// be in `key_hosts`.
    pub jwks_url: Option<String>,
    /// `paypal`: the webhook ID PayPal shows for this endpoint (it is part of the signed
    /// string). Required.
    pub webhook_id: Option<String>,
}

/// A configuration problem, naming the offending key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file or environment could not be read or did not match the schema. The message
    /// keeps the position and the reason but drops the quoted source line, which could
    /// hold an inline secret.
    #[error("{}", redact_source_lines(&.0.to_string()))]
    Load(Box<figment::Error>),
    /// A value is present but not acceptable.
    #[error("{key}: {reason}")]
    Invalid {
        /// Dotted key path, e.g. `providers.acme.signed_payload`.
        key: String,
        /// What is wrong (never a secret value).
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Remove the source excerpt a TOML parse error quotes (`12 | secrets = ["..."`, `   |   ^`).
fn redact_source_lines(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let t = line.trim_start();
            let after_number = t.trim_start_matches(|c: char| c.is_ascii_digit());
            !(t.starts_with('|')
                || (after_number.len() < t.len() && after_number.trim_start().starts_with('|')))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        ConfigError::Load(Box::new(e))
    }
}

/// The figment layers: the file (if it exists), then `HOOKGATE_*` environment overrides.
pub fn figment(path: &Path) -> Figment {
    Figment::new()
        .merge(Toml::file_exact(path))
        .merge(Env::prefixed("HOOKGATE_").split("__").ignore(&["config"]))
}

/// Load and validate the configuration at `path`, resolving secrets from the environment.
pub fn load(path: &Path) -> Result<(Config, ProviderRegistry), ConfigError> {
    from_figment(figment(path))
}

/// Extract and validate from an already layered figment (tests use this with `Jail`).
pub fn from_figment(figment: Figment) -> Result<(Config, ProviderRegistry), ConfigError> {
    let config: Config = figment.extract()?;
    let registry = config.validate(|name| std::env::var(name).ok())?;
    Ok((config, registry))
}

impl Config {
    /// Check everything that serde cannot and build the provider registry. `env` looks up
    /// the secret variables named by `secrets_env`.
    pub fn validate(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProviderRegistry, ConfigError> {
        if self.amqp.exchange.is_empty() {
            return Err(ConfigError::invalid("amqp.exchange", "must not be empty"));
        }
        if self.server.max_headers == 0 {
            return Err(ConfigError::invalid(
                "server.max_headers",
                "must be at least 1",
            ));
        }
        if self.server.body_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "server.body_timeout",
                "must be greater than 0",
            ));
        }
        if self.server.workers > MAX_WORKERS {
            return Err(ConfigError::invalid(
                "server.workers",
                format!("must be at most {MAX_WORKERS} (0 = one per CPU core)"),
            ));
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError::invalid(
                "server.max_connections",
                "must be at least 1",
            ));
        }
        if self.writer.batch_max == 0 {
            return Err(ConfigError::invalid(
                "writer.batch_max",
                "must be at least 1",
            ));
        }
        if self.writer.queue_capacity == 0 {
            return Err(ConfigError::invalid(
                "writer.queue_capacity",
                "must be at least 1",
            ));
        }
        if self.writer.concurrency == 0 {
            return Err(ConfigError::invalid(
                "writer.concurrency",
                "must be at least 1",
            ));
        }
        if self.database.pool_max < 2 {
            return Err(ConfigError::invalid(
                "database.pool_max",
                "must be at least 2: the relay, retention and health checks share the pool \
                 (the writer's commit slots have connections of their own)",
            ));
        }
        if self.relay.concurrency == 0 {
            return Err(ConfigError::invalid(
                "relay.concurrency",
                "must be at least 1",
            ));
        }
        if self.relay.batch_max < 1 {
            return Err(ConfigError::invalid(
                "relay.batch_max",
                "must be at least 1",
            ));
        }
        if self.relay.backpressure_wait > MAX_BACKPRESSURE_WAIT {
            return Err(ConfigError::invalid(
                "relay.backpressure_wait",
                format!(
                    "must be at most {MAX_BACKPRESSURE_WAIT:?} (every acknowledgement may wait this long)"
                ),
            ));
        }
        if self.retention.payloads > self.retention.events {
            return Err(ConfigError::invalid(
                "retention.payloads",
                "must not be longer than retention.events",
            ));
        }
        for (i, q) in self.amqp.queues.iter().enumerate() {
            if q.name.is_empty() {
                return Err(ConfigError::invalid(
                    format!("amqp.queues[{i}].name"),
                    "must not be empty",
                ));
            }
        }
        let catalog = self.preset_catalog()?;
        ProviderRegistry::from_config_with(&self.providers, &catalog, env)
    }

    /// The built-in presets, plus those in `presets_dir` when it is set.
    pub fn preset_catalog(&self) -> Result<crate::catalog::PresetCatalog, ConfigError> {
        match &self.presets_dir {
            Some(dir) => crate::catalog::PresetCatalog::with_dir(dir),
            None => crate::catalog::PresetCatalog::builtin().cloned(),
        }
    }
}
