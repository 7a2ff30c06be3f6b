//! The broker side of a test: [`BrokerCleanup`], which deletes a test's exchanges and
//! queues on `Drop` (also on panic), and [`Inbox`], a test's own queue bound to an
//! exchange, read with `basic.get`.

use lapin::{
    Channel, Connection, ExchangeKind,
    message::BasicGetMessage,
    options::{
        BasicAckOptions, BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
        QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};

use crate::{AMQP, names::unique};

/// Exchanges and queues a test created; deleted when this is dropped.
#[derive(Debug, Default)]
pub struct BrokerCleanup {
    exchanges: Vec<String>,
    queues: Vec<String>,
}

impl BrokerCleanup {
    /// Nothing registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delete `name` at the end.
    pub fn exchange(&mut self, name: impl Into<String>) -> &mut Self {
        self.exchanges.push(name.into());
        self
    }

    /// Delete queue `name` at the end.
    pub fn queue(&mut self, name: impl Into<String>) -> &mut Self {
        self.queues.push(name.into());
        self
    }
}

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        let exchanges = std::mem::take(&mut self.exchanges);
        let queues = std::mem::take(&mut self.queues);
        if exchanges.is_empty() && queues.is_empty() {
            return;
        }
        crate::block_on_side(delete_all(exchanges, queues));
    }
}

/// Delete every named exchange and queue that exists; missing ones are skipped.
pub async fn delete_all(exchanges: Vec<String>, queues: Vec<String>) {
    let Ok(connection) = Connection::connect(AMQP, Default::default()).await else {
        return;
    };
    // A failed delete closes its channel, so each object gets a fresh one.
    for name in &queues {
        if let Ok(ch) = connection.create_channel().await {
            let _ = ch
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await;
            close(&ch).await;
        }
    }
    for name in &exchanges {
        if let Ok(ch) = connection.create_channel().await {
            let _ = ch
                .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
            close(&ch).await;
        }
    }
    let _ = connection.close(200, "test cleanup".into()).await;
}

/// Close a channel before its connection: one still open then is logged by lapin as a
/// connection error. One a failed delete closed already fails at once, silently.
async fn close(channel: &Channel) {
    let _ = channel.close(200, "test cleanup".into()).await;
}

/// A test's own exclusive queue (gone with its connection) bound to an exchange.
pub struct Inbox {
    _connection: Connection,
    channel: Channel,
    /// Queue name.
    pub queue: String,
}

impl Inbox {
    /// Declare the exchange (as the gateway does) and an exclusive queue bound with `pattern`.
    pub async fn bind(exchange: &str, pattern: &str) -> Self {
        let connection = Connection::connect(AMQP, Default::default())
            .await
            .expect("amqp");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("exchange");
        let queue = unique("q");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        Self {
            _connection: connection,
            channel,
            queue,
        }
    }

    /// Every message currently in the queue (acked). Call after the outbox drained: a
    /// confirmed publish is already enqueued, so this is the complete set.
    pub async fn take_all(&self) -> Vec<BasicGetMessage> {
        let mut out = Vec::new();
        while let Some(msg) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            msg.delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
            out.push(msg);
        }
        out
    }
}

/// The `message_id`s of `messages`.
pub fn message_ids(messages: &[BasicGetMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .collect()
}
