//! `GET /console/events`: stored events newest first, filtered by provider, type, event ID
//! and time, one keyset page (by receive time and row id, descending) per request; a
//! filtered set can be
//! sent to replay (which asks for confirmation first).

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use super::publish_state;
use crate::{
    console::{
        ConsoleError, auth,
        html::{self, Nav, escape},
        params::{self, Cursor, EventsQuery},
    },
    state::AppState,
    store,
};

fn input(name: &str, label: &str, value: Option<&str>, placeholder: &str, extra: &str) -> String {
    format!(
        "<label>{label}<input name=\"{name}\" id=\"f-{name}\" value=\"{}\" placeholder=\"{placeholder}\"{extra}></label>",
        escape(value.unwrap_or_default())
    )
}

/// `GET /console/events`.
pub async fn list(
    request: HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = auth::viewer(&request, &state)?;
    let (filter, before, limit) = query.parse()?;
    let providers = state.live.snapshot().registry.names();
    let events = store::admin::newest_events(
        &state.pool,
        &filter,
        &providers,
        before.map(|c| (c.received_us, c.id)),
        limit,
    )
    .await?;

    let raw = &query.filter;
    let mut body = String::new();
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/console/events\">{}{}{}{}{}\
         <datalist id=\"providers\">{}</datalist><button id=\"filter\">Filter</button> \
         <a href=\"/console/events\">clear</a></form>\
         <p class=\"muted\">Times: RFC 3339 (<code>2026-11-23T08:00:00Z</code>) or a duration ago \
         (<code>2h</code>, <code>7d</code>). An event ID without a provider is looked up under \
         every configured provider.</p>",
        input(
            "provider",
            "Provider",
            raw.provider.as_deref(),
            "any",
            " list=\"providers\""
        ),
        input("type", "Type", raw.event_type.as_deref(), "any", ""),
        input("event_id", "Event ID", raw.event_id.as_deref(), "any", ""),
        input("since", "Since", raw.since.as_deref(), "e.g. 1h", ""),
        input("until", "Until", raw.until.as_deref(), "now", ""),
        providers
            .iter()
            .map(|p| format!("<option value=\"{}\">", escape(p)))
            .collect::<String>(),
    );
    if events.is_empty() {
        body.push_str("<p id=\"no-events\">No stored events match.</p>");
    } else {
        body.push_str(
            "<table id=\"events\"><tr><th>Received (UTC)</th><th>Provider</th><th>Type</th>\
             <th>Event ID</th><th>Size</th><th>State</th></tr>",
        );
        for e in &events {
            let size = e
                .body_size
                .map(|n| format!("{n} B"))
                .unwrap_or_else(|| "<span class=\"muted\">dropped</span>".into());
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/console/events/{}\">{}</a></td>\
                 <td class=\"n\">{size}</td><td>{}</td></tr>",
                escape(&e.received_at),
                escape(&e.provider),
                escape(&e.event_type),
                e.pk,
                escape(&e.event_id),
                publish_state(e),
            );
        }
        body.push_str("</table>");
    }
    let mut qs = raw.query_string();
    if limit != params::PAGE {
        let sep = if qs.is_empty() { "" } else { "&" };
        qs = format!("{qs}{sep}limit={limit}");
    }
    let sep = if qs.is_empty() { "" } else { "&amp;" };
    let mut nav = Vec::new();
    if before.is_some() {
        nav.push(format!(
            "<a href=\"/console/events?{}\">« Newest</a>",
            escape(&qs)
        ));
    }
    if events.len() as i64 == limit
        && let Some(last) = events.last()
    {
        nav.push(format!(
            "<a id=\"older\" href=\"/console/events?{}{sep}before={}\">Older »</a>",
            escape(&qs),
            Cursor::after(&last.received_at, last.pk)
                .map(|c| c.encode())
                .unwrap_or_default()
        ));
    }
    if !nav.is_empty() {
        let _ = write!(body, "<p>{}</p>", nav.join(" · "));
    }
    if filter.provider.is_some() || filter.event_id.is_some() || filter.since_us.is_some() {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/replay\">{}{}\
             <button id=\"replay-filtered\">Replay every event matching this filter…</button> \
             <span class=\"muted\">(shows the count first)</span></form>",
            html::csrf_field(viewer.csrf()),
            raw.hidden_fields(),
        );
    }
    Ok(html::page(
        StatusCode::OK,
        &viewer.chrome(Nav::Events, &state),
        "Events",
        &body,
    ))
}
