//! The two templates in the config: the signed-payload template (which bytes a provider
//! signs, over `{timestamp}`, `{id}`, `{body}`, `{url}`, `{method}`) and the routing-key
//! template (where an event goes on the exchange).

/// One piece of a signed-payload template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes copied as written.
    Literal(Vec<u8>),
    /// The request's timestamp, exactly as sent.
    Timestamp,
    /// The value of the provider's `id_header`.
    Id,
    /// The raw request body.
    Body,
    /// The signed URL: `public_url`, plus the request's query string when `public_url`
    /// has none.
    Url,
    /// The request method, e.g. `POST`.
    Method,
}

/// The values a template's placeholders stand for in one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    /// `{timestamp}`, exactly as sent.
    pub timestamp: &'a [u8],
    /// `{id}`.
    pub id: &'a [u8],
    /// `{body}`.
    pub body: &'a [u8],
    /// `{url}`.
    pub url: &'a [u8],
    /// `{method}`.
    pub method: &'a [u8],
}

/// A parsed `signed_payload` template, e.g. `{timestamp}.{body}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    parts: Vec<Part>,
}

impl SignedPayload {
    /// Parse a template over `{timestamp}`, `{id}`, `{body}`, `{url}` and `{method}`.
    /// Other placeholders, an unclosed brace or a template without `{body}` are errors.
    pub fn parse(template: &str) -> Result<Self, String> {
        let parts = split_placeholders(template, |name| match name {
            "timestamp" => Some(Part::Timestamp),
            "id" => Some(Part::Id),
            "body" => Some(Part::Body),
            "url" => Some(Part::Url),
            "method" => Some(Part::Method),
            _ => None,
        })?
        .into_iter()
        .map(|p| p.unwrap_or_else(|lit| Part::Literal(lit.into_bytes())))
        .collect::<Vec<_>>();
        if !parts.contains(&Part::Body) {
            return Err("template must contain {body}".into());
        }
        Ok(Self { parts })
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template signs `part`.
    pub fn uses(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }

    /// Feed the signed bytes to `sink` piece by piece (no concatenated copy of the body);
    /// `{url}` and `{method}` are empty. See [`SignedPayload::feed_fields`].
    pub fn feed(&self, timestamp: &[u8], id: &[u8], body: &[u8], sink: impl FnMut(&[u8])) {
        self.feed_fields(
            &Fields {
                timestamp,
                id,
                body,
                ..Fields::default()
            },
            sink,
        );
    }

    /// Feed the signed bytes of `fields` to `sink` piece by piece.
    pub fn feed_fields(&self, fields: &Fields<'_>, mut sink: impl FnMut(&[u8])) {
        for part in &self.parts {
            match part {
                Part::Literal(b) => sink(b),
                Part::Timestamp => sink(fields.timestamp),
                Part::Id => sink(fields.id),
                Part::Body => sink(fields.body),
                Part::Url => sink(fields.url),
                Part::Method => sink(fields.method),
            }
        }
    }

    /// The signed bytes as one buffer (asymmetric schemes sign a whole message).
    pub fn to_bytes(&self, fields: &Fields<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            fields.body.len() + fields.timestamp.len() + fields.id.len() + fields.url.len() + 16,
        );
        self.feed_fields(fields, |b| out.extend_from_slice(b));
        out
    }
}

/// One piece of a routing-key template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyPart {
    Literal(String),
    Provider,
    EventType,
}

/// A parsed `amqp.routing_key` template, e.g. `{provider}.{event_type}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingKey {
    parts: Vec<KeyPart>,
}

/// AMQP short strings (routing keys) are at most 255 bytes.
pub const MAX_ROUTING_KEY: usize = 255;

impl RoutingKey {
    /// Parse a template over `{provider}` and `{event_type}`.
    pub fn parse(template: &str) -> Result<Self, String> {
        let parts = split_placeholders(template, |name| match name {
            "provider" => Some(KeyPart::Provider),
            "event_type" => Some(KeyPart::EventType),
            _ => None,
        })?
        .into_iter()
        .map(|p| p.unwrap_or_else(KeyPart::Literal))
        .collect();
        Ok(Self { parts })
    }

    /// Render the key, cut to [`MAX_ROUTING_KEY`] bytes at a character boundary so an
    /// over-long event type can never make an event unpublishable.
    pub fn render(&self, provider: &str, event_type: &str) -> String {
        let mut out = String::with_capacity(provider.len() + event_type.len() + 1);
        for part in &self.parts {
            match part {
                KeyPart::Literal(s) => out.push_str(s),
                KeyPart::Provider => out.push_str(provider),
                KeyPart::EventType => out.push_str(event_type),
            }
        }
        truncate_at_char(&mut out, MAX_ROUTING_KEY);
        out
    }
}

/// Cut `s` to at most `max` bytes without splitting a character.
pub fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Split `template` into literals (`Err(text)`) and placeholders (`Ok(part)`).
fn split_placeholders<P>(
    template: &str,
    placeholder: impl Fn(&str) -> Option<P>,
) -> Result<Vec<Result<P, String>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!(
                "unmatched '}}' at byte {}",
                template.len() - rest.len() + open
            ));
        }
        if open > 0 {
            out.push(Err(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "unclosed '{'".to_string())?;
        let name = &after[..close];
        let part = placeholder(name).ok_or_else(|| format!("unknown placeholder {{{name}}}"))?;
        out.push(Ok(part));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Err(rest.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_payload_feeds_pieces_in_order() {
        let t = SignedPayload::parse("v0:{timestamp}:{body}").expect("parse");
        let mut out = Vec::new();
        t.feed(b"123", b"", b"{}", |b| out.extend_from_slice(b));
        assert_eq!(out, b"v0:123:{}");
    }

    #[test]
    fn signed_payload_rejects_unknown_placeholder_and_missing_body() {
        assert!(
            SignedPayload::parse("{t}.{body}")
                .unwrap_err()
                .contains("{t}")
        );
        assert!(
            SignedPayload::parse("{timestamp}")
                .unwrap_err()
                .contains("{body}")
        );
        assert!(SignedPayload::parse("{body").is_err());
        assert!(SignedPayload::parse("body}").is_err());
    }

    #[test]
    fn routing_key_renders_and_truncates() {
        let k = RoutingKey::parse("{provider}.{event_type}").expect("parse");
        assert_eq!(
            k.render("groq", "resource.created"),
            "groq.resource.created"
        );
        let long = "é".repeat(200);
        let key = k.render("p", &long);
        assert!(key.len() <= MAX_ROUTING_KEY);
        assert!(RoutingKey::parse("{provider}.{id}").is_err());
    }
}
