//! `hookgate replay`: queue stored events for republishing (the relay of any running
//! gateway publishes them, with confirms and the same `message_id`), then follow progress
//! with a progress bar (drawn only on a terminal; piped output gets the summary lines).

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Args;
use hookgate::{db, filter::FilterParams, store};
use hookgate_core::config::Config;
use indicatif::{ProgressBar, ProgressStyle};

/// `replay` arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Provider name.
    #[arg(long)]
    provider: String,
    /// Only events received since then: a duration ago (`1h`) or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only events received before then: a duration ago or an RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Only this event type.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Only this event ID.
    #[arg(long)]
    event_id: Option<String>,
    /// Count what would be replayed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to follow publishing before returning (the rows stay queued).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    wait: Duration,
}

/// Queue the matching events and follow them until they are published.
pub fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    crate::tokio_runtime()?.block_on(replay(config, args))?;
    Ok(ExitCode::SUCCESS)
}

async fn replay(config: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let filter = FilterParams {
        provider: Some(args.provider.clone()),
        event_type: args.event_type.clone(),
        event_id: args.event_id.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
    }
    .into_filter()
    .map_err(anyhow::Error::msg)?;
    let pool = db::pool(&config.database)?;
    let count = store::admin::replay(&pool, &filter, args.dry_run).await?;
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
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} republished ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    loop {
        let pending = store::admin::pending_matching(&pool, &filter).await?;
        bar.set_position((total - pending.min(total)) as u64);
        if pending == 0 {
            bar.finish();
            println!("{total} event(s) republished");
            return Ok(());
        }
        if started.elapsed() > args.wait {
            bar.abandon();
            println!("{pending} still queued; a running gateway's relay will publish them");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
