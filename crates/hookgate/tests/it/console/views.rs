//! The overview, events, event and rejections views: what they show, escaping of stored
//! values, keyset paging, and a 400 with a readable message for each malformed filter.

use super::*;

#[actix_web::test]
async fn events_are_listed_newest_first_filtered_and_paged() {
    let app = console_app().await;
    let _inbox = Inbox::bind(&app.settings.exchange, "#").await;
    for i in 0..5 {
        assert_eq!(
            app.send("groq", &format!("evt_list_{i}"), "list.test")
                .await
                .status,
            200
        );
    }
    app.send("github", "gh_list", "push").await;
    let mut client = Client::new(&app);
    client.login().await;

    let all = client.get("/console/events").await;
    assert_eq!(all.status, 200);
    let newest = all.body.find("gh_list").expect("github event listed");
    let oldest = all.body.find("evt_list_0").expect("groq event listed");
    assert!(newest < oldest, "newest first");

    let groq = client.get("/console/events?provider=groq&limit=2").await;
    assert!(groq.body.contains("evt_list_4") && groq.body.contains("evt_list_3"));
    assert!(!groq.body.contains("gh_list") && !groq.body.contains("evt_list_2"));
    let key = "id=\"older\" href=\"";
    let at = groq.body.find(key).expect("an Older link") + key.len();
    let older = groq.body[at..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    assert!(
        older.starts_with("/console/events?provider=groq&limit=2&before="),
        "the Older link carries the filter: {older}"
    );
    let page2 = client.get(&older).await;
    assert!(page2.body.contains("evt_list_2") && page2.body.contains("evt_list_1"));
    assert!(!page2.body.contains("evt_list_3"));

    let by_id = client.get("/console/events?event_id=evt_list_2").await;
    assert!(by_id.body.contains("evt_list_2") && !by_id.body.contains("evt_list_1"));
    let by_type = client.get("/console/events?type=push").await;
    assert!(by_type.body.contains("gh_list") && !by_type.body.contains("evt_list_"));
    let future = client
        .get("/console/events?since=2999-01-01T00:00:00Z")
        .await;
    assert!(future.body.contains("No stored events match"));
    let window = client
        .get("/console/events?since=1h&until=2999-01-01T00:00:00Z")
        .await;
    assert!(window.body.contains("evt_list_0"));

    let pk = pk_of(&app, "evt_list_1").await;
    let detail = client.get(&format!("/console/events/{pk}")).await;
    assert_eq!(detail.status, 200);
    assert!(
        detail.body.contains("groq.list.test"),
        "routing key from the template"
    );
    assert!(
        detail
            .body
            .contains("\n  &quot;id&quot;: &quot;evt_list_1&quot;"),
        "indented JSON body"
    );
    assert_eq!(client.get("/console/events/999999999").await.status, 404);
    app.stop().await;
}

#[actix_web::test]
async fn markup_in_stored_events_renders_as_text() {
    let app = console_app().await;
    let evil = "<script>alert(1)</script>";
    assert_eq!(app.send("groq", "evt_<b>x</b>", evil).await.status, 200);
    let mut client = Client::new(&app);
    client.login().await;
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let list = client.get("/console/events").await;
    assert!(list.body.contains(escaped), "{}", list.body);
    assert!(list.body.contains("evt_&lt;b&gt;x&lt;/b&gt;"));
    let pk = pk_of(&app, "evt_<b>x</b>").await;
    let detail = client.get(&format!("/console/events/{pk}")).await;
    assert!(detail.body.contains(escaped));
    for page in [&list, &detail] {
        assert!(!page.body.contains("<script"), "{}", page.body);
        assert!(!page.body.contains("<b>x"));
    }
    // Filter values echoed into the form are escaped too.
    let echoed = client
        .get("/console/events?type=%22%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E")
        .await;
    assert_eq!(echoed.status, 200);
    assert!(!echoed.body.contains("<script"));
    assert!(echoed.body.contains("&quot;&gt;&lt;script&gt;"));
    app.stop().await;
}

#[actix_web::test]
async fn malformed_filters_answer_400_with_a_readable_message() {
    let app = console_app().await;
    let mut client = Client::new(&app);
    client.login().await;
    let long = "x".repeat(600);
    let cases = [
        (
            format!("/console/events?provider={long}"),
            "provider is longer",
        ),
        (
            "/console/events?type=a%00b".to_owned(),
            "type contains control",
        ),
        (
            format!("/console/events?event_id={long}"),
            "event_id is longer",
        ),
        ("/console/events?since=yesterday-ish".to_owned(), "since:"),
        ("/console/events?until=2026-13-45".to_owned(), "until:"),
        (
            "/console/events?since=1h&until=2h".to_owned(),
            "since must be earlier",
        ),
        (
            "/console/events?before=abc".to_owned(),
            "before must be a page cursor",
        ),
        (
            "/console/events?before=-4".to_owned(),
            "before must be a page cursor",
        ),
        ("/console/events?limit=0".to_owned(), "limit must be"),
        ("/console/events?limit=lots".to_owned(), "limit must be"),
        (
            "/console/events?provider=a&provider=b".to_owned(),
            "malformed parameters",
        ),
        (
            "/console/events/abc".to_owned(),
            "event row must be a positive",
        ),
        (
            "/console/rejections?reason=Bad!".to_owned(),
            "reason is an error code",
        ),
        (
            format!("/console/rejections?provider={long}"),
            "provider is longer",
        ),
    ];
    for (path, message) in cases {
        let page = client.get(&path).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.body.contains(message), "{path}: {}", page.body);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
    }
    let csrf = client.get("/console").await.csrf();
    for (form, message) in [
        (vec![("since", "soonish")], "since:"),
        (vec![("pk", "x1")], "pk must be a positive"),
        (vec![("type", "only.a.type")], "a replay needs"),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let page = client.post("/console/replay", &form).await;
        assert_eq!(page.status, 400, "{form:?}: {}", page.body);
        assert!(page.body.contains(message), "{}", page.body);
    }
    app.stop().await;
}

#[actix_web::test]
async fn rejections_show_reason_header_names_and_skew_but_no_values() {
    let app = console_app().await;
    let (mut headers, body) = app.signed("groq", "evt_badsig", "t");
    let signature = "deadbeef".repeat(8);
    for (k, v) in headers.iter_mut() {
        if k == "x-groq-signature" {
            *v = signature.clone();
        }
    }
    assert_eq!(app.post("groq", &headers, body).await.status, 401);
    // A stale timestamp: ten minutes behind this gateway's clock.
    let p = app.registry.get("groq").expect("groq");
    let stale_body = p.sample_body("evt_stale", "t", 64);
    let mut stale = p.sign(&stale_body, "evt_stale", "t", hookgate::unix_now() - 600);
    stale.push(("content-type".into(), "application/json".into()));
    assert_eq!(app.post("groq", &stale, stale_body).await.status, 401);
    assert_eq!(
        app.post("nosuchprovider", &[], b"{}".to_vec()).await.status,
        404
    );

    let mut client = Client::new(&app);
    client.login().await;
    let page = client.get("/console/rejections").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("invalid_signature"));
    assert!(page.body.contains("timestamp_out_of_tolerance"));
    assert!(page.body.contains("nosuchprovider"));
    assert!(
        page.body.contains("x-groq-signature"),
        "header names are shown"
    );
    assert!(page.body.contains("127.0.0.1"), "peer address");
    assert!(
        page.body.contains("-600 s")
            || page.body.contains("-601 s")
            || page.body.contains("-599 s"),
        "skew of the stale request: {}",
        page.body
    );
    assert!(!page.body.contains(&signature), "no header value is kept");
    assert!(!page.body.contains("evt_badsig"), "no body is kept");
    let filtered = client
        .get("/console/rejections?reason=unknown_provider")
        .await;
    assert!(filtered.body.contains("nosuchprovider"));
    assert!(!filtered.body.contains("invalid_signature</td>"));

    let overview = client.get("/console").await;
    assert!(
        overview.body.contains("invalid_signature 1"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("unknown provider paths"));
    app.stop().await;
}

#[actix_web::test]
async fn the_overview_counts_this_instances_traffic_and_relay_state() {
    let app = console_app().await;
    let _inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.send("groq", "evt_ov_1", "ov").await;
    app.send("groq", "evt_ov_1", "ov").await;
    app.send("groq", "evt_ov_2", "ov").await;
    app.drained().await;
    let mut client = Client::new(&app);
    client.login().await;
    let page = client.get("/console").await;
    assert_eq!(page.status, 200);
    let row = page
        .body
        .split("<tr>")
        .find(|r| r.contains("provider=groq"))
        .expect("groq row");
    assert!(
        row.contains("<td class=\"n\">2</td><td class=\"n\">1</td>"),
        "{row}"
    );
    assert!(page.body.contains("id=\"broker\">up"));
    assert!(page.body.contains("id=\"outbox\">0"));
    assert!(page.body.contains("over 3 acks"));
    assert!(page.body.contains("a restart resets them"));
    app.stop().await;
}
