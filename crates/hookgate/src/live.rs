//! Hot reload of providers, secrets and request limits (SIGHUP, `POST /admin/reload`).
//!
//! Requests read an immutable [`Snapshot`] through [`LiveConfig::snapshot`] (a lock-free
//! `arc-swap` load); a reload loads and validates the whole file first and only then swaps
//! the snapshot, so an invalid file changes nothing and in-flight requests finish on the
//! snapshot they started with. Database, broker and writer/relay settings need a restart.

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use hookgate_core::{ProviderRegistry, config};

use crate::limits::Limits;

/// What a request needs from the config.
pub struct Snapshot {
    /// Providers and their secrets.
    pub registry: ProviderRegistry,
    /// Header limits and rate-limit buckets.
    pub limits: Limits,
}

/// Why a reload was refused (the current config stays).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    current: Arc<ArcSwap<Snapshot>>,
    path: Option<PathBuf>,
}

impl LiveConfig {
    /// Start from `snapshot`; reloads read `path`.
    pub fn new(snapshot: Snapshot, path: Option<PathBuf>) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            path,
        }
    }

    /// The snapshot to serve one request with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Load, validate and swap in the config file; returns the provider names.
    pub fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let path = self.path.as_ref().ok_or(ReloadError::NoFile)?;
        let (config, registry) = config::load(path)?;
        let names = registry.names();
        let limits = Limits::new(&config.server, &registry);
        self.current.store(Arc::new(Snapshot { registry, limits }));
        Ok(names)
    }
}
