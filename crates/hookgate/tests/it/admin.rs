//! The admin API and replay: off without a token, 401 without the right one, paging,
//! one event, and a replay of a time range republishing exactly the stored events in it.

use crate::helpers::*;

async fn admin_get(app: &TestApp, path: &str, token: Option<&str>) -> Answer {
    app.admin("GET", path, token, None).await
}

async fn admin_post(app: &TestApp, path: &str, token: &str, body: serde_json::Value) -> Answer {
    app.admin("POST", path, Some(token), Some(body)).await
}

#[actix_web::test]
async fn admin_api_is_off_without_a_configured_token() {
    let app = spawn_app().await;
    assert_eq!(
        admin_get(&app, "/admin/events", Some("anything"))
            .await
            .status,
        404
    );
    app.stop().await;
}

#[actix_web::test]
async fn admin_api_refuses_wrong_tokens_and_pages() {
    let mut settings = Settings::new();
    settings.admin_token = Some("s3cret-admin-token".into());
    let app = spawn_app_with(settings).await;
    for i in 0..5 {
        assert_eq!(
            app.send("groq", &format!("evt_page_{i}"), "page.test")
                .await
                .status,
            200
        );
    }
    let none = admin_get(&app, "/admin/events", None).await;
    assert_eq!(
        (none.status, none.json["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        admin_get(&app, "/admin/events", Some("wrong")).await.status,
        401
    );
    let token = Some("s3cret-admin-token");
    let first = admin_get(&app, "/admin/events?provider=groq&limit=2", token).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    let ids = |a: &Answer| {
        a.json["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["event_id"].as_str().expect("id").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), vec!["evt_page_0", "evt_page_1"]);
    let after = first.json["next_after"].as_i64().expect("cursor");
    let second = admin_get(
        &app,
        &format!("/admin/events?provider=groq&limit=2&after={after}"),
        token,
    )
    .await;
    assert_eq!(ids(&second), vec!["evt_page_2", "evt_page_3"]);
    let last = admin_get(
        &app,
        &format!(
            "/admin/events?provider=groq&limit=2&after={}",
            second.json["next_after"]
        ),
        token,
    )
    .await;
    assert_eq!(ids(&last), vec!["evt_page_4"]);
    assert!(
        last.json["next_after"].is_null(),
        "a short page ends the listing"
    );
    assert_eq!(
        admin_get(&app, "/admin/events?limit=0", token).await.status,
        400
    );
    assert_eq!(
        admin_get(&app, "/admin/events?since=yesterday-ish", token)
            .await
            .status,
        400
    );

    let one = admin_get(&app, "/admin/events/groq/evt_page_3", token).await;
    assert_eq!(one.json["event"]["event_type"], "page.test");
    assert!(
        one.json["body"]
            .as_str()
            .expect("text body")
            .contains("evt_page_3")
    );
    assert_eq!(
        admin_get(&app, "/admin/events/groq/nope", token)
            .await
            .status,
        404
    );
    app.stop().await;
}

#[actix_web::test]
async fn replay_of_a_time_range_republishes_exactly_the_events_in_it() {
    let mut settings = Settings::new();
    settings.admin_token = Some("tok".into());
    let app = spawn_app_with(settings).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    for id in ["evt_old_1", "evt_old_2"] {
        app.send("groq", id, "r.t").await;
    }
    app.drained().await;
    // Everything before this instant is "old"; make the boundary strict.
    let boundary: String = sqlx::query_scalar("SELECT to_char(max(received_at) AT TIME ZONE 'UTC' + interval '1 microsecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM events")
        .fetch_one(&app.db.pool)
        .await
        .expect("boundary");
    for id in ["evt_new_1", "evt_new_2", "evt_new_3"] {
        app.send("groq", id, "r.t").await;
    }
    app.send("github", "gh_new", "push").await;
    app.drained().await;
    let first_pass = message_ids(&inbox.take_all().await);
    assert_eq!(first_pass.len(), 6);

    let dry = admin_post(
        &app,
        "/admin/replay",
        "tok",
        serde_json::json!({"provider": "groq", "since": boundary, "dry_run": true}),
    )
    .await;
    assert_eq!(
        (dry.json["matched"].as_i64(), dry.json["queued"].as_i64()),
        (Some(3), Some(0))
    );
    let replay = admin_post(
        &app,
        "/admin/replay",
        "tok",
        serde_json::json!({"provider": "groq", "since": boundary}),
    )
    .await;
    assert_eq!(replay.json["queued"].as_i64(), Some(3), "{:?}", replay.json);
    app.drained().await;
    let mut again = message_ids(&inbox.take_all().await);
    again.sort();
    assert_eq!(again, vec!["evt_new_1", "evt_new_2", "evt_new_3"]);
    let unfiltered = admin_post(&app, "/admin/replay", "tok", serde_json::json!({})).await;
    assert_eq!(unfiltered.status, 400, "a replay needs a filter");
    app.stop().await;
}
