//! The key cache: parsed key sets by URL, bounded, with a TTL; one fetch per URL at a
//! time (every concurrent miss waits for the same fetch and gets its result, success or
//! failure); failures remembered briefly so a burst against a dead key server costs one
//! attempt; a JWKS fetched again once, rate-limited, when a token names a key it lacks.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use hookgate_core::fetched::{KeyRef, KeySet};
use tokio::sync::watch;

use super::FetchError;

/// Tuning of the cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Most URLs kept.
    pub max_entries: usize,
    /// Lifetime of a fetched set when the response has no `Cache-Control: max-age`.
    pub default_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub min_ttl: Duration,
    /// Upper bound of `max-age`.
    pub max_ttl: Duration,
    /// How long a failed fetch is answered from memory (503) before trying again.
    pub failure_ttl: Duration,
    /// At most one refetch for an unknown key ID per URL within this.
    pub refetch_interval: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_entries: 1024,
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            failure_ttl: Duration::from_secs(2),
            refetch_interval: Duration::from_secs(60),
        }
    }
}

type Outcome = Result<Arc<KeySet>, FetchError>;

enum Slot {
    Ready {
        set: Arc<KeySet>,
        expires: Instant,
        /// When an unknown key ID last caused a refetch.
        refetched: Option<Instant>,
    },
    Failed {
        error: FetchError,
        until: Instant,
    },
    Pending {
        id: u64,
        result: watch::Receiver<Option<Outcome>>,
    },
}

/// What a lookup found.
pub(super) enum Lookup {
    /// Usable keys (a hit; for an unknown key ID within the refetch interval, the set
    /// that lacks it: verification then fails).
    Hit(Arc<KeySet>),
    /// A recent failure.
    Failed(FetchError),
    /// Another request is fetching: wait for its result.
    Wait(watch::Receiver<Option<Outcome>>),
    /// Fetch it: this request leads.
    Lead(Leader),
}

/// The request that fetches a URL; dropping it unfinished (the client went away) frees
/// the URL for the next request, and wakes the waiters so one of them leads.
pub(super) struct Leader {
    cache: Arc<Cache>,
    url: String,
    id: u64,
    sender: Option<watch::Sender<Option<Outcome>>>,
    refetch: bool,
    previous: Option<(Arc<KeySet>, Instant, Option<Instant>)>,
}

/// The shared cache.
pub(super) struct Cache {
    slots: Mutex<HashMap<String, Slot>>,
    next_id: std::sync::atomic::AtomicU64,
    pub(super) settings: CacheSettings,
}

impl Cache {
    pub(super) fn new(settings: CacheSettings) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
            settings,
        }
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock leaves a consistent map (every update is one
        // insert or remove), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Look `key_ref` up, becoming the leader of its fetch when nobody is fetching it.
    pub(super) fn lookup(self: &Arc<Self>, key_ref: &KeyRef) -> Lookup {
        let now = Instant::now();
        let mut slots = self.slots();
        let mut previous = None;
        let mut refetch = false;
        match slots.get(key_ref.url()) {
            Some(Slot::Ready {
                set,
                expires,
                refetched,
            }) if now < *expires => {
                if key_ref.found_in(set)
                    || refetched.is_some_and(|t| now < t + self.settings.refetch_interval)
                {
                    return Lookup::Hit(set.clone());
                }
                previous = Some((set.clone(), *expires, *refetched));
                refetch = true;
            }
            Some(Slot::Failed { error, until }) if now < *until => {
                return Lookup::Failed(error.clone());
            }
            Some(Slot::Pending { result, .. }) => return Lookup::Wait(result.clone()),
            _ => {}
        }
        if !slots.contains_key(key_ref.url()) && slots.len() >= self.settings.max_entries {
            evict(&mut slots, now);
            if slots.len() >= self.settings.max_entries {
                return Lookup::Failed(FetchError::Busy);
            }
        }
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (sender, receiver) = watch::channel(None);
        slots.insert(
            key_ref.url().to_owned(),
            Slot::Pending {
                id,
                result: receiver,
            },
        );
        Lookup::Lead(Leader {
            cache: self.clone(),
            url: key_ref.url().to_owned(),
            id,
            sender: Some(sender),
            refetch,
            previous,
        })
    }
}

/// Drop expired entries and failures; if still full, the entry expiring first.
fn evict(slots: &mut HashMap<String, Slot>, now: Instant) {
    slots.retain(|_, slot| match slot {
        Slot::Ready { expires, .. } => now < *expires,
        Slot::Failed { .. } => false,
        Slot::Pending { .. } => true,
    });
    let oldest = slots
        .iter()
        .filter_map(|(url, slot)| match slot {
            Slot::Ready { expires, .. } => Some((*expires, url.clone())),
            _ => None,
        })
        .min();
    if let Some((_, url)) = oldest {
        slots.remove(&url);
    }
}

impl Leader {
    /// Store the fetch's outcome and hand it to every waiter. A failed refetch for an
    /// unknown key ID keeps the set that was there.
    pub(super) fn finish(
        mut self,
        outcome: Result<(Arc<KeySet>, Option<Duration>), FetchError>,
    ) -> Outcome {
        let settings = &self.cache.settings;
        let now = Instant::now();
        let refetched = if self.refetch {
            Some(now)
        } else {
            self.previous.as_ref().and_then(|p| p.2)
        };
        let (slot, result) = match outcome {
            Ok((set, max_age)) => {
                let ttl = max_age
                    .map(|a| a.clamp(settings.min_ttl, settings.max_ttl))
                    .unwrap_or(settings.default_ttl);
                (
                    Slot::Ready {
                        set: set.clone(),
                        expires: now + ttl,
                        refetched,
                    },
                    Ok(set),
                )
            }
            Err(error) => match self.previous.take() {
                Some((set, expires, _)) => (
                    Slot::Ready {
                        set: set.clone(),
                        expires,
                        refetched,
                    },
                    Ok(set),
                ),
                None => (
                    Slot::Failed {
                        error: error.clone(),
                        until: now + settings.failure_ttl,
                    },
                    Err(error),
                ),
            },
        };
        {
            let mut slots = self.cache.slots();
            if matches!(slots.get(&self.url), Some(Slot::Pending { id, .. }) if *id == self.id) {
                slots.insert(self.url.clone(), slot);
            }
        }
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Some(result.clone()));
        }
        result
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if self.sender.is_none() {
            return;
        }
        let mut slots = self.cache.slots();
        if matches!(slots.get(&self.url), Some(Slot::Pending { id, .. }) if *id == self.id) {
            match self.previous.take() {
                Some((set, expires, refetched)) => {
                    slots.insert(
                        self.url.clone(),
                        Slot::Ready {
                            set,
                            expires,
                            refetched,
                        },
                    );
                }
                None => {
                    slots.remove(&self.url);
                }
            }
        }
        // Dropping the sender wakes the waiters; one of them leads next.
    }
}
