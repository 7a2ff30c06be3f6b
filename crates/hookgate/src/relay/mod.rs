//! The [`Relay`]: moves committed events to RabbitMQ.
//!
//! It owns its broker connection and its reconnect loop (lapin's own recovery is not
//! relied on): connect, declare the topology, open `concurrency` confirm-mode channels
//! ("lanes"), and publish until the connection is lost; then back off and start over.
//!
//! Two sources feed the lanes (files named after the stages):
//!
//! - the in-memory hand-off ([`crate::handoff`]): batches the writer just committed, with
//!   their bodies, published at once without reading Postgres ([`lane`]);
//! - the recovery sweep ([`sweep`]): outbox rows the in-memory path did not confirm
//!   (crash, broker down, hand-off full, nacks, returns), claimed by lease with
//!   `FOR UPDATE SKIP LOCKED`, so several gateways can share one database.
//!
//! Confirmed rows are deleted in batched, asynchronous statements ([`ledger`]): a lost
//! delete only means an at-least-once republish after the lease. Returned, nacked or
//! unconfirmed rows stay in the outbox, so nothing acknowledged to a provider is lost.
//! [`monitor`] reports the backlog (depth and age) whatever the broker's state.

mod error;
mod lane;
mod ledger;
mod monitor;
mod sweep;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use hookgate_core::config::Config;
use lapin::{Connection, options::ConfirmSelectOptions};
use sqlx::PgPool;
use tokio::{
    sync::{Mutex, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

pub use error::BrokerError;

use crate::{
    broker,
    handoff::{self, Batch, Handoff},
    metrics::Metrics,
};

/// How long a lane waits for the broker to confirm a batch before giving up on the channel.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait at shutdown for the broker to acknowledge a lane's channel close (the
/// lanes close theirs at once, then the connection's close has 5 s: both within the
/// app's 10 s limit for the relay's stop).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Nacked rows are retried after this.
const NACK_RETRY: Duration = Duration::from_secs(1);
/// Swept batches waiting for a lane (each is up to `relay.batch_max` leased rows).
const SWEPT_CAPACITY: usize = 2;

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

/// What the lanes take work from: committed batches first, then swept ones. Shared by
/// the lanes of every connection, so batches left over by a lost connection are published
/// by the next one.
struct Inputs {
    committed: mpsc::Receiver<Batch>,
    swept: mpsc::Receiver<Batch>,
}

/// Publishes committed events to RabbitMQ with publisher confirms.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    config: Arc<Config>,
    metrics: Metrics,
    handoff: Handoff,
    inputs: Arc<Mutex<Inputs>>,
    swept: mpsc::Sender<Batch>,
    ledger: ledger::Ledger,
    state: BrokerState,
}

impl Relay {
    /// A relay over `pool`, taking the writer's batches from `committed`.
    pub fn new(
        pool: PgPool,
        config: Arc<Config>,
        metrics: Metrics,
        (handoff, committed): (Handoff, handoff::Receiver),
        state: BrokerState,
    ) -> Self {
        let (swept, swept_rx) = mpsc::channel(SWEPT_CAPACITY);
        Self {
            ledger: ledger::Ledger::new(pool.clone(), metrics.clone()),
            pool,
            config,
            metrics,
            handoff,
            inputs: Arc::new(Mutex::new(Inputs {
                committed: committed.batches,
                swept: swept_rx,
            })),
            swept,
            state,
        }
    }

    /// Run until `stop` is cancelled; then publish what was handed over, let the pending
    /// deletes finish, and return.
    pub async fn run(self, stop: CancellationToken) {
        let monitor = tokio::spawn(monitor::run(
            self.pool.clone(),
            self.metrics.clone(),
            self.config.relay.sweep_interval,
            stop.clone(),
        ));
        let mut backoff = self.config.relay.reconnect_backoff;
        loop {
            match self.connect().await {
                Ok(connection) => {
                    backoff = self.config.relay.reconnect_backoff;
                    self.metrics.reconnects.inc();
                    self.handoff.set_accepting(true);
                    self.state.set(true);
                    tracing::info!("broker connected");
                    let lost = self.publish(&connection, &stop).await;
                    self.handoff.set_accepting(false);
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
                            break;
                        }
                        Err(error) => tracing::warn!(%error, "broker connection lost"),
                    }
                }
                Err(e) => {
                    self.state.set(false);
                    tracing::warn!(error = %e, retry_in = ?backoff, "broker unavailable");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.release_unpublished().await;
        self.ledger.close().await;
        let _ = monitor.await;
    }

    /// At shutdown without a broker: batches still in memory keep their rows leased;
    /// make them due now, so the next start (or another gateway) publishes them at once.
    async fn release_unpublished(&self) {
        let mut inputs = self.inputs.lock().await;
        let mut ids = Vec::new();
        while let Ok(batch) = inputs.committed.try_recv() {
            ids.extend(batch.iter().map(|m| m.pk));
        }
        while let Ok(batch) = inputs.swept.try_recv() {
            ids.extend(batch.iter().map(|m| m.pk));
        }
        if let Err(e) = crate::store::outbox::defer(&self.pool, &ids, Duration::ZERO).await {
            tracing::warn!(error = %e, rows = ids.len(), "could not release leases; they expire on their own");
        }
    }

    async fn connect(&self) -> Result<Connection, BrokerError> {
        let connection = broker::connect(&self.config.amqp.url)
            .await
            .map_err(BrokerError::Connect)?;
        let channel = connection
            .create_channel()
            .await
            .map_err(BrokerError::Connect)?;
        broker::declare_topology(&channel, &self.config.amqp)
            .await
            .map_err(BrokerError::Connect)?;
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(connection)
    }

    /// Run the lanes and the sweep until `stop` (Ok) or a broker failure (Err).
    async fn publish(
        &self,
        connection: &Connection,
        stop: &CancellationToken,
    ) -> Result<(), BrokerError> {
        let lost = CancellationToken::new();
        let mut lanes = JoinSet::new();
        for _ in 0..self.config.relay.concurrency.max(1) {
            let channel = connection
                .create_channel()
                .await
                .map_err(BrokerError::Channel)?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(BrokerError::Channel)?;
            let lane = self.clone();
            let (stop, lost) = (stop.clone(), lost.clone());
            lanes.spawn(async move {
                let result = lane.lane(channel, stop, lost.clone()).await;
                if result.is_err() {
                    lost.cancel();
                }
                result
            });
        }
        let sweep = tokio::spawn(self.clone().sweep(stop.clone(), lost.clone()));
        // Idle lanes send nothing, so a dead connection would go unnoticed (and the
        // hand-off stay open) until the next event: look at it every sweep interval.
        let mut watchdog = tokio::time::interval(self.config.relay.sweep_interval);
        let mut outcome = Ok(());
        loop {
            tokio::select! {
                done = lanes.join_next() => match done {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(reason))) => outcome = Err(reason),
                    Some(Err(_)) => outcome = Err(BrokerError::LanePanicked),
                },
                _ = watchdog.tick(), if !lost.is_cancelled() => {
                    if !connection.status().connected() {
                        self.handoff.set_accepting(false);
                        outcome = Err(BrokerError::ChannelClosed);
                        lost.cancel();
                    }
                }
            }
        }
        lost.cancel();
        let _ = sweep.await;
        outcome
    }
}
