//! `hookgate replay`: queue stored events for republishing (the relay of any running
//! gateway publishes them, with confirms and the same `message_id`), then follow progress.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use clap::Args;
use hookgate_core::config::Config;

use crate::{http::admin::parse_time, store};

/// `replay` arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Provider name.
    #[arg(long)]
    pub provider: String,
    /// Only events received since then: a duration ago (`1h`) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events received before then: a duration ago or an RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this event type.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only this event ID.
    #[arg(long)]
    pub event_id: Option<String>,
    /// Count what would be replayed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to follow publishing before returning (the rows stay queued).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
}

/// Queue the matching events and show a progress bar until they are published.
pub async fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let time = |v: &Option<String>| {
        v.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let filter = store::EventFilter {
        provider: Some(args.provider.clone()),
        event_type: args.event_type.clone(),
        event_id: args.event_id.clone(),
        since_us: time(&args.since)?,
        until_us: time(&args.until)?,
    };
    let pool = crate::db::pool(&config.database)?;
    let count = store::replay(&pool, &filter, args.dry_run).await?;
    println!(
        "matched {} stored event(s); {} still have their body{}",
        count.matched,
        count.replayable,
        if args.dry_run {
            " (dry run: nothing queued)"
        } else {
            ""
        }
    );
    if args.dry_run || count.queued == 0 {
        return Ok(());
    }
    let total = count.queued;
    let started = Instant::now();
    loop {
        let pending = store::pending_matching(&pool, &filter).await?;
        let done = total - pending.min(total);
        let width = 30;
        let filled = (done * width / total.max(1)) as usize;
        print!(
            "\r[{}{}] {done}/{total} republished ",
            "#".repeat(filled),
            ".".repeat(width as usize - filled)
        );
        let _ = std::io::stdout().flush();
        if pending == 0 {
            println!();
            return Ok(());
        }
        if started.elapsed() > args.wait {
            println!("\n{pending} still queued; a running gateway's relay will publish them");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
