//! [`Consumer`]: the delivery loop. Each delivery runs its type's handler (at most
//! `prefetch` at a time); success acks, failure republishes to the retry queue of the
//! attempt (or the DLQ) and acks only once the broker confirmed that copy, so a message is
//! never lost between the two. The connection is re-established on loss; shutdown stops
//! taking deliveries, lets in-flight handlers finish, then closes.

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use futures_util::StreamExt;
use hookgate_contract::QueueKind;
use lapin::{
    Channel, Connection, ConnectionProperties,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::FieldTable,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    event::Event,
    idempotency::{IdempotencyStore, MemoryStore},
    retry,
};

/// What a handler returns on failure (any error; its text goes into the retry headers).
pub type HandlerError = anyhow::Error;

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Handler = Arc<dyn Fn(Event) -> HandlerFuture + Send + Sync>;

fn boxed<F, Fut>(f: F) -> Handler
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |event| Box::pin(f(event)))
}

/// Builds a [`Consumer`].
pub struct ConsumerBuilder {
    url: String,
    queue: String,
    handlers: HashMap<String, Handler>,
    fallback: Option<Handler>,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    prefetch: u16,
    kind: QueueKind,
    reconnect: Duration,
    store: Arc<dyn IdempotencyStore>,
}

impl ConsumerBuilder {
    /// Handle events of type `event_type` with `handler`.
    pub fn on<F, Fut>(mut self, event_type: &str, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handlers.insert(event_type.to_owned(), boxed(handler));
        self
    }

    /// Handle types without a handler (default: log and ack).
    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.fallback = Some(boxed(handler));
        self
    }

    /// Attempts before a message goes to `<queue>.dlq` (default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Retry delay: `base * 2^(attempt-1)`, capped at `max` (default 1 s .. 5 min).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Unacknowledged deliveries (and so concurrent handlers) at once (default 16).
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Declare the retry queues and the DLQ, where they do not exist yet, as quorum queues
    /// (default: classic). Mirror the gateway's `[[amqp.queues]] quorum` for this queue.
    /// Queues that exist are used as they are whatever this says, so a DLQ the gateway
    /// declared never conflicts.
    pub fn quorum(mut self, quorum: bool) -> Self {
        self.kind = QueueKind::from_quorum(quorum);
        self
    }

    /// Where handled `message_id`s are remembered (default: 100 000 in memory).
    pub fn idempotency(mut self, store: impl IdempotencyStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Finish building.
    pub fn build(self) -> Consumer {
        Consumer {
            inner: Arc::new(self),
        }
    }
}

/// A consumer of one hookgate queue.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<ConsumerBuilder>,
}

impl Consumer {
    /// Start building a consumer of `queue` at `amqp_url`.
    pub fn builder(amqp_url: impl Into<String>, queue: impl Into<String>) -> ConsumerBuilder {
        ConsumerBuilder {
            url: amqp_url.into(),
            queue: queue.into(),
            handlers: HashMap::new(),
            fallback: None,
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            prefetch: 16,
            kind: QueueKind::Classic,
            reconnect: Duration::from_secs(1),
            store: Arc::new(MemoryStore::default()),
        }
    }

    /// Consume until `shutdown` is cancelled, reconnecting after connection loss.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = self.inner.reconnect;
        loop {
            match self.session(&shutdown).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "consumer connection lost")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// One connection's life: Ok on shutdown, Err on connection loss.
    async fn session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let inner = &self.inner;
        let connection = Connection::connect(&inner.url, ConnectionProperties::default()).await?;
        retry::declare(&connection, &inner.queue, inner.max_attempts, inner.kind).await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(inner.prefetch, BasicQosOptions::default())
            .await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let tag = format!("hookgate-consumer-{}", std::process::id());
        let mut deliveries = channel
            .basic_consume(
                inner.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut handlers = JoinSet::new();
        let lost = loop {
            tokio::select! {
                next = deliveries.next() => match next {
                    Some(Ok(delivery)) => {
                        handlers.spawn(handle(inner.clone(), publisher.clone(), delivery));
                    }
                    Some(Err(e)) => break Some(anyhow::Error::from(e)),
                    None => break Some(anyhow::anyhow!("the broker cancelled the consumer")),
                },
                () = shutdown.cancelled() => break None,
            }
            while handlers.try_join_next().is_some() {}
        };
        if lost.is_none() {
            // Stop new deliveries; what was prefetched but not started is requeued on close.
            let _ = channel
                .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                .await;
        }
        while handlers.join_next().await.is_some() {}
        let _ = channel.close(200, "consumer stopping".into()).await;
        let _ = publisher.close(200, "consumer stopping".into()).await;
        let _ = connection.close(200, "consumer stopping".into()).await;
        match lost {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Handle one delivery to the end: ack, retry, dead-letter or (if even that fails) nack
/// with requeue, so the message is never dropped.
async fn handle(inner: Arc<ConsumerBuilder>, publisher: Channel, delivery: Delivery) {
    let event = Event::from_message(&delivery.properties, delivery.data.clone());
    if !event.id.is_empty() && inner.store.seen(&event.id).await.unwrap_or(false) {
        tracing::debug!(id = %event.id, "already handled; acking the copy");
        let _ = delivery.ack(BasicAckOptions::default()).await;
        return;
    }
    let handler = inner
        .handlers
        .get(&event.event_type)
        .or(inner.fallback.as_ref());
    let (id, event_type, attempt) = (event.id.clone(), event.event_type.clone(), event.attempt);
    let result = match handler {
        Some(h) => h(event).await,
        None => {
            tracing::info!(%id, %event_type, "no handler for this event type; acking");
            Ok(())
        }
    };
    match result {
        Ok(()) => {
            if !id.is_empty()
                && let Err(e) = inner.store.record(&id).await
            {
                tracing::warn!(%id, error = %e, "could not record the handled id");
            }
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
        Err(error) => {
            let (target, ttl) = if attempt >= inner.max_attempts {
                (retry::dead_letter_queue(&inner.queue), None)
            } else {
                let delay = retry::backoff(inner.backoff_base, inner.backoff_max, attempt);
                (retry::retry_queue(&inner.queue, attempt), Some(delay))
            };
            tracing::warn!(%id, %event_type, attempt, %target, error = %error, "handler failed");
            let moved = retry::republish(
                &publisher,
                &target,
                &delivery.properties,
                &delivery.data,
                attempt,
                &format!("{error:#}"),
                ttl,
            )
            .await;
            if moved.is_ok() {
                let _ = delivery.ack(BasicAckOptions::default()).await;
            } else {
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
}
