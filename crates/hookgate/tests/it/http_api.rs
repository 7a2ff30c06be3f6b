//! Every row of the README's HTTP API tables, answered as written.

use std::time::Duration;

use futures_util::stream;

use crate::helpers::*;

fn error_is(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{a:?}");
    assert_eq!(
        a.json,
        serde_json::json!({ "error": code }),
        "body is exactly the code"
    );
}

#[actix_web::test]
async fn accepted_then_duplicate() {
    let app = spawn_app().await;
    let a = app.send("groq", "evt_a", "resource.created").await;
    assert_eq!(
        (a.status, a.json.clone()),
        (
            200,
            serde_json::json!({"status": "accepted", "event_id": "evt_a"})
        )
    );
    // A provider retry: same event, fresh signature.
    let b = app.send("groq", "evt_a", "resource.created").await;
    assert_eq!(
        (b.status, b.json.clone()),
        (
            200,
            serde_json::json!({"status": "duplicate", "event_id": "evt_a"})
        )
    );
    assert_eq!(app.stored_ids().await, vec!["evt_a"]);
    app.stop().await;
}

#[actix_web::test]
async fn unknown_provider_and_wrong_method_and_path() {
    let app = spawn_app().await;
    let (h, b) = app.signed("groq", "evt", "t");
    error_is(
        &app.post("paypal", &h, b.clone()).await,
        404,
        "unknown_provider",
    );
    // Neither PUT nor HEAD; GET only for a provider whose handshake is a GET.
    let client = awc::Client::default();
    for request in [
        client.put(app.url("/webhooks/groq")),
        client.head(app.url("/webhooks/groq")),
        client.get(app.url("/webhooks/groq")),
    ] {
        let res = request.send().await.expect("request");
        assert_eq!(res.status().as_u16(), 405);
    }
    let res = client
        .put(app.url("/webhooks/groq"))
        .send()
        .await
        .expect("PUT");
    assert_eq!(
        res.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert_eq!(app.get("/nothing/here").await.status, 404);
    // One segment after `/webhooks/`, no more and no less.
    for path in [
        "/webhooks",
        "/webhooks/",
        "/webhooks/groq/more",
        "/webhooks/groq/",
        "/webhooksgroq",
    ] {
        let res = post(&app.url(path), &h, b.clone()).await;
        assert_eq!(
            (res.status, res.json["error"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn body_over_max_body_is_413_declared_or_streamed() {
    let app = spawn_app().await;
    // Signed correctly, but 2 KiB against a 1 KiB limit.
    let p = app.registry.get("small").expect("small");
    let big = p.sample_body("evt_big", "t", 2048);
    let h = p.sign(&big, "evt_big", "t", hookgate::unix_now());
    error_is(
        &app.post("small", &h, big.clone()).await,
        413,
        "payload_too_large",
    );
    // Chunked, no Content-Length: the limit holds while reading.
    let req = post_request(&app.url("/webhooks/small"), &h);
    let chunks = big
        .chunks(512)
        .map(|c| Ok::<_, std::io::Error>(actix_web::web::Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let res = req.send_stream(stream::iter(chunks)).await.expect("stream");
    assert_eq!(res.status().as_u16(), 413);
    // Just under the limit is fine.
    let ok = p.sample_body("evt_ok", "t", 900);
    let h = p.sign(&ok, "evt_ok", "t", hookgate::unix_now());
    assert_eq!(app.post("small", &h, ok).await.status, 200);
    app.stop().await;
}

#[actix_web::test]
async fn signature_errors_are_401_with_their_codes() {
    let app = spawn_app().await;
    let (h, body) = app.signed("groq", "evt_s", "t");
    let without = |name: &str| {
        h.iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let with = |name: &str, value: &str| {
        let mut v = without(name);
        v.push((name.into(), value.into()));
        v
    };
    error_is(
        &app.post("groq", &without("x-groq-signature"), body.clone())
            .await,
        401,
        "missing_signature",
    );
    error_is(
        &app.post("groq", &without("x-groq-timestamp"), body.clone())
            .await,
        401,
        "invalid_timestamp",
    );
    error_is(
        &app.post("groq", &with("x-groq-timestamp", "12:00"), body.clone())
            .await,
        401,
        "invalid_timestamp",
    );
    let p = app.registry.get("groq").expect("groq");
    let stale = p.sign(&body, "evt_s", "t", hookgate::unix_now() - 3600);
    error_is(
        &app.post("groq", &stale, body.clone()).await,
        401,
        "timestamp_out_of_tolerance",
    );
    let future = p.sign(&body, "evt_s", "t", hookgate::unix_now() + 3600);
    error_is(
        &app.post("groq", &future, body.clone()).await,
        401,
        "timestamp_out_of_tolerance",
    );
    error_is(
        &app.post(
            "groq",
            &with("x-groq-signature", &"0".repeat(64)),
            body.clone(),
        )
        .await,
        401,
        "invalid_signature",
    );
    error_is(
        &app.post("groq", &with("x-groq-signature", "short"), body.clone())
            .await,
        401,
        "invalid_signature",
    );
    let mut tampered = body.clone();
    tampered[1] ^= 0x20;
    error_is(
        &app.post("groq", &h, tampered).await,
        401,
        "invalid_signature",
    );
    assert!(
        app.stored_ids().await.is_empty(),
        "nothing rejected was stored"
    );
    app.stop().await;
}

#[actix_web::test]
async fn verified_non_json_body_is_400_but_header_sourced_providers_accept_it() {
    let app = spawn_app().await;
    let p = app.registry.get("groq").expect("groq");
    let body = b"a=1&b=2".to_vec();
    let h = p.sign(&body, "x", "y", hookgate::unix_now());
    error_is(
        &app.post("groq", &h, body.clone()).await,
        400,
        "malformed_payload",
    );
    // GitHub's ID and type come from headers: a form-encoded body is fine.
    let gh = app.registry.get("github").expect("github");
    let h = gh.sign(&body, "delivery-1", "push", hookgate::unix_now());
    let a = app.post("github", &h, body).await;
    assert_eq!(
        (a.status, a.json["event_id"].as_str()),
        (200, Some("delivery-1"))
    );
    app.stop().await;
}

#[actix_web::test]
async fn database_down_is_503_with_retry_after_and_nothing_unstored_is_acknowledged() {
    let pg = crate::proxy::Proxy::start(PG_ADDR.parse().expect("addr")).await;
    let mut settings = Settings::new();
    settings.db_url = format!("postgres://postgres@{}/{}", pg.addr(), settings.database);
    let app = spawn_app_with(settings).await;
    assert_eq!(app.send("groq", "evt_before", "t").await.status, 200);
    pg.cut();
    let mut acknowledged = vec!["evt_before".to_string()];
    for i in 0..5 {
        let id = format!("evt_down_{i}");
        let a = app.send("groq", &id, "t").await;
        if a.status == 200 {
            acknowledged.push(id);
        } else {
            error_is(&a, 503, "unavailable");
            assert_eq!(a.retry_after.as_deref(), Some("5"));
        }
    }
    assert_eq!(
        acknowledged.len(),
        1,
        "no request is acknowledged while the database is cut"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(
        (ready.status, ready.json["database"].as_str()),
        (503, Some("down"))
    );
    pg.restore();
    // The cut broke the connections the writer's commit slots keep: a slot must drop a
    // connection whose statement failed, or every commit on it fails from now on.
    eventually(Duration::from_secs(10), || async {
        app.send("groq", "evt_after", "t").await.status == 200
    })
    .await;
    acknowledged.push("evt_after".into());
    let stored = app.stored_ids().await;
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "{id} was answered 200 but is not stored"
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn full_writer_queue_is_503() {
    // One commit at a time, one slot in the queue: with the table locked, the first event
    // is stuck in its commit, one more waits in the queue and any further one is refused.
    let mut settings = Settings::new();
    settings.writer_concurrency = 1;
    settings.queue_capacity = 1;
    settings.batch_max = 1;
    let app = spawn_app_with(settings).await;
    let mut locker = app.db.pool.begin().await.expect("tx");
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .expect("lock");
    let first = app.send("groq", "evt_q0", "t");
    let waiting = async {
        // Wait until the first event's INSERT is blocked on the lock.
        eventually(Duration::from_secs(10), || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO event_keys%'")
                .fetch_one(&app.db.pool)
                .await
                .expect("activity")
                == 1
        })
        .await;
        // Of two more events, one gets the queue slot and waits; the other is refused at
        // once. Only then is the table unlocked.
        let (q1, q2) = (
            app.send("groq", "evt_q1", "t"),
            app.send("groq", "evt_q2", "t"),
        );
        futures_util::pin_mut!(q1, q2);
        let (refused, queued) = match futures_util::future::select(q1, q2).await {
            futures_util::future::Either::Left((answer, other)) => (answer, other),
            futures_util::future::Either::Right((answer, other)) => (answer, other),
        };
        error_is(&refused, 503, "unavailable");
        assert!(refused.retry_after.is_some());
        locker.rollback().await.expect("unlock");
        queued.await
    };
    let (a, queued) = tokio::join!(first, waiting);
    assert_eq!(a.status, 200);
    assert_eq!(
        queued.status, 200,
        "the queued event is committed after the lock: {queued:?}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let live = app.get("/health/live").await;
    assert_eq!(
        (live.status, live.json.clone()),
        (200, serde_json::json!({"status": "ok"}))
    );
    app.broker_is("ok").await;
    let ready = app.get("/health/ready").await;
    assert_eq!(
        (ready.status, ready.json["database"].as_str()),
        (200, Some("ok"))
    );
    assert!(ready.json["outbox_pending"].is_i64());
    assert!(ready.json["relay_backlog_seconds"].is_f64());
    app.send("groq", "evt_m", "t").await;
    let (h, b) = app.signed("groq", "evt_m2", "t");
    let bad: Vec<_> = h
        .into_iter()
        .filter(|(k, _)| k != "x-groq-signature")
        .collect();
    app.post("groq", &bad, b).await;
    let (h, b) = app.signed("groq", "evt_m3", "t");
    app.post("nope", &h, b).await;
    let res = awc::Client::default()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status().as_u16(), 200);
    let text = app.metrics.encode();
    for series in [
        r#"hookgate_requests_total{provider="groq",outcome="accepted"} 1"#,
        r#"hookgate_requests_total{provider="groq",outcome="missing_signature"} 1"#,
        r#"hookgate_requests_total{provider="_unknown",outcome="unknown_provider"} 1"#,
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn slack_url_verification_is_answered_and_not_stored() {
    let mut settings = Settings::new();
    settings.tables_extra =
        "[providers.slack]\npreset = \"slack\"\nsecrets = [\"slack-secret\"]".into();
    let app = spawn_app_with(settings).await;
    let p = app.registry.get("slack").expect("slack");
    let body = br#"{"token":"t","challenge":"chal-123","type":"url_verification"}"#.to_vec();
    let h = p.sign(&body, "", "", hookgate::unix_now());
    let a = app.post("slack", &h, body.clone()).await;
    assert_eq!(
        (a.status, a.json.clone()),
        (200, serde_json::json!({"challenge": "chal-123"}))
    );
    assert!(
        app.stored_ids().await.is_empty(),
        "a handshake is not an event"
    );
    // Unsigned, it is refused like anything else.
    let mut forged = h.clone();
    forged[0].1 = format!("v0={}", "0".repeat(64));
    assert_eq!(app.post("slack", &forged, body).await.status, 401);
    app.stop().await;
}
