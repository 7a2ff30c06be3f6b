//! Abuse limits: header count and size (431), per-provider rate limit (429 + Retry-After),
//! slow request heads, idle keep-alive and the connection cap.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

#[actix_web::test]
async fn too_many_or_too_large_headers_are_431() {
    let mut settings = Settings::new();
    settings.server_extra = "max_headers = 20\nmax_header_bytes = \"2KiB\"".into();
    let app = spawn_app_with(settings).await;
    let (mut h, body) = app.signed("groq", "evt_h", "t");
    let base = h.clone();
    for i in 0..30 {
        h.push((format!("x-extra-{i}"), "1".into()));
    }
    let a = app.post("groq", &h, body.clone()).await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (431, Some("headers_too_large"))
    );
    let mut big = base.clone();
    big.push(("x-big".into(), "y".repeat(3000)));
    assert_eq!(app.post("groq", &big, body.clone()).await.status, 431);
    assert_eq!(
        app.post("groq", &base, body).await.status,
        200,
        "within limits"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_provider_over_its_rate_limit_gets_429_with_retry_after() {
    let mut settings = Settings::new();
    // Two at once, then one per 1000 s: the third request is always over the limit.
    settings.tables_extra = "[providers.limited]\npreset = \"groq\"\nrate_limit = 0.001\nrate_burst = 2\nsecrets = [\"x\"]".into();
    let app = spawn_app_with(settings).await;
    assert_eq!(app.send("limited", "evt_r1", "t").await.status, 200);
    assert_eq!(app.send("limited", "evt_r2", "t").await.status, 200);
    let third = app.send("limited", "evt_r3", "t").await;
    assert_eq!(
        (third.status, third.json["error"].as_str()),
        (429, Some("rate_limited"))
    );
    let retry: u64 = third
        .retry_after
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((900..=1000).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        app.send("groq", "evt_r4", "t").await.status,
        200,
        "other providers unaffected"
    );
    assert!(!app.stored_ids().await.contains(&"evt_r3".to_string()));
    app.stop().await;
}

/// Read until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[actix_web::test]
async fn a_slow_request_head_is_cut_off() {
    let mut settings = Settings::new();
    settings.server_extra = "client_request_timeout = \"300ms\"".into();
    let app = spawn_app_with(settings).await;
    let mut s = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    s.write_all(b"POST /webhooks/groq HTTP/1.1\r\nHost: x\r\nX-Groq-Sig")
        .await
        .expect("write");
    // The head never completes; the server must answer 408 and close, not wait forever.
    let answer = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut s))
        .await
        .expect("server closed the slow connection");
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    app.stop().await;
}

#[actix_web::test]
async fn idle_keep_alive_connections_are_closed() {
    let mut settings = Settings::new();
    settings.server_extra = "keep_alive = \"300ms\"".into();
    let app = spawn_app_with(settings).await;
    let mut s = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut s))
        .await
        .expect("idle connection closed");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "the request itself was answered"
    );
    app.stop().await;
}

#[actix_web::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let mut settings = Settings::new();
    settings.server_extra = "max_connections = 2".into();
    let app = spawn_app_with(settings).await;
    let request = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connect");
        s.write_all(request).await.expect("write");
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.expect("answer");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s); // kept open (keep-alive)
    }
    let mut third = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect (backlog)");
    third.write_all(request).await.expect("write");
    let mut buf = [0u8; 256];
    // A bounded wait for an absence: the third connection is not served while two are open.
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond max_connections");
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("served once a slot frees")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    drop(held);
    app.stop().await;
}
