//! What reaches RabbitMQ: exact bytes, routing key, properties and CloudEvents headers;
//! exactly one message per accepted event, also with concurrent copies and two gateways.

use std::{collections::HashSet, time::Duration};

use lapin::types::AMQPValue;

use crate::helpers::*;

#[actix_web::test]
async fn message_carries_exact_bytes_properties_and_headers() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let (headers, body) = app.signed("groq", "evt_shape", "resource.created");
    let before = hookgate::unix_now();
    assert_eq!(app.post("groq", &headers, body.clone()).await.status, 200);
    app.drained().await;
    let messages = inbox.take_all().await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.delivery.data, body, "original bytes, unchanged");
    assert_eq!(m.delivery.routing_key.as_str(), "groq.resource.created");
    assert_eq!(m.delivery.exchange.as_str(), app.settings.exchange);
    let p = &m.delivery.properties;
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(
        p.message_id().as_ref().map(|s| s.as_str()),
        Some("evt_shape")
    );
    assert_eq!(
        p.kind().as_ref().map(|s| s.as_str()),
        Some("resource.created")
    );
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("hookgate"));
    let ts = p.timestamp().expect("timestamp") as i64;
    assert!(
        ts >= before && ts <= hookgate::unix_now(),
        "receive time {ts}"
    );
    let h = p.headers().as_ref().expect("headers");
    let header = |k: &str| match h.inner().get(k) {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("header {k}: {other:?}"),
    };
    assert_eq!(header("cloudEvents:specversion"), "1.0");
    assert_eq!(header("cloudEvents:id"), "evt_shape");
    assert_eq!(header("cloudEvents:source"), "/webhooks/groq");
    assert_eq!(header("cloudEvents:type"), "resource.created");
    assert_eq!(header("hookgate-provider"), "groq");
    let time = humantime::parse_rfc3339(&header("cloudEvents:time")).expect("RFC 3339");
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after epoch")
        .as_secs() as i64;
    assert_eq!(secs, ts);
    app.stop().await;
}

#[actix_web::test]
async fn each_accepted_event_is_delivered_exactly_once() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let ids: Vec<String> = (0..40).map(|i| format!("evt_once_{i}")).collect();
    let answers =
        futures_util::future::join_all(ids.iter().map(|id| app.send("groq", id, "thing.done")))
            .await;
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.json["status"] == "accepted")
    );
    app.drained().await;
    let mut got = message_ids(&inbox.take_all().await);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    app.stop().await;
}

#[actix_web::test]
async fn fifty_concurrent_copies_one_accepted_one_message() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let (headers, body) = app.signed("groq", "evt_dup", "resource.updated");
    let answers =
        futures_util::future::join_all((0..50).map(|_| app.post("groq", &headers, body.clone())))
            .await;
    let accepted = answers
        .iter()
        .filter(|a| a.json["status"] == "accepted")
        .count();
    let duplicate = answers
        .iter()
        .filter(|a| a.json["status"] == "duplicate")
        .count();
    assert!(answers.iter().all(|a| a.status == 200));
    assert_eq!((accepted, duplicate), (1, 49));
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_dup"]);
    app.stop().await;
}

/// Two server workers, each with its own writer: both take commits, copies of one event
/// that reach both writers at once meet in the database, and each event is still accepted
/// and published once.
#[actix_web::test]
async fn copies_spread_over_two_workers_writers_one_accepted_one_message_each() {
    let mut settings = Settings::new();
    settings.workers = 2;
    let app = spawn_app_with(settings).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let ids: Vec<String> = (0..30).map(|i| format!("evt_workers_{i}")).collect();
    let sends = ids
        .iter()
        .flat_map(|id| std::iter::repeat_n(id, 4))
        .map(|id| app.send("groq", id, "t.x"));
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    // Both workers' writers took commits: each writer's connection is named for its
    // place, and kept open between commits.
    let writers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT application_name FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE 'hookgate-writer-%'
         ORDER BY 1",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("pg_stat_activity");
    assert_eq!(writers, ["hookgate-writer-0", "hookgate-writer-1"]);
    let accepted: Vec<&str> = answers
        .iter()
        .filter(|a| a.json["status"] == "accepted")
        .filter_map(|a| a.json["event_id"].as_str())
        .collect();
    let mut unique: Vec<&str> = accepted.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(accepted.len(), ids.len(), "one accepted copy per event");
    assert_eq!(unique.len(), ids.len(), "no event accepted twice");
    app.drained().await;
    let mut got = message_ids(&inbox.take_all().await);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "one message per event");
    app.stop().await;
}

#[actix_web::test]
async fn two_gateways_on_one_database_publish_each_event_once() {
    let first = spawn_app().await;
    let mut settings = first.settings.clone();
    settings.batch_max = 16;
    let second = spawn_app_with(settings).await;
    let inbox = Inbox::bind(&first.settings.exchange, "#").await;
    let ids: Vec<String> = (0..60).map(|i| format!("evt_two_{i}")).collect();
    let sends = ids.iter().flat_map(|id| {
        [
            first.send("groq", id, "t.x"),
            second.send("groq", id, "t.x"),
        ]
    });
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|a| a.status == 200));
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.json["status"] == "accepted")
            .count(),
        ids.len()
    );
    first.drained().await;
    let got = message_ids(&inbox.take_all().await);
    assert_eq!(got.len(), ids.len(), "no event published twice");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), ids.len());
    second.stop().await;
    first.stop().await;
}

#[actix_web::test]
async fn unroutable_events_stay_unpublished_until_a_queue_is_bound() {
    let app = spawn_app().await;
    assert_eq!(
        app.send("groq", "evt_orphan", "nobody.listens")
            .await
            .status,
        200
    );
    // The broker returns it (mandatory, no binding): counted, not marked published.
    eventually(Duration::from_secs(10), || async {
        app.metric("hookgate_relay_returns_total") == 1.0
    })
    .await;
    assert_eq!(app.pending().await, 1);
    let inbox = Inbox::bind(&app.settings.exchange, "groq.#").await;
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_orphan"]);
    app.stop().await;
}

/// lapin hands a returned message to whichever confirm completes next, and a `multiple`
/// ack completes its tags in no particular order, so the confirm that carries a return is
/// not always the returned message's own. Sent together, routable and unroutable events
/// share commits, relay batches and `multiple` acks: every unroutable one must stay in
/// the outbox (and reach a queue bound later), every routable one must be delivered.
#[actix_web::test]
async fn returns_in_a_batch_keep_their_own_rows_whatever_confirm_carries_them() {
    let app = spawn_app().await;
    let routed = Inbox::bind(&app.settings.exchange, "groq.routed.#").await;
    let n = 200;
    let kind = |i: usize| {
        if i.is_multiple_of(2) {
            "routed.x"
        } else {
            "lost.x"
        }
    };
    let ids: Vec<String> = (0..n).map(|i| format!("evt_mix_{i}")).collect();
    let answers = futures_util::future::join_all(
        ids.iter()
            .enumerate()
            .map(|(i, id)| app.send("groq", id, kind(i))),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 200), "all accepted");
    let lost: HashSet<String> = ids.iter().skip(1).step_by(2).cloned().collect();

    // Once every routable event was confirmed and every unroutable one returned, the
    // outbox holds exactly the unroutable ones.
    let pending_ids = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT e.event_id FROM outbox o JOIN events e ON e.id = o.event_pk",
        )
        .fetch_all(&app.db.pool)
        .await
        .expect("pending")
        .into_iter()
        .collect::<HashSet<String>>()
    };
    eventually(Duration::from_secs(20), || async {
        pending_ids().await == lost
    })
    .await;
    let delivered: HashSet<String> = message_ids(&routed.take_all().await).into_iter().collect();
    let expected: HashSet<String> = ids.iter().step_by(2).cloned().collect();
    assert_eq!(
        delivered, expected,
        "every routable event, none of the others"
    );

    // A binding added later receives every unroutable event.
    let late = Inbox::bind(&app.settings.exchange, "groq.lost.#").await;
    app.drained().await;
    let got: HashSet<String> = message_ids(&late.take_all().await).into_iter().collect();
    assert_eq!(got, lost);
    app.stop().await;
}

/// A lane starts the publishes of at most a few MiB of bodies together: events whose
/// bodies add up to more than that, sent together (so a batch may need several windows),
/// each arrive whole, once.
#[actix_web::test]
async fn bodies_larger_than_a_publish_window_all_arrive_whole() {
    let app = spawn_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    type Request = (String, Vec<(String, String)>, Vec<u8>);
    let requests: Vec<Request> = (0..12)
        .map(|i| {
            let id = format!("evt_big_{i}");
            let (headers, body) = app.signed_sized("groq", &id, "big.one", 900 * 1024);
            (id, headers, body)
        })
        .collect();
    let answers = futures_util::future::join_all(
        requests
            .iter()
            .map(|(_, headers, body)| app.post("groq", headers, body.clone())),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 200), "all accepted");
    app.drained().await;
    let messages = inbox.take_all().await;
    assert_eq!(messages.len(), requests.len(), "each once");
    for (id, _, body) in &requests {
        let m = messages
            .iter()
            .find(|m| {
                m.delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.as_str())
                    == Some(id)
            })
            .expect("delivered");
        assert_eq!(&m.delivery.data, body, "{id} arrives whole");
    }
    app.stop().await;
}
