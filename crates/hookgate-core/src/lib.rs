//! Pure core of hookgate: everything that decides what a webhook *is*, with no network,
//! database or broker IO.
//!
//! # Layout
//!
//! - [`config`]: the TOML/env configuration types, loading (figment) and validation.
//! - [`preset`]: the built-in provider presets (`groq`, `vastai`, `stripe`, ...).
//! - [`provider`]: a provider resolved from config (preset + overrides + secrets) and the
//!   [`provider::ProviderRegistry`] that finds one by name.
//! - [`template`]: the signed-payload and routing-key templates.
//! - [`verify`]: signature verification, the `Unverified -> Verified` typestate and the
//!   rejection kinds.
//! - [`extract`]: event-ID and event-type sources (`header:` / `json:`).
//! - [`sign`]: producing correctly signed requests (CLI `sign`, tests, benchmarks).
//! - [`ratelimit`]: the token bucket behind per-provider rate limits.
//!
//! What a message on RabbitMQ looks like (headers, properties, queue names and arguments)
//! is not here but in `hookgate-contract`, which the server and the consumer share; the
//! routing key is still rendered here ([`template::RoutingKey`]), from the configuration.
//!
//! The only IO here is reading the config file and the environment in
//! [`config::load`], so the server crate gets a validated, typed configuration.

pub mod config;
pub mod extract;
mod json_seek;
pub mod preset;
pub mod provider;
pub mod ratelimit;
pub mod sign;
pub mod template;
pub mod verify;

pub use provider::{Provider, ProviderRegistry};
pub use verify::{Rejection, Unverified, Verified};
