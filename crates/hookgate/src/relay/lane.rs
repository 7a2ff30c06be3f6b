//! One relay lane: a confirm-mode channel that claims due outbox rows, publishes them as
//! persistent `mandatory` messages, awaits every confirm, then deletes the acked rows and
//! defers the returned and nacked ones, in the claim's transaction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate_contract::Envelope;
use lapin::{Channel, Confirmation, options::BasicPublishOptions};
use tokio_util::sync::CancellationToken;

use super::{BrokerError, CONFIRM_TIMEOUT, NACK_RETRY, Relay};
use crate::store;

/// Why a round ended early.
enum RoundError {
    /// The database failed: retry later on the same broker connection.
    Database(sqlx::Error),
    /// The broker failed: reconnect.
    Broker(BrokerError),
}

impl Relay {
    /// One channel's loop: drain due rows, then wait for a commit, the sweep timer or stop.
    /// Only one idle lane wakes per commit; a lane that finds a full batch wakes another,
    /// so parallelism follows the backlog instead of every lane polling every commit.
    pub(super) async fn lane(
        self,
        channel: Channel,
        stop: CancellationToken,
        lost: CancellationToken,
        reports_depth: bool,
    ) -> Result<(), BrokerError> {
        let batch_max = self.config.relay.batch_max;
        let mut sweep = tokio::time::interval(self.config.relay.sweep_interval);
        loop {
            let stopping = stop.is_cancelled();
            loop {
                match self.round(&channel).await {
                    Ok(n) if (n as i64) < batch_max => break,
                    Ok(_) => self.committed.notify(),
                    Err(RoundError::Broker(reason)) => return Err(reason),
                    Err(RoundError::Database(e)) => {
                        tracing::warn!(error = %e, "relay cannot reach the database");
                        break;
                    }
                }
                if lost.is_cancelled() {
                    return Err(BrokerError::LaneLost);
                }
            }
            if stopping {
                return Ok(());
            }
            if !channel.status().connected() {
                return Err(BrokerError::ChannelClosed);
            }
            tokio::select! {
                () = self.committed.notified() => {}
                _ = sweep.tick() => {
                    if reports_depth && let Ok(n) = store::outbox::pending(&self.pool).await {
                        self.metrics.outbox_pending.set(n);
                    }
                }
                () = stop.cancelled() => {}
                () = lost.cancelled() => return Err(BrokerError::LaneLost),
            }
        }
    }

    /// Claim, publish and confirm one batch; returns how many rows were claimed.
    async fn round(&self, channel: &Channel) -> Result<usize, RoundError> {
        let mut tx = self.pool.begin().await.map_err(RoundError::Database)?;
        let rows = store::outbox::claim(&mut tx, self.config.relay.batch_max)
            .await
            .map_err(RoundError::Database)?;
        if rows.is_empty() {
            tx.commit().await.map_err(RoundError::Database)?;
            return Ok(0);
        }
        let exchange = self.config.amqp.exchange.as_str();
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut broken = None;
        let mut in_flight = Vec::with_capacity(rows.len());
        for row in &rows {
            let envelope = Envelope {
                provider: row.provider.clone(),
                event_id: row.event_id.clone(),
                event_type: row.event_type.clone(),
                received_at: UNIX_EPOCH + Duration::from_micros(row.received_us.max(0) as u64),
                content_type: row.content_type.clone(),
            };
            let routing_key = self
                .config
                .amqp
                .routing_key
                .render(&row.provider, &row.event_type);
            let published = channel
                .basic_publish(
                    exchange.into(),
                    routing_key.as_str().into(),
                    mandatory,
                    &row.body,
                    envelope.properties(),
                )
                .await;
            match published {
                Ok(confirm) => in_flight.push((row, confirm)),
                Err(e) => {
                    broken = Some(BrokerError::Publish(e));
                    break;
                }
            }
        }
        let (mut acked, mut returned, mut nacked) = (Vec::new(), Vec::new(), Vec::new());
        for (row, confirm) in in_flight {
            match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => {
                    acked.push(row.id);
                    self.metrics.confirms.inc();
                    self.metrics.relay_lag.observe(lag_seconds(row.received_us));
                }
                Ok(Ok(Confirmation::Ack(Some(_)))) => {
                    returned.push(row.id);
                    self.metrics.returns.inc();
                }
                Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) => {
                    nacked.push(row.id);
                    self.metrics.nacks.inc();
                }
                Ok(Err(e)) => {
                    broken.get_or_insert(BrokerError::Confirm(e));
                }
                Err(_) => {
                    broken.get_or_insert(BrokerError::ConfirmTimeout);
                }
            }
        }
        if !returned.is_empty() {
            tracing::warn!(
                count = returned.len(),
                "events returned unroutable; will retry"
            );
        }
        store::outbox::mark_published(&mut tx, &acked)
            .await
            .map_err(RoundError::Database)?;
        store::outbox::defer_returned(&mut tx, &returned)
            .await
            .map_err(RoundError::Database)?;
        store::outbox::defer(&mut tx, &nacked, NACK_RETRY)
            .await
            .map_err(RoundError::Database)?;
        tx.commit().await.map_err(RoundError::Database)?;
        match broken {
            Some(reason) => Err(RoundError::Broker(reason)),
            None => Ok(rows.len()),
        }
    }
}

fn lag_seconds(received_us: i64) -> f64 {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    (now_us - received_us).max(0) as f64 / 1e6
}
