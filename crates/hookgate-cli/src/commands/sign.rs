//! `hookgate sign` and `hookgate send`: a correctly signed test request for a configured
//! provider, printed (headers and a curl line) or sent to a running gateway.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Args;
use hookgate_core::{Provider, ProviderRegistry, config::Config, sign::unique_event_id};

/// `sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Provider name (a `[providers.<name>]` table).
    #[arg(long)]
    pub provider: String,
    /// Body file; default: a generated JSON event of `--type`.
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event type for the generated body and type headers.
    #[arg(long = "type", default_value = "test.event")]
    pub event_type: String,
    /// Event ID; default: a fresh unique one.
    #[arg(long)]
    pub id: Option<String>,
    /// Gateway URL for the curl line; default: from `server.listen`.
    #[arg(long)]
    pub url: Option<String>,
}

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
    /// Body file; default: a generated JSON event of `--type`.
    #[arg(long)]
    pub body: Option<PathBuf>,
}

/// A signed request ready to send.
pub struct TestRequest {
    /// Target URL.
    pub url: String,
    /// Headers, signature included.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Build a signed request for `provider` (shared by `sign`, `send` and the tests).
pub fn test_request(
    config: &Config,
    registry: &ProviderRegistry,
    provider: &str,
    event_type: &str,
    body: Option<&PathBuf>,
    id: Option<String>,
    url: Option<String>,
) -> anyhow::Result<TestRequest> {
    let p: &Provider = registry
        .get(provider)
        .with_context(|| format!("no provider named {provider:?} in the config"))?;
    let event_id = id.unwrap_or_else(unique_event_id);
    let body = match body {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => p.sample_body(&event_id, event_type, 0),
    };
    let mut headers = p.sign(&body, &event_id, event_type, hookgate::unix_now());
    headers.push(("content-type".into(), "application/json".into()));
    let url = url.unwrap_or_else(|| default_url(&config.server.listen, provider));
    Ok(TestRequest { url, headers, body })
}

fn default_url(listen: &str, provider: &str) -> String {
    let port = listen.rsplit(':').next().unwrap_or("8080");
    format!("http://127.0.0.1:{port}/webhooks/{provider}")
}

/// Print the headers and a curl line.
pub fn sign(
    config: &Config,
    registry: &ProviderRegistry,
    args: &SignArgs,
) -> anyhow::Result<ExitCode> {
    let req = test_request(
        config,
        registry,
        &args.provider,
        &args.event_type,
        args.body.as_ref(),
        args.id.clone(),
        args.url.clone(),
    )?;
    for (name, value) in &req.headers {
        println!("{name}: {value}");
    }
    println!();
    let mut curl = format!("curl -sS -X POST {}", shell_quote(&req.url));
    for (name, value) in &req.headers {
        curl.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    match &args.body {
        Some(path) => curl.push_str(&format!(
            " --data-binary @{}",
            shell_quote(&path.display().to_string())
        )),
        None => curl.push_str(&format!(
            " --data-binary {}",
            shell_quote(&String::from_utf8_lossy(&req.body))
        )),
    }
    println!("{curl}");
    Ok(ExitCode::SUCCESS)
}

/// Send one signed event and print the answer; exit non-zero unless it was accepted.
pub fn send(
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
        &args.provider,
        &args.event_type,
        args.body.as_ref(),
        None,
        args.url.clone(),
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

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
