//! The [`Relay`]: moves committed events from the outbox to RabbitMQ.
//!
//! It owns its broker connection and its reconnect loop (lapin's own recovery is not
//! relied on): connect, declare the topology, open `concurrency` confirm-mode channels
//! ("lanes"), and publish until the connection is lost; then back off and start over. Each
//! lane claims due rows with `FOR UPDATE SKIP LOCKED` in a transaction, publishes them all
//! as persistent `mandatory` messages, awaits every confirm, marks the acked rows published
//! and commits. Returned, nacked or unconfirmed rows stay unpublished, so nothing
//! acknowledged to a provider is lost, and several gateways can share one database.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hookgate_contract::Envelope;
use hookgate_core::{config::Config, template::RoutingKey};
use lapin::{
    Channel, Confirmation, Connection, options::BasicPublishOptions, options::ConfirmSelectOptions,
};
use sqlx::PgPool;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{broker, metrics::Metrics, store};

/// How long a lane waits for the broker to confirm a round before giving up on the channel.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Nacked rows are retried after this.
const NACK_RETRY: Duration = Duration::from_secs(1);

/// Whether the relay currently holds a working broker connection (for `/health/ready`).
#[derive(Debug, Clone, Default)]
pub struct BrokerState(Arc<AtomicBool>);

impl BrokerState {
    /// True while connected.
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
}

/// Publishes the outbox to RabbitMQ with publisher confirms.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    config: Arc<Config>,
    routing_key: Arc<RoutingKey>,
    metrics: Metrics,
    committed: Arc<Notify>,
    state: BrokerState,
}

enum RoundError {
    /// The database failed: retry later on the same broker connection.
    Database(sqlx::Error),
    /// The broker failed: reconnect.
    Broker(String),
}

impl Relay {
    /// A relay over `pool`; one idle lane wakes per `committed.notify_one()`.
    pub fn new(
        pool: PgPool,
        config: Arc<Config>,
        metrics: Metrics,
        committed: Arc<Notify>,
        state: BrokerState,
    ) -> anyhow::Result<Self> {
        let routing_key = RoutingKey::parse(&config.amqp.routing_key)
            .map_err(|e| anyhow::anyhow!("amqp.routing_key: {e}"))?;
        Ok(Self {
            pool,
            config,
            routing_key: Arc::new(routing_key),
            metrics,
            committed,
            state,
        })
    }

    /// Run until `stop` is cancelled; then finish a last drain round and return.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = self.config.relay.reconnect_backoff;
        loop {
            match self.connect().await {
                Ok(connection) => {
                    backoff = self.config.relay.reconnect_backoff;
                    self.metrics.reconnects.inc();
                    self.state.set(true);
                    tracing::info!("broker connected");
                    let lost = self.publish(&connection, &stop).await;
                    self.state.set(false);
                    match lost {
                        Ok(()) => {
                            let close = connection.close(200, "shutdown".into());
                            if tokio::time::timeout(Duration::from_secs(5), close)
                                .await
                                .is_err()
                            {
                                tracing::warn!("broker did not acknowledge the close in time");
                            }
                            return;
                        }
                        Err(reason) => tracing::warn!(%reason, "broker connection lost"),
                    }
                }
                Err(e) => {
                    self.state.set(false);
                    tracing::warn!(error = %e, retry_in = ?backoff, "broker unavailable");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn connect(&self) -> lapin::Result<Connection> {
        let connection = broker::connect(&self.config.amqp.url).await?;
        let channel = connection.create_channel().await?;
        broker::declare_topology(&channel, &self.config.amqp).await?;
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(connection)
    }

    /// Run the lanes until `stop` (Ok) or a broker failure (Err).
    async fn publish(
        &self,
        connection: &Connection,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let lost = CancellationToken::new();
        let mut lanes = JoinSet::new();
        for index in 0..self.config.relay.concurrency.max(1) {
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| e.to_string())?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            let lane = self.clone();
            let (stop, lost) = (stop.clone(), lost.clone());
            lanes.spawn(async move {
                // One lane is enough to refresh the outbox-depth gauge.
                let result = lane.lane(channel, stop, lost.clone(), index == 0).await;
                if result.is_err() {
                    lost.cancel();
                }
                result
            });
        }
        let mut outcome = Ok(());
        while let Some(done) = lanes.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => outcome = Err(reason),
                Err(e) => outcome = Err(format!("relay lane panicked: {e}")),
            }
        }
        outcome
    }

    /// One channel's loop: drain due rows, then wait for a commit, the sweep timer or stop.
    /// Only one idle lane wakes per commit; a lane that finds a full batch wakes another,
    /// so parallelism follows the backlog instead of every lane polling every commit.
    async fn lane(
        self,
        channel: Channel,
        stop: CancellationToken,
        lost: CancellationToken,
        reports_depth: bool,
    ) -> Result<(), String> {
        let batch_max = self.config.relay.batch_max;
        let mut sweep = tokio::time::interval(self.config.relay.sweep_interval);
        loop {
            let stopping = stop.is_cancelled();
            loop {
                match self.round(&channel).await {
                    Ok(n) if (n as i64) < batch_max => break,
                    Ok(_) => self.committed.notify_one(),
                    Err(RoundError::Broker(reason)) => return Err(reason),
                    Err(RoundError::Database(e)) => {
                        tracing::warn!(error = %e, "relay cannot reach the database");
                        break;
                    }
                }
                if lost.is_cancelled() {
                    return Err("another lane lost the connection".into());
                }
            }
            if stopping {
                return Ok(());
            }
            if !channel.status().connected() {
                return Err("channel closed".into());
            }
            tokio::select! {
                () = self.committed.notified() => {}
                _ = sweep.tick() => {
                    if reports_depth && let Ok(n) = store::outbox_pending(&self.pool).await {
                        self.metrics.outbox_pending.set(n);
                    }
                }
                () = stop.cancelled() => {}
                () = lost.cancelled() => return Err("another lane lost the connection".into()),
            }
        }
    }

    /// Claim, publish and confirm one batch; returns how many rows were claimed.
    async fn round(&self, channel: &Channel) -> Result<usize, RoundError> {
        let mut tx = self.pool.begin().await.map_err(RoundError::Database)?;
        let rows = store::claim(&mut tx, self.config.relay.batch_max)
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
            let routing_key = self.routing_key.render(&row.provider, &row.event_type);
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
                    broken = Some(e.to_string());
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
                    broken.get_or_insert(e.to_string());
                }
                Err(_) => {
                    broken.get_or_insert("publisher confirm timed out".into());
                }
            }
        }
        if !returned.is_empty() {
            tracing::warn!(
                count = returned.len(),
                "events returned unroutable; will retry"
            );
        }
        store::mark_published(&mut tx, &acked)
            .await
            .map_err(RoundError::Database)?;
        store::defer_returned(&mut tx, &returned)
            .await
            .map_err(RoundError::Database)?;
        store::defer(&mut tx, &nacked, NACK_RETRY)
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
