//! The broker side of the ceilings and floors: a durable queue that a consumer drains
//! while it fills (as every queue the gateway is measured with is), publishing in one of
//! two message formats, and batched publishing with confirms.

use std::time::{Duration, SystemTime};

use futures_util::future::try_join_all;
use hookgate_contract::{Envelope, PERSISTENT};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ExchangeKind, PublisherConfirm,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable},
};

/// A sink's queue (and exchange) outlive a bench that died before deleting them by this
/// much at most: the broker removes an unused queue, and the auto-delete exchange with
/// its last binding.
const EXPIRES: Duration = Duration::from_secs(60);

/// What a [`Sink`] publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The raw ceiling's: persistent messages with no other property, sent through the
    /// default exchange straight to the queue.
    Plain,
    /// What the gateway must send (SPEC §4): through a durable topic exchange (the queue
    /// bound with `#`), `mandatory`, with the envelope's properties and CloudEvents
    /// headers, the event ID as `message_id`.
    Spec,
}

/// A durable queue with a consumer draining it.
pub struct Sink {
    format: Format,
    connection: Connection,
    consumer: Connection,
    /// The queue's name (and the exchange's, for [`Format::Spec`]).
    pub queue: String,
}

impl Sink {
    /// Declare a durable queue named after `purpose` (for [`Format::Spec`] also a topic
    /// exchange of the same name routing everything to it), and start consuming it.
    pub async fn open(url: &str, purpose: &str, format: Format) -> anyhow::Result<Self> {
        let connection = hookgate::broker::connect(url).await?;
        let channel = connection.create_channel().await?;
        let queue = format!(
            "hookgate.bench.{purpose}.{}",
            hookgate_core::sign::unique_event_id()
        );
        let mut expires = FieldTable::default();
        expires.insert(
            "x-expires".into(),
            AMQPValue::LongInt(EXPIRES.as_millis() as i32),
        );
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), durable, expires)
            .await?;
        if format == Format::Spec {
            let options = ExchangeDeclareOptions {
                durable: true,
                auto_delete: true,
                ..Default::default()
            };
            channel
                .exchange_declare(
                    queue.as_str().into(),
                    ExchangeKind::Topic,
                    options,
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    queue.as_str().into(),
                    "#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        // An unconsumed durable queue costs the broker about twice the CPU per message
        // (measured: ~100 against ~57 µs); the gateway's queues are measured drained, so
        // these are too.
        let consumer = hookgate::broker::connect(url).await?;
        let mut deliveries = crate::consume(
            &consumer.create_channel().await?,
            &queue,
            &format!("hookgate-bench-{purpose}"),
        )
        .await?;
        actix_web::rt::spawn(async move {
            use futures_util::StreamExt;
            while let Some(Ok(_)) = deliveries.next().await {}
        });
        Ok(Self {
            format,
            connection,
            consumer,
            queue,
        })
    }

    /// A channel in confirm mode on the publishing connection.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    /// Start publishing one message (event `id`) in the sink's format; the confirm
    /// comes later.
    pub async fn publish(
        &self,
        channel: &Channel,
        id: &str,
        body: &[u8],
    ) -> anyhow::Result<PublisherConfirm> {
        let confirm = match self.format {
            Format::Plain => {
                channel
                    .basic_publish(
                        "".into(),
                        self.queue.as_str().into(),
                        BasicPublishOptions::default(),
                        body,
                        BasicProperties::default().with_delivery_mode(PERSISTENT),
                    )
                    .await?
            }
            Format::Spec => {
                let envelope = Envelope {
                    provider: "floor".into(),
                    event_id: id.to_owned(),
                    event_type: "bench.floor".into(),
                    received_at: SystemTime::now(),
                    content_type: Some("application/json".into()),
                };
                channel
                    .basic_publish(
                        self.queue.as_str().into(),
                        "floor.bench.floor".into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        body,
                        envelope.properties(),
                    )
                    .await?
            }
        };
        Ok(confirm)
    }

    /// Delete the queue (its exchange goes with its last binding) and close both
    /// connections.
    pub async fn close(self) -> anyhow::Result<()> {
        let channel = self.connection.create_channel().await?;
        channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
        let _ = self.connection.close(200, "bench done".into()).await;
        let _ = self.consumer.close(200, "bench done".into()).await;
        Ok(())
    }
}

/// Whether the broker took a message: anything but a plain ack (a nack, or a message it
/// returned as unroutable) is an error, since counting it would overstate the rate, and a
/// relay must not delete its row.
pub fn taken(confirmation: Confirmation) -> anyhow::Result<()> {
    anyhow::ensure!(
        matches!(confirmation, Confirmation::Ack(None)),
        "the broker did not take a bench message: {confirmation:?}"
    );
    Ok(())
}

/// Await every confirm of a batch; each must be [`taken`].
pub async fn confirmed(confirms: Vec<PublisherConfirm>) -> anyhow::Result<u64> {
    let n = confirms.len() as u64;
    for c in try_join_all(confirms).await? {
        taken(c)?;
    }
    Ok(n)
}

/// One confirm-mode channel publishing batches of `batch` messages while `more()`: each
/// batch's publishes are started together, and the batch before is awaited while this
/// one is at the broker. Returns the messages confirmed. IDs are `{tag}-{n}`.
pub async fn publish_batches(
    sink: &Sink,
    tag: &str,
    body: &[u8],
    batch: usize,
    more: impl Fn() -> bool,
) -> anyhow::Result<u64> {
    let channel = sink.channel().await?;
    let mut previous = None;
    let mut events = 0;
    let mut sent = 0u64;
    while more() {
        let ids: Vec<String> = (sent..sent + batch as u64)
            .map(|n| format!("{tag}-{n}"))
            .collect();
        sent += batch as u64;
        let confirms = try_join_all(ids.iter().map(|id| sink.publish(&channel, id, body))).await?;
        if let Some(earlier) = previous.replace(confirms) {
            events += confirmed(earlier).await?;
        }
    }
    if let Some(last) = previous {
        events += confirmed(last).await?;
    }
    Ok(events)
}
