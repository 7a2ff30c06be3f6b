//! [`Writers`]: one group-commit writer per HTTP server worker, on that worker's own
//! thread.
//!
//! actix runs each server worker on a single-threaded runtime of its own. A writer on the
//! shared Tokio runtime costs every event two wake-ups across threads: one to hand the
//! event to the collector and one to answer the request. So [`Writers::start`] is called
//! by each worker as it builds its app. It starts that worker's collector on the worker's
//! runtime, with a small pool of its own, so the commit slots' sockets are polled by the
//! same thread too. The writers hand their commits to the one relay as before: one
//! wake-up per batch, not per event.
//!
//! `writer.concurrency` and `writer.queue_capacity` are totals, shared out evenly among
//! the workers ([`share`]); every worker has at least one commit slot and one queue
//! place. A copy of an event sent to two workers at once meets the other copy in the
//! database's unique index, as it would between two commit slots of one writer.
//!
//! At shutdown a writer normally ends with its worker's runtime, once the HTTP server has
//! stopped: by then every request it took has been answered or cut. A request is answered
//! only after its commit, so such a writer holds no acknowledged event; a commit cut
//! midway was answered to no one, and its rows, if it committed, are published by the
//! sweep. A writer whose worker still runs when `stop` is cancelled commits what is
//! queued and ends. [`Writers::stopped`] waits for both kinds of end.
//!
//! A gateway opens `max(writer.concurrency, workers)` writer connections, beside
//! `database.pool_max`. A writer's connections carry the application name
//! `hookgate-writer-<place>`, its place in the order the writers started (the others
//! `hookgate`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hookgate_core::config::WriterConfig;
use sqlx::postgres::PgConnectOptions;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::BatchWriter;
use crate::{db, handoff::Handoff, metrics::Metrics};

/// Starts the workers' writers; cheap to clone (one copy goes to each worker).
#[derive(Clone)]
pub struct Writers {
    options: PgConnectOptions,
    acquire_timeout: Duration,
    config: WriterConfig,
    workers: usize,
    /// How many writers were started: the next one's place in the [`share`].
    started: Arc<AtomicUsize>,
    metrics: Metrics,
    handoff: Handoff,
    stop: CancellationToken,
    tracker: TaskTracker,
}

impl Writers {
    /// Writers for `workers` server workers. `options` are the database's connect options
    /// (parsed once, at start-up).
    pub fn new(
        options: PgConnectOptions,
        acquire_timeout: Duration,
        config: &WriterConfig,
        workers: usize,
        metrics: Metrics,
        handoff: Handoff,
        stop: CancellationToken,
    ) -> Self {
        Self {
            options,
            acquire_timeout,
            config: config.clone(),
            workers: workers.max(1),
            started: Arc::default(),
            metrics,
            handoff,
            stop,
            tracker: TaskTracker::new(),
        }
    }

    /// Start the calling worker's writer on the current runtime; call it on the worker's
    /// thread. A worker that actix restarts after a panic starts a new one, with the share
    /// of the next place in turn (so the totals may then be exceeded by a slot).
    pub fn start(&self) -> BatchWriter {
        let place = self.started.fetch_add(1, Ordering::Relaxed) % self.workers;
        let config = WriterConfig {
            batch_max: self.config.batch_max,
            queue_capacity: share(self.config.queue_capacity, self.workers, place),
            concurrency: share(self.config.concurrency, self.workers, place),
        };
        tracing::debug!(
            place,
            slots = config.concurrency,
            queue = config.queue_capacity,
            "starting a server worker's writer"
        );
        // Named per place, so `pg_stat_activity` tells each worker's commits apart.
        let options = self
            .options
            .clone()
            .application_name(&format!("hookgate-writer-{place}"));
        let pool = db::writer_pool(options, self.acquire_timeout, config.concurrency);
        let (writer, collector) = BatchWriter::new(
            pool,
            &config,
            self.metrics.clone(),
            self.handoff.clone(),
            self.stop.clone(),
        );
        tokio::spawn(self.tracker.track_future(collector));
        writer
    }

    /// Wait until every writer started so far has ended: after `stop`, or with its
    /// worker's runtime.
    pub async fn stopped(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The share of `total` that the worker in place `place` (of `workers`) gets: as even as
/// possible, the first places taking the remainder, and never less than 1.
fn share(total: usize, workers: usize, place: usize) -> usize {
    let workers = workers.max(1);
    let extra = usize::from(place % workers < total % workers);
    (total / workers + extra).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(total: usize, workers: usize) -> Vec<usize> {
        (0..workers)
            .map(|place| share(total, workers, place))
            .collect()
    }

    #[test]
    fn a_total_is_shared_out_evenly_with_at_least_one_each() {
        assert_eq!(shares(2, 2), [1, 1]);
        assert_eq!(shares(2, 1), [2]);
        assert_eq!(shares(5, 2), [3, 2]);
        assert_eq!(shares(8192, 3), [2731, 2731, 2730]);
        // More workers than slots: every worker still has one.
        assert_eq!(shares(2, 4), [1, 1, 1, 1]);
        // Where the total suffices, the shares add up to it.
        for workers in 1..=8 {
            for total in workers..40 {
                assert_eq!(shares(total, workers).iter().sum::<usize>(), total);
            }
        }
        // A restarted worker's place wraps around.
        assert_eq!(share(5, 2, 2), share(5, 2, 0));
    }
}
