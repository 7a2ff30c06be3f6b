//! `hookgate bench audit`: drain a queue and write the `message_id` of every message, one
//! per line, so a fault-injection run can compare what was acknowledged with what arrived.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use futures_util::StreamExt;

/// `bench audit` arguments.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Queue to drain (its messages are acknowledged, i.e. removed).
    #[arg(long)]
    pub queue: String,
    /// File for the message IDs.
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this long without a message.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub idle: Duration,
}

/// Drain `args.queue` into `args.out`; returns how many messages were read.
pub async fn run(amqp_url: &str, args: &AuditArgs) -> anyhow::Result<usize> {
    let connection = hookgate::broker::connect(amqp_url).await?;
    let channel = connection.create_channel().await?;
    let mut consumer = crate::consume(&channel, &args.queue, "hookgate-audit").await?;
    let mut ids = Vec::new();
    while let Ok(Some(delivery)) = tokio::time::timeout(args.idle, consumer.next()).await {
        let delivery = delivery?;
        ids.push(
            delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
        );
    }
    let _ = connection.close(200, "audit done".into()).await;
    std::fs::write(&args.out, ids.join("\n") + "\n")?;
    Ok(ids.len())
}
