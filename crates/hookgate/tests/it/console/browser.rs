//! The console in a real browser (Debian's Chromium through chromedriver): log in, find an
//! event the test sent, open it, replay it through the confirmation and see it arrive on
//! a queue, see a refused request's reason, have a forged cross-site form refused, log
//! out and be refused without the cookie.
//!
//! Installs Chromium with `scripts/browser-deps` when missing and fails with a clear
//! message if it cannot. Skipped only when `HOOKGATE_SKIP_BROWSER=1` says so. With
//! `HOOKGATE_SCREENSHOTS=<dir>` it also saves a PNG of each view there
//! (`scripts/screenshots`).

use std::path::PathBuf;

use actix_web::{App, HttpResponse, HttpServer, web};

use super::{webdriver::Browser, *};

/// A page on another origin with a form that posts a replay to the console, as a forging
/// site would (without the CSRF token, which it cannot read).
async fn attacker_site(console: String, pk: i64) -> (u16, actix_web::dev::ServerHandle) {
    let page = format!(
        "<!doctype html><form method=\"post\" action=\"{console}/console/replay\">\
         <input type=\"hidden\" name=\"pk\" value=\"{pk}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button id=\"go\">Win a prize</button></form>"
    );
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let page = page.clone();
                async move { HttpResponse::Ok().content_type("text/html").body(page) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("attacker site binds");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (port, handle)
}

#[actix_web::test]
async fn an_operator_finds_replays_and_diagnoses_in_a_real_browser() {
    if std::env::var("HOOKGATE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("browser test skipped: HOOKGATE_SKIP_BROWSER=1");
        return;
    }
    webdriver::ensure_installed();
    let shots = std::env::var_os("HOOKGATE_SCREENSHOTS").map(PathBuf::from);

    let app = console_app().await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let event_types = [
        "invoice.paid",
        "customer.created",
        "invoice.paid",
        "model.ready",
    ];
    for (i, ty) in event_types.iter().enumerate() {
        app.send("groq", &format!("evt_demo_{i}"), ty).await;
    }
    app.send("github", "6f1c2a10-demo", "push").await;
    app.send("groq", "evt_browser", "order.shipped").await;
    app.send("groq", "evt_browser", "order.shipped").await;
    let (mut bad, body) = app.signed("groq", "evt_refused", "order.shipped");
    bad.retain(|(k, _)| k != "x-groq-signature");
    bad.push(("x-groq-signature".into(), "00".repeat(32)));
    assert_eq!(app.post("groq", &bad, body).await.status, 401);
    app.drained().await;
    inbox.take_all().await;
    let pk = pk_of(&app, "evt_browser").await;

    let profile = std::env::temp_dir().join(unique("hookgate-chromium"));
    let browser = Browser::start(profile).await;
    let shot = |name: &str| shots.as_ref().map(|d| d.join(format!("{name}.png")));
    let base = app.url("");

    // Not logged in: sent to the login form.
    browser.goto(&format!("{base}/console/events")).await;
    browser.wait_for_path("/console/login").await;
    if let Some(p) = shot("login") {
        browser.screenshot(&p).await;
    }
    browser.type_into("#token", TOKEN).await;
    browser.click("#login").await;
    browser.find("#traffic").await;
    if let Some(p) = shot("overview") {
        browser.screenshot(&p).await;
    }

    // Find the event with the filter form and open it.
    browser.goto(&format!("{base}/console/events")).await;
    if let Some(p) = shot("events") {
        browser.screenshot(&p).await;
    }
    browser.type_into("#f-event_id", "evt_browser").await;
    browser.click("#filter").await;
    browser.wait_for_url_with("event_id=evt_browser").await;
    browser.click("link:evt_browser").await;
    browser
        .wait_for_path(&format!("/console/events/{pk}"))
        .await;
    assert_eq!(browser.text("#event-id").await, "evt_browser");
    assert_eq!(browser.text("#routing-key").await, "groq.order.shipped");
    if let Some(p) = shot("event") {
        browser.screenshot(&p).await;
    }

    // Replay it: the first click only previews.
    browser.click("#replay").await;
    let preview = browser.text("#preview").await;
    assert!(preview.contains("Replay 1 event"), "{preview}");
    assert_eq!(app.pending().await, 0, "the preview queued nothing");
    if let Some(p) = shot("replay") {
        browser.screenshot(&p).await;
    }
    browser.click("#confirm").await;
    assert!(browser.text("#result").await.contains("Queued 1 event"));
    app.drained().await;
    assert_eq!(message_ids(&inbox.take_all().await), vec!["evt_browser"]);

    // The refused request and its reason.
    browser.goto(&format!("{base}/console/rejections")).await;
    let rejections = browser.text("#rejections").await;
    assert!(rejections.contains("invalid_signature"), "{rejections}");
    assert!(rejections.contains("x-groq-signature"));
    if let Some(p) = shot("rejections") {
        browser.screenshot(&p).await;
    }

    // A forged form on another origin, submitted while logged in, is refused.
    let (attacker_port, attacker) = attacker_site(base.clone(), pk).await;
    browser
        .goto(&format!("http://127.0.0.1:{attacker_port}/"))
        .await;
    browser.click("#go").await;
    let refusal = browser.text("#error").await;
    assert!(refusal.contains("cross-site request refused"), "{refusal}");
    assert_eq!(app.pending().await, 0, "the forged replay queued nothing");
    attacker.stop(false).await;

    // Log out; afterwards the console is closed to this browser.
    browser.goto(&format!("{base}/console")).await;
    browser.click("#logout").await;
    browser.wait_for_path("/console/login").await;
    browser.goto(&format!("{base}/console/events/{pk}")).await;
    browser.wait_for_path("/console/login").await;
    browser.quit().await;

    // And a request without the cookie is refused outright.
    assert_eq!(Client::new(&app).get("/console/events").await.status, 303);
    assert_eq!(
        Client::new(&app)
            .post("/console/replay", &[("pk", &pk.to_string())])
            .await
            .status,
        401
    );
    app.stop().await;
}
