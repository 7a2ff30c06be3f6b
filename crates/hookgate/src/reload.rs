//! Hot reload of providers, secrets and request limits (SIGHUP, `POST /admin/reload`).
//!
//! Requests read an immutable [`Snapshot`] through [`LiveConfig::snapshot`]; a reload
//! loads and validates the whole file first and only then swaps the snapshot, so an invalid
//! file changes nothing and in-flight requests finish on the snapshot they started with.
//! Database, broker and writer/relay settings need a restart.

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
};

use hookgate_core::{ProviderRegistry, config};

use crate::http::Limits;

/// What a request needs from the config.
pub struct Snapshot {
    /// Providers and their secrets.
    pub registry: ProviderRegistry,
    /// Header limits and rate-limit buckets.
    pub limits: Limits,
}

/// Why a reload was refused (the current config stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The gateway was not started from a config file.
    #[error("no config file to reload from")]
    NoFile,
    /// The new file is invalid.
    #[error(transparent)]
    Invalid(#[from] config::ConfigError),
}

/// The current snapshot and where to reload it from. Cheap to clone.
#[derive(Clone)]
pub struct LiveConfig {
    current: Arc<RwLock<Arc<Snapshot>>>,
    path: Option<PathBuf>,
}

impl LiveConfig {
    /// Start from `snapshot`; reloads read `path`.
    pub fn new(snapshot: Snapshot, path: Option<PathBuf>) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(snapshot))),
            path,
        }
    }

    /// The snapshot to serve one request with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Load, validate and swap in the config file; returns the provider names.
    pub fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let path = self.path.as_ref().ok_or(ReloadError::NoFile)?;
        let (config, registry) = config::load(path)?;
        let names = registry.iter().map(|p| p.name().to_string()).collect();
        let limits = Limits::new(&config.server, &registry);
        let next = Arc::new(Snapshot { registry, limits });
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(names)
    }
}
