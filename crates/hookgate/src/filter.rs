//! Which stored events an operator means: the filter fields shared by the admin API, the
//! console and `hookgate replay`, and parsing the times they give (`1h` ago or an RFC 3339
//! instant) into a [`crate::store::EventFilter`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::store::EventFilter;

/// A point in time: RFC 3339, or a duration meaning "that long ago" (`1h`, `7d`); unix
/// microseconds.
pub fn parse_time(value: &str) -> Result<i64, String> {
    let at = match humantime::parse_duration(value) {
        Ok(ago) => SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| format!("{value:?} reaches before the epoch"))?,
        Err(_) => humantime::parse_rfc3339_weak(value)
            .map_err(|_| format!("{value:?} is neither a duration (1h) nor an RFC 3339 time"))?,
    };
    Ok(at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as i64)
}

/// Filter fields as an operator gives them (query string, JSON body or CLI flags).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterParams {
    /// Provider name.
    pub provider: Option<String>,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// One event ID.
    pub event_id: Option<String>,
    /// Received at or after: a duration ago or an RFC 3339 time.
    pub since: Option<String>,
    /// Received before: a duration ago or an RFC 3339 time.
    pub until: Option<String>,
}

impl FilterParams {
    /// The filter, or a readable reason why a time does not parse.
    pub fn into_filter(self) -> Result<EventFilter, String> {
        let time = |v: Option<String>| v.map(|s| parse_time(&s)).transpose();
        Ok(EventFilter {
            provider: self.provider,
            event_type: self.event_type,
            event_id: self.event_id,
            since_us: time(self.since)?,
            until_us: time(self.until)?,
        })
    }
}
