//! SIGTERM under load, on the real binary: every request answered 200 is in the table, and
//! is published after a restart.

use std::{cell::Cell, rc::Rc, time::Duration};

use crate::{
    helpers::*,
    process::{exits, sigterm, start_gateway_with_logs},
};

/// The status, or `None` when the gateway is gone (no HTTP answer).
async fn try_post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Option<u16> {
    post_request(url, headers)
        .send_body(body)
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[actix_web::test]
async fn sigterm_under_load_loses_nothing() {
    let settings = Settings::new();
    let _cleanup = settings.cleanup_on_exit();
    let (_, registry) = settings.config();
    let path = std::env::temp_dir().join(format!("{}.toml", unique("hookgate-it")));
    std::fs::write(&path, settings.toml()).expect("write config");
    let inbox = Inbox::bind(&settings.exchange, "#").await;
    let (child, port, logs) = start_gateway_with_logs(&path);
    let url = format!("http://127.0.0.1:{port}/webhooks/groq");
    let provider = registry.get("groq").expect("groq").clone();

    let answered = Rc::new(Cell::new(0usize));
    let acknowledged = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let worker = |w: usize| {
        let (url, provider, answered, acknowledged) = (
            url.clone(),
            provider.clone(),
            answered.clone(),
            acknowledged.clone(),
        );
        async move {
            for i in 0.. {
                let id = format!("evt_term_{w}_{i}");
                let body = provider.sample_body(&id, "load.test", 512);
                let headers = provider.sign(&body, &id, "load.test", hookgate::unix_now());
                match try_post(&url, &headers, body).await {
                    Some(200) => acknowledged.borrow_mut().push(id),
                    Some(_) => {}
                    None => return, // the listener is gone
                }
                answered.set(answered.get() + 1);
            }
        }
    };
    let terminate = async {
        eventually(Duration::from_secs(60), || {
            let n = answered.get();
            async move { n >= 200 }
        })
        .await;
        sigterm(&child);
    };
    futures_util::future::join(
        futures_util::future::join_all((0..8).map(worker)),
        terminate,
    )
    .await;
    let status = exits(child, Some(logs)).await;
    assert!(status.success(), "graceful exit: {status:?}");

    let acknowledged = acknowledged.borrow().clone();
    assert!(
        acknowledged.len() >= 200,
        "load ran: {}",
        acknowledged.len()
    );
    let db = sqlx::PgPool::connect(&settings.db_url).await.expect("db");
    let stored: std::collections::HashSet<String> =
        sqlx::query_scalar("SELECT event_id FROM events")
            .fetch_all(&db)
            .await
            .expect("ids")
            .into_iter()
            .collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered 200 but not stored: {missing:?}"
    );

    // Restart: whatever was not yet published is published now.
    let (restarted, _, restarted_logs) = start_gateway_with_logs(&path);
    eventually(Duration::from_secs(30), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox")
            .fetch_one(&db)
            .await
            .expect("count")
            == 0
    })
    .await;
    let delivered: std::collections::HashSet<String> =
        message_ids(&inbox.take_all().await).into_iter().collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !delivered.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "answered 200 but never delivered: {lost:?}"
    );
    sigterm(&restarted);
    assert!(exits(restarted, Some(restarted_logs)).await.success());
    db.close().await;
    let _ = std::fs::remove_file(&path);
}
