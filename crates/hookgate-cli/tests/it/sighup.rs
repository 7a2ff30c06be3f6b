//! SIGHUP on the real binary: the config file is reloaded, and a bad file keeps the old
//! config with the process alive.

use crate::{helpers::*, process};

const LATE: &str = "[providers.late]\npreset = \"github\"\nsecrets = [\"late-secret\"]";

fn late_request(id: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let mut late = Settings::new();
    late.tables_extra = LATE.into();
    let (_, registry) = late.config();
    let p = registry.get("late").expect("late");
    let body = b"{}".to_vec();
    (p.sign(&body, id, "push", hookgate::unix_now()), body)
}

#[actix_web::test]
async fn sighup_reloads_the_binary_and_a_bad_file_keeps_the_old_config() {
    let settings = Settings::new();
    let _cleanup = settings.cleanup_on_exit();
    let path = std::env::temp_dir().join(format!("{}.toml", unique("sighup")));
    std::fs::write(&path, settings.toml()).expect("write");
    let (child, port, logs) = process::start_gateway_with_logs(&path);
    let url = format!("http://127.0.0.1:{port}/webhooks/late");
    let (h, body) = late_request("late-1");
    assert_eq!(post(&url, &h, body.clone()).await.status, 404);
    let mut with_late = settings.clone();
    with_late.tables_extra = LATE.into();
    std::fs::write(&path, with_late.toml()).expect("write");
    process::signal(&child, "-HUP");
    process::wait_for_log(&logs, "configuration reloaded");
    assert_eq!(
        post(&url, &h, body.clone()).await.status,
        200,
        "the new provider is served"
    );
    std::fs::write(&path, "this is not toml [").expect("write");
    process::signal(&child, "-HUP");
    process::wait_for_log(&logs, "reload refused");
    let (h2, body2) = late_request("late-2");
    // Still served by the old config (a bad file changes nothing, the process lives on).
    let again = post(&url, &h2, body2).await;
    assert_eq!(again.json["status"], "accepted", "{again:?}");
    process::signal(&child, "-TERM");
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success());
    let _ = std::fs::remove_file(&path);
}
