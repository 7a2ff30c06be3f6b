//! [`AppState`]: what every HTTP handler can reach. Built by [`crate::app`] for each server
//! worker, with that worker's own writer.

use std::sync::Arc;

use secrecy::SecretString;
use sqlx::PgPool;

use crate::{
    console::ConsoleState, keys::KeyFetcher, live::LiveConfig, metrics::Metrics,
    rejections::RejectionLog, relay::BrokerState, writer::BatchWriter,
};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Providers, secrets and limits (hot-reloadable).
    pub live: LiveConfig,
    /// This worker's group-commit writer.
    pub writer: BatchWriter,
    /// Database pool (health checks, admin API).
    pub pool: PgPool,
    /// Relay's broker connection state (health).
    pub broker: BrokerState,
    /// Prometheus series.
    pub metrics: Metrics,
    /// Admin bearer token; `None` keeps `/admin/*` off.
    pub admin_token: Option<Arc<SecretString>>,
    /// Key material for the providers that verify with fetched keys.
    pub keys: KeyFetcher,
    /// Recent rejected webhook requests of this process (for the console).
    pub rejections: RejectionLog,
    /// Console sessions, login throttle and display settings; served only with a token.
    pub console: Arc<ConsoleState>,
}
