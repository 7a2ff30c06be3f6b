//! `hookgate send`: one signed test event (see [`super::sign`]) POSTed to a running
//! gateway; prints the answer and exits non-zero unless it was a 2xx.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;
use hookgate_core::{ProviderRegistry, config::Config};

use super::sign::{Spec, test_request};

/// `send` arguments.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Provider name.
    #[arg(long)]
    pub provider: String,
    /// Event type.
    #[arg(long = "type")]
    pub event_type: String,
    /// Gateway URL; default: from `server.listen`.
    #[arg(long)]
    pub url: Option<String>,
    /// Body file; default: a generated event of `--type`.
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event ID; default: a fresh unique one.
    #[arg(long)]
    pub id: Option<String>,
    /// Private key (PEM) for asymmetric schemes (discord, sendgrid, standard-webhooks
    /// `v1a`).
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
}

/// Send one signed event and print the answer.
pub fn run(
    config: &Config,
    registry: &ProviderRegistry,
    args: &SendArgs,
) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(send_one(config, registry, args))
}

async fn send_one(
    config: &Config,
    registry: &ProviderRegistry,
    args: &SendArgs,
) -> anyhow::Result<ExitCode> {
    let req = test_request(
        config,
        registry,
        &Spec {
            provider: &args.provider,
            event_type: &args.event_type,
            body: args.body.as_deref(),
            id: args.id.clone(),
            url: args.url.clone(),
            private_key: args.private_key.as_deref(),
        },
    )?;
    let mut builder = awc::Client::default().post(&req.url);
    for (name, value) in &req.headers {
        builder = builder.insert_header((name.as_str(), value.as_str()));
    }
    let mut response = builder
        .send_body(req.body)
        .await
        .map_err(|e| anyhow::anyhow!("POST {}: {e}", req.url))?;
    let body = response.body().await.unwrap_or_default();
    println!(
        "{} {}",
        response.status().as_u16(),
        String::from_utf8_lossy(&body)
    );
    Ok(if response.status().is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
