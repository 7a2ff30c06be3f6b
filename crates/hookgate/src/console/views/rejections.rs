//! `GET /console/rejections`: this instance's recent rejected requests, newest first,
//! from the in-memory [`crate::rejections`] ring: time, provider, reason, status, peer,
//! header names and timestamp skew. Never a header value, a body or a signature.

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use crate::{
    console::{
        ConsoleError, auth,
        html::{self, Nav, escape},
        params,
    },
    rejections::{CAPACITY, PER_PROVIDER},
    state::AppState,
};

/// Rows on the page.
const SHOWN: usize = 200;

/// `GET /console/rejections` query.
#[derive(Debug, Deserialize)]
pub struct RejectionsQuery {
    provider: Option<String>,
    reason: Option<String>,
}

/// `GET /console/rejections`.
pub async fn list(
    request: HttpRequest,
    query: web::Query<RejectionsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = auth::viewer(&request, &state)?;
    let provider = params::text("provider", query.provider.as_deref(), 64)?;
    let reason = params::text("reason", query.reason.as_deref(), 64)?;
    if let Some(r) = &reason
        && !r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(ConsoleError::BadRequest(
            "reason is an error code such as invalid_signature (lowercase letters and _)".into(),
        ));
    }
    let records = state.rejections.recent(SHOWN, |r| {
        provider.as_deref().is_none_or(|p| r.provider == p)
            && reason.as_deref().is_none_or(|c| r.code == c)
    });
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"muted\">Kept in memory by this instance (<b>{}</b>): the last {CAPACITY} \
         rejected requests, at most {PER_PROVIDER} per provider (unknown provider paths \
         share one allowance); a restart empties it, and each instance shows only its own. \
         Header <em>names</em> only; no value, body or signature is kept. Skew is the \
         request's timestamp minus this gateway's clock, when it had one that parses.</p>\
         <form class=\"filters\" method=\"get\" action=\"/console/rejections\">\
         <label>Provider<input name=\"provider\" value=\"{}\" placeholder=\"any\"></label>\
         <label>Reason<input name=\"reason\" value=\"{}\" placeholder=\"any\"></label>\
         <button>Filter</button> <a href=\"/console/rejections\">clear</a></form>",
        escape(&state.console.instance),
        escape(provider.as_deref().unwrap_or_default()),
        escape(reason.as_deref().unwrap_or_default()),
    );
    if records.is_empty() {
        body.push_str("<p id=\"no-rejections\">No rejected requests held.</p>");
    } else {
        body.push_str(
            "<table id=\"rejections\"><tr><th>Time (UTC)</th><th>Provider</th><th>Reason</th>\
             <th>Status</th><th>Peer</th><th>Skew</th><th>Header names</th></tr>",
        );
        for r in &records {
            let provider = if r.known_provider {
                escape(&r.provider)
            } else {
                format!(
                    "{} <span class=\"muted\">(unknown)</span>",
                    escape(&r.provider)
                )
            };
            let skew = r
                .skew_secs
                .map(|s| format!("{s:+} s"))
                .unwrap_or_else(|| "<span class=\"muted\">-</span>".into());
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{provider}</td><td class=\"bad reason\">{}</td><td>{}</td>\
                 <td>{}</td><td class=\"n\">{skew}</td><td><code>{}</code></td></tr>",
                humantime::format_rfc3339_seconds(r.at),
                escape(r.code),
                r.status,
                r.peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                escape(&r.header_names.join(", ")),
            );
        }
        body.push_str("</table>");
    }
    Ok(html::page(
        StatusCode::OK,
        &viewer.chrome(Nav::Rejections, &state),
        "Recent rejections",
        &body,
    ))
}
