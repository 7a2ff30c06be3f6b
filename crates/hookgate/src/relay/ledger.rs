//! The [`Ledger`]: deletes the outbox rows of confirmed events, off the lanes' path, in
//! batched statements. After the first confirm of a round it gathers for up to
//! [`LINGER`] (or [`GATHER_MAX`] rows), so a moderate load costs a few deletes a second
//! rather than one per relay batch: each statement costs Postgres about as much as its
//! rows. A row waiting here normally still holds its lease (30 s from its commit or
//! claim), so no sweep takes it meanwhile; one whose confirm took most of the lease may be
//! published again. A stop deletes what the round gathered at once.
//!
//! Only rows still leased are deleted ([`store::outbox::delete`]): a replay that made a
//! confirmed row due again while its delete waited here is published, not lost. A delete
//! that keeps failing is given up: the rows are republished when their lease ends, which
//! consumers absorb by `message_id` (at-least-once).

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::{metrics::Metrics, store};

/// Most rows per `DELETE`.
const CHUNK: usize = 4096;
/// Longest a round gathers confirms before it deletes (far below the hand-off lease).
const LINGER: Duration = Duration::from_millis(100);
/// A round that has gathered this many rows deletes at once, so the confirmed rows
/// waiting here stay a small part of `hookgate_outbox_pending` at any rate.
const GATHER_MAX: usize = 512;
/// Attempts per chunk before giving up on it.
const ATTEMPTS: u32 = 3;

enum Entry {
    Confirmed(Vec<i64>),
    Close(oneshot::Sender<()>),
}

/// Handle to the delete task; cheap to clone.
#[derive(Clone)]
pub(super) struct Ledger {
    tx: mpsc::UnboundedSender<Entry>,
}

impl Ledger {
    /// Start the delete task (must be called inside a runtime).
    pub(super) fn new(pool: PgPool, metrics: Metrics) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, metrics, rx, LINGER));
        Self { tx }
    }

    /// The broker confirmed these events: delete their outbox rows soon.
    pub(super) fn confirmed(&self, ids: Vec<i64>) {
        if !ids.is_empty() {
            let _ = self.tx.send(Entry::Confirmed(ids));
        }
    }

    /// Finish the pending deletes, then stop the task.
    pub(super) async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Entry::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

async fn run(
    pool: PgPool,
    metrics: Metrics,
    mut rx: mpsc::UnboundedReceiver<Entry>,
    linger: Duration,
) {
    while let Some(first) = rx.recv().await {
        let mut round = Round::default();
        round.take(first);
        let until = tokio::time::Instant::now() + linger;
        while round.gathering() {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(entry)) => round.take(entry),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(entry) = rx.try_recv() {
            round.take(entry);
        }
        for chunk in round.ids.chunks(CHUNK) {
            delete(&pool, &metrics, chunk).await;
        }
        if let Some(reply) = round.closing {
            let _ = reply.send(());
            return;
        }
    }
}

/// What one round deletes, and whether it is the last.
#[derive(Default)]
struct Round {
    ids: Vec<i64>,
    closing: Option<oneshot::Sender<()>>,
}

impl Round {
    fn take(&mut self, entry: Entry) {
        match entry {
            Entry::Confirmed(more) => self.ids.extend(more),
            Entry::Close(reply) => self.closing = Some(reply),
        }
    }

    /// Whether to wait for more: not when closing, nor with [`GATHER_MAX`] rows.
    fn gathering(&self) -> bool {
        self.closing.is_none() && self.ids.len() < GATHER_MAX
    }
}

#[tracing::instrument(skip_all, fields(rows = ids.len()))]
async fn delete(pool: &PgPool, metrics: &Metrics, ids: &[i64]) {
    for attempt in 1..=ATTEMPTS {
        match store::outbox::delete(pool, ids).await {
            Ok(()) => return,
            Err(e) if attempt == ATTEMPTS => {
                metrics.delete_failures.inc_by(ids.len() as u64);
                tracing::warn!(error = %e, rows = ids.len(), "giving up deleting confirmed outbox rows; they will be republished after their lease");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200) * attempt).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use hookgate_testkit::database::TestDatabase;

    use super::*;

    async fn outbox(pool: &PgPool) -> Vec<i64> {
        sqlx::query_scalar("SELECT event_pk FROM outbox ORDER BY event_pk")
            .fetch_all(pool)
            .await
            .expect("outbox")
    }

    /// With a linger of an hour, a stop still deletes every confirmed row at once, and a
    /// row that a replay made due again after its confirm stays to be published.
    #[tokio::test]
    async fn a_stop_deletes_the_gathered_rows_at_once_but_not_a_replayed_one() {
        let db = TestDatabase::create().await;
        sqlx::query(
            "INSERT INTO outbox (event_pk, next_attempt_at)
             SELECT n, now() + interval '30 seconds' FROM generate_series(1, 4) n",
        )
        .execute(&db.pool)
        .await
        .expect("leased rows");
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(
            db.pool.clone(),
            Metrics::new(),
            rx,
            Duration::from_secs(3600),
        ));
        tx.send(Entry::Confirmed(vec![1, 2])).expect("send");
        tx.send(Entry::Confirmed(vec![3])).expect("send");
        // What a replay does to a stored event's row.
        sqlx::query("UPDATE outbox SET next_attempt_at = now() WHERE event_pk = 3")
            .execute(&db.pool)
            .await
            .expect("replay");
        let (reply, done) = oneshot::channel();
        tx.send(Entry::Close(reply)).expect("send");
        tokio::time::timeout(Duration::from_secs(10), done)
            .await
            .expect("the stop did not wait out the linger")
            .expect("reply");
        task.await.expect("ledger task");
        assert_eq!(outbox(&db.pool).await, vec![3, 4]);
    }
}
