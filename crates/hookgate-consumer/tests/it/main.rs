//! Consumer behaviour against the real RabbitMQ: retries with backoff, dead-lettering,
//! idempotency by message_id and graceful shutdown. Each test has its own queues.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hookgate_consumer::{
    Consumer, Event,
    event::{ATTEMPTS_HEADER, LAST_ERROR_HEADER},
};
use lapin::{
    BasicProperties, Channel, Connection,
    options::{
        BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};
use tokio_util::sync::CancellationToken;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{prefix}.{}.{nanos:x}", std::process::id())
}

/// A work queue and a channel to publish into it and inspect it.
struct Queues {
    _connection: Connection,
    channel: Channel,
    name: String,
    max_attempts: u32,
}

impl Queues {
    async fn new(max_attempts: u32) -> Self {
        let connection = Connection::connect(AMQP, Default::default())
            .await
            .expect("amqp");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        let name = unique("consumer-test");
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue");
        // The consumer declares the same (idempotent); declaring here lets the test inspect
        // the DLQ before the consumer has started.
        hookgate_consumer::retry::declare(&channel, &name, max_attempts)
            .await
            .expect("retry topology");
        Self {
            _connection: connection,
            channel,
            name,
            max_attempts,
        }
    }

    /// Publish a message shaped like the gateway's.
    async fn publish(&self, id: &str, event_type: &str, body: &[u8]) {
        let mut headers = FieldTable::default();
        headers.insert(
            "hookgate-provider".into(),
            AMQPValue::LongString(LongString::from("groq".to_string())),
        );
        headers.insert(
            "cloudEvents:time".into(),
            AMQPValue::LongString(LongString::from("2026-01-02T03:04:05.678Z".to_string())),
        );
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(id.into())
            .with_type(event_type.into())
            .with_content_type("application/json".into())
            .with_headers(headers);
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.name.as_str().into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack());
    }

    /// Messages ready in `queue`.
    async fn depth(&self, queue: &str) -> u32 {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("passive declare")
            .message_count()
    }

    async fn cleanup(self) {
        let mut names = vec![self.name.clone(), format!("{}.dlq", self.name)];
        names.extend((1..self.max_attempts).map(|a| format!("{}.retry.{a}", self.name)));
        for q in names {
            let _ = self
                .channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
}

/// Poll until `cond` holds; panics after `limit`.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Calls = Arc<Mutex<Vec<(Instant, Event)>>>;

#[tokio::test]
async fn a_handler_failing_twice_is_called_three_times_with_backoff_and_acked_once() {
    let q = Queues::new(5).await;
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .on("resource.created", move |e: Event| {
            let seen = seen.clone();
            async move {
                let n = {
                    let mut c = seen.lock().expect("lock");
                    c.push((Instant::now(), e));
                    c.len()
                };
                if n <= 2 {
                    anyhow::bail!("transient failure #{n}")
                } else {
                    Ok(())
                }
            }
        })
        .backoff(Duration::from_millis(200), Duration::from_secs(5))
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_retry", "resource.created", br#"{"id":"evt_retry"}"#)
        .await;
    eventually(Duration::from_secs(10), || {
        calls.lock().expect("lock").len() == 3
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");

    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 3, "not called again after success");
    let attempts: Vec<u32> = calls.iter().map(|(_, e)| e.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(
        calls[1].0 - calls[0].0 >= Duration::from_millis(200),
        "first backoff"
    );
    assert!(
        calls[2].0 - calls[1].0 >= Duration::from_millis(400),
        "second backoff doubles"
    );
    assert_eq!(calls[2].1.id, "evt_retry");
    assert_eq!(calls[2].1.provider, "groq");
    assert_eq!(q.depth(&q.name).await, 0, "acked, not requeued");
    assert_eq!(q.depth(&format!("{}.dlq", q.name)).await, 0);
    q.cleanup().await;
}

#[tokio::test]
async fn a_handler_that_always_fails_ends_in_the_dlq_with_its_attempt_count() {
    let q = Queues::new(3).await;
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .on("resource.created", move |e: Event| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push((Instant::now(), e));
                anyhow::bail!("downstream is broken")
            }
        })
        .max_attempts(3)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_dead", "resource.created", b"{}").await;
    let dlq = format!("{}.dlq", q.name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while q.depth(&dlq).await == 0 {
        assert!(Instant::now() < deadline, "message never reached the DLQ");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(calls.lock().expect("lock").len(), 3);
    let dead = q
        .channel
        .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("a message");
    assert_eq!(
        dead.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("evt_dead")
    );
    assert_eq!(dead.delivery.data, b"{}");
    let headers = dead.delivery.properties.headers().clone().expect("headers");
    assert_eq!(
        headers.inner().get(ATTEMPTS_HEADER),
        Some(&AMQPValue::LongUInt(3))
    );
    match headers.inner().get(LAST_ERROR_HEADER) {
        Some(AMQPValue::LongString(s)) => assert!(s.to_string().contains("downstream is broken")),
        other => panic!("last error header: {other:?}"),
    }
    assert_eq!(q.depth(&q.name).await, 0);
    q.cleanup().await;
}

#[tokio::test]
async fn a_redelivered_message_id_is_not_handled_twice() {
    let q = Queues::new(5).await;
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = handled.clone();
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .on("t", move |e: Event| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push(e.id);
                Ok(())
            }
        })
        .prefetch(1)
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_same", "t", b"{}").await;
    q.publish("evt_same", "t", b"{}").await; // a republish of the same event
    q.publish("evt_other", "t", b"{}").await;
    eventually(Duration::from_secs(10), || {
        handled
            .lock()
            .expect("lock")
            .contains(&"evt_other".to_string())
    })
    .await;
    // Prefetch 1: the copy was settled before evt_other was delivered.
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(
        *handled.lock().expect("lock"),
        vec!["evt_same".to_string(), "evt_other".to_string()]
    );
    assert_eq!(q.depth(&q.name).await, 0, "the copy was acked too");
    q.cleanup().await;
}

#[tokio::test]
async fn unknown_types_go_to_the_fallback_or_are_acked() {
    let q = Queues::new(2).await;
    let fallback = Arc::new(Mutex::new(0));
    let count = fallback.clone();
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .fallback(move |_e: Event| {
            let count = count.clone();
            async move {
                *count.lock().expect("lock") += 1;
                Ok(())
            }
        })
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_unknown", "never.registered", b"{}").await;
    eventually(Duration::from_secs(10), || {
        *fallback.lock().expect("lock") == 1
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(q.depth(&q.name).await, 0);
    q.cleanup().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_message_without_losing_or_repeating_it() {
    let q = Queues::new(2).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s, r, h) = (started.clone(), release.clone(), handled.clone());
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .on("slow", move |e: Event| {
            let (s, r, h) = (s.clone(), r.clone(), h.clone());
            async move {
                s.notify_one();
                r.notified().await;
                h.lock().expect("lock").push(e.id);
                Ok(())
            }
        })
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_inflight", "slow", b"{}").await;
    started.notified().await;
    shutdown.cancel(); // while the handler is running
    release.notify_one();
    running.await.expect("join").expect("clean stop");
    assert_eq!(
        *handled.lock().expect("lock"),
        vec!["evt_inflight".to_string()],
        "finished, not dropped"
    );
    assert_eq!(
        q.depth(&q.name).await,
        0,
        "acked before the connection closed"
    );

    // A new consumer does not see it again: only the sentinel arrives.
    let again = Arc::new(Mutex::new(Vec::<String>::new()));
    let a = again.clone();
    let consumer = Consumer::builder(AMQP, q.name.clone())
        .fallback(move |e: Event| {
            let a = a.clone();
            async move {
                a.lock().expect("lock").push(e.id);
                Ok(())
            }
        })
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_sentinel", "other", b"{}").await;
    eventually(Duration::from_secs(10), || {
        !again.lock().expect("lock").is_empty()
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(
        *again.lock().expect("lock"),
        vec!["evt_sentinel".to_string()]
    );
    q.cleanup().await;
}

#[tokio::test]
async fn the_postgres_store_remembers_handled_ids_across_a_restart() {
    use sqlx::{Connection, PgConnection};
    let db = unique("consumer_store").replace(['.', '-'], "_");
    let mut admin = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("pg");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut admin)
        .await
        .expect("create db");
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let q = Queues::new(2).await;

    let run = |handled: Arc<Mutex<Vec<String>>>, until: &'static str| {
        let (url, queue) = (url.clone(), q.name.clone());
        async move {
            let pool = sqlx::PgPool::connect(&url).await.expect("pool");
            let store = hookgate_consumer::PostgresStore::new(pool, "billing")
                .await
                .expect("store");
            let h = handled.clone();
            let consumer = Consumer::builder(AMQP, queue)
                .fallback(move |e: Event| {
                    let h = h.clone();
                    async move {
                        h.lock().expect("lock").push(e.id);
                        Ok(())
                    }
                })
                .prefetch(1)
                .idempotency(store)
                .build();
            let shutdown = CancellationToken::new();
            let running = tokio::spawn(consumer.run(shutdown.clone()));
            eventually(Duration::from_secs(10), || {
                handled.lock().expect("lock").iter().any(|id| id == until)
            })
            .await;
            shutdown.cancel();
            running.await.expect("join").expect("clean stop");
        }
    };
    let first = Arc::new(Mutex::new(Vec::new()));
    q.publish("evt_pg_1", "t", b"{}").await;
    run(first.clone(), "evt_pg_1").await;
    // A new consumer with a fresh store instance (a restart) gets a copy, then a new event.
    let second = Arc::new(Mutex::new(Vec::new()));
    q.publish("evt_pg_1", "t", b"{}").await;
    q.publish("evt_pg_2", "t", b"{}").await;
    run(second.clone(), "evt_pg_2").await;
    assert_eq!(*first.lock().expect("lock"), vec!["evt_pg_1".to_string()]);
    assert_eq!(
        *second.lock().expect("lock"),
        vec!["evt_pg_2".to_string()],
        "the copy was not handled again"
    );
    assert_eq!(q.depth(&q.name).await, 0);
    q.cleanup().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
}
