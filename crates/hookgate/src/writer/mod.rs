//! The [`BatchWriter`]: application-level group commit.
//!
//! Requests hand their verified event to a bounded channel and wait. A collector takes the
//! first waiting event, then everything else already queued (up to `batch_max`), and
//! commits it as one `INSERT ... ON CONFLICT DO NOTHING RETURNING` statement (its own
//! transaction) while the next batch accumulates. Each HTTP server worker runs a writer of
//! its own, on its own thread ([`Writers`]). Each of a writer's commit slots (its share of
//! `writer.concurrency`) keeps its connection between commits (see [`Slot`]). Only after
//! the commit is each request answered, so a 200 always means "on disk", and only then
//! are the new events (with the bodies held here) handed to the relay through the
//! [`Handoff`], so nothing is published before it is durable and a duplicate is never
//! handed over. No timer is involved: under load batches grow by themselves, when idle a
//! lone event commits at once.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use actix_web::web::Bytes;
use hookgate_core::{Verified, config::WriterConfig};
use sqlx::{PgPool, Postgres, pool::PoolConnection};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

mod workers;

pub use workers::Writers;

use crate::{
    handoff::{self, Committed, Handoff},
    metrics::Metrics,
    store::{NewEvent, events::Inserted},
};

/// What happened to a submitted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First time seen: stored and queued for publishing.
    Accepted,
    /// Already stored earlier (or by a concurrent copy): not published again.
    Duplicate,
}

impl Outcome {
    /// `accepted` / `duplicate`, as in the HTTP answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// Why an event could not be made durable. The request answers 503 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The writer's queue is full (back-pressure).
    #[error("writer queue is full")]
    QueueFull,
    /// The transaction failed: database down or erroring.
    #[error("database unavailable")]
    Unavailable,
}

struct Job {
    event: NewEvent,
    reply: oneshot::Sender<Result<Outcome, WriteError>>,
}

/// Handle for submitting verified events; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    tx: mpsc::Sender<Job>,
}

impl BatchWriter {
    /// A writer and its collector, for the caller to spawn (see [`Writers`]): every
    /// commit's new events go to `handoff` (or, when the relay cannot take them, are left
    /// due in the outbox). When `stop` is cancelled the collector commits what is queued,
    /// closes `pool` (the writer's own) and ends.
    pub fn new(
        pool: PgPool,
        config: &WriterConfig,
        metrics: Metrics,
        handoff: Handoff,
        stop: CancellationToken,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (back, free) = mpsc::unbounded_channel();
        for _ in 0..config.concurrency {
            let _ = back.send(None);
        }
        let collector = Collector {
            rx,
            pool,
            batch_max: config.batch_max,
            free,
            back,
            metrics,
            handoff,
        };
        (Self { tx }, collector.run(stop))
    }

    /// Store a verified event; resolves once it is committed (or failed).
    pub async fn write(
        &self,
        event: Verified<Bytes>,
        content_type: Option<String>,
        received_us: i64,
    ) -> Result<Outcome, WriteError> {
        let (provider, event_id, event_type, body) = event.into_parts();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            event: NewEvent {
                provider,
                event_id,
                event_type,
                content_type,
                body,
                received_us,
            },
            reply,
        };
        self.tx.try_send(job).map_err(|_| WriteError::QueueFull)?;
        // A dropped reply means the commit task died: nothing durable was promised.
        answer.await.unwrap_or(Err(WriteError::Unavailable))
    }
}

struct Collector {
    rx: mpsc::Receiver<Job>,
    pool: PgPool,
    batch_max: usize,
    /// Free commit slots, with the connection each kept (`None`: acquire one).
    free: mpsc::UnboundedReceiver<Option<Held>>,
    /// Where a [`Slot`] goes back to.
    back: mpsc::UnboundedSender<Option<Held>>,
    metrics: Metrics,
    handoff: Handoff,
}

/// A connection a commit slot keeps.
struct Held {
    conn: PoolConnection<Postgres>,
    age: Age,
}

/// When a kept connection was acquired and last used.
#[derive(Debug, Clone, Copy)]
struct Age {
    acquired: Instant,
    used: Instant,
}

impl Age {
    /// Acquired and used at `now`.
    fn new(now: Instant) -> Self {
        Self {
            acquired: now,
            used: now,
        }
    }

    /// Whether the slot may use the connection again at `now`: used within
    /// [`KEEP_IDLE`] and acquired within [`KEEP_AGE`].
    fn keep(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.used) < KEEP_IDLE
            && now.saturating_duration_since(self.acquired) < KEEP_AGE
    }
}

/// Longest a stopping writer waits for its pool to close.
const POOL_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// A kept connection idle for longer goes back to the pool (which tests it on the way: a
/// quiet period may have let a server or middlebox close it), and the next commit takes
/// one from the pool as any statement does.
const KEEP_IDLE: Duration = Duration::from_secs(30);

/// A kept connection older than this goes back to the pool, which closes it past its
/// `max_lifetime` (sqlx's default, 30 min): connections still move to a failed-over or
/// re-resolved server.
const KEEP_AGE: Duration = Duration::from_secs(15 * 60);

/// One of this writer's commit slots (its share of `writer.concurrency`), with the
/// connection it keeps between commits.
///
/// Keeping it saves a round trip per commit: sqlx returns a released connection to the
/// pool only after a `Sync` round trip to the server, in a task of its own (one more
/// Postgres wake-up and two more task hops per group commit). A connection whose
/// statement failed is not kept: dropped, it goes back to the pool, which tests it and
/// closes it if it is broken, and the next commit acquires another. Nor is one idle for
/// [`KEEP_IDLE`] or older than [`KEEP_AGE`]. The slot goes back when dropped, also if its
/// commit panics.
struct Slot {
    conn: Option<Held>,
    back: mpsc::UnboundedSender<Option<Held>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Closed only when the collector has ended: the connection then goes to the pool.
        let _ = self.back.send(self.conn.take());
    }
}

impl Slot {
    /// Insert on the kept connection, or on one acquired now.
    async fn insert(
        &mut self,
        pool: &PgPool,
        events: &[&NewEvent],
        lease: Duration,
    ) -> Result<Vec<Inserted>, sqlx::Error> {
        let now = Instant::now();
        let kept = self.conn.take().filter(|held| held.age.keep(now));
        let mut held = match kept {
            Some(held) => held,
            None => Held {
                conn: pool.acquire().await?,
                age: Age::new(Instant::now()),
            },
        };
        let result = crate::store::events::insert_batch(&mut *held.conn, events, lease).await;
        if result.is_ok() {
            held.age.used = Instant::now();
            self.conn = Some(held);
        }
        result
    }
}

impl Collector {
    async fn run(mut self, stop: CancellationToken) {
        let mut commits = JoinSet::new();
        loop {
            // Wait for a commit slot first: while all slots are busy, events pile up in the
            // channel and the next batch takes them all.
            let Some(conn) = self.free.recv().await else {
                break;
            };
            let slot = Slot {
                conn,
                back: self.back.clone(),
            };
            let first = tokio::select! {
                job = self.rx.recv() => job,
                () = stop.cancelled() => {
                    // Refuse new events, then commit everything already queued.
                    self.rx.close();
                    self.rx.recv().await
                }
            };
            let Some(first) = first else { break };
            let mut batch = Vec::with_capacity(self.batch_max.min(64));
            batch.push(first);
            while batch.len() < self.batch_max {
                match self.rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            commits.spawn(commit(
                batch,
                slot,
                self.pool.clone(),
                self.metrics.clone(),
                self.handoff.clone(),
            ));
            while commits.try_join_next().is_some() {}
        }
        while commits.join_next().await.is_some() {}
        // Every slot is back: their connections return to the pool, which closes them. A
        // return still pinging a hung server must not hold the stop.
        drop(self.free);
        let _ = tokio::time::timeout(POOL_CLOSE_LIMIT, self.pool.close()).await;
    }
}

#[tracing::instrument(name = "group_commit", skip_all, fields(events = batch.len()))]
async fn commit(batch: Vec<Job>, mut slot: Slot, pool: PgPool, metrics: Metrics, handoff: Handoff) {
    // Copies of one event in the same batch: only the first goes to the database.
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
    let mut unique = Vec::with_capacity(batch.len());
    for (i, job) in batch.iter().enumerate() {
        let key = (&*job.event.provider, job.event.event_id.as_str());
        if let std::collections::hash_map::Entry::Vacant(entry) = first_of.entry(key) {
            entry.insert(i);
            unique.push(&job.event);
        }
    }
    // Reserve the hand-off before committing: with a place, the outbox rows are leased to
    // the in-memory path; without one they are due for the sweep at once.
    let place = handoff.reserve().await;
    let lease = if place.is_some() {
        handoff::LEASE
    } else {
        std::time::Duration::ZERO
    };
    let started = Instant::now();
    let result = slot.insert(&pool, &unique, lease).await;
    // The slot is free for the next batch while this one is answered.
    drop(slot);
    metrics.batch_size.observe(batch.len() as f64);
    metrics
        .commit_latency
        .observe(started.elapsed().as_secs_f64());
    let new = match result {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(error = %e, "group commit failed; answering 503");
            for job in batch {
                let _ = job.reply.send(Err(WriteError::Unavailable));
            }
            return;
        }
    };
    // The job whose event each new row stores.
    let rows: Vec<(i64, usize)> = new
        .iter()
        .filter_map(|(pk, provider, event_id)| {
            first_of
                .get(&(provider.as_str(), event_id.as_str()))
                .map(|&i| (*pk, i))
        })
        .collect();
    drop(unique);
    drop(first_of);
    let (mut events, replies): (Vec<Option<NewEvent>>, Vec<_>) = batch
        .into_iter()
        .map(|job| (Some(job.event), job.reply))
        .unzip();
    let mut handed = Vec::with_capacity(rows.len());
    for (pk, i) in rows {
        // The event moves to the relay: an event taken is one that was stored.
        if let Some(event) = events[i].take() {
            handed.push(Committed { pk, event });
        }
    }
    match place {
        Some(place) if !handed.is_empty() => place.send(handed),
        Some(_) => {}
        None if !handed.is_empty() => {
            metrics.handoff_skipped.inc();
            handoff.rows_due();
        }
        None => {}
    }
    for (reply, left) in replies.into_iter().zip(events) {
        let outcome = if left.is_none() {
            Outcome::Accepted
        } else {
            Outcome::Duplicate
        };
        let _ = reply.send(Ok(outcome));
    }
}

#[cfg(test)]
mod tests {
    use hookgate_testkit::database::TestDatabase;

    use super::*;
    use crate::handoff::LEASE;

    /// A slot with no connection yet.
    fn slot() -> Slot {
        let (back, _free) = mpsc::unbounded_channel();
        Slot { conn: None, back }
    }

    /// When the slot's kept connection was acquired (it has one).
    fn acquired(slot: &Slot) -> Instant {
        slot.conn.as_ref().expect("a kept connection").age.acquired
    }

    /// Set one of the kept connection's clocks back by `by`, commit, and say whether the
    /// commit ran on another connection.
    async fn replaced_after(
        slot: &mut Slot,
        pool: &PgPool,
        clock: fn(&mut Age) -> &mut Instant,
        by: Duration,
    ) -> bool {
        let before = acquired(slot);
        let held = slot.conn.as_mut().expect("a kept connection");
        *clock(&mut held.age) = Instant::now()
            .checked_sub(by)
            .expect("the clock is older than the limit");
        slot.insert(pool, &[], LEASE).await.expect("a commit");
        acquired(slot) > before
    }

    /// The slot keeps its connection from one commit to the next, and takes another from
    /// the pool once the kept one has been idle for `KEEP_IDLE` (its clock set back).
    #[tokio::test]
    async fn a_slot_keeps_its_connection_until_it_has_been_idle_too_long() {
        let db = TestDatabase::create().await;
        let mut slot = slot();
        slot.insert(&db.pool, &[], LEASE)
            .await
            .expect("first commit");
        let first = acquired(&slot);
        slot.insert(&db.pool, &[], LEASE)
            .await
            .expect("second commit");
        assert_eq!(acquired(&slot), first, "a busy connection is kept");
        assert!(
            replaced_after(&mut slot, &db.pool, |age| &mut age.used, KEEP_IDLE).await,
            "an idle connection goes back and another is acquired"
        );
    }

    /// A slot hands its connection back when its statement failed (the pool tests it on
    /// the way: it may be broken), and when it was acquired `KEEP_AGE` ago, however busy.
    #[tokio::test]
    async fn a_slot_hands_back_a_connection_whose_statement_failed_or_that_is_too_old() {
        let db = TestDatabase::create().await;
        let mut slot = slot();
        slot.insert(&db.pool, &[], LEASE).await.expect("a commit");
        assert!(slot.conn.is_some(), "kept after a commit");
        // Partition maintenance never ran on this database: no key bucket, so storing an
        // event fails with the statement's own error.
        let event = NewEvent {
            provider: "groq".into(),
            event_id: "evt_slot".into(),
            event_type: "t".into(),
            content_type: None,
            body: Bytes::from_static(b"{}"),
            received_us: 0,
        };
        let failed = slot.insert(&db.pool, &[&event], LEASE).await;
        let code = failed
            .as_ref()
            .err()
            .and_then(|e| e.as_database_error())
            .and_then(|e| e.code());
        assert_eq!(
            code.as_deref(),
            Some("55000"),
            "key_bucket_pair's own error (no bucket): {failed:?}"
        );
        assert!(
            slot.conn.is_none(),
            "a connection whose statement failed is not kept"
        );
        slot.insert(&db.pool, &[], LEASE)
            .await
            .expect("the next commit acquires another");
        assert!(
            replaced_after(&mut slot, &db.pool, |age| &mut age.acquired, KEEP_AGE).await,
            "an old connection goes back and another is acquired"
        );
    }

    #[test]
    fn a_kept_connection_goes_back_when_idle_or_old() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut age = Age::new(start);
        // Used a moment ago: kept.
        assert!(age.keep(start + second));
        // Idle for KEEP_IDLE: handed back, though young.
        assert!(age.keep(start + KEEP_IDLE - second));
        assert!(!age.keep(start + KEEP_IDLE));
        // Used again and again, but acquired KEEP_AGE ago: handed back.
        let old = start + KEEP_AGE;
        age.used = old - second;
        assert!(age.keep(old - second));
        assert!(!age.keep(old));
    }
}
