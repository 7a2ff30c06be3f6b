//! The [`Ledger`]: deletes the outbox rows of confirmed events, off the lanes' path, in
//! batched statements (whatever confirms arrived while the previous delete ran go in the
//! next one). A delete that keeps failing is given up: the rows are republished when their
//! lease ends, which consumers absorb by `message_id` (at-least-once).

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::{metrics::Metrics, store};

/// Most rows per `DELETE`.
const CHUNK: usize = 4096;
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
        tokio::spawn(run(pool, metrics, rx));
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

async fn run(pool: PgPool, metrics: Metrics, mut rx: mpsc::UnboundedReceiver<Entry>) {
    while let Some(first) = rx.recv().await {
        let mut ids = Vec::new();
        let mut closing = None;
        let mut take = |entry| match entry {
            Entry::Confirmed(more) => ids.extend(more),
            Entry::Close(reply) => closing = Some(reply),
        };
        take(first);
        while let Ok(entry) = rx.try_recv() {
            take(entry);
        }
        for chunk in ids.chunks(CHUNK) {
            delete(&pool, &metrics, chunk).await;
        }
        if let Some(reply) = closing {
            let _ = reply.send(());
            return;
        }
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
