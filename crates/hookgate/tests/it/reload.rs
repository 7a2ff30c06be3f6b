//! Hot reload: `POST /admin/reload` and SIGHUP swap providers and secrets, an invalid file
//! is refused with the old config kept, and a request in flight finishes on the config it
//! started with.

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

const LATE: &str = "[providers.late]\npreset = \"github\"\nsecrets = [\"late-secret\"]";

async fn reload(app: &TestApp) -> Answer {
    app.admin("POST", "/admin/reload", Some("tok"), None).await
}

/// A gateway started from a config file it can reload, with admin token `tok`.
async fn reloadable() -> (TestApp, Settings, std::path::PathBuf) {
    let mut settings = Settings::new();
    settings.admin_token = Some("tok".into());
    let path = std::env::temp_dir().join(format!("{}.toml", unique("reload")));
    std::fs::write(&path, settings.toml()).expect("write");
    settings.config_path = Some(path.clone());
    (spawn_app_with(settings.clone()).await, settings, path)
}

fn late_request(id: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let mut late = Settings::new();
    late.tables_extra = LATE.into();
    let (_, registry) = late.config();
    let p = registry.get("late").expect("late");
    let body = b"{}".to_vec();
    (p.sign(&body, id, "push", hookgate::unix_now()), body)
}

#[actix_web::test]
async fn admin_reload_adds_providers_and_refuses_an_invalid_file() {
    let (app, settings, path) = reloadable().await;
    let (h, body) = late_request("late-1");
    assert_eq!(app.post("late", &h, body.clone()).await.status, 404);

    let mut with_late = settings.clone();
    with_late.tables_extra = LATE.into();
    std::fs::write(&path, with_late.toml()).expect("write");
    let ok = reload(&app).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json);
    assert!(
        ok.json["providers"]
            .as_array()
            .expect("names")
            .iter()
            .any(|n| n == "late")
    );
    assert_eq!(app.post("late", &h, body.clone()).await.status, 200);

    let mut bad = settings.clone();
    bad.tables_extra = LATE.replace("preset = \"github\"", "preset = \"nope\"");
    std::fs::write(&path, bad.toml()).expect("write");
    let refused = reload(&app).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (422, Some("invalid_config"))
    );
    assert!(
        refused.json["detail"]
            .as_str()
            .expect("detail")
            .contains("providers.late.preset")
    );
    assert_eq!(
        app.send("groq", "evt_after_refusal", "t").await.status,
        200,
        "old config kept"
    );
    let (h2, body2) = late_request("late-2");
    assert_eq!(
        app.post("late", &h2, body2).await.json["status"],
        "accepted",
        "old providers kept"
    );
    app.stop().await;
    let _ = std::fs::remove_file(&path);
}

#[actix_web::test]
async fn a_request_in_flight_finishes_on_the_config_it_started_with() {
    let (app, settings, path) = reloadable().await;
    // Signed with the current groq secret. With `Expect: 100-continue` the server answers
    // "100 Continue" once the handler runs (and has taken its config snapshot); only then
    // is the secret rotated and the body sent.
    let (headers, body) = app.signed("groq", "evt_inflight", "t");
    let mut s = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let mut head = format!(
        "POST /webhooks/groq HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n",
        body.len()
    );
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("100 Continue");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    std::fs::write(
        &path,
        settings.toml().replace(GROQ_SECRET, "rotated-secret"),
    )
    .expect("write");
    assert_eq!(reload(&app).await.status, 200);
    s.write_all(&body).await.expect("body");
    let n = s.read(&mut buf).await.expect("answer");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "verified with the secret it started with: {answer}"
    );
    let stale = app.send("groq", "evt_new_secret", "t").await; // app.signed uses the old secret
    assert_eq!(
        stale.json["error"], "invalid_signature",
        "new requests use the rotated secret"
    );
    app.stop().await;
    let _ = std::fs::remove_file(&path);
}
