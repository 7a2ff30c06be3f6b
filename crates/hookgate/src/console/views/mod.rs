//! One module per console page. Each handler authenticates, reads what it shows (one
//! bounded query or an in-memory snapshot) and renders it with [`super::html`].

pub mod event;
pub mod events;
pub mod overview;
pub mod rejections;
pub mod replay;

use crate::store::EventSummary;

/// An event's publish state as a short HTML fragment.
fn publish_state(e: &EventSummary) -> String {
    match (e.published, e.returns) {
        (true, _) => "<span class=\"ok\">published</span>".into(),
        (false, 0) => "<span class=\"warn\">waiting in outbox</span>".into(),
        (false, n) => format!("<span class=\"bad\">waiting, returned {n}× unroutable</span>"),
    }
}

/// Unix microseconds as RFC 3339 (UTC, microseconds).
fn rfc3339_us(us: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(us.max(0) as u64);
    humantime::format_rfc3339_micros(at).to_string()
}
