//! `GET /console`: per provider over the last hour and day, answers by outcome (accepted,
//! duplicate, rejected by reason), the mean ack latency, and the relay's state (broker,
//! outbox depth, oldest waiting event). Traffic comes from this instance's in-memory
//! [`crate::traffic`] buckets; the page says so.

use std::{collections::BTreeSet, fmt::Write, time::SystemTime};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use crate::{
    console::{
        ConsoleError, auth,
        html::{self, Nav, escape},
    },
    rejections,
    state::AppState,
    store,
    traffic::{ProviderWindow, Window},
};

/// The outbox is counted up to this many rows, never further.
const BACKLOG_CAP: i64 = 100_000;

fn counts(w: Option<&ProviderWindow>) -> String {
    let empty = ProviderWindow::default();
    let w = w.unwrap_or(&empty);
    let rejected: Vec<_> = w.rejected().collect();
    let total: u64 = rejected.iter().map(|(_, n)| n).sum();
    let reasons = rejected
        .iter()
        .map(|(code, n)| format!("{} {n}", escape(code)))
        .collect::<Vec<_>>()
        .join(", ");
    let rejected = if total == 0 {
        "0".to_owned()
    } else {
        format!("<span class=\"bad\">{total}</span><br><span class=\"muted\">{reasons}</span>")
    };
    format!(
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{rejected}</td>",
        w.get("accepted"),
        w.get("duplicate")
    )
}

fn latency(w: &Window) -> String {
    match w.mean_ack_secs {
        Some(s) => format!(
            "{} <span class=\"muted\">over {} acks</span>",
            html::age(s),
            w.acks
        ),
        None => "<span class=\"muted\">no acks</span>".into(),
    }
}

/// `GET /console`.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = auth::viewer(&request, &state)?;
    let ack_now = state.metrics.ack_totals();
    let hour = state.metrics.traffic.window(3600, ack_now);
    let day = state.metrics.traffic.window(86_400, ack_now);
    let mut names: BTreeSet<String> = state.live.snapshot().registry.names().into_iter().collect();
    names.extend(day.providers.keys().cloned());

    let mut body = String::new();
    let _ = write!(
        body,
        "<h2>Requests per provider</h2><table id=\"traffic\"><tr><th rowspan=\"2\">Provider</th>\
         <th colspan=\"3\">Last hour</th><th colspan=\"3\">Last day</th></tr>\
         <tr><th>accepted</th><th>duplicate</th><th>rejected</th>\
         <th>accepted</th><th>duplicate</th><th>rejected</th></tr>"
    );
    for name in &names {
        let label = if name == "_unknown" {
            "<span class=\"muted\">unknown provider paths</span>".to_owned()
        } else {
            format!(
                "<a href=\"/console/events?provider={}\">{}</a>",
                html::url_encode(name),
                escape(name)
            )
        };
        let _ = write!(
            body,
            "<tr><td>{label}</td>{}{}</tr>",
            counts(hour.providers.get(name)),
            counts(day.providers.get(name))
        );
    }
    let _ = write!(
        body,
        "</table><p>Mean ack latency, all providers: last hour {}; last day {}.</p>",
        latency(&hour),
        latency(&day)
    );

    let broker = if state.broker.is_up() {
        "<span class=\"ok\" id=\"broker\">up</span>"
    } else {
        "<span class=\"bad\" id=\"broker\">down</span>"
    };
    let backlog = match store::admin::backlog(&state.pool, BACKLOG_CAP).await {
        Ok((pending, oldest)) => {
            let depth = if pending > BACKLOG_CAP {
                format!("more than {BACKLOG_CAP}")
            } else {
                pending.to_string()
            };
            let oldest = oldest
                .map(|s| format!("received {} ago", html::age(s)))
                .unwrap_or_else(|| "none".into());
            format!(
                "<dt>Outbox depth</dt><dd id=\"outbox\">{depth}</dd><dt>Oldest waiting event</dt><dd>{oldest}</dd>"
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "console overview: database unavailable");
            "<dt>Database</dt><dd class=\"bad\">unavailable</dd>".to_owned()
        }
    };
    let _ = write!(
        body,
        "<h2>Relay</h2><div class=\"box\"><dl><dt>Broker</dt><dd>{broker}</dd>{backlog}</dl></div>"
    );

    let uptime = SystemTime::now()
        .duration_since(state.console.started)
        .unwrap_or_default()
        .as_secs_f64();
    let _ = write!(
        body,
        "<h2>Rejections</h2><p><a href=\"/console/rejections\">{} recent rejected requests</a> \
         held on this instance (at most {}).</p>\
         <p class=\"muted\">Traffic counts and latency are kept in memory by this instance \
         (<b>{}</b>), in 5-minute steps, since it started {} ago: a restart resets them, and \
         other instances count their own. Prometheus (<code>/metrics</code>) has the \
         cumulative series.</p>",
        state.rejections.len(),
        rejections::CAPACITY,
        escape(&state.console.instance),
        html::age(uptime),
    );
    Ok(html::page(
        StatusCode::OK,
        &viewer.chrome(Nav::Overview, &state),
        "Overview",
        &body,
    ))
}
