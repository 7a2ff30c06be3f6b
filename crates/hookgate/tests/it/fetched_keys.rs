//! Verification with fetched keys over real HTTP: a key server in the test (a plain tokio
//! listener on port 0, counting requests per path) serves certificates and JWKS made from
//! the test keys; the gateway's `key_hosts` points at it with `key_fetch_insecure`.
//! Messages are signed by the independent signer (`fetched_signer.py`, Python
//! `cryptography`). Real Postgres and RabbitMQ, as everywhere.

use std::{
    collections::HashMap,
    io::Write,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::helpers::*;

fn fixture(name: &str) -> String {
    format!(
        "{}/../hookgate-core/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// Run the independent signer over `jobs`.
fn signer(jobs: Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(fixture("fetched_signer.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with `cryptography`");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&serde_json::to_vec(&jobs).expect("json"))
        .expect("write");
    let out = child.wait_with_output().expect("signer");
    assert!(out.status.success(), "signer failed");
    serde_json::from_slice(&out.stdout).expect("signer JSON")
}

/// A key server: fixed responses by path (query ignored), a request count by path, and
/// a switch that makes it drop every connection unanswered.
#[derive(Clone)]
struct KeyServer {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    down: Arc<AtomicBool>,
}

impl KeyServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = KeyServer {
            port: listener.local_addr().expect("addr").port(),
            routes: Arc::default(),
            hits: Arc::default(),
            down: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if s.down.load(Ordering::SeqCst) {
                        return; // dropped: connection closed without an answer
                    }
                    let text = String::from_utf8_lossy(&head);
                    let target = text.split(' ').nth(1).unwrap_or_default();
                    let path = target.split('?').next().unwrap_or_default().to_owned();
                    *s.hits
                        .lock()
                        .expect("lock")
                        .entry(path.clone())
                        .or_default() += 1;
                    let body = s.routes.lock().expect("lock").get(&path).cloned();
                    let response = match body {
                        Some(body) => {
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncache-control: public, max-age=3600\r\nconnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(&body);
                            r
                        }
                        None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn serve(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.routes
            .lock()
            .expect("lock")
            .insert(path.into(), body.into());
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

const CERT: &str = "/SimpleNotificationService-test.pem";
const PAYPAL_CERT: &str = "/v1/notifications/certs/CERT-test";
const JWKS: &str = "/oauth2/v3/certs";
const AUDIENCE: &str = "https://hooks.example.com/webhooks/pubsub";
const EMAIL: &str = "push@project.iam.gserviceaccount.com";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

async fn gateway(keys: &KeyServer) -> TestApp {
    let hosts = format!(
        "key_hosts = [\"127.0.0.1:{}\"]\nkey_fetch_insecure = true",
        keys.port
    );
    let mut settings = Settings::new();
    settings.tables_extra = format!(
        r#"
[providers.sns]
preset = "aws-sns"
{hosts}

[providers.pubsub]
preset = "google-pubsub"
{hosts}
jwks_url = "{jwks}"
audience = "{AUDIENCE}"
service_account_email = "{EMAIL}"

[providers.paypal]
preset = "paypal"
{hosts}
webhook_id = "WH-TEST"
"#,
        jwks = keys.url(JWKS)
    );
    spawn_app_with(settings).await
}

fn sns_job(keys: &KeyServer, kind: &str, id: &str, version: &str, cert_url: &str) -> Value {
    let mut message = json!({
        "Type": kind,
        "MessageId": id,
        "TopicArn": TOPIC,
        "Message": format!("{{\"order\":\"{id}\"}}"),
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SigningCertURL": cert_url,
        "UnsubscribeURL": keys.url("/?Action=Unsubscribe"),
    });
    if kind == "Notification" {
        message["Subject"] = json!("order created");
    } else {
        message["Token"] = json!("2336412f37fb687f5d51e6e241d09c80");
        message["SubscribeURL"] = json!(keys.url(&format!(
            "/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f"
        )));
    }
    json!({"op": "sns", "key": fixture("test-rsa-a.key.pem"), "version": version, "message": message})
}

fn sns_headers(kind: &str) -> Vec<(String, String)> {
    vec![
        ("x-amz-sns-message-type".into(), kind.into()),
        ("content-type".into(), "text/plain; charset=UTF-8".into()),
    ]
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

#[actix_web::test]
async fn sns_v1_and_v2_notifications_are_accepted_once_fetched_and_a_tampered_message_is_401() {
    let keys = KeyServer::start().await;
    keys.serve(CERT, read("test-rsa-a.cert.pem"));
    let app = gateway(&keys).await;
    let signed = signer(json!([
        sns_job(&keys, "Notification", "sns-v1", "1", &keys.url(CERT)),
        sns_job(&keys, "Notification", "sns-v2", "2", &keys.url(CERT)),
    ]));
    for (message, id) in signed.iter().zip(["sns-v1", "sns-v2"]) {
        let answer = app
            .post("sns", &sns_headers("Notification"), body(message))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json, json!({"status": "accepted", "event_id": id}));
    }
    assert_eq!(
        keys.hits(CERT),
        1,
        "the second message used the cached certificate"
    );

    let mut tampered = signed[0].clone();
    tampered["Message"] = json!("{\"order\":\"forged\"}");
    let answer = app
        .post("sns", &sns_headers("Notification"), body(&tampered))
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (401, json!({"error": "invalid_signature"}))
    );
    // Raw message delivery carries no signature.
    let answer = app
        .post(
            "sns",
            &sns_headers("Notification"),
            b"{\"order\":1}".to_vec(),
        )
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (401, json!({"error": "missing_signature"}))
    );
    assert_eq!(app.stored_ids().await, ["sns-v1", "sns-v2"]);
    let metrics = app.get("/metrics").await.json;
    let metrics = metrics.as_str().expect("text");
    assert!(
        metrics.contains("hookgate_key_fetches_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hookgate_key_cache_hits_total"),
        "{metrics}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_subscription_confirmation_is_confirmed_by_one_get_and_not_stored() {
    let keys = KeyServer::start().await;
    keys.serve(CERT, read("test-rsa-a.cert.pem"));
    keys.serve("/", "<ConfirmSubscriptionResponse/>");
    let app = gateway(&keys).await;
    let signed = signer(json!([
        sns_job(
            &keys,
            "SubscriptionConfirmation",
            "sub-1",
            "2",
            &keys.url(CERT)
        ),
        sns_job(
            &keys,
            "UnsubscribeConfirmation",
            "unsub-1",
            "1",
            &keys.url(CERT)
        ),
    ]));
    let answer = app
        .post(
            "sns",
            &sns_headers("SubscriptionConfirmation"),
            body(&signed[0]),
        )
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (200, json!({"status": "subscribed"}))
    );
    assert_eq!(keys.hits("/"), 1, "SubscribeURL fetched exactly once");
    let answer = app
        .post(
            "sns",
            &sns_headers("UnsubscribeConfirmation"),
            body(&signed[1]),
        )
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (200, json!({"status": "unsubscribed"}))
    );
    assert_eq!(
        keys.hits("/"),
        1,
        "an unsubscription's SubscribeURL is not fetched"
    );
    assert!(app.stored_ids().await.is_empty(), "nothing stored");
    let metrics = app.get("/metrics").await.json;
    let metrics = metrics.as_str().expect("text").to_owned();
    assert!(
        metrics.contains("hookgate_requests_total{provider=\"sns\",outcome=\"handshake\"} 2"),
        "{metrics}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_certificate_url_outside_key_hosts_is_401_and_never_fetched() {
    let keys = KeyServer::start().await;
    let elsewhere = KeyServer::start().await;
    elsewhere.serve(CERT, read("test-rsa-a.cert.pem"));
    let app = gateway(&keys).await;
    let signed = signer(json!([sns_job(
        &keys,
        "Notification",
        "outside",
        "2",
        &elsewhere.url(CERT)
    )]));
    let answer = app
        .post("sns", &sns_headers("Notification"), body(&signed[0]))
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (401, json!({"error": "invalid_signature"}))
    );
    assert_eq!(elsewhere.hits(CERT), 0);
    assert_eq!(keys.hits(CERT), 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_hundred_concurrent_sns_messages_cost_one_certificate_fetch() {
    let keys = KeyServer::start().await;
    keys.serve(CERT, read("test-rsa-a.cert.pem"));
    let app = gateway(&keys).await;
    let jobs: Vec<Value> = (0..100)
        .map(|i| {
            sns_job(
                &keys,
                "Notification",
                &format!("burst-{i}"),
                "2",
                &keys.url(CERT),
            )
        })
        .collect();
    let signed = signer(Value::Array(jobs));
    let headers = sns_headers("Notification");
    let answers =
        futures_util::future::join_all(signed.iter().map(|m| app.post("sns", &headers, body(m))))
            .await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    assert_eq!(keys.hits(CERT), 1, "one fetch for the whole burst");
    assert_eq!(app.stored_ids().await.len(), 100);
    app.stop().await;
}

#[actix_web::test]
async fn the_key_server_down_is_503_with_retry_after_then_200_once_it_is_back() {
    let keys = KeyServer::start().await;
    keys.serve(CERT, read("test-rsa-a.cert.pem"));
    keys.set_down(true);
    let app = gateway(&keys).await;
    let signed = signer(json!([sns_job(
        &keys,
        "Notification",
        "later",
        "1",
        &keys.url(CERT)
    )]));
    let answer = app
        .post("sns", &sns_headers("Notification"), body(&signed[0]))
        .await;
    assert_eq!(
        (answer.status, &answer.json),
        (503, &json!({"error": "unavailable"}))
    );
    assert!(answer.retry_after.is_some(), "{answer:?}");
    assert!(
        app.stored_ids().await.is_empty(),
        "nothing unverified acknowledged"
    );

    keys.set_down(false);
    // A failure is remembered for a moment; the provider's retry then succeeds.
    eventually(Duration::from_secs(10), || async {
        app.post("sns", &sns_headers("Notification"), body(&signed[0]))
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(app.stored_ids().await, ["later"]);
    app.stop().await;
}

fn bearer(token: &Value) -> Vec<(String, String)> {
    vec![
        (
            "authorization".into(),
            format!("Bearer {}", token["token"].as_str().expect("token")),
        ),
        ("content-type".into(), "application/json".into()),
    ]
}

fn pubsub_body(id: &str) -> Vec<u8> {
    body(&json!({
        "message": {"attributes": {"k": "v"}, "data": "SGVsbG8=", "messageId": id, "message_id": id,
                    "publishTime": "2024-05-01T12:00:00.000Z"},
        "subscription": "projects/p/subscriptions/s"
    }))
}

#[actix_web::test]
async fn pubsub_audience_expiry_and_a_rotated_key_refetched_once() {
    let keys = KeyServer::start().await;
    let (a, b) = (fixture("test-rsa-a.key.pem"), fixture("test-rsa-b.key.pem"));
    let now = hookgate::unix_now();
    let claims = json!({"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": EMAIL,
        "email_verified": true, "iat": now - 10, "exp": now + 3590, "sub": "1"});
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("https://other.example/");
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let out = signer(json!([
        {"op": "jwks", "keys": [{"key": a, "kid": "ka"}]},
        {"op": "jwks", "keys": [{"key": a, "kid": "ka"}, {"key": b, "kid": "kb"}]},
        {"op": "jwt", "key": a, "kid": "ka", "claims": claims},
        {"op": "jwt", "key": a, "kid": "ka", "claims": wrong_aud},
        {"op": "jwt", "key": a, "kid": "ka", "claims": expired},
        {"op": "jwt", "key": b, "kid": "kb", "claims": claims},
        {"op": "jwt", "key": b, "kid": "kc", "claims": claims},
    ]));
    keys.serve(JWKS, body(&out[0]["jwks"]));
    let app = gateway(&keys).await;

    let answer = app
        .post("pubsub", &bearer(&out[2]), pubsub_body("m-1"))
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (200, json!({"status": "accepted", "event_id": "m-1"}))
    );
    let answer = app
        .post("pubsub", &bearer(&out[3]), pubsub_body("m-2"))
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (401, json!({"error": "invalid_signature"}))
    );
    let answer = app
        .post("pubsub", &bearer(&out[4]), pubsub_body("m-3"))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(keys.hits(JWKS), 1);

    // Google rotates: key kb appears; the first token naming it refetches the JWKS once.
    keys.serve(JWKS, body(&out[1]["jwks"]));
    let answer = app
        .post("pubsub", &bearer(&out[5]), pubsub_body("m-4"))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(keys.hits(JWKS), 2, "refetched once for the new key");
    let answer = app
        .post("pubsub", &bearer(&out[5]), pubsub_body("m-5"))
        .await;
    assert_eq!(answer.status, 200);
    // An unknown key right after: no further fetch (rate-limited), rejected.
    let answer = app
        .post("pubsub", &bearer(&out[6]), pubsub_body("m-6"))
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(keys.hits(JWKS), 2);
    assert_eq!(app.stored_ids().await, ["m-1", "m-4", "m-5"]);
    app.stop().await;
}

#[actix_web::test]
async fn paypal_accepts_a_signed_event_and_rejects_a_tampered_body() {
    let keys = KeyServer::start().await;
    keys.serve(PAYPAL_CERT, read("test-rsa-a.cert.pem"));
    let app = gateway(&keys).await;
    let event = r#"{"id":"WH-TEST-EVENT-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"amount":{"value":"10.00"}}}"#;
    let (id, time) = (
        "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "2024-05-01T12:00:00Z",
    );
    let out = signer(
        json!([{"op": "paypal", "key": fixture("test-rsa-a.key.pem"), "id": id,
        "time": time, "webhook_id": "WH-TEST", "body": event}]),
    );
    let headers: Vec<(String, String)> = [
        ("paypal-transmission-id", id),
        ("paypal-transmission-time", time),
        (
            "paypal-transmission-sig",
            out[0]["signature"].as_str().expect("sig"),
        ),
        ("paypal-cert-url", &keys.url(PAYPAL_CERT)),
        ("paypal-auth-algo", "SHA256withRSA"),
        ("content-type", "application/json"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let tampered = event.replace("10.00", "99.00");
    let answer = app.post("paypal", &headers, tampered.into_bytes()).await;
    assert_eq!(
        (answer.status, answer.json),
        (401, json!({"error": "invalid_signature"}))
    );
    let answer = app
        .post("paypal", &headers, event.as_bytes().to_vec())
        .await;
    assert_eq!(
        (answer.status, answer.json),
        (
            200,
            json!({"status": "accepted", "event_id": "WH-TEST-EVENT-1"})
        )
    );
    assert_eq!(keys.hits(PAYPAL_CERT), 1);
    app.stop().await;
}
