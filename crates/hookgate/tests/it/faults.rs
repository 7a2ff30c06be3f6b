//! The broker going away, or staying connected but confirming nothing: requests keep being
//! acknowledged, the backlog is reported, and everything acknowledged arrives once the
//! broker is back.

use std::time::Duration;

use crate::{helpers::*, proxy::Proxy};

/// A gateway whose broker connection goes through `amqp`, once it is connected.
async fn gateway_behind(amqp: &Proxy, mut settings: Settings) -> TestApp {
    settings.amqp_url = format!("amqp://guest:guest@{}/%2f", amqp.addr());
    let app = spawn_app_with(settings).await;
    app.broker_is("ok").await;
    app
}

/// Send each event, one at a time; each must be answered 200 `accepted`.
async fn accept_each(app: &TestApp, ids: &[String], event_type: &str) {
    for id in ids {
        let a = app.send("groq", id, event_type).await;
        assert_eq!(
            (a.status, a.json["status"].as_str()),
            (200, Some("accepted")),
            "{id}"
        );
    }
}

/// Every one of `ids` is in the inbox, each once, and nothing else.
async fn delivered_once(inbox: &Inbox, ids: &[String]) {
    let mut got = message_ids(&inbox.take_all().await);
    got.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(got, want);
}

#[actix_web::test]
async fn broker_outage_keeps_acknowledging_and_delivers_after() {
    let amqp = Proxy::start(AMQP_ADDR.parse().expect("addr")).await;
    let app = gateway_behind(&amqp, Settings::new()).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    amqp.cut();
    app.broker_is("down").await;
    let ids: Vec<String> = (0..30).map(|i| format!("evt_outage_{i}")).collect();
    accept_each(&app, &ids, "during.outage").await;
    assert_eq!(app.pending().await, ids.len() as i64, "waiting in Postgres");
    amqp.restore();
    app.drained().await;
    delivered_once(&inbox, &ids).await;
    app.stop().await;
}

/// A broker that takes publishes but stops confirming them: acknowledgements go on (after
/// at most `relay.backpressure_wait` each), the batches the relay cannot take are counted,
/// the backlog shows in `/health/ready` and the metrics, and once the confirms flow again
/// every event arrives once and the outbox empties.
#[actix_web::test]
async fn a_broker_that_stops_confirming_is_reported_and_loses_nothing() {
    let amqp = Proxy::start(AMQP_ADDR.parse().expect("addr")).await;
    let mut settings = Settings::new();
    settings.relay_extra = "backpressure_wait = \"20ms\"".into();
    let app = gateway_behind(&amqp, settings).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    amqp.hold();
    // One at a time, so each event is its own commit and its own batch: the relay's four
    // lanes and the hand-off's eight places fill, and every later batch is left to the
    // outbox after the wait.
    let ids: Vec<String> = (0..30).map(|i| format!("evt_unconfirmed_{i}")).collect();
    accept_each(&app, &ids, "slow.broker").await;
    let skipped = app.metric("hookgate_relay_handoff_skipped_total");
    assert!(skipped >= 1.0, "batches left to the outbox: {skipped}");
    assert_eq!(
        app.pending().await,
        ids.len() as i64,
        "nothing confirmed yet"
    );
    // The relay's monitor (every second) and readiness (fresh) each read the backlog.
    eventually(Duration::from_secs(10), || async {
        app.metric("hookgate_relay_backlog_seconds") >= 1.0
            && app.metric("hookgate_outbox_pending") == ids.len() as f64
    })
    .await;
    let ready = app.get("/health/ready").await;
    assert_eq!(
        (ready.status, ready.json["broker"].as_str()),
        (200, Some("ok")),
        "still ready: events are stored safely"
    );
    assert_eq!(ready.json["outbox_pending"], ids.len());
    assert!(ready.json["relay_backlog_seconds"].as_f64() >= Some(1.0));
    amqp.release();
    app.drained().await;
    delivered_once(&inbox, &ids).await;
    eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["relay_backlog_seconds"] == 0.0
    })
    .await;
    app.stop().await;
}
