//! RabbitMQ specifics: connecting and declaring the topology from `[amqp]`. Queue names,
//! queue arguments and the message properties come from `hookgate-contract`, which the
//! consumer crate shares.

use hookgate_contract::queues::{self, QueueKind};
use hookgate_core::config::AmqpConfig;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions},
    types::FieldTable,
};

/// Open a connection named for the management UI.
pub async fn connect(url: &str) -> lapin::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name("hookgate".into());
    Connection::connect(url, props).await
}

/// Declare the durable topic exchange and any configured queues, bindings and DLQs.
pub async fn declare_topology(channel: &Channel, amqp: &AmqpConfig) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            amqp.exchange.as_str().into(),
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    for queue in &amqp.queues {
        let kind = QueueKind::from_quorum(queue.quorum);
        if queue.dead_letter {
            let dlq = queues::dead_letter_queue(&queue.name);
            channel
                .queue_declare(
                    dlq.as_str().into(),
                    queues::durable(),
                    queues::dead_letter_queue_arguments(kind),
                )
                .await?;
        }
        let args = queues::work_queue_arguments(&queue.name, kind, queue.dead_letter);
        channel
            .queue_declare(queue.name.as_str().into(), queues::durable(), args)
            .await?;
        for pattern in &queue.bindings {
            channel
                .queue_bind(
                    queue.name.as_str().into(),
                    amqp.exchange.as_str().into(),
                    pattern.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}
