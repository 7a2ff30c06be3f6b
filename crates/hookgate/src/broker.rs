//! RabbitMQ specifics: connecting, declaring the topology from `[amqp]`, and mapping the
//! core's message shape onto AMQP properties and headers.

use hookgate_core::{
    config::AmqpConfig,
    message::{APP_ID, Envelope, PERSISTENT},
};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
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
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for queue in &amqp.queues {
        let kind = || {
            let mut args = FieldTable::default();
            if queue.quorum {
                args.insert("x-queue-type".into(), long("quorum"));
            }
            args
        };
        let mut args = kind();
        if queue.dead_letter {
            let dlq = format!("{}.dlq", queue.name);
            channel
                .queue_declare(dlq.as_str().into(), durable, kind())
                .await?;
            args.insert("x-dead-letter-exchange".into(), long(""));
            args.insert("x-dead-letter-routing-key".into(), long(&dlq));
        }
        channel
            .queue_declare(queue.name.as_str().into(), durable, args)
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

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_owned()))
}

/// Persistent message properties and CloudEvents headers for one event.
pub fn properties(envelope: &Envelope<'_>, content_type: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in envelope.headers() {
        headers.insert(ShortString::from(name), long(&value));
    }
    let props = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(envelope.event_id.into())
        .with_type(envelope.event_type.into())
        .with_timestamp(envelope.timestamp_secs())
        .with_app_id(APP_ID.into())
        .with_headers(headers);
    match content_type {
        Some(ct) => props.with_content_type(ct.into()),
        None => props,
    }
}
