//! Retention: purge event keys older than `retention.events` and bodies of published
//! events older than `retention.payloads`, in small batches so the table is never locked
//! for long.

use hookgate_core::config::RetentionConfig;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store;

/// Rows touched per statement.
const BATCH: i64 = 1000;

/// Run purges every `config.interval` until `stop`.
pub async fn run(pool: PgPool, config: RetentionConfig, stop: CancellationToken) {
    let mut tick = tokio::time::interval(config.interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(e) = purge_once(&pool, &config).await {
            tracing::warn!(error = %e, "retention purge failed; will retry");
        }
    }
}

/// One full purge pass; returns (event keys deleted, bodies dropped).
pub async fn purge_once(
    pool: &PgPool,
    config: &RetentionConfig,
) -> Result<(u64, u64), sqlx::Error> {
    let mut deleted = 0;
    loop {
        let n = store::retention::purge_events(pool, config.events, BATCH).await?;
        deleted += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let mut dropped = 0;
    loop {
        let n = store::retention::drop_payloads(pool, config.payloads, BATCH).await?;
        dropped += n;
        if n < BATCH as u64 {
            break;
        }
    }
    if deleted + dropped > 0 {
        tracing::info!(deleted, dropped, "retention purge");
    }
    Ok((deleted, dropped))
}
