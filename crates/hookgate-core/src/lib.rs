//! Pure core of hookgate: everything that decides what a webhook *is*, with no network,
//! database or broker IO.
//!
//! # Layout
//!
//! - [`config`]: the TOML/env configuration types, loading (figment) and validation.
//! - [`catalog`]: the presets as data: one embedded TOML file per provider
//!   (`presets/<name>.toml`), plus an operator's `presets_dir`; the listing behind
//!   `hookgate presets`.
//! - [`preset`]: applying a preset to a provider table.
//! - [`provider`]: a provider resolved from config (preset + overrides + keys), its one
//!   entry point [`Provider::receive`], and the [`provider::ProviderRegistry`].
//! - `resolve`: turning a provider table into a provider, naming the key when one is wrong.
//! - `scheme`: one module per signature scheme (`hmac`, `standard-webhooks`, `ed25519`,
//!   `ecdsa-p256`, `twilio`, `token`/`basic`, `mailgun`, `client-state`), each a pure
//!   verifier; [`fetched`]: the schemes whose keys the server fetches (`aws-sns`,
//!   `google-pubsub`, `paypal`), split into "which key" and "verify with it".
//! - [`handshake`]: endpoint-verification handshakes and the replies they need.
//! - `timestamp`: strict timestamp parsing (`unix`, `unix_ms`, `rfc3339`) and the window.
//! - [`template`]: the signed-payload and routing-key templates.
//! - [`verify`]: the `Unverified -> Verified` typestate and the rejection kinds.
//! - [`extract`]: event-ID and event-type sources (`header:` / `json:`).
//! - [`explain`]: the checks of one request in order, with their results and the verdict
//!   (`hookgate explain`), run through the verifier's own code.
//! - [`sign`]: producing correctly signed requests (CLI `sign`, tests, benchmarks).
//! - [`ratelimit`]: the token bucket behind per-provider rate limits.
//!
//! What a message on RabbitMQ looks like (headers, properties, queue names and arguments)
//! is not here but in `hookgate-contract`, which the server and the consumer share; the
//! routing key is still rendered here ([`template::RoutingKey`]), from the configuration.
//!
//! The only IO here is reading the config file and the environment in
//! [`config::load`], so the server crate gets a validated, typed configuration.

pub mod catalog;
pub mod config;
pub mod explain;
pub mod extract;
pub mod handshake;
mod json_seek;
pub mod preset;
pub mod provider;
pub mod ratelimit;
mod resolve;
mod scheme;
pub mod sign;
pub mod template;
mod timestamp;
pub mod verify;

pub use catalog::{PresetCatalog, PresetSummary};
pub use handshake::HandshakeReply;
pub use provider::{Provider, ProviderRegistry, Received};
pub use scheme::fetched;
pub use verify::{Rejection, Unverified, Verified};
