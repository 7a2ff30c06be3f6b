//! The recovery sweep: every `relay.sweep_interval`, and whenever the writer committed rows
//! it could not hand over in memory, claim due outbox rows (crash leftovers, rows of a
//! broker outage, nacked and returned rows whose delay passed, replays) by lease and pass
//! them to the lanes. It runs only while the broker is connected: claiming rows that
//! cannot be published would only push their leases ahead.

use tokio_util::sync::CancellationToken;

use super::Relay;
use crate::{
    handoff::{Batch, Committed, LEASE},
    store::NewEvent,
    store::{self, OutboxRow},
};

impl Relay {
    /// Sweep until `stop` or `lost`.
    pub(super) async fn sweep(self, stop: CancellationToken, lost: CancellationToken) {
        let batch_max = self.config.relay.batch_max;
        let mut tick = tokio::time::interval(self.config.relay.sweep_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.handoff.due() => {}
                () = stop.cancelled() => return,
                () = lost.cancelled() => return,
            }
            loop {
                let rows = match store::outbox::claim(&self.pool, batch_max, LEASE).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "relay sweep cannot reach the database");
                        break;
                    }
                };
                let claimed = rows.len();
                if claimed == 0 {
                    break;
                }
                self.metrics.swept.inc_by(claimed as u64);
                let batch: Batch = rows.into_iter().map(committed).collect();
                let ids: Vec<i64> = batch.iter().map(|m| m.pk).collect();
                tokio::select! {
                    sent = self.swept.send(batch) => if sent.is_err() { return },
                    () = lost.cancelled() => return self.release(&ids).await,
                    () = stop.cancelled() => return self.release(&ids).await,
                }
                if (claimed as i64) < batch_max {
                    break;
                }
            }
        }
    }

    /// Make leased rows due again at once (best effort: the lease expires anyway).
    pub(super) async fn release(&self, ids: &[i64]) {
        if let Err(e) = store::outbox::defer(&self.pool, ids, std::time::Duration::ZERO).await {
            tracing::warn!(error = %e, rows = ids.len(), "could not release leased rows; they are swept when the lease ends");
        }
    }
}

fn committed(row: OutboxRow) -> Committed {
    Committed {
        pk: row.id,
        event: NewEvent {
            provider: row.provider.into(),
            event_id: row.event_id,
            event_type: row.event_type,
            content_type: row.content_type,
            body: row.body.into(),
            received_us: row.received_us,
        },
    }
}
