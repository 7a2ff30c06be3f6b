//! The real `hookgate` binary as a child process: start it on a config file, read its
//! JSON log lines, signal it and wait (bounded) for it to exit.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

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

pub fn sigterm(child: &Child) {
    signal(child, "-TERM");
}
