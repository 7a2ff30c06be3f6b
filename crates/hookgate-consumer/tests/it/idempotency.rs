//! Idempotency by `message_id`: a copy of a handled event is acked without running the
//! handler again, in memory and, with the Postgres store, across a restart.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use hookgate_consumer::{Event, PostgresStore};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Cleanup, PG_ADMIN, Queues, eventually, unique};

#[tokio::test]
async fn a_redelivered_message_id_is_not_handled_twice() {
    let q = Queues::new(5).await;
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = handled.clone();
    let consumer = q
        .consumer()
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
}

#[tokio::test]
async fn the_postgres_store_remembers_handled_ids_across_a_restart() {
    use sqlx::{Connection, PgConnection};
    let db = unique(hookgate_testkit::names::DATABASE_PREFIX);
    let mut cleanup = Cleanup::default();
    cleanup.database(&db);
    let mut admin = PgConnection::connect(PG_ADMIN).await.expect("pg");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut admin)
        .await
        .expect("create db");
    let _ = admin.close().await;
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let q = Queues::new(2).await;

    let run = |handled: Arc<Mutex<Vec<String>>>, until: &'static str| {
        let url = url.clone();
        let consumer = q.consumer();
        async move {
            let pool = sqlx::PgPool::connect(&url).await.expect("pool");
            let store = PostgresStore::new(pool.clone(), "billing")
                .await
                .expect("store");
            let h = handled.clone();
            let consumer = consumer
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
            pool.close().await;
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
}
