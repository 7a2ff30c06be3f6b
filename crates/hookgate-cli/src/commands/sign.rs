//! `hookgate sign`: a correctly signed test request for a configured provider, printed as
//! headers and a curl line (or JSON with `--json`). Every preset can be signed: symmetric
//! schemes with the provider's first secret, asymmetric ones (`discord`, `sendgrid`,
//! Standard Webhooks `v1a`) with `--private-key FILE` (PEM). Schemes whose proof lives in
//! the body (`mailgun`, `microsoft-graph`, a body timestamp) get a rewritten body, and
//! Twilio's JSON bodies a `?bodySHA256=` query: both are printed and sent as returned.
//!
//! [`test_request`] is shared with `hookgate send`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Args;
use hookgate_core::{
    Provider, ProviderRegistry,
    config::Config,
    sign::{SigningKey, unique_event_id},
};
use serde_json::json;

/// What `sign` and `send` both take: which provider, and what to put in the request.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Provider name (a `[providers.<name>]` table).
    #[arg(long)]
    pub provider: String,
    /// Body file; default: a generated event of `--type`.
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event ID; default: a fresh unique one.
    #[arg(long)]
    pub id: Option<String>,
    /// Gateway URL; default: from `server.listen`.
    #[arg(long)]
    pub url: Option<String>,
    /// Private key (PEM: PKCS#8 Ed25519 or P-256, or SEC1 P-256) for asymmetric schemes
    /// (discord, sendgrid, standard-webhooks `v1a`).
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
}

/// `sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Provider, body, ID, URL and key.
    #[command(flatten)]
    pub request: RequestArgs,
    /// Event type for the generated body and type headers.
    #[arg(long = "type", default_value = "test.event")]
    pub event_type: String,
    /// Print `{"url", "headers", "body"}` as JSON instead of headers and a curl line.
    #[arg(long)]
    pub json: bool,
}

/// A signed request ready to send.
pub struct TestRequest {
    /// Target URL, the signed query string included.
    pub url: String,
    /// Headers, signature included.
    pub headers: Vec<(String, String)>,
    /// Body bytes (as the scheme returned them: rewritten where the proof lives in it).
    pub body: Vec<u8>,
}

/// Build a signed request of `event_type` for `spec.provider` (shared by `sign` and
/// `send`).
pub fn test_request(
    config: &Config,
    registry: &ProviderRegistry,
    spec: &RequestArgs,
    event_type: &str,
) -> anyhow::Result<TestRequest> {
    let p: &Provider = registry
        .get(&spec.provider)
        .with_context(|| format!("no provider named {:?} in the config", spec.provider))?;
    let event_id = spec.id.clone().unwrap_or_else(unique_event_id);
    let body = match spec.body.as_deref() {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => p.sample_body(&event_id, event_type, 0),
    };
    let key = spec
        .private_key
        .as_deref()
        .map(|path| -> anyhow::Result<SigningKey> {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            SigningKey::from_pem(&pem).with_context(|| format!("{}", path.display()))
        })
        .transpose()?;
    let signed = p
        .sign_request(
            &body,
            &event_id,
            event_type,
            hookgate::unix_now(),
            key.as_ref(),
        )
        .with_context(|| match spec.private_key.as_deref() {
            None => format!(
                "signing for {:?} (asymmetric schemes need --private-key FILE)",
                spec.provider
            ),
            Some(_) => format!("signing for {:?}", spec.provider),
        })?;
    let mut headers = signed.headers;
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), content_type(&signed.body).into()));
    }
    let mut url = spec
        .url
        .clone()
        .unwrap_or_else(|| default_url(&config.server.listen, &spec.provider));
    if !signed.query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&signed.query);
    }
    Ok(TestRequest {
        url,
        headers,
        body: signed.body,
    })
}

/// JSON when it looks like JSON, a form when it looks like one (Twilio, Slack commands).
fn content_type(body: &[u8]) -> &'static str {
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        "application/json"
    } else if !body.is_empty()
        && body.contains(&b'=')
        && body
            .iter()
            .all(|b| b.is_ascii_graphic() && *b != b'"' && *b != b'{')
    {
        "application/x-www-form-urlencoded"
    } else {
        "application/octet-stream"
    }
}

fn default_url(listen: &str, provider: &str) -> String {
    let port = listen.rsplit(':').next().unwrap_or("8080");
    format!("http://127.0.0.1:{port}/webhooks/{provider}")
}

/// Print the headers and a curl line (or JSON).
pub fn run(
    config: &Config,
    registry: &ProviderRegistry,
    args: &SignArgs,
) -> anyhow::Result<ExitCode> {
    let req = test_request(config, registry, &args.request, &args.event_type)?;
    if args.json {
        let body = String::from_utf8(req.body.clone());
        let out = json!({
            "url": req.url,
            "headers": req.headers,
            "body": body.as_ref().ok(),
            "body_base64": body.is_err().then(|| base64_of(&req.body)),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (name, value) in &req.headers {
        println!("{name}: {value}");
    }
    println!();
    let mut curl = format!("curl -sS -X POST {}", shell_quote(&req.url));
    for (name, value) in &req.headers {
        curl.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    let unchanged = args
        .request
        .body
        .as_deref()
        .and_then(|path| std::fs::read(path).ok())
        .is_some_and(|original| original == req.body);
    match &args.request.body {
        Some(path) if unchanged => curl.push_str(&format!(
            " --data-binary @{}",
            shell_quote(&path.display().to_string())
        )),
        _ => curl.push_str(&format!(
            " --data-binary {}",
            shell_quote(&String::from_utf8_lossy(&req.body))
        )),
    }
    println!("{curl}");
    Ok(ExitCode::SUCCESS)
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
