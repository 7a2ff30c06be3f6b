//! Endpoint-verification handshakes: the requests a provider sends to prove an endpoint
//! is the subscriber's before (or while) it delivers events, and the exact replies it
//! expects. Pure: a request (or a verified event) in, a [`HandshakeReply`] for the server
//! to render out. Handshakes are answered, never stored or published.
//!
//! A preset declares its handshake in `[handshake]` with one of these kinds:
//!
//! | kind | request | reply | verified first |
//! |---|---|---|---|
//! | `challenge` | POST whose `when` source equals `equals` | the `challenge` source, as JSON `{"challenge": …}` (`reply = "json"`, Slack) or `text/plain` (`reply = "text"`, Twitch) | the request's own signature |
//! | `fixed` | POST whose `when` source equals `equals` | the JSON `body` (Discord PING → `{"type":1}`) | the request's own signature |
//! | `zoom` | POST whose `when` source equals `equals` | `{"plainToken": p, "encryptedToken": hex(HMAC-SHA256(secret, p))}`, `p` from the `token` source | the request's own signature |
//! | `verify-token` | GET `?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` (Meta) | `C` as `text/plain` when `T` equals the `verify_token_env` value, else 403 | the verify token |
//! | `query-echo` | a request with the query parameter `param` (Dropbox `challenge` on GET, Graph `validationToken` on GET or POST) | its URL-decoded value, `text/plain` | nothing: the provider does not sign it |
//! | `crc` | GET `?crc_token=C` (X) | `{"response_token": "sha256=" + base64(HMAC-SHA256(secret, C))}` | nothing |
//! | `header-echo` | GET with the header `header` (Okta's `X-Okta-Verification-Challenge`) | `{"<field>": <value>}` | the scheme's own check (Okta's auth header) |
//!
//! Text replies carry `X-Content-Type-Options: nosniff`, since they echo what the caller
//! sent. JSON replies are built with `serde_json`, so echoed values are escaped.

use serde::Deserialize;

use crate::{
    extract::{self, Body, Source},
    scheme::{Request, SecretToken},
    verify::{Headers, Key},
};

/// The `[handshake]` block of a preset file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum HandshakeSpec {
    /// A signed POST answered with a challenge it carries (Slack, Twitch).
    Challenge {
        /// Source of the trigger value, e.g. `json:/type` or `header:<name>`.
        when: String,
        /// The trigger value, e.g. `url_verification`.
        equals: String,
        /// Source of the challenge, e.g. `json:/challenge`.
        challenge: String,
        /// `json` (`{"challenge": …}`) or `text` (the raw challenge, `text/plain`).
        #[serde(default)]
        reply: ChallengeReply,
    },
    /// A signed POST answered with a fixed JSON body (Discord PING).
    Fixed {
        /// Source of the trigger value.
        when: String,
        /// The trigger value.
        equals: String,
        /// The JSON body of the reply.
        body: String,
    },
    /// Zoom's `endpoint.url_validation`.
    Zoom {
        /// Source of the trigger value (`json:/event`).
        when: String,
        /// The trigger value (`endpoint.url_validation`).
        equals: String,
        /// Source of the plain token (`json:/payload/plainToken`).
        token: String,
    },
    /// WebSub-style GET verification with a verify token (Meta).
    VerifyToken {},
    /// Echo a query parameter as `text/plain` (Dropbox, Microsoft Graph).
    QueryEcho {
        /// The query parameter, e.g. `challenge` or `validationToken`.
        param: String,
        /// Methods it is answered on (default `["GET"]`).
        #[serde(default = "get_only")]
        methods: Vec<String>,
    },
    /// X's challenge-response check (CRC).
    Crc {
        /// The query parameter (default `crc_token`).
        #[serde(default = "crc_token")]
        param: String,
    },
    /// Echo a header's value in a JSON object after the scheme's own check (Okta).
    HeaderEcho {
        /// The header, e.g. `x-okta-verification-challenge`.
        header: String,
        /// The JSON field of the reply, e.g. `verification`.
        field: String,
    },
}

fn get_only() -> Vec<String> {
    vec!["GET".into()]
}

fn crc_token() -> String {
    "crc_token".into()
}

/// How a `challenge` handshake answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeReply {
    /// `{"challenge": …}`, `application/json`.
    #[default]
    Json,
    /// The raw challenge, `text/plain`.
    Text,
}

impl HandshakeSpec {
    /// The kind's name, as written in preset files and listed by `hookgate presets`.
    pub fn kind(&self) -> &'static str {
        match self {
            HandshakeSpec::Challenge { .. } => "challenge",
            HandshakeSpec::Fixed { .. } => "fixed",
            HandshakeSpec::Zoom { .. } => "zoom",
            HandshakeSpec::VerifyToken {} => "verify-token",
            HandshakeSpec::QueryEcho { .. } => "query-echo",
            HandshakeSpec::Crc { .. } => "crc",
            HandshakeSpec::HeaderEcho { .. } => "header-echo",
        }
    }

    /// Whether the handshake arrives as a GET (the server then answers GET on the
    /// provider's path; every other provider answers GET with 405).
    pub fn answers_get(&self) -> bool {
        match self {
            HandshakeSpec::VerifyToken {} | HandshakeSpec::Crc { .. } => true,
            HandshakeSpec::HeaderEcho { .. } => true,
            HandshakeSpec::QueryEcho { methods, .. } => {
                methods.iter().any(|m| m.eq_ignore_ascii_case("GET"))
            }
            HandshakeSpec::Challenge { .. }
            | HandshakeSpec::Fixed { .. }
            | HandshakeSpec::Zoom { .. } => false,
        }
    }

    /// Whether it is answered only after the request's own signature verified.
    pub fn after_verification(&self) -> bool {
        matches!(
            self,
            HandshakeSpec::Challenge { .. }
                | HandshakeSpec::Fixed { .. }
                | HandshakeSpec::Zoom { .. }
        )
    }
}

/// What the server sends back for a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// HTTP status (200, or 403 for a wrong verify token).
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// Extra headers, e.g. `X-Content-Type-Options: nosniff`.
    pub headers: Vec<(&'static str, String)>,
    /// The body, exactly.
    pub body: Vec<u8>,
}

impl HandshakeReply {
    fn json(value: &serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn text(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            headers: vec![("X-Content-Type-Options", "nosniff".into())],
            body: body.into(),
        }
    }

    fn forbidden() -> Self {
        Self {
            status: 403,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: b"forbidden".to_vec(),
        }
    }
}

/// A trigger: a source whose value must equal `equals`.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    pub(crate) source: Source,
    pub(crate) equals: String,
    /// The source is one of the provider's event-type sources: an event whose type differs
    /// cannot be the handshake, so ordinary events cost no extra pass over the body.
    is_type_source: bool,
}

/// A handshake compiled for one provider.
#[derive(Debug, Clone)]
pub(crate) enum Handshake {
    Challenge {
        trigger: Trigger,
        challenge: Source,
        reply: ChallengeReply,
    },
    Fixed {
        trigger: Trigger,
        body: Vec<u8>,
    },
    Zoom {
        trigger: Trigger,
        token: Source,
    },
    VerifyToken {
        token: SecretToken,
    },
    QueryEcho {
        param: String,
        methods: Vec<String>,
    },
    Crc {
        param: String,
    },
    HeaderEcho {
        header: String,
        field: String,
    },
}

impl Handshake {
    /// Compile `spec` for a provider with these event-type sources; `verify_token` is the
    /// resolved `verify_token_env` value.
    pub(crate) fn compile(
        spec: &HandshakeSpec,
        event_type: &[Source],
        verify_token: Option<&str>,
    ) -> Result<Self, String> {
        let trigger = |when: &str, equals: &str| -> Result<Trigger, String> {
            let source = Source::parse(when)?;
            Ok(Trigger {
                is_type_source: event_type.contains(&source),
                source,
                equals: equals.to_owned(),
            })
        };
        Ok(match spec {
            HandshakeSpec::Challenge {
                when,
                equals,
                challenge,
                reply,
            } => Handshake::Challenge {
                trigger: trigger(when, equals)?,
                challenge: Source::parse(challenge)?,
                reply: *reply,
            },
            HandshakeSpec::Fixed { when, equals, body } => {
                serde_json::from_str::<serde_json::Value>(body)
                    .map_err(|e| format!("handshake body is not JSON: {e}"))?;
                Handshake::Fixed {
                    trigger: trigger(when, equals)?,
                    body: body.as_bytes().to_vec(),
                }
            }
            HandshakeSpec::Zoom {
                when,
                equals,
                token,
            } => Handshake::Zoom {
                trigger: trigger(when, equals)?,
                token: Source::parse(token)?,
            },
            HandshakeSpec::VerifyToken {} => Handshake::VerifyToken {
                token: SecretToken::new(
                    verify_token
                        .filter(|t| !t.is_empty())
                        .ok_or("the verify-token handshake needs verify_token_env")?
                        .as_bytes(),
                ),
            },
            HandshakeSpec::QueryEcho { param, methods } => Handshake::QueryEcho {
                param: param.clone(),
                methods: methods.clone(),
            },
            HandshakeSpec::Crc { param } => Handshake::Crc {
                param: param.clone(),
            },
            HandshakeSpec::HeaderEcho { header, field } => Handshake::HeaderEcho {
                header: header.to_ascii_lowercase(),
                field: field.clone(),
            },
        })
    }

    /// Whether the server answers GET for this handshake.
    pub(crate) fn answers_get(&self) -> bool {
        match self {
            Handshake::VerifyToken { .. }
            | Handshake::Crc { .. }
            | Handshake::HeaderEcho { .. } => true,
            Handshake::QueryEcho { methods, .. } => {
                methods.iter().any(|m| m.eq_ignore_ascii_case("GET"))
            }
            Handshake::Challenge { .. } | Handshake::Fixed { .. } | Handshake::Zoom { .. } => false,
        }
    }

    /// A handshake answered before any event verification: the GET kinds, and a
    /// `query-echo` on POST. `check` runs the scheme's own check (for `header-echo`).
    /// `Ok(None)`: the request is not this handshake.
    pub(crate) fn unsigned(
        &self,
        request: &Request<'_>,
        mac_key: Option<&Key>,
        check: impl FnOnce() -> Result<(), crate::Rejection>,
    ) -> Result<Option<HandshakeReply>, crate::Rejection> {
        let method_is = |m: &str| request.method.eq_ignore_ascii_case(m);
        Ok(match self {
            Handshake::QueryEcho { param, methods } => {
                if !methods.iter().any(|m| method_is(m)) {
                    return Ok(None);
                }
                query_param(request.query, param).map(HandshakeReply::text)
            }
            Handshake::VerifyToken { token } if method_is("GET") => {
                let mode = query_param(request.query, "hub.mode");
                let challenge = query_param(request.query, "hub.challenge");
                let (Some(mode), Some(challenge)) = (mode, challenge) else {
                    return Ok(None);
                };
                if mode != "subscribe" {
                    return Ok(None);
                }
                let presented = query_param(request.query, "hub.verify_token").unwrap_or_default();
                Some(if token.matches(presented.as_bytes()) {
                    HandshakeReply::text(challenge)
                } else {
                    HandshakeReply::forbidden()
                })
            }
            Handshake::Crc { param } if method_is("GET") => {
                let Some(crc) = query_param(request.query, param) else {
                    return Ok(None);
                };
                let key = mac_key.ok_or(crate::Rejection::InvalidSignature)?;
                let tag = key.tag(|sink| sink(crc.as_bytes()));
                let encoded =
                    crate::scheme::encode(crate::config::Encoding::Base64, tag.as_bytes());
                Some(HandshakeReply::json(&serde_json::json!({
                    "response_token": format!("sha256={encoded}")
                })))
            }
            Handshake::HeaderEcho { header, field } if method_is("GET") => {
                let Some(value) = request.headers.get(header) else {
                    return Ok(None);
                };
                check()?;
                let value = String::from_utf8_lossy(value);
                let mut reply = serde_json::Map::new();
                reply.insert(field.clone(), serde_json::Value::String(value.into_owned()));
                Some(HandshakeReply::json(&serde_json::Value::Object(reply)))
            }
            _ => None,
        })
    }

    /// A handshake the provider signs, for a request that already verified:
    /// `Some(reply)` when the verified event is the handshake.
    pub(crate) fn signed(
        &self,
        headers: &dyn Headers,
        event_type: &str,
        body: &[u8],
        mac_key: Option<&Key>,
    ) -> Option<HandshakeReply> {
        match self {
            Handshake::Challenge {
                trigger,
                challenge,
                reply,
            } => {
                trigger.fires(headers, event_type, body).then_some(())?;
                let value = read(challenge, headers, body)?;
                Some(match reply {
                    ChallengeReply::Json => {
                        HandshakeReply::json(&serde_json::json!({ "challenge": value }))
                    }
                    ChallengeReply::Text => HandshakeReply::text(value),
                })
            }
            Handshake::Fixed {
                trigger,
                body: reply,
            } => {
                trigger.fires(headers, event_type, body).then_some(())?;
                Some(HandshakeReply {
                    status: 200,
                    content_type: "application/json",
                    headers: Vec::new(),
                    body: reply.clone(),
                })
            }
            Handshake::Zoom { trigger, token } => {
                trigger.fires(headers, event_type, body).then_some(())?;
                let plain = read(token, headers, body)?;
                let tag = mac_key?.tag(|sink| sink(plain.as_bytes()));
                Some(HandshakeReply::json(&serde_json::json!({
                    "plainToken": plain,
                    "encryptedToken": hex::encode(tag.as_bytes()),
                })))
            }
            _ => None,
        }
    }

    /// The challenge of a JSON-triggered `challenge` handshake (the Slack reply of the
    /// first release, kept for [`crate::Provider::handshake_reply`]).
    pub(crate) fn json_challenge(&self, event_type: &str, body: &[u8]) -> Option<String> {
        let no_headers: Vec<(String, String)> = Vec::new();
        match self {
            Handshake::Challenge {
                trigger, challenge, ..
            } if matches!(trigger.source, Source::Json(_)) => {
                trigger.fires(&no_headers, event_type, body).then_some(())?;
                read(challenge, &no_headers, body)
            }
            _ => None,
        }
    }
}

impl Trigger {
    fn fires(&self, headers: &dyn Headers, event_type: &str, body: &[u8]) -> bool {
        if self.is_type_source && event_type != self.equals {
            return false;
        }
        read(&self.source, headers, body).is_some_and(|v| v == self.equals)
    }
}

fn read(source: &Source, headers: &dyn Headers, body: &[u8]) -> Option<String> {
    extract::first_present(std::slice::from_ref(source), headers, &Body::new(body))
        .ok()
        .flatten()
}

/// The first value of query parameter `name`, percent- and `+`-decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let q = "validationToken=Validation%3A+Testing%20client&x=1&x=2";
        assert_eq!(
            query_param(q, "validationToken").as_deref(),
            Some("Validation: Testing client")
        );
        assert_eq!(query_param(q, "x").as_deref(), Some("1"));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param("", "x"), None);
    }

    #[test]
    fn json_replies_escape_echoed_values() {
        let r = HandshakeReply::json(&serde_json::json!({ "challenge": "\"}<x>" }));
        assert_eq!(r.body, br#"{"challenge":"\"}<x>"}"#);
    }
}
