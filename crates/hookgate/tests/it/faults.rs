//! The broker going away: requests keep being acknowledged, and everything acknowledged
//! arrives once the broker is back.

use std::time::Duration;

use crate::{helpers::*, proxy::Proxy};

#[actix_web::test]
async fn broker_outage_keeps_acknowledging_and_delivers_after() {
    let amqp = Proxy::start(AMQP_ADDR.parse().expect("addr")).await;
    let mut settings = Settings::new();
    settings.amqp_url = format!("amqp://guest:guest@{}/%2f", amqp.addr());
    let app = spawn_app_with(settings).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["broker"] == "ok"
    })
    .await;
    amqp.cut();
    eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["broker"] == "down"
    })
    .await;
    let ids: Vec<String> = (0..30).map(|i| format!("evt_outage_{i}")).collect();
    for id in &ids {
        let a = app.send("groq", id, "during.outage").await;
        assert_eq!(
            (a.status, a.json["status"].as_str()),
            (200, Some("accepted"))
        );
    }
    assert_eq!(app.pending().await, ids.len() as i64, "waiting in Postgres");
    amqp.restore();
    app.drained().await;
    let mut got = message_ids(&inbox.take_all().await);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    app.stop().await;
}
