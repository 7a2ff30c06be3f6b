//! Failed handlers: retries with exponential backoff through the retry queues, and the
//! DLQ after the last attempt, with the attempt count and last error in headers.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hookgate_consumer::{Event, contract::attempts};
use lapin::options::BasicGetOptions;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Queues, eventually, eventually_async};

type Calls = Arc<Mutex<Vec<(Instant, Event)>>>;

#[tokio::test]
async fn a_handler_failing_twice_is_called_three_times_with_backoff_and_acked_once() {
    let q = Queues::new(5).await;
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let consumer = q
        .consumer()
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
    assert_eq!(q.depth(&q.dlq()).await, 0);
}

#[tokio::test]
async fn a_handler_that_always_fails_ends_in_the_dlq_with_its_attempt_count() {
    let q = Queues::new(3).await;
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let consumer = q
        .consumer()
        .on("resource.created", move |e: Event| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push((Instant::now(), e));
                anyhow::bail!("downstream is broken")
            }
        })
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    q.publish("evt_dead", "resource.created", b"{}").await;
    let dlq = q.dlq();
    eventually_async(Duration::from_secs(10), || async {
        q.depth(&dlq).await > 0
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(calls.lock().expect("lock").len(), 3);
    let dead = q
        .channel
        .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("a message");
    let props = &dead.delivery.properties;
    assert_eq!(
        props.message_id().as_ref().map(|s| s.as_str()),
        Some("evt_dead")
    );
    assert_eq!(dead.delivery.data, b"{}");
    assert_eq!(attempts::attempts(props), 3);
    let last_error = attempts::last_error(props).expect("last error header");
    assert!(last_error.contains("downstream is broken"), "{last_error}");
    assert_eq!(q.depth(&q.name).await, 0);
}
