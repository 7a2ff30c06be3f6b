//! The writer -> relay hand-off: [`Committed`], the signal the [`crate::writer::BatchWriter`]
//! raises after each commit that stored new events, and that wakes one idle relay lane.
//!
//! It carries no data: the committed rows are in the outbox table, which is the only
//! source the relay trusts (a lost signal costs at most one sweep interval, never an event).

use std::sync::Arc;

use tokio::sync::Notify;

/// "New rows are in the outbox." Cheap to clone; every clone is the same signal.
#[derive(Debug, Clone, Default)]
pub struct Committed(Arc<Notify>);

impl Committed {
    /// A fresh signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wake one waiting relay lane (or the next one to wait).
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Wait until the writer (or a lane that found a full batch) signals.
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
