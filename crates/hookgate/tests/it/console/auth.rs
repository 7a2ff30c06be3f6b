//! Login, sessions, bearer tokens, logout, the failed-login slowdown, the security headers,
//! and refusal of cross-site or token-less actions.

use std::time::{Duration, Instant};

use super::*;

#[actix_web::test]
async fn the_console_is_off_without_an_admin_token() {
    let app = spawn_app().await;
    let client = Client::new(&app);
    for path in ["/console", "/console/login", "/console/events"] {
        assert_eq!(client.get(path).await.status, 404, "{path}");
    }
    let login = client.post("/console/login", &[("token", "x")]).await;
    assert_eq!(login.status, 404);
    app.stop().await;
}

#[actix_web::test]
async fn login_sets_a_strict_session_cookie_and_logout_ends_it() {
    let app = console_app().await;
    let mut client = Client::new(&app);
    let anonymous = client.get("/console").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/console/login"));

    let form = client.get("/console/login").await;
    assert_eq!(form.status, 200);
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(form.header(name), Some(value), "{name}");
    }
    let csp = form.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!form.body.contains("<script"), "no script on any page");

    let login = client.login().await;
    assert_eq!(login.header("location"), Some("/console"));
    let cookie = login.header("set-cookie").expect("cookie");
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");

    let overview = client.get("/console").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("Requests per provider"));
    assert!(overview.body.contains("groq"));
    assert_eq!(overview.header("cache-control"), Some("no-store"));

    // Logging out needs the CSRF token; then the cookie is worthless.
    let no_token = client.post("/console/logout", &[]).await;
    assert_eq!(no_token.status, 403);
    let csrf = overview.csrf();
    let out = client.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(
        out.header("set-cookie")
            .expect("cleared")
            .contains("Max-Age=0")
    );
    assert_eq!(client.get("/console").await.status, 303);
    app.stop().await;
}

#[actix_web::test]
async fn behind_tls_the_cookie_is_secure() {
    let app = console_app().await;
    let client = Client::new(&app);
    let login = client
        .post_with(
            "/console/login",
            &[("token", TOKEN)],
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(login.status, 303);
    assert!(
        login
            .header("set-cookie")
            .expect("cookie")
            .contains("; Secure")
    );
    app.stop().await;
}

#[actix_web::test]
async fn scripts_use_the_bearer_token() {
    let app = console_app().await;
    let client = Client::new(&app);
    let bearer = format!("Bearer {TOKEN}");
    let ok = client
        .get_with("/console/events", &[("authorization", &bearer)])
        .await;
    assert_eq!(ok.status, 200);
    let wrong = client
        .get_with("/console/events", &[("authorization", "Bearer nope")])
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    app.stop().await;
}

#[actix_web::test]
async fn a_wrong_token_is_answered_as_a_missing_one_and_repeated_failures_slow_down() {
    let app = console_app().await;
    let client = Client::new(&app);
    let wrong = client.post("/console/login", &[("token", "guess")]).await;
    let missing = client.post("/console/login", &[]).await;
    assert_eq!((wrong.status, missing.status), (401, 401));
    assert_eq!(wrong.body, missing.body, "one answer for wrong and missing");
    assert!(wrong.header("set-cookie").is_none());
    assert!(!wrong.body.contains("guess"), "the token is not echoed");
    // Two failures so far: the next waits 250 ms, then 500 ms, then 1 s.
    let mut waits = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(
            client
                .post("/console/login", &[("token", "guess")])
                .await
                .status,
            401
        );
        waits.push(started.elapsed());
    }
    assert!(waits[2] >= Duration::from_millis(900), "{waits:?}");
    assert!(waits[2] > waits[0], "{waits:?}");
    app.stop().await;
}

#[actix_web::test]
async fn cross_site_and_token_less_actions_are_refused() {
    let app = console_app().await;
    let _inbox = Inbox::bind(&app.settings.exchange, "#").await;
    app.send("groq", "evt_forged", "forge.test").await;
    app.drained().await;
    let pk = pk_of(&app, "evt_forged").await.to_string();
    let mut client = Client::new(&app);
    client.login().await;
    let csrf = client.get("/console").await.csrf();
    let host = app.url("").trim_start_matches("http://").to_owned();
    let confirm = [
        ("pk", pk.as_str()),
        ("confirm", "yes"),
        ("csrf", csrf.as_str()),
    ];

    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields, Fields)> = vec![
        (
            "no CSRF token",
            vec![("pk", &pk), ("confirm", "yes")],
            vec![],
        ),
        (
            "wrong CSRF token",
            vec![("pk", &pk), ("confirm", "yes"), ("csrf", "0000")],
            vec![],
        ),
        (
            "foreign Origin",
            confirm.to_vec(),
            vec![("origin", "http://evil.example")],
        ),
        ("opaque Origin", confirm.to_vec(), vec![("origin", "null")]),
        (
            "cross-site fetch",
            confirm.to_vec(),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site fetch",
            confirm.to_vec(),
            vec![("sec-fetch-site", "same-site")],
        ),
    ];
    for (why, form, headers) in cases {
        let page = client.post_with("/console/replay", &form, &headers).await;
        assert_eq!(page.status, 403, "{why}: {}", page.body);
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
    }
    // Login is protected by the origin check too.
    let forged_login = client
        .post_with(
            "/console/login",
            &[("token", TOKEN)],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(forged_login.status, 403);
    // Without a session the action is refused as well.
    let anonymous = Client::new(&app).post("/console/replay", &confirm).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(app.pending().await, 0, "nothing was queued");

    // The same action from the console's own origin passes.
    let origin = format!("http://{host}");
    let ok = client
        .post_with(
            "/console/replay",
            &confirm,
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Queued 1 event"));
    app.stop().await;
}
