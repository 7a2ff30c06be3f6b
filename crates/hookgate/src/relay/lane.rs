//! One relay lane: a confirm-mode channel that takes a batch (committed batches first,
//! merged up to `relay.batch_max` events, else a swept one), publishes it as persistent
//! `mandatory` messages, awaits every confirm, and books the outcome: confirmed rows go to
//! the [`super::ledger::Ledger`], returned and nacked ones are deferred, and on a broker
//! failure the unconfirmed ones are released for the sweep. No transaction or row lock is
//! held while the broker confirms.

use std::time::{Duration, UNIX_EPOCH};

use hookgate_contract::Envelope;
use lapin::{
    Channel, Confirmation, PublisherConfirm, message::BasicReturnMessage,
    options::BasicPublishOptions,
};
use tokio_util::sync::CancellationToken;

use super::{BrokerError, CLOSE_TIMEOUT, CONFIRM_TIMEOUT, Inputs, NACK_RETRY, Relay};
use crate::{
    handoff::{Batch, Committed},
    store,
};

/// Most body bytes whose publishes are started together (lapin holds a copy of each
/// until its I/O thread has written it).
const WINDOW_BYTES: usize = 4 << 20;

/// What a lane does next.
enum Next {
    Publish(Batch),
    Stop,
    Lost,
}

/// How a batch went.
#[derive(Default)]
struct Outcome {
    acked: Vec<i64>,
    returned: Vec<i64>,
    nacked: Vec<i64>,
    broken: Option<BrokerError>,
}

impl Relay {
    /// One channel's loop: publish batches until `stop` (and nothing is left) or a broker
    /// failure.
    pub(super) async fn lane(
        self,
        channel: Channel,
        stop: CancellationToken,
        lost: CancellationToken,
    ) -> Result<(), BrokerError> {
        loop {
            let batch = match self.next_batch(&stop, &lost).await {
                Next::Publish(batch) => batch,
                Next::Stop => {
                    close(&channel).await;
                    return Ok(());
                }
                Next::Lost => return Err(BrokerError::LaneLost),
            };
            let outcome = self.publish_batch(&channel, &batch).await;
            self.book(&batch, outcome).await?;
            if !channel.status().connected() {
                return Err(BrokerError::ChannelClosed);
            }
        }
    }

    /// Wait for work: the oldest committed batch (plus whatever else is queued, up to
    /// `relay.batch_max` events), else a swept batch. When stopping, only what is queued.
    async fn next_batch(&self, stop: &CancellationToken, lost: &CancellationToken) -> Next {
        let mut inputs = tokio::select! {
            inputs = self.inputs.lock() => inputs,
            () = lost.cancelled() => return Next::Lost,
        };
        let Inputs { committed, swept } = &mut *inputs;
        let first = if stop.is_cancelled() {
            committed.try_recv().or_else(|_| swept.try_recv()).ok()
        } else {
            tokio::select! {
                biased;
                () = lost.cancelled() => return Next::Lost,
                Some(batch) = committed.recv() => Some(batch),
                Some(batch) = swept.recv() => Some(batch),
                () = stop.cancelled() => committed.try_recv().or_else(|_| swept.try_recv()).ok(),
            }
        };
        let Some(mut batch) = first else {
            return Next::Stop;
        };
        let batch_max = usize::try_from(self.config.relay.batch_max).unwrap_or(usize::MAX);
        while batch.len() < batch_max {
            match committed.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        Next::Publish(batch)
    }

    /// Publish every message of `batch`, then await the confirms in order.
    ///
    /// The publishes of a window are awaited together: each one's frames are queued for
    /// lapin's I/O thread on the first poll, so one wake-up of that thread writes the
    /// whole window. Awaiting them one by one cost a round trip to that thread per
    /// message. lapin copies each body into its frame queue, so a window holds at most
    /// [`WINDOW_BYTES`] of bodies (and at least one message).
    #[tracing::instrument(name = "relay_publish", skip_all, fields(events = batch.len()))]
    async fn publish_batch(&self, channel: &Channel, batch: &[Committed]) -> Outcome {
        let mut outcome = Outcome::default();
        let mut in_flight = Vec::with_capacity(batch.len());
        let mut rest = batch;
        'windows: while !rest.is_empty() {
            let mut bytes = 0;
            let len = rest
                .iter()
                .take_while(|m| {
                    bytes += m.event.body.len();
                    bytes <= WINDOW_BYTES
                })
                .count()
                .max(1);
            let (window, later) = rest.split_at(len);
            rest = later;
            let published =
                futures_util::future::join_all(window.iter().map(|m| self.publish_one(channel, m)))
                    .await;
            for (message, published) in window.iter().zip(published) {
                match published {
                    Ok(confirm) => in_flight.push((message, confirm)),
                    Err(e) => {
                        outcome.broken = Some(BrokerError::Publish(e));
                        break 'windows;
                    }
                }
            }
        }
        // lapin hands a returned message to whichever confirm completes next, and a
        // `multiple` ack completes its tags in no particular order: the confirm carrying a
        // return is not always the returned message's own. So confirms only say acked or
        // nacked, and returns are matched to rows by the message's identity (provider and
        // event ID, unique among stored events). A return and the ack of its tag arrive
        // together, before any later tag's ack, so every return of this batch is carried
        // by a confirm of this batch.
        let mut settled = Vec::with_capacity(in_flight.len());
        // Returns are rare: a list, searched per message only when it is not empty.
        let mut returned = Vec::new();
        for (message, confirm) in in_flight {
            let acked = match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(carried))) => {
                    returned.extend(carried.map(identity));
                    true
                }
                Ok(Ok(Confirmation::Nack(carried))) => {
                    returned.extend(carried.map(identity));
                    false
                }
                Ok(Ok(Confirmation::NotRequested)) => false,
                Ok(Err(e)) => {
                    outcome.broken = Some(BrokerError::Confirm(e));
                    break;
                }
                Err(_) => {
                    outcome.broken = Some(BrokerError::ConfirmTimeout);
                    break;
                }
            };
            settled.push((message, acked));
        }
        for (message, acked) in settled {
            let event = &message.event;
            let was_returned = returned.iter().any(|(provider, id): &(String, String)| {
                *provider == *event.provider && *id == event.event_id
            });
            if was_returned {
                outcome.returned.push(message.pk);
                self.metrics.returns.inc();
            } else if acked {
                outcome.acked.push(message.pk);
                self.metrics.confirms.inc();
                self.metrics
                    .relay_lag
                    .observe(lag_seconds(event.received_us));
            } else {
                outcome.nacked.push(message.pk);
                self.metrics.nacks.inc();
            }
        }
        outcome
    }

    /// Start publishing one message: persistent, `mandatory`, with the envelope's
    /// properties and the configured routing key.
    fn publish_one<'a>(
        &'a self,
        channel: &'a Channel,
        message: &'a Committed,
    ) -> impl Future<Output = lapin::Result<PublisherConfirm>> + 'a {
        let event = &message.event;
        let envelope = Envelope {
            provider: event.provider.to_string(),
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            received_at: UNIX_EPOCH + Duration::from_micros(event.received_us.max(0) as u64),
            content_type: event.content_type.clone(),
        };
        let routing_key = self
            .config
            .amqp
            .routing_key
            .render(&event.provider, &event.event_type);
        channel.basic_publish(
            self.config.amqp.exchange.as_str().into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &event.body,
            envelope.properties(),
        )
    }

    /// Record how `batch` went; `Err` when the broker failed (after releasing the rows it
    /// did not confirm).
    async fn book(&self, batch: &[Committed], outcome: Outcome) -> Result<(), BrokerError> {
        let Outcome {
            acked,
            returned,
            nacked,
            broken,
        } = outcome;
        if !returned.is_empty() {
            tracing::warn!(
                count = returned.len(),
                "events returned unroutable; will retry"
            );
        }
        if let Err(e) = store::outbox::defer_returned(&self.pool, &returned).await {
            tracing::warn!(error = %e, "could not defer returned rows; they are retried after their lease");
        }
        if let Err(e) = store::outbox::defer(&self.pool, &nacked, NACK_RETRY).await {
            tracing::warn!(error = %e, "could not defer nacked rows; they are retried after their lease");
        }
        let Some(reason) = broken else {
            self.ledger.confirmed(acked);
            return Ok(());
        };
        let settled = acked.len() + returned.len() + nacked.len();
        let unconfirmed: Vec<i64> = batch
            .iter()
            .map(|m| m.pk)
            .filter(|pk| !acked.contains(pk) && !returned.contains(pk) && !nacked.contains(pk))
            .collect();
        debug_assert_eq!(settled + unconfirmed.len(), batch.len());
        self.ledger.confirmed(acked);
        self.release(&unconfirmed).await;
        Err(reason)
    }
}

/// Close a stopping lane's channel, bounded by [`CLOSE_TIMEOUT`]. Closed here, before the
/// connection: a dropped channel's own close would race the connection's, and lapin logs
/// the loser as a connection error, on every clean stop. A broker that blocked the
/// connection (an alarm) never answers, so the wait is bounded; the connection's close
/// follows either way.
async fn close(channel: &Channel) {
    match tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, "shutdown".into())).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "relay channel close failed"),
        Err(_) => tracing::debug!("relay channel close not acknowledged in time"),
    }
}

/// The identity of a returned message: its provider header and message ID.
fn identity(returned: BasicReturnMessage) -> (String, String) {
    let envelope = Envelope::from_properties(&returned.delivery.properties);
    (envelope.provider, envelope.event_id)
}

fn lag_seconds(received_us: i64) -> f64 {
    (crate::unix_now_us() - received_us).max(0) as f64 / 1e6
}
