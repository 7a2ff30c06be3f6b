//! The contract both sides share, through the real broker: what the gateway publishes
//! (`hookgate::broker::declare_topology`, the contract's `Envelope` mapping the relay uses,
//! the configured routing key) is what the consumer reads, field for field; and a consumer
//! works on the quorum queues the gateway declares.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};

use hookgate_consumer::{
    Consumer, Event,
    contract::{
        APP_ID, Envelope, PERSISTENT, QueueKind, attempts, dead_letter_queue, queues, retry_queue,
    },
    retry,
};
use hookgate_core::{
    config::{AmqpConfig, QueueConfig},
    template::RoutingKey,
};
use lapin::{
    Channel, Connection, options::BasicGetOptions, protocol::AMQPSoftError, types::FieldTable,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    AMQP, Cleanup, confirm_channel, depth, envelope, eventually, eventually_async, publish, unique,
};

/// The gateway's `[amqp]` with one queue bound to every Groq event, with a DLQ.
fn gateway_config(exchange: &str, queue: &str, quorum: bool) -> AmqpConfig {
    AmqpConfig {
        url: AMQP.into(),
        exchange: exchange.into(),
        routing_key: RoutingKey::parse("{provider}.{event_type}").expect("template"),
        queues: vec![QueueConfig {
            name: queue.into(),
            bindings: vec!["groq.#".into()],
            dead_letter: true,
            quorum,
        }],
    }
}

/// Declare the topology exactly as the gateway does at start.
async fn gateway_topology(amqp: &AmqpConfig) -> (Connection, Channel) {
    let (connection, channel) = confirm_channel().await;
    hookgate::broker::declare_topology(&channel, amqp)
        .await
        .expect("the gateway's topology");
    (connection, channel)
}

/// The routing key the relay publishes `envelope` with.
fn routing_key(amqp: &AmqpConfig, envelope: &Envelope) -> String {
    amqp.routing_key
        .render(&envelope.provider, &envelope.event_type)
}

/// Declare `queue` with `args` on a throwaway channel, which is returned (closed by the
/// broker if the declaration failed).
async fn declare(
    connection: &Connection,
    queue: &str,
    args: FieldTable,
) -> (Channel, lapin::Result<()>) {
    let channel = connection.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(queue.into(), queues::durable(), args)
        .await
        .map(drop);
    (channel, declared)
}

#[tokio::test]
async fn what_the_gateway_publishes_the_consumer_reads_field_for_field() {
    let (exchange, queue) = (unique("hookgate.test"), unique("consumer-test"));
    let mut cleanup = Cleanup::default();
    cleanup.exchange(&exchange).queue_family(&queue, 1);
    let amqp = gateway_config(&exchange, &queue, false);
    let (_connection, channel) = gateway_topology(&amqp).await;

    let sent = envelope("evt_round_trip", "resource.created");
    let body = br#"{"id":"evt_round_trip","data":{"n":1}}"#;
    let key = routing_key(&amqp, &sent);
    publish(&channel, &exchange, &key, &sent, body).await;

    let got = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("the confirmed message is in the bound queue");
    let delivery = got.delivery;
    let event = Event::from_message(&delivery.properties, delivery.data.clone());
    assert_eq!(event.provider, "groq");
    assert_eq!(event.id, "evt_round_trip");
    assert_eq!(event.event_type, "resource.created");
    assert_eq!(
        event.received_at,
        UNIX_EPOCH + Duration::from_millis(1_767_323_045_678),
        "2026-01-02T03:04:05.678Z, to the millisecond"
    );
    assert_eq!(event.content_type.as_deref(), Some("application/json"));
    assert_eq!(event.body, body);
    assert_eq!(event.attempt, 1);
    assert_eq!(delivery.exchange.as_str(), exchange);
    assert_eq!(delivery.routing_key.as_str(), "groq.resource.created");
    let props = &delivery.properties;
    assert_eq!(
        Envelope::from_properties(props),
        sent,
        "every envelope field"
    );
    assert_eq!(props.app_id().as_ref().map(|s| s.as_str()), Some(APP_ID));
    assert_eq!(*props.delivery_mode(), Some(PERSISTENT));
    assert_eq!(*props.timestamp(), Some(1_767_323_045));
    assert_eq!(
        (attempts::attempts(props), attempts::last_error(props)),
        (0, None)
    );
}

#[tokio::test]
async fn redeclaring_the_gateways_quorum_dlq_without_arguments_is_refused() {
    // The hazard the consumer must avoid: what it used to do on start.
    let (exchange, queue) = (unique("hookgate.test"), unique("consumer-test"));
    let mut cleanup = Cleanup::default();
    cleanup.exchange(&exchange).queue_family(&queue, 1);
    let (connection, _channel) = gateway_topology(&gateway_config(&exchange, &queue, true)).await;
    let dlq = dead_letter_queue(&queue);

    let (probe, declared) = declare(&connection, &dlq, FieldTable::default()).await;
    let error = declared.expect_err("RabbitMQ refuses other arguments");
    assert!(
        retry::is_soft(&error, AMQPSoftError::PRECONDITIONFAILED),
        "{error}"
    );
    assert!(!probe.status().connected(), "and closes the channel");
    // The contract's arguments for the same role are the gateway's.
    let (_, same) = declare(
        &connection,
        &dlq,
        queues::dead_letter_queue_arguments(QueueKind::Quorum),
    )
    .await;
    same.expect("identical arguments are accepted");
}

#[tokio::test]
async fn a_consumer_mirroring_quorum_dead_letters_on_the_gateways_quorum_queue() {
    consumer_on_a_gateway_quorum_queue(true).await;
}

#[tokio::test]
async fn a_classic_consumer_uses_the_gateways_quorum_dlq_as_it_is() {
    consumer_on_a_gateway_quorum_queue(false).await;
}

/// The gateway declares `Q` and `Q.dlq` as quorum queues; a consumer whose handler always
/// fails (`quorum(consumer_quorum)`) retries through its retry queues and ends the message
/// in `Q.dlq` after its last attempt, without a conflicting declaration on the way.
async fn consumer_on_a_gateway_quorum_queue(consumer_quorum: bool) {
    const MAX_ATTEMPTS: u32 = 3;
    let (exchange, queue) = (unique("hookgate.test"), unique("consumer-test"));
    let mut cleanup = Cleanup::default();
    cleanup
        .exchange(&exchange)
        .queue_family(&queue, MAX_ATTEMPTS);
    let amqp = gateway_config(&exchange, &queue, true);
    let (connection, channel) = gateway_topology(&amqp).await;
    let dlq = dead_letter_queue(&queue);

    let calls = Arc::new(Mutex::new(Vec::<u32>::new()));
    let seen = calls.clone();
    let consumer = Consumer::builder(AMQP, queue.clone())
        .quorum(consumer_quorum)
        .max_attempts(MAX_ATTEMPTS)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .on("resource.created", move |e: Event| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push(e.attempt);
                anyhow::bail!("downstream is broken")
            }
        })
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    let sent = envelope("evt_quorum", "resource.created");
    publish(
        &channel,
        &exchange,
        &routing_key(&amqp, &sent),
        &sent,
        b"{}",
    )
    .await;

    // A consumer that hit PRECONDITION_FAILED would never consume, so nothing would arrive.
    eventually_async(Duration::from_secs(15), || async {
        depth(&channel, &dlq).await == 1
    })
    .await;
    eventually(Duration::from_secs(5), || {
        calls.lock().expect("lock").len() == MAX_ATTEMPTS as usize
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(*calls.lock().expect("lock"), vec![1, 2, 3]);
    assert_eq!(depth(&channel, &queue).await, 0);

    let dead = channel
        .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("the dead-lettered message");
    let props = &dead.delivery.properties;
    assert_eq!(Envelope::from_properties(props), sent);
    assert_eq!(attempts::attempts(props), MAX_ATTEMPTS);
    let last_error = attempts::last_error(props).expect("last error");
    assert!(last_error.contains("downstream is broken"), "{last_error}");

    // Every queue now exists with the arguments the contract gives its role: re-declaring
    // each with them is accepted, so the gateway and the consumer agree.
    let kind = QueueKind::from_quorum(consumer_quorum);
    let mut expected = vec![
        (
            queue.clone(),
            queues::work_queue_arguments(&queue, QueueKind::Quorum, true),
        ),
        (
            dlq.clone(),
            queues::dead_letter_queue_arguments(QueueKind::Quorum),
        ),
    ];
    expected.extend((1..MAX_ATTEMPTS).map(|n| {
        (
            retry_queue(&queue, n),
            queues::retry_queue_arguments(&queue, kind),
        )
    }));
    for (name, args) in expected {
        let (_, declared) = declare(&connection, &name, args).await;
        declared.unwrap_or_else(|e| panic!("{name} was declared with other arguments: {e}"));
    }
}
