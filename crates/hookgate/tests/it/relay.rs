//! The relay's two paths: committed events published straight from memory (their outbox
//! rows deleted after the confirm, nothing read back), and the recovery sweep for rows the
//! in-memory path did not confirm (a crashed gateway's expired leases, nacks).

use std::time::Duration;

use lapin::{
    Connection,
    options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
};

use crate::helpers::*;

fn counter(app: &TestApp, name: &str) -> u64 {
    app.metric(name) as u64
}

#[actix_web::test]
async fn committed_events_are_published_from_memory_and_their_rows_deleted() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.broker_is("ok").await;
    let ids: Vec<String> = (0..20).map(|i| format!("evt_mem_{i}")).collect();
    for id in &ids {
        assert_eq!(app.send("groq", id, "mem.path").await.status, 200);
    }
    // A copy of an event already published is answered duplicate and not handed over.
    let again = app.send("groq", &ids[0], "mem.path").await;
    assert_eq!(again.json["status"], "duplicate");
    app.drained().await;
    let mut got = message_ids(&inbox.take_all().await);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        counter(&app, "hookgate_relay_swept_total"),
        0,
        "published without reading the outbox"
    );
    assert_eq!(counter(&app, "hookgate_relay_confirms_total"), 20);
    app.stop().await;
}

/// Confirmed rows are deleted in gathered rounds; a stop deletes what it gathered before
/// it ends, so none of them is republished by the next gateway.
#[actix_web::test]
async fn a_stop_deletes_every_confirmed_row() {
    let mut app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.broker_is("ok").await;
    for i in 0..30 {
        let id = format!("evt_stop_{i}");
        assert_eq!(app.send("groq", &id, "stop.path").await.status, 200);
    }
    eventually(Duration::from_secs(10), || async {
        counter(&app, "hookgate_relay_confirms_total") == 30
    })
    .await;
    app.shut_down().await;
    assert_eq!(app.pending().await, 0, "confirmed rows left in the outbox");
    assert_eq!(inbox.take_all().await.len(), 30);
}

#[actix_web::test]
async fn rows_whose_lease_expired_are_republished_by_the_sweep() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.broker_is("ok").await;
    // What a gateway that crashed between commit and confirm leaves behind: an event
    // whose outbox row was leased to its in-memory path, and the lease has ended.
    // A zero lease makes the outbox row due at once, as an expired one is.
    let orphan = hookgate::store::NewEvent {
        provider: "groq".into(),
        event_id: "evt_orphaned".into(),
        event_type: "crash.left".into(),
        content_type: Some("application/json".into()),
        body: actix_web::web::Bytes::from_static(b"{}"),
        received_us: hookgate::unix_now() * 1_000_000,
    };
    let stored =
        hookgate::store::events::insert_batch(&app.db.pool, &[&orphan], std::time::Duration::ZERO)
            .await
            .expect("insert");
    assert_eq!(stored.len(), 1);
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_orphaned"]);
    assert!(counter(&app, "hookgate_relay_swept_total") >= 1);
    app.stop().await;
}

#[actix_web::test]
async fn nacked_events_stay_in_the_outbox_and_are_retried() {
    let app = spawn_app().await;
    app.broker_is("ok").await;
    // A queue that holds one message and makes the broker nack publishes beyond it.
    let connection = Connection::connect(hookgate_testkit::AMQP, Default::default())
        .await
        .expect("amqp");
    let channel = connection.create_channel().await.expect("channel");
    let queue = unique("q.full");
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongInt(1));
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    let options = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.as_str().into(), options, args)
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue.as_str().into(),
            app.settings.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let ids = ["evt_nack_0", "evt_nack_1", "evt_nack_2"];
    for id in ids {
        assert_eq!(app.send("groq", id, "full.queue").await.status, 200);
    }
    eventually(Duration::from_secs(10), || async {
        counter(&app, "hookgate_relay_nacks_total") >= 1
    })
    .await;
    assert!(app.pending().await >= 1, "nacked rows stay in the outbox");
    // Make room one message at a time: every event arrives in the end.
    let got = std::cell::RefCell::new(Vec::new());
    eventually(Duration::from_secs(20), || {
        let (channel, queue, got) = (&channel, &queue, &got);
        async move {
            if let Some(m) = channel
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
            {
                let id = m.delivery.properties.message_id().clone();
                got.borrow_mut()
                    .push(id.map(|s| s.to_string()).unwrap_or_default());
            }
            got.borrow().len() >= ids.len()
        }
    })
    .await;
    let mut got = got.into_inner();
    got.sort();
    assert_eq!(got, ids);
    app.drained().await;
    app.stop().await;
}
