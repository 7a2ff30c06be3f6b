//! `POST /console/replay`: replay of one event (`pk`) or of a filtered set, in two steps.
//! The first POST only shows what would be replayed (the event, or a count bounded by
//! [`MAX_REPLAY`]) with a confirm button; the second (`confirm=yes`) queues it. A filtered
//! preview pins its time range to absolute instants, so the confirmation replays the set
//! that was shown, not whatever arrived since. Both steps are CSRF-checked.

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::{publish_state, rfc3339_us};
use crate::{
    console::{
        ConsoleError,
        auth::Viewer,
        csrf,
        html::{self, Nav, escape},
        params,
    },
    filter::FilterParams,
    state::AppState,
    store,
};

/// Most events one console replay queues; larger sets go through `hookgate replay`.
pub const MAX_REPLAY: i64 = 10_000;

/// The replay form.
#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    csrf: Option<String>,
    pk: Option<String>,
    confirm: Option<String>,
    #[serde(flatten)]
    filter: FilterParams,
}

/// `1 event`, `3 events`.
fn events(n: i64) -> String {
    if n == 1 {
        "1 event".into()
    } else {
        format!("{n} events")
    }
}

fn page(viewer: &Viewer, state: &AppState, title: &str, body: &str) -> HttpResponse {
    html::page(
        StatusCode::OK,
        &viewer.chrome(Nav::Events, state),
        title,
        body,
    )
}

fn confirm_form(viewer: &Viewer, fields: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/replay\">{}{fields}{}\
         <button id=\"confirm\">{}</button> <a href=\"/console/events\">Cancel</a></form>",
        html::csrf_field(viewer.csrf()),
        html::hidden("confirm", "yes"),
        escape(label),
    )
}

/// `POST /console/replay`.
pub async fn replay(
    request: HttpRequest,
    form: web::Form<ReplayForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = csrf::action(&request, &state, form.csrf.as_deref())?;
    let confirmed = form.confirm.as_deref() == Some("yes");
    match params::row_id("pk", form.pk.as_deref())? {
        Some(pk) => replay_one(&viewer, &state, pk, confirmed).await,
        None => replay_filtered(&viewer, &state, &form.filter, confirmed).await,
    }
}

async fn replay_one(
    viewer: &Viewer,
    state: &AppState,
    pk: i64,
    confirmed: bool,
) -> Result<HttpResponse, ConsoleError> {
    let (event, body, _) = store::admin::event_by_pk(&state.pool, pk)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let what = format!(
        "<b>{}</b> / <b>{}</b> (type <code>{}</code>, received {}, {})",
        escape(&event.provider),
        escape(&event.event_id),
        escape(&event.event_type),
        escape(&event.received_at),
        publish_state(&event),
    );
    let back = format!("<a href=\"/console/events/{pk}\">Back to the event</a>");
    if body.is_none() {
        return Ok(page(
            viewer,
            state,
            "Replay",
            &format!(
                "<p>{what}</p><p class=\"bad\">Its body is no longer kept, so it cannot be replayed.</p><p>{back}</p>"
            ),
        ));
    }
    if !confirmed {
        let body = format!(
            "<div class=\"box\"><p id=\"preview\">Replay 1 event: {what}?</p>\
             <p class=\"muted\">The relay publishes it again with the same <code>message_id</code>.</p>{}</div>",
            confirm_form(
                viewer,
                &html::hidden("pk", &pk.to_string()),
                "Replay 1 event"
            ),
        );
        return Ok(page(viewer, state, "Confirm replay", &body));
    }
    let queued = store::admin::replay_pk(&state.pool, pk).await?;
    tracing::info!(pk, queued, "console replay of one event");
    Ok(page(
        viewer,
        state,
        "Replay queued",
        &format!(
            "<p id=\"result\">Queued {} for republishing: {what}.</p><p>{back}</p>",
            events(queued)
        ),
    ))
}

async fn replay_filtered(
    viewer: &Viewer,
    state: &AppState,
    raw: &FilterParams,
    confirmed: bool,
) -> Result<HttpResponse, ConsoleError> {
    let mut filter = raw.parse()?;
    if filter.provider.is_none() && filter.event_id.is_none() && filter.since_us.is_none() {
        return Err(ConsoleError::BadRequest(
            "a replay needs at least a provider, an event ID or a since time".into(),
        ));
    }
    // Pin the range, so the confirmation covers what the preview counted.
    let now_us = crate::unix_now_us();
    filter.until_us = Some(filter.until_us.map_or(now_us, |u| u.min(now_us)));
    let pinned = FilterParams {
        since: filter.since_us.map(rfc3339_us),
        until: filter.until_us.map(rfc3339_us),
        ..raw.clone()
    };
    let providers = state.live.snapshot().registry.names();
    let count = store::admin::count_capped(&state.pool, &filter, &providers, MAX_REPLAY).await?;
    let described = escape(&pinned.query_string().replace('&', ", "));
    if count.matched > MAX_REPLAY {
        let body = format!(
            "<p class=\"bad\" id=\"preview\">More than {MAX_REPLAY} events match ({described}). \
             Narrow the filter, or replay from the command line (<code>hookgate replay</code>) \
             or with <code>POST /admin/replay</code>.</p>"
        );
        if confirmed {
            return Err(ConsoleError::BadRequest(format!(
                "more than {MAX_REPLAY} events match; narrow the filter"
            )));
        }
        return Ok(page(viewer, state, "Replay", &body));
    }
    if !confirmed {
        let mut body = format!(
            "<div class=\"box\"><p id=\"preview\"><b>{}</b> stored events match ({described}); \
             <b>{}</b> still have their body and would be published again.</p>",
            count.matched, count.replayable
        );
        if count.replayable > 0 {
            body.push_str(&confirm_form(
                viewer,
                &pinned.hidden_fields(),
                &format!("Replay {}", events(count.replayable)),
            ));
        }
        body.push_str("</div>");
        return Ok(page(viewer, state, "Confirm replay", &body));
    }
    let queued = store::admin::replay_capped(&state.pool, &filter, &providers, MAX_REPLAY).await?;
    tracing::info!(queued, "console replay of a filtered set");
    let mut body = String::new();
    let _ = write!(
        body,
        "<p id=\"result\">Queued {} for republishing ({described}).</p>\
         <p><a href=\"/console/events?{}\">Back to the events</a></p>",
        events(queued),
        escape(&pinned.query_string())
    );
    Ok(page(viewer, state, "Replay queued", &body))
}
