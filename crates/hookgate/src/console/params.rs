//! The console's filter fields, as a query string or form gives them, parsed and checked:
//! an empty field means "any", and a malformed value is a 400 whose text says which field
//! and why (never a 500).

use serde::Deserialize;

use super::{ConsoleError, html};
use crate::{
    filter::{FilterParams, parse_time},
    store::EventFilter,
};

/// Longest provider name accepted in a filter.
const MAX_PROVIDER: usize = 64;
/// Longest event type or event ID accepted in a filter.
const MAX_TEXT: usize = 512;
/// Default and largest page of the events view.
pub const PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

/// `GET /console/events` query: the filter plus the page cursor and size.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventsQuery {
    /// The filter.
    #[serde(flatten)]
    pub filter: FilterParams,
    /// Show events older than this cursor (the "Older" link's `<received µs>-<row id>`).
    pub before: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// A field's value, or `None` when absent or blank; refuses control characters and
/// over-long values.
pub fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ConsoleError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(ConsoleError::BadRequest(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ConsoleError::BadRequest(format!(
            "{field} contains control characters"
        )));
    }
    Ok(Some(v.to_owned()))
}

/// A page cursor: the receive time (unix microseconds) and row id of the last event
/// shown, `<micros>-<id>`, as the "Older" link carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Receive time, unix microseconds.
    pub received_us: i64,
    /// Row id.
    pub id: i64,
}

impl Cursor {
    /// The cursor of an event whose receive time is `received_at` (RFC 3339).
    pub fn after(received_at: &str, id: i64) -> Option<Self> {
        let at = humantime::parse_rfc3339(received_at).ok()?;
        let us = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros();
        Some(Self {
            received_us: i64::try_from(us).ok()?,
            id,
        })
    }

    /// `<micros>-<id>`.
    pub fn encode(&self) -> String {
        format!("{}-{}", self.received_us, self.id)
    }

    fn parse(value: Option<&str>) -> Result<Option<Self>, ConsoleError> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let parsed = v.split_once('-').and_then(|(us, id)| {
            let (us, id) = (us.parse::<i64>().ok()?, id.parse::<i64>().ok()?);
            (us >= 0 && id > 0).then_some(Self {
                received_us: us,
                id,
            })
        });
        parsed.map(Some).ok_or_else(|| {
            ConsoleError::BadRequest(format!(
                "before must be a page cursor as the Older link gives it (<micros>-<row>), not {:?}",
                v.chars().take(40).collect::<String>()
            ))
        })
    }
}

/// A positive integer field (a row id), or `None` when absent or blank.
pub fn row_id(field: &str, value: Option<&str>) -> Result<Option<i64>, ConsoleError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match v.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConsoleError::BadRequest(format!(
            "{field} must be a positive whole number, not {:?}",
            v.chars().take(40).collect::<String>()
        ))),
    }
}

/// The console's reading of the shared filter fields (all text as sent, so that parsing
/// errors are ours to word): stricter than [`FilterParams::into_filter`] of the admin API,
/// with lengths bounded, control characters refused and `since < until` checked.
impl FilterParams {
    /// The checked filter.
    pub fn parse(&self) -> Result<EventFilter, ConsoleError> {
        let time = |field: &str, v: &Option<String>| -> Result<Option<i64>, ConsoleError> {
            text(field, v.as_deref(), 64)?
                .map(|t| {
                    parse_time(&t).map_err(|e| ConsoleError::BadRequest(format!("{field}: {e}")))
                })
                .transpose()
        };
        let filter = EventFilter {
            provider: text("provider", self.provider.as_deref(), MAX_PROVIDER)?,
            event_type: text("type", self.event_type.as_deref(), MAX_TEXT)?,
            event_id: text("event_id", self.event_id.as_deref(), MAX_TEXT)?,
            since_us: time("since", &self.since)?,
            until_us: time("until", &self.until)?,
        };
        if let (Some(since), Some(until)) = (filter.since_us, filter.until_us)
            && since >= until
        {
            return Err(ConsoleError::BadRequest(
                "since must be earlier than until".into(),
            ));
        }
        Ok(filter)
    }

    /// Whether any field is set.
    pub fn is_empty(&self) -> bool {
        [
            &self.provider,
            &self.event_type,
            &self.event_id,
            &self.since,
            &self.until,
        ]
        .iter()
        .all(|v| v.as_deref().is_none_or(|s| s.trim().is_empty()))
    }

    /// The set fields as `name=value` query pairs (URL-encoded), for links.
    pub fn query_string(&self) -> String {
        self.pairs()
            .map(|(k, v)| format!("{k}={}", html::url_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The set fields as hidden form inputs.
    pub fn hidden_fields(&self) -> String {
        self.pairs().map(|(k, v)| html::hidden(k, v)).collect()
    }

    fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("provider", &self.provider),
            ("type", &self.event_type),
            ("event_id", &self.event_id),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v))
        })
    }
}

impl EventsQuery {
    /// The checked filter, cursor and page size.
    pub fn parse(&self) -> Result<(EventFilter, Option<Cursor>, i64), ConsoleError> {
        let filter = self.filter.parse()?;
        let before = Cursor::parse(self.before.as_deref())?;
        let limit = match self
            .limit
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => PAGE,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(ConsoleError::BadRequest(format!(
                        "limit must be a whole number from 1 to {MAX_PAGE}"
                    )));
                }
            },
        };
        Ok((filter, before, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(f: impl FnOnce(&mut FilterParams)) -> FilterParams {
        let mut r = FilterParams::default();
        f(&mut r);
        r
    }

    #[test]
    fn blank_fields_mean_any() {
        let f = raw(|r| r.provider = Some("  ".into()))
            .parse()
            .expect("blank is fine");
        assert!(f.provider.is_none());
    }

    #[test]
    fn malformed_values_are_refused_with_the_field_named() {
        let cases = [
            raw(|r| r.provider = Some("x".repeat(65))),
            raw(|r| r.event_type = Some("a\u{0}b".into())),
            raw(|r| r.event_id = Some("y".repeat(513))),
            raw(|r| r.since = Some("yesterday-ish".into())),
            raw(|r| r.until = Some("2026-13-45".into())),
            raw(|r| {
                r.since = Some("1h".into());
                r.until = Some("2h".into());
            }),
        ];
        for case in cases {
            assert!(
                matches!(case.parse(), Err(ConsoleError::BadRequest(_))),
                "{case:?}"
            );
        }
        assert!(row_id("before", Some("abc")).is_err());
        assert!(row_id("before", Some("-1")).is_err());
        assert_eq!(row_id("pk", Some("42")).ok().flatten(), Some(42));
        for bad in ["abc", "12", "-3", "5-0", "1-x", "1-2-3"] {
            assert!(Cursor::parse(Some(bad)).is_err(), "{bad}");
        }
        let c = Cursor::after("2026-11-23T08:00:00.000123Z", 7).expect("cursor");
        assert_eq!(Cursor::parse(Some(&c.encode())).ok().flatten(), Some(c));
    }

    #[test]
    fn links_carry_the_set_fields_encoded() {
        let r = raw(|r| {
            r.provider = Some("groq".into());
            r.event_type = Some("a b&c".into());
        });
        assert_eq!(r.query_string(), "provider=groq&type=a%20b%26c");
        assert!(!r.is_empty());
        assert!(FilterParams::default().is_empty());
    }
}
