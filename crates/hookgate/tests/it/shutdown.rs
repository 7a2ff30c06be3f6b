//! SIGTERM under load, on the real binary: every request answered 200 is in the table, and
//! is published after a restart.

use std::{
    cell::Cell,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    rc::Rc,
    sync::mpsc,
    time::Duration,
};

use crate::helpers::*;

/// Start `hookgate serve` on `config`; returns the child, its bound port and the
/// `message` of every later log line.
pub fn start_gateway_with_logs(config: &std::path::Path) -> (Child, u16, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["serve"])
        .env("HOOKGATE_CONFIG", config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn hookgate");
    let stderr = child.stderr.take().expect("stderr");
    let (port_tx, port_rx) = mpsc::channel();
    let (log_tx, log_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading so the pipe never fills; report the port once, then every message.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if v["message"] == "listening"
                && let Some(port) = v["port"].as_u64()
            {
                let _ = port_tx.send(port as u16);
            }
            if let Some(message) = v["message"].as_str() {
                let _ = log_tx.send(message.to_owned());
            }
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("gateway reports its port");
    (child, port, log_rx)
}

/// Wait (bounded) for the child to exit after a signal; on a hang, kill it and fail with
/// its log messages so the stuck shutdown stage is named.
pub async fn exits(child: Child, logs: Option<mpsc::Receiver<String>>) -> std::process::ExitStatus {
    let pid = child.id();
    let mut child = child;
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    match waited {
        Ok(done) => done.expect("join").expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let tail: Vec<String> = logs.map(|l| l.try_iter().collect()).unwrap_or_default();
            panic!("gateway {pid} did not exit within 30 s; its last log messages: {tail:?}");
        }
    }
}

/// Wait (bounded) for a log message containing `needle`.
pub fn wait_for_log(logs: &mpsc::Receiver<String>, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match logs.recv_timeout(left) {
            Ok(message) if message.contains(needle) => return,
            Ok(_) => {}
            Err(_) => panic!("no log line containing {needle:?}"),
        }
    }
}

/// Send `signal` (e.g. `-TERM`, `-HUP`) to the child.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn sigterm(child: &Child) {
    signal(child, "-TERM");
}

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
    drop_database(&settings.database).await;
    let _ = std::fs::remove_file(&path);
}
