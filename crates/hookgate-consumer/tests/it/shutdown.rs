//! Graceful shutdown: the in-flight message is finished and acked, neither lost nor
//! delivered again.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use hookgate_consumer::Event;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Queues, eventually};

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_message_without_losing_or_repeating_it() {
    let q = Queues::new(2).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s, r, h) = (started.clone(), release.clone(), handled.clone());
    let consumer = q
        .consumer()
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
    let consumer = q
        .consumer()
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
}
