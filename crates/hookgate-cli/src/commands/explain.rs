//! `hookgate explain --provider P --request FILE`: reads a captured raw HTTP/1.1 request
//! ([`crate::capture`]) and prints every check the gateway would run on it, in order, with
//! its result (provider, body size, handshake, required headers, timestamp skew against the
//! tolerance, signature against the configured keys, event ID and type and their sources),
//! then the verdict. Exit status 0 only when the request would be accepted (or is a
//! handshake answered with a 2xx).
//!
//! The checks are `hookgate_core::explain`, which runs the verifier's own code. Nothing
//! printed is a key, a signature or the body.

use std::{io::Read, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Args;
use hookgate_core::{
    ProviderRegistry, Unverified,
    explain::{Outcome, Verdict},
};

use crate::capture;

/// `explain` arguments.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Provider name (a `[providers.<name>]` table).
    #[arg(long)]
    pub provider: String,
    /// The captured request: raw HTTP/1.1 (request line, headers, blank line, body);
    /// `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub request: PathBuf,
    /// Check the timestamp as of this time instead of now: unix seconds or RFC 3339 (use
    /// the time the request was captured).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Explain one captured request.
pub fn run(
    config_path: &std::path::Path,
    registry: &ProviderRegistry,
    args: &ExplainArgs,
) -> anyhow::Result<ExitCode> {
    let raw = if args.request.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the request from standard input")?;
        buf
    } else {
        std::fs::read(&args.request)
            .with_context(|| format!("reading {}", args.request.display()))?
    };
    let captured =
        capture::parse(&raw).map_err(|why| anyhow::anyhow!("{}: {why}", args.request.display()))?;
    let now = match &args.at {
        Some(at) => parse_time(at)?,
        None => hookgate::unix_now(),
    };
    println!(
        "{} {}{} ({} header(s), {}-byte body) checked as provider {:?} at unix time {now}",
        captured.method,
        captured.path,
        if captured.query.is_empty() {
            ""
        } else {
            "?…"
        },
        captured.headers.0.len(),
        captured.body.len(),
        args.provider,
    );
    for note in &captured.notes {
        println!("  note: {note}");
    }
    println!();
    let Some(provider) = registry.get(&args.provider) else {
        let names = registry.names();
        line(
            Outcome::Fail,
            "provider",
            &format!(
                "no [providers.{}] in {} (configured: {}); the gateway answers 404 unknown_provider",
                args.provider,
                config_path.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        );
        println!("\nverdict: refused, 404 unknown_provider");
        return Ok(ExitCode::FAILURE);
    };
    let suffix = format!("/{}", args.provider);
    if !captured.path.trim_end_matches('/').ends_with(&suffix) {
        println!(
            "  note: the request went to {}, not /webhooks/{}; explained as {:?} anyway",
            captured.path, args.provider, args.provider
        );
    }
    line(
        Outcome::Pass,
        "provider",
        &format!(
            "{}: scheme {}, {}",
            provider.name(),
            provider.scheme().as_str(),
            provider
                .handshake_kind()
                .map_or("no handshake".to_owned(), |k| format!("{k} handshake"))
        ),
    );
    let request = Unverified::new(&captured.headers, captured.body.as_slice())
        .with_method(&captured.method)
        .with_query(&captured.query);
    let explanation = provider.explain(&request, now);
    for step in &explanation.steps {
        line(step.outcome, step.name, &step.detail);
    }
    println!();
    let verdict = &explanation.verdict;
    match verdict {
        Verdict::Accepted {
            event_id,
            event_type,
        } => println!(
            "verdict: accepted, 200 (event {event_id:?}, type {event_type:?}; a repeat of a stored ID is answered 200 duplicate)"
        ),
        Verdict::Handshake { kind, status } => {
            println!(
                "verdict: {kind} handshake, answered {status}{}",
                if verdict.succeeds() { "" } else { " (refused)" }
            );
            if !verdict.succeeds() {
                println!(
                    "hint: the verify token sent differs from the value of the variable named by \
                     verify_token_env: type the same token in the provider's dashboard"
                );
            }
        }
        _ => {
            println!("verdict: refused, {} {}", verdict.status(), verdict.code());
            if let Some(hint) = hint(verdict.code()) {
                println!("hint: {hint}");
            }
        }
    }
    Ok(if verdict.succeeds() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn line(outcome: Outcome, name: &str, detail: &str) {
    let tag = match outcome {
        Outcome::Pass => "ok",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "skip",
        Outcome::Info => "info",
    };
    println!("  {tag:<4}  {name:<11} {detail}");
}

/// What usually causes each refusal (the README's troubleshooting section says more).
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "missing_signature" => {
            "the provider did not send the header (is it configured to sign?), a proxy dropped \
             it, or this provider table uses the wrong preset"
        }
        "invalid_timestamp" => {
            "the timestamp header is missing or not in the preset's format; a proxy may have \
             dropped it"
        }
        "timestamp_out_of_tolerance" => {
            "clock skew between the provider and this machine (check NTP), a retried or replayed \
             request, or a capture explained later: rerun with --at <capture time>"
        }
        "invalid_signature" => {
            "a wrong secret or key in the variable named by secrets_env (or an old one after a \
             rotation), a body changed on the way (a proxy re-encoding JSON or changing line \
             endings, a capture re-saved by an editor), or for URL-signing providers a public_url \
             that differs from the URL the provider was given"
        }
        "malformed_payload" => {
            "the signature is fine, but a json: event-ID or type source reads a body that is not \
             JSON (a form-encoded delivery?): set event_id/event_type sources that fit"
        }
        "payload_too_large" => "raise max_body for this provider",
        "method_not_allowed" => {
            "only a provider with a GET handshake answers GET; deliveries are POSTs"
        }
        _ => return None,
    })
}

/// Unix seconds, or an RFC 3339 time.
fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    let time = humantime::parse_rfc3339_weak(text)
        .with_context(|| format!("--at {text:?}: expected unix seconds or an RFC 3339 time"))?;
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .context("--at is before 1970")?
        .as_secs();
    Ok(i64::try_from(secs)?)
}
