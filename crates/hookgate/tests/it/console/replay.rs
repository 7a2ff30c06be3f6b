//! Replay from the console: a first POST only previews (nothing queued), the confirm POST
//! queues, and the events arrive on a queue again; for one event and for a filtered set.

use super::*;

#[actix_web::test]
async fn replaying_one_event_asks_first_then_republishes_it() {
    let app = console_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.send("groq", "evt_one", "replay.one").await;
    app.send("groq", "evt_other", "replay.one").await;
    app.drained().await;
    assert_eq!(inbox.take_all().await.len(), 2);

    let mut client = Client::new(&app);
    client.login().await;
    let pk = pk_of(&app, "evt_one").await.to_string();
    let detail = client.get(&format!("/console/events/{pk}")).await;
    let csrf = detail.csrf();
    let preview = client
        .post("/console/replay", &[("pk", &pk), ("csrf", &csrf)])
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Replay 1 event"));
    assert!(preview.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(app.pending().await, 0, "a preview queues nothing");

    let done = client
        .post(
            "/console/replay",
            &[("pk", &pk), ("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert!(done.body.contains("Queued 1 event"), "{}", done.body);
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_one"]);
    app.stop().await;
}

#[actix_web::test]
async fn replaying_a_filtered_set_counts_then_republishes_exactly_it() {
    let app = console_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    for id in ["evt_f1", "evt_f2", "evt_f3"] {
        app.send("groq", id, "replay.set").await;
    }
    app.send("groq", "evt_g1", "replay.else").await;
    app.send("github", "gh_f", "replay.set").await;
    app.drained().await;
    inbox.take_all().await;

    let mut client = Client::new(&app);
    client.login().await;
    let list = client
        .get("/console/events?provider=groq&type=replay.set&since=1h")
        .await;
    assert!(list.body.contains("id=\"replay-filtered\""));
    let csrf = list.csrf();
    let filter = [
        ("provider", "groq"),
        ("type", "replay.set"),
        ("since", "1h"),
    ];
    let mut form: Vec<(&str, &str)> = filter.to_vec();
    form.push(("csrf", &csrf));
    let preview = client.post("/console/replay", &form).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("<b>3</b> stored events match"),
        "{}",
        preview.body
    );
    assert_eq!(app.pending().await, 0);

    // The confirm form carries the pinned filter; send it back as a browser would.
    let hidden = |name: &str| -> String {
        let key = format!("name=\"{name}\" value=\"");
        let at = preview.body.rfind(&key).expect(name) + key.len();
        preview.body[at..]
            .split('"')
            .next()
            .expect("value")
            .to_owned()
    };
    let (since, until) = (hidden("since"), hidden("until"));
    assert!(until.ends_with('Z'), "until pinned to an instant: {until}");
    // An event arriving after the preview is not part of the confirmed set.
    app.send("groq", "evt_f4_late", "replay.set").await;
    app.drained().await;
    inbox.take_all().await;
    let confirm = [
        ("provider", "groq"),
        ("type", "replay.set"),
        ("since", since.as_str()),
        ("until", until.as_str()),
        ("csrf", csrf.as_str()),
        ("confirm", "yes"),
    ];
    let done = client.post("/console/replay", &confirm).await;
    assert!(done.body.contains("Queued 3 events"), "{}", done.body);
    app.drained().await;
    let mut ids = message_ids(&inbox.take_all().await);
    ids.sort();
    assert_eq!(ids, vec!["evt_f1", "evt_f2", "evt_f3"]);

    // Scripts replay with the bearer token and no CSRF token.
    let bearer = format!("Bearer {TOKEN}");
    let scripted = Client::new(&app)
        .post_with(
            "/console/replay",
            &[("event_id", "evt_g1"), ("confirm", "yes")],
            &[("authorization", &bearer)],
        )
        .await;
    assert!(
        scripted.body.contains("Queued 1 event"),
        "{}",
        scripted.body
    );
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_g1"]);
    app.stop().await;
}
