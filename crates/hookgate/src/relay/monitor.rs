//! The backlog report: every sweep interval (at least once a second) the outbox depth and
//! the age of the oldest unconfirmed event go to `hookgate_outbox_pending` and
//! `hookgate_relay_backlog_seconds`, whether or not the broker is reachable, so a relay
//! that falls behind (or a broker that cannot keep up) shows before the backlog is large.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{metrics::Metrics, store};

/// Refresh the backlog gauges until `stop`.
pub(super) async fn run(pool: PgPool, metrics: Metrics, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Ok((pending, age)) = store::outbox::backlog(&pool).await {
            metrics.outbox_pending.set(pending);
            metrics.backlog_seconds.set(age);
        }
    }
}
