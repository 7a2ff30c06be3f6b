//! Hostile clients: a body trickled one byte per second is cut off at `server.body_timeout`
//! with 408 and a closed connection; and while a thousand such connections (or slow heads,
//! or silent connections) are open, signed deliveries keep being answered 200 and arrive.

use std::{
    collections::HashSet,
    rc::Rc,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

/// The test gateway's deadlines: short, so the flood tests stay quick.
const BODY_TIMEOUT: Duration = Duration::from_secs(4);
const HEAD_TIMEOUT: Duration = Duration::from_secs(4);
/// Hostile connections per flood.
const FLOOD: usize = 1000;
/// Signed events sent during a flood, one every `PACE`: 2 s in all, well inside the
/// deadlines, so every event is sent while the whole flood is open.
const EVENTS: usize = 500;
const PACE: Duration = Duration::from_millis(4);

fn settings() -> Settings {
    let mut s = Settings::new();
    // Two workers, as on a 2-core machine with `workers = 0`: each has its own writer.
    s.workers = 2;
    s.server_extra = format!(
        "body_timeout = \"{}ms\"\nclient_request_timeout = \"{}ms\"",
        BODY_TIMEOUT.as_millis(),
        HEAD_TIMEOUT.as_millis()
    );
    s
}

const SLOW_HEAD: &[u8] =
    b"POST /webhooks/groq HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";

#[actix_web::test]
async fn a_trickled_body_is_answered_408_and_closed_at_the_deadline() {
    let app = spawn_app_with(settings()).await;
    let mut s = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    s.write_all(SLOW_HEAD).await.expect("head");
    s.write_all(b"{").await.expect("first byte");
    let (mut reader, mut writer) = s.into_split();
    // Keep trickling a byte per second while waiting for the answer.
    let trickle = actix_web::rt::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(BODY_TIMEOUT + Duration::from_secs(1), async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "connection still open after the body deadline plus a second; got {:?}",
        String::from_utf8_lossy(&answer)
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#"{"error":"request_timeout"}"#), "{text}");
    assert!(
        app.metrics
            .encode()
            .contains(r#"hookgate_requests_total{provider="groq",outcome="request_timeout"} 1"#),
        "counted under its own outcome"
    );
    assert!(
        app.stored_ids().await.is_empty(),
        "nothing reached the writer"
    );
    app.stop().await;
}

#[actix_web::test]
async fn an_oversized_declared_body_is_refused_before_reading() {
    let app = spawn_app_with(settings()).await;
    let mut s = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    // `small` has max_body = 1KiB; not a byte of the body is sent.
    s.write_all(b"POST /webhooks/small HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n")
        .await
        .expect("head");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 413"));
    app.stop().await;
}

/// What each hostile connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    /// A complete head, then the body one byte per second.
    SlowBody,
    /// The head one byte per second.
    SlowHead,
    /// Connect and send nothing.
    Silent,
}

/// Open `FLOOD` hostile connections; each reports how long the server took to close it
/// after its last deadline could start (the head for `SlowBody`, the connect otherwise).
async fn open_flood(port: u16, kind: Flood) -> Vec<actix_web::rt::task::JoinHandle<Duration>> {
    let mut tasks = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        if kind == Flood::SlowBody {
            s.write_all(SLOW_HEAD).await.expect("head");
        }
        let started = Instant::now();
        tasks.push(actix_web::rt::spawn(async move {
            let (mut reader, mut writer) = s.into_split();
            let trickle = async {
                let mut head = SLOW_HEAD.iter();
                loop {
                    let byte = match kind {
                        Flood::SlowBody => b" ",
                        Flood::SlowHead => match head.next() {
                            Some(b) => std::slice::from_ref(b),
                            None => return,
                        },
                        Flood::Silent => return,
                    };
                    if writer.write_all(byte).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            let closed = async {
                let mut buf = [0u8; 512];
                while let Ok(n) = reader.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            tokio::select! {
                () = closed => {}
                () = async { trickle.await; std::future::pending::<()>().await } => {}
            }
            started.elapsed()
        }));
    }
    tasks
}

/// Send `EVENTS` signed events at a steady pace; returns the ack latencies of those
/// answered 200 and the IDs answered 200.
async fn steady_events(app: &TestApp, tag: &str) -> (Vec<Duration>, Vec<String>) {
    let url = Rc::new(app.url("/webhooks/groq"));
    let mut pending = Vec::with_capacity(EVENTS);
    let mut pace = tokio::time::interval(PACE);
    for i in 0..EVENTS {
        pace.tick().await;
        let id = format!("evt_{tag}_{i}");
        let (headers, body) = app.signed("groq", &id, "flood.test");
        let url = url.clone();
        pending.push(actix_web::rt::spawn(async move {
            let sent = Instant::now();
            let answer = post(&url, &headers, body).await;
            (id, answer.status, sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(EVENTS);
    let mut acked = Vec::with_capacity(EVENTS);
    for task in pending {
        let (id, status, took) = task.await.expect("sender task");
        assert_eq!(status, 200, "{id} was not accepted during the flood");
        latencies.push(took);
        acked.push(id);
    }
    (latencies, acked)
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

/// Legitimate traffic under a flood of `kind`: every event answered 200 and delivered,
/// every hostile connection closed within its deadline plus a second. Prints the ack p99
/// with and without the flood (a benchmark figure for BENCHMARKS.md, not an assertion).
async fn deliveries_flow_under(kind: Flood) {
    let app = spawn_app_with(settings()).await;
    let inbox = Inbox::bind(&app.settings.exchange, "#").await;
    let (quiet, mut acked) = steady_events(&app, "quiet").await;

    let flood = open_flood(app.port, kind).await;
    let (loud, during) = steady_events(&app, "flood").await;
    acked.extend(during);
    let deadline = match kind {
        Flood::SlowBody => BODY_TIMEOUT,
        Flood::SlowHead | Flood::Silent => HEAD_TIMEOUT,
    } + Duration::from_secs(1);
    let mut held = Vec::with_capacity(FLOOD);
    for task in flood {
        held.push(task.await.expect("flood task"));
    }
    held.sort();
    let (median, slowest) = (held[held.len() / 2], held[held.len() - 1]);
    eprintln!(
        "{kind:?} flood of {FLOOD}: ack p99 {:?} quiet, {:?} during the flood; \
         hostile connections closed after {median:?} (median), {slowest:?} (slowest)",
        p99(quiet),
        p99(loud)
    );

    app.drained().await;
    let delivered: HashSet<String> = message_ids(&inbox.take_all().await).into_iter().collect();
    let lost: Vec<_> = acked.iter().filter(|id| !delivered.contains(*id)).collect();
    assert!(lost.is_empty(), "answered 200 but not delivered: {lost:?}");
    assert!(
        slowest <= deadline,
        "a {kind:?} connection stayed open {slowest:?}, past its deadline plus a second"
    );
    app.stop().await;
}

#[actix_web::test]
async fn deliveries_flow_under_a_slow_body_flood() {
    deliveries_flow_under(Flood::SlowBody).await;
}

#[actix_web::test]
async fn deliveries_flow_under_a_slow_head_flood() {
    deliveries_flow_under(Flood::SlowHead).await;
}

#[actix_web::test]
async fn deliveries_flow_under_a_silent_connection_flood() {
    deliveries_flow_under(Flood::Silent).await;
}
