//! The [`Relay`]: moves committed events from the outbox to RabbitMQ.
//!
//! It owns its broker connection and its reconnect loop (lapin's own recovery is not
//! relied on): connect, declare the topology, open `concurrency` confirm-mode channels
//! ("lanes"), and publish until the connection is lost; then back off and start over. Each
//! lane claims due rows with `FOR UPDATE SKIP LOCKED` in a transaction, publishes them all
//! as persistent `mandatory` messages, awaits every confirm, marks the acked rows published
//! and commits. Returned, nacked or unconfirmed rows stay unpublished, so nothing
//! acknowledged to a provider is lost, and several gateways can share one database.

mod error;
mod lane;

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
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use error::BrokerError;

use crate::{broker, handoff::Committed, metrics::Metrics};

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
    metrics: Metrics,
    committed: Committed,
    state: BrokerState,
}

impl Relay {
    /// A relay over `pool`; one idle lane wakes per [`Committed::notify`].
    pub fn new(
        pool: PgPool,
        config: Arc<Config>,
        metrics: Metrics,
        committed: Committed,
        state: BrokerState,
    ) -> Self {
        Self {
            pool,
            config,
            metrics,
            committed,
            state,
        }
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
                () = stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
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

    /// Run the lanes until `stop` (Ok) or a broker failure (Err).
    async fn publish(
        &self,
        connection: &Connection,
        stop: &CancellationToken,
    ) -> Result<(), BrokerError> {
        let lost = CancellationToken::new();
        let mut lanes = JoinSet::new();
        for index in 0..self.config.relay.concurrency.max(1) {
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
                Err(_) => outcome = Err(BrokerError::LanePanicked),
            }
        }
        outcome
    }
}
