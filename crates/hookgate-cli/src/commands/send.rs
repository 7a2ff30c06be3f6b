//! `hookgate send`: one signed test event (see [`super::sign`]) POSTed to a running
//! gateway; prints the answer and exits non-zero unless it was a 2xx.

use std::process::ExitCode;

use clap::Args;
use hookgate_core::{ProviderRegistry, config::Config};

use super::sign::{RequestArgs, test_request};

/// `send` arguments.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Provider, body, ID, URL and key.
    #[command(flatten)]
    pub request: RequestArgs,
    /// Event type.
    #[arg(long = "type")]
    pub event_type: String,
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
    let req = test_request(config, registry, &args.request, &args.event_type)?;
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
