//! The handler registry: events of a type without a handler go to the fallback, or are
//! logged and acked when there is none.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use hookgate_consumer::Event;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Queues, eventually};

#[tokio::test]
async fn unknown_types_go_to_the_fallback_or_are_acked() {
    let q = Queues::new(2).await;
    let fallback = Arc::new(Mutex::new(0));
    let count = fallback.clone();
    let consumer = q
        .consumer()
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
}

#[tokio::test]
async fn without_a_fallback_unknown_types_are_acked() {
    let q = Queues::new(2).await;
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = handled.clone();
    let consumer = q
        .consumer()
        .on("known", move |e: Event| {
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
    q.publish("evt_unknown", "never.registered", b"{}").await;
    q.publish("evt_sentinel", "known", b"{}").await;
    // Prefetch 1: the unknown one was settled before the sentinel was delivered.
    eventually(Duration::from_secs(10), || {
        !handled.lock().expect("lock").is_empty()
    })
    .await;
    shutdown.cancel();
    running.await.expect("join").expect("clean stop");
    assert_eq!(
        *handled.lock().expect("lock"),
        vec!["evt_sentinel".to_string()]
    );
    assert_eq!(q.depth(&q.name).await, 0, "acked, not requeued");
    assert_eq!(q.depth(&q.dlq()).await, 0, "nor dead-lettered");
}
