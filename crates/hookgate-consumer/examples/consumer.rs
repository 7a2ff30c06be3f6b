//! A consumer for the shipped config's `hookgate.all` queue: one handler per event type of
//! the Groq and Vast.ai presets, everything else logged and acked.
//!
//! Run: `cargo run -p hookgate-consumer --example consumer` (Ctrl-C stops it gracefully).

use std::time::Duration;

use hookgate_consumer::{Consumer, Event};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let url = std::env::var("HOOKGATE_AMQP__URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let consumer = Consumer::builder(url, "hookgate.all")
        .on("resource.created", |e: Event| async move {
            let body: serde_json::Value = e.json()?;
            tracing::info!(provider = %e.provider, id = %e.id, "resource created: {}", body["data"]);
            Ok(())
        })
        .on("instance_outbid", |e: Event| async move {
            tracing::info!(id = %e.id, attempt = e.attempt, "vast.ai instance outbid");
            Ok(())
        })
        .max_attempts(5)
        .backoff(Duration::from_secs(1), Duration::from_secs(60))
        .prefetch(32)
        .build();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    consumer.run(shutdown).await
}
