//! `GET /console/events/{pk}`: one stored event: its fields, publish state, the routing
//! key it is published with, returns, and its body (indented when it is JSON, escaped
//! text otherwise, or "binary, N bytes"), with a replay button.

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use super::publish_state;
use crate::{
    console::{
        ConsoleError, auth,
        html::{self, Nav, escape},
        params,
    },
    state::AppState,
    store,
};

/// Bytes of a body shown on the page; the admin API returns all of it.
const SHOWN: usize = 64 * 1024;

/// Indent valid JSON text without reparsing its values (key order, number spelling and
/// escapes stay exactly as received).
pub fn indent_json(src: &str) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = src.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if let Some(&close) = chars.peek()
                    && (close == '}' || close == ']')
                {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// The body as HTML.
fn render_body(body: Option<&[u8]>) -> String {
    let Some(body) = body else {
        return "<p class=\"muted\" id=\"body\">The body is no longer kept \
                (<code>retention.payloads</code>).</p>"
            .into();
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return format!(
            "<p id=\"body\">binary, {} bytes (see <code>GET /admin/events/…</code> for base64)</p>",
            body.len()
        );
    };
    let json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    let shown = if json {
        indent_json(text)
    } else {
        text.to_owned()
    };
    let mut end = shown.len().min(SHOWN);
    while !shown.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < shown.len() {
        format!(
            "<p class=\"muted\">First {SHOWN} bytes shown of {}.</p>",
            shown.len()
        )
    } else {
        String::new()
    };
    let kind = if json { "JSON" } else { "text" };
    format!(
        "<p class=\"muted\">{kind}, {} bytes</p><pre id=\"body\">{}</pre>{cut}",
        body.len(),
        escape(&shown[..end])
    )
}

/// `GET /console/events/{pk}`.
pub async fn show(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = auth::viewer(&request, &state)?;
    let pk = params::row_id("event row", Some(path.as_str()))?.ok_or(ConsoleError::NotFound)?;
    let (event, body, next_attempt) = store::admin::event_by_pk(&state.pool, pk)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let routing_key = state
        .console
        .routing_key
        .render(&event.provider, &event.event_type);
    let mut out = String::new();
    let next = next_attempt
        .filter(|_| !event.published)
        .map(|t| {
            format!(
                " <span class=\"muted\">(next attempt {})</span>",
                escape(&t)
            )
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"box\"><dl>\
         <dt>Provider</dt><dd id=\"provider\">{}</dd>\
         <dt>Event ID</dt><dd id=\"event-id\">{}</dd>\
         <dt>Type</dt><dd id=\"event-type\">{}</dd>\
         <dt>Received (UTC)</dt><dd>{}</dd>\
         <dt>Content-Type</dt><dd>{}</dd>\
         <dt>Publish state</dt><dd id=\"state\">{}{next}</dd>\
         <dt>Routing key</dt><dd><code id=\"routing-key\">{}</code></dd>\
         <dt>Returned unroutable</dt><dd>{} times</dd>\
         </dl></div>",
        escape(&event.provider),
        escape(&event.event_id),
        escape(&event.event_type),
        escape(&event.received_at),
        escape(event.content_type.as_deref().unwrap_or("-")),
        publish_state(&event),
        escape(&routing_key),
        event.returns,
    );
    if body.is_some() {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/console/replay\">{}{}\
             <button id=\"replay\">Replay this event…</button></form>",
            html::csrf_field(viewer.csrf()),
            html::hidden("pk", &pk.to_string()),
        );
    }
    let _ = write!(out, "<h2>Body</h2>{}", render_body(body.as_deref()));
    Ok(html::page(
        StatusCode::OK,
        &viewer.chrome(Nav::Events, &state),
        &format!("Event {}", event.event_id),
        &out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_without_touching_values() {
        let src = r#"{"b":1.10,"a":[1, {}],"s":"x,{\"y\":[]}","e":[]}"#;
        let out = indent_json(src);
        assert_eq!(
            out,
            "{\n  \"b\": 1.10,\n  \"a\": [\n    1,\n    {}\n  ],\n  \"s\": \"x,{\\\"y\\\":[]}\",\n  \"e\": []\n}"
        );
        let reparsed: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(
            reparsed,
            serde_json::from_str::<serde_json::Value>(src).unwrap_or_default()
        );
    }

    #[test]
    fn bodies_render_as_escaped_text() {
        assert!(render_body(Some(b"<script>alert(1)</script>")).contains("&lt;script&gt;"));
        assert!(render_body(Some(br#"{"t":"<script>"}"#)).contains("&lt;script&gt;"));
        assert!(render_body(Some(&[0xff, 0xfe, 0x00])).contains("binary, 3 bytes"));
        assert!(render_body(None).contains("no longer kept"));
    }
}
