//! Event-ID and event-type sources: `header:<name>`, `json:<pointer>`, `form:<field>` or
//! `const:<text>`, tried in order, first present wins. The body is read only after the
//! signature was verified, and only when a body source is reached.

use crate::{template::truncate_at_char, verify::Headers};

/// Event IDs and types are carried in AMQP short strings (255 bytes). Longer IDs are
/// replaced by a hash of themselves; longer types are cut.
pub const MAX_FIELD: usize = 200;

/// Where a value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A request header (case-insensitive name).
    Header(String),
    /// A JSON pointer into the body (RFC 6901), e.g. `/data/id`, as unescaped tokens.
    Json(Vec<String>),
    /// A field of an `application/x-www-form-urlencoded` body (Twilio), decoded.
    Form(String),
    /// A fixed value (e.g. the type of providers that send only one kind of event).
    Const(String),
}

impl Source {
    /// Parse `header:<name>`, `json:<pointer>`, `form:<field>` or `const:<text>`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        if let Some(field) = spec.strip_prefix("form:") {
            if field.is_empty() {
                return Err("form: needs a field name".into());
            }
            return Ok(Source::Form(field.to_owned()));
        }
        if let Some(text) = spec.strip_prefix("const:") {
            if text.is_empty() {
                return Err("const: needs a value".into());
            }
            return Ok(Source::Const(text.to_owned()));
        }
        if let Some(name) = spec.strip_prefix("header:") {
            if name.is_empty() {
                return Err("header: needs a header name".into());
            }
            Ok(Source::Header(name.to_ascii_lowercase()))
        } else if let Some(pointer) = spec.strip_prefix("json:") {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(format!("json pointer {pointer:?} must start with '/'"));
            }
            Ok(Source::Json(
                pointer
                    .split('/')
                    .skip(1)
                    .map(|t| t.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            ))
        } else {
            Err(format!(
                "source {spec:?} must start with header:, json:, form: or const:"
            ))
        }
    }
}

/// The body is not JSON but a configured source reads JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// Verified raw bytes, read by JSON sources without building a document tree: each lookup
/// is one validating pass that keeps only the value it was asked for.
pub struct Body<'a> {
    raw: &'a [u8],
}

impl<'a> Body<'a> {
    /// Wrap verified raw bytes.
    pub fn new(raw: &'a [u8]) -> Self {
        Self { raw }
    }

    fn lookup(&self, tokens: &[String]) -> Result<Option<String>, NotJson> {
        crate::json_seek::seek(self.raw, tokens).map_err(|_| NotJson)
    }
}

/// The first source in `chain` that is present, as text.
pub fn first_present(
    chain: &[Source],
    headers: &dyn Headers,
    body: &Body<'_>,
) -> Result<Option<String>, NotJson> {
    for source in chain {
        let found = match source {
            Source::Header(name) => headers
                .get(name)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            Source::Json(tokens) => body.lookup(tokens)?.filter(|v| !v.is_empty()),
            Source::Form(field) => form_urlencoded::parse(body.raw)
                .find(|(k, _)| k == field.as_str())
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            Source::Const(text) => Some(text.clone()),
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The event ID: the first present source, else `sha256:<hex of body>`. IDs longer than
/// [`MAX_FIELD`] bytes become `sha256:<hex of id>` so they still deduplicate.
pub fn event_id(
    chain: &[Source],
    headers: &dyn Headers,
    body: &Body<'_>,
) -> Result<String, NotJson> {
    Ok(match first_present(chain, headers, body)? {
        Some(id) if id.len() <= MAX_FIELD => id,
        Some(id) => sha256_id(id.as_bytes()),
        None => sha256_id(body.raw),
    })
}

/// The event type: the first present source, else `unknown`; cut to [`MAX_FIELD`] bytes.
pub fn event_type(
    chain: &[Source],
    headers: &dyn Headers,
    body: &Body<'_>,
) -> Result<String, NotJson> {
    let mut t = first_present(chain, headers, body)?.unwrap_or_else(|| "unknown".into());
    truncate_at_char(&mut t, MAX_FIELD);
    Ok(t)
}

fn sha256_id(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(specs: &[&str]) -> Vec<Source> {
        specs
            .iter()
            .map(|s| Source::parse(s).expect("source"))
            .collect()
    }

    #[test]
    fn first_present_source_wins_and_header_avoids_parsing() {
        let headers: Vec<(String, String)> = vec![("x-vast-event-id".into(), "hdr-1".into())];
        let body = Body::new(b"not json at all");
        let c = chain(&["header:X-Vast-Event-Id", "json:/event_id"]);
        assert_eq!(event_id(&c, &headers, &body), Ok("hdr-1".to_string()));
    }

    #[test]
    fn json_fallback_chain_and_defaults() {
        let no_headers: Vec<(String, String)> = vec![];
        let body = Body::new(
            br#"{"id":"evt_2","notif_type":null,"type":"instance.outbid","n":{"a/b":[1,{"x":7}]}}"#,
        );
        let nested = chain(&["json:/n/a~1b/1/x"]);
        assert_eq!(event_id(&nested, &no_headers, &body), Ok("7".to_string()));
        let c = chain(&["header:x-vast-event-id", "json:/event_id", "json:/id"]);
        assert_eq!(event_id(&c, &no_headers, &body), Ok("evt_2".to_string()));
        let t = chain(&["json:/notif_type", "json:/type"]);
        assert_eq!(
            event_type(&t, &no_headers, &body),
            Ok("instance.outbid".to_string())
        );
        let none = chain(&["json:/missing"]);
        assert_eq!(
            event_type(&none, &no_headers, &body),
            Ok("unknown".to_string())
        );
        let hashed = event_id(&none, &no_headers, &body).expect("id");
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 64);
    }

    #[test]
    fn json_source_on_non_json_body_is_an_error() {
        let no_headers: Vec<(String, String)> = vec![];
        let body = Body::new(b"a=1&b=2");
        assert_eq!(
            event_id(&chain(&["json:/id"]), &no_headers, &body),
            Err(NotJson)
        );
    }

    #[test]
    fn bad_source_specs_are_rejected() {
        assert!(Source::parse("query:id").is_err());
        assert!(Source::parse("json:id").is_err());
        assert!(Source::parse("header:").is_err());
    }

    #[test]
    fn overlong_ids_are_hashed_and_types_cut() {
        let long = "x".repeat(MAX_FIELD + 1);
        let headers: Vec<(String, String)> = vec![("id".into(), long.clone()), ("t".into(), long)];
        let body = Body::new(b"");
        let id = event_id(&chain(&["header:id"]), &headers, &body).expect("id");
        assert!(id.starts_with("sha256:"));
        let t = event_type(&chain(&["header:t"]), &headers, &body).expect("type");
        assert_eq!(t.len(), MAX_FIELD);
    }
}
