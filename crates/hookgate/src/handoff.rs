//! The writer -> relay hand-off: [`Handoff`], a bounded in-memory channel of committed
//! batches. After each commit the [`crate::writer::BatchWriter`] passes the new events,
//! with the bodies it already holds, straight to the relay, which publishes them without
//! reading them back from Postgres.
//!
//! The outbox stays the source of truth for recovery. The writer reserves a slot *before*
//! it commits: with a slot, the batch's outbox rows are inserted with a lease
//! ([`LEASE`]) so no recovery sweep (of this or another gateway) takes them while the
//! in-memory path publishes them; without one (the relay is not connected, or is behind
//! and the channel is full) the rows are inserted due at once and the sweep publishes them
//! from the table. Either way a crash loses nothing: an unconfirmed row is swept when its
//! lease ends.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, mpsc};

use crate::store::NewEvent;

/// How long the recovery sweep leaves alone an outbox row whose event was handed over in
/// memory (or claimed by a sweep): longer than any healthy publish and confirm, short
/// enough that a crashed gateway's rows are republished soon.
pub const LEASE: Duration = Duration::from_secs(30);

/// Committed batches the relay has not taken yet (a batch is up to `writer.batch_max`
/// events). When the broker is the bottleneck, acknowledged events wait here: 8 batches
/// halved the closed-loop ack -> delivered p99 against 32 at the same maximum, and kept
/// ack p99 no higher (BENCHMARKS.md §2, sixth session).
pub const CAPACITY: usize = 8;

/// One committed, new event, as the relay publishes it.
#[derive(Debug, Clone)]
pub struct Committed {
    /// `events.id` (= `outbox.event_pk`).
    pub pk: i64,
    /// The event as it was stored.
    pub event: NewEvent,
}

/// Events published together: one commit's new events, or one sweep's claim.
pub type Batch = Vec<Committed>;

/// The writer's end (and the relay's switch). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handoff {
    tx: mpsc::Sender<Batch>,
    /// `relay.backpressure_wait`.
    wait: Duration,
    accepting: Arc<AtomicBool>,
    due: Arc<Notify>,
}

/// The relay's end.
#[derive(Debug)]
pub struct Receiver {
    /// Committed batches, oldest first.
    pub batches: mpsc::Receiver<Batch>,
}

/// A reserved place for one batch; dropping it frees the place.
#[derive(Debug)]
pub struct Slot(mpsc::OwnedPermit<Batch>);

impl Slot {
    /// Hand the committed batch to the relay.
    pub fn send(self, batch: Batch) {
        self.0.send(batch);
    }
}

/// A hand-off with room for [`CAPACITY`] batches, closed until the relay connects. A
/// commit waits up to `wait` (`relay.backpressure_wait`) for a place while the relay is
/// behind.
pub fn channel(wait: Duration) -> (Handoff, Receiver) {
    let (tx, batches) = mpsc::channel(CAPACITY);
    let handoff = Handoff {
        tx,
        wait,
        accepting: Arc::default(),
        due: Arc::default(),
    };
    (handoff, Receiver { batches })
}

impl Handoff {
    /// A place for the next commit's batch, or `None` when the relay cannot take it: it
    /// has no broker connection (answer at once: a broker outage must not slow the
    /// acknowledgements), or it stayed behind for the back-pressure wait. Waiting keeps
    /// the ingress at the pace the broker confirms, so the outbox does not grow while the
    /// broker is merely slower than the ingress.
    pub async fn reserve(&self) -> Option<Slot> {
        if !self.accepting.load(Ordering::Relaxed) {
            return None;
        }
        match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Some(Slot(permit)),
            Err(mpsc::error::TrySendError::Full(tx)) => {
                tokio::time::timeout(self.wait, tx.reserve_owned())
                    .await
                    .ok()?
                    .ok()
                    .map(Slot)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }

    /// The relay opens the in-memory path while it holds a broker connection.
    pub fn set_accepting(&self, open: bool) {
        self.accepting.store(open, Ordering::Relaxed);
    }

    /// Whether the in-memory path is open.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// The writer committed rows due at once (no slot): wake the sweep.
    pub fn rows_due(&self) {
        self.due.notify_one();
    }

    /// Wait until the writer committed rows due at once.
    pub async fn due(&self) {
        self.due.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_slot_until_the_relay_accepts_then_until_full() {
        let (handoff, _rx) = channel(Duration::from_millis(10));
        assert!(
            handoff.reserve().await.is_none(),
            "closed before the relay connects"
        );
        handoff.set_accepting(true);
        let mut slots = Vec::new();
        for _ in 0..CAPACITY {
            slots.push(handoff.reserve().await.expect("room"));
        }
        assert!(handoff.reserve().await.is_none(), "full after the wait");
        drop(slots);
        assert!(
            handoff.reserve().await.is_some(),
            "dropped slots free their place"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_wait_takes_a_free_place_and_never_waits_for_one() {
        let (handoff, mut rx) = channel(Duration::ZERO);
        handoff.set_accepting(true);
        for _ in 0..CAPACITY {
            handoff.reserve().await.expect("room").send(Vec::new());
        }
        let started = tokio::time::Instant::now();
        assert!(handoff.reserve().await.is_none(), "full: no place");
        assert_eq!(started.elapsed(), Duration::ZERO, "and no wait for one");
        rx.batches.recv().await.expect("a batch");
        assert!(
            handoff.reserve().await.is_some(),
            "a taken batch frees a place"
        );
    }
}
