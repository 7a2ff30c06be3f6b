//! Diagnostics behind `hookgate explain`: why a request would be accepted, answered as a
//! handshake or refused, as a list of checks in the order the gateway runs them (body
//! size, handshake, required headers, timestamp and its skew, signature against N keys,
//! event ID and type and where each came from).
//!
//! It cannot drift from real verification because it runs the verifier's own code: each
//! step calls the same functions [`Provider::receive`] calls (the envelope's header and
//! timestamp rules, the scheme's `verify`, the handshake's `unsigned`/`signed`, the
//! extraction chains) and only adds the intermediate values an operator needs. The final
//! [`Verdict`] is [`Provider::receive`]'s own result; if the steps ever implied another,
//! a failing `verifier` step says so ([`Explanation::consistent`]).
//!
//! Nothing here prints key material, a signature or the body: details name headers,
//! sources, counts, timestamps and the event ID and type. Matching keys one at a time
//! (to say *which* key matched) is fine for a diagnostic but is not what the request path
//! does; do not use this to serve requests.

use crate::{
    Provider, Received,
    config::TimestampFormat,
    extract::{self, Body, Source},
    handshake::Handshake,
    scheme::{self, Envelope, Request, Scheme, TimestampSource, twilio},
    template::Part,
    timestamp,
    verify::{Rejection, Unverified},
};

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed: the request stops here.
    Fail,
    /// Not run, because an earlier check decided the request.
    Skip,
    /// A fact that neither passes nor fails (e.g. "not a handshake").
    Info,
}

/// One check, in the order the gateway runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Short name of the check, e.g. `headers`, `timestamp`, `signature`.
    pub name: &'static str,
    /// Its result.
    pub outcome: Outcome,
    /// What was found; never a key, a signature or the body.
    pub detail: String,
    /// For a failure, the code the gateway answers with (`missing_signature`, ...).
    pub code: Option<&'static str>,
}

/// What the gateway would do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Verified: stored and published under this ID and type.
    Accepted {
        /// The event ID.
        event_id: String,
        /// The event type.
        event_type: String,
    },
    /// The provider's handshake, answered with this status.
    Handshake {
        /// The handshake kind (`challenge`, `verify-token`, ...).
        kind: &'static str,
        /// The reply's status (403 for a wrong verify token).
        status: u16,
    },
    /// A GET or HEAD that is not the provider's handshake: 405.
    MethodNotAllowed,
    /// The body is larger than the provider's `max_body`: 413.
    PayloadTooLarge,
    /// Refused with a 401 or 400 and this code.
    Rejected(Rejection),
}

impl Verdict {
    /// Whether the provider gets a 2xx: accepted, or a handshake answered with 2xx.
    pub fn succeeds(&self) -> bool {
        match self {
            Verdict::Accepted { .. } => true,
            Verdict::Handshake { status, .. } => (200..300).contains(status),
            _ => false,
        }
    }

    /// The HTTP status the gateway answers with (200 for an accepted event, new or not).
    pub fn status(&self) -> u16 {
        match self {
            Verdict::Accepted { .. } => 200,
            Verdict::Handshake { status, .. } => *status,
            Verdict::MethodNotAllowed => 405,
            Verdict::PayloadTooLarge => 413,
            Verdict::Rejected(Rejection::MalformedPayload) => 400,
            Verdict::Rejected(_) => 401,
        }
    }

    /// A machine-readable code: `accepted`, `handshake`, `handshake_refused`,
    /// `method_not_allowed`, `payload_too_large` or the rejection's code.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Accepted { .. } => "accepted",
            Verdict::Handshake { .. } if self.succeeds() => "handshake",
            Verdict::Handshake { .. } => "handshake_refused",
            Verdict::MethodNotAllowed => "method_not_allowed",
            Verdict::PayloadTooLarge => "payload_too_large",
            Verdict::Rejected(r) => r.code(),
        }
    }
}

/// Every check with its result, and the verdict.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The checks, in order.
    pub steps: Vec<Step>,
    /// What [`Provider::receive`] (after the server's `max_body` check) decides.
    pub verdict: Verdict,
}

impl Explanation {
    /// The first failing step, if any.
    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.outcome == Outcome::Fail)
    }

    /// Whether the steps imply the verdict: no failure when it succeeds, else a first
    /// failure carrying the verdict's code (and no `verifier` step reporting that they
    /// disagreed).
    pub fn consistent(&self) -> bool {
        if self.steps.iter().any(|s| s.name == "verifier") {
            return false;
        }
        match self.first_failure() {
            None => self.verdict.succeeds(),
            Some(step) => !self.verdict.succeeds() && step.code == Some(self.verdict.code()),
        }
    }
}

/// Collects steps; after the first failure, later checks are recorded as skipped.
struct Steps {
    steps: Vec<Step>,
}

impl Steps {
    fn push(&mut self, name: &'static str, outcome: Outcome, detail: String) {
        self.steps.push(Step {
            name,
            outcome,
            detail,
            code: None,
        });
    }

    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Outcome::Pass, detail.into());
    }

    fn info(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Outcome::Info, detail.into());
    }

    fn fail(&mut self, name: &'static str, code: &'static str, detail: impl Into<String>) {
        self.steps.push(Step {
            name,
            outcome: Outcome::Fail,
            detail: detail.into(),
            code: Some(code),
        });
    }

    fn reject(&mut self, name: &'static str, r: Rejection, detail: impl Into<String>) {
        self.fail(name, r.code(), detail);
    }

    fn skip(&mut self, names: &[&'static str]) {
        for name in names {
            self.push(name, Outcome::Skip, "not reached".into());
        }
    }
}

impl Provider {
    /// Explain what the gateway would do with `request` at unix time `now`: every check
    /// in order with its result, and the verdict (see the module docs).
    pub fn explain<B: AsRef<[u8]>>(&self, request: &Unverified<'_, B>, now: i64) -> Explanation {
        let mut steps = Steps { steps: Vec::new() };
        let implied = self.explain_steps(request, now, &mut steps);
        let actual = self.actual_verdict(request, now);
        if implied != actual {
            steps.fail(
                "verifier",
                actual.code(),
                format!(
                    "the checks above imply {} but the verifier decides {}: please report this",
                    implied.code(),
                    actual.code()
                ),
            );
        }
        Explanation {
            steps: steps.steps,
            verdict: actual,
        }
    }

    /// The verdict of the real path: the server's `max_body` check, then `receive`.
    fn actual_verdict<B: AsRef<[u8]>>(&self, request: &Unverified<'_, B>, now: i64) -> Verdict {
        if request.body().len() > self.max_body {
            return Verdict::PayloadTooLarge;
        }
        let again = Unverified {
            headers: request.headers,
            body: request.body(),
            method: request.method,
            query: request.query,
            keys: request.keys,
        };
        match self.receive(again, now) {
            Ok(Received::Event(v)) => Verdict::Accepted {
                event_id: v.event_id().to_owned(),
                event_type: v.event_type().to_owned(),
            },
            Ok(Received::Handshake(reply)) => Verdict::Handshake {
                kind: self.handshake_kind.unwrap_or("handshake"),
                status: reply.status,
            },
            Ok(Received::MethodNotAllowed) => Verdict::MethodNotAllowed,
            Ok(Received::Subscription(s)) => Verdict::Handshake {
                kind: "sns-subscription",
                status: s.reply().status,
            },
            Err(r) => Verdict::Rejected(r),
        }
    }

    /// The checks of [`Provider::receive`] in its order, recorded as steps; returns the
    /// verdict they imply.
    fn explain_steps<B: AsRef<[u8]>>(
        &self,
        request: &Unverified<'_, B>,
        now: i64,
        steps: &mut Steps,
    ) -> Verdict {
        let parts = request.parts();
        let body = request.body();
        const LATER: [&str; 5] = [
            "headers",
            "timestamp",
            "signature",
            "event id",
            "event type",
        ];

        // The server refuses an oversized body before anything else.
        if body.len() > self.max_body {
            steps.fail(
                "body size",
                "payload_too_large",
                format!(
                    "{} bytes > max_body {} bytes: answered 413 before verification",
                    body.len(),
                    self.max_body
                ),
            );
            steps.skip(&LATER);
            return Verdict::PayloadTooLarge;
        }
        steps.pass(
            "body size",
            format!("{} bytes <= max_body {} bytes", body.len(), self.max_body),
        );

        let is_get =
            parts.method.eq_ignore_ascii_case("GET") || parts.method.eq_ignore_ascii_case("HEAD");
        let kind = self.handshake_kind.unwrap_or("handshake");
        if let Some(h) = self.handshake.as_ref().filter(|h| !after_verification(h)) {
            let mac = self.scheme.first_mac_key();
            match h.unsigned(&parts, mac, || self.scheme.verify(&parts, now)) {
                Ok(Some(reply)) => {
                    if matches!(h, Handshake::HeaderEcho { .. }) {
                        let _ = self.explain_scheme(&parts, now, steps);
                    }
                    let outcome = if (200..300).contains(&reply.status) {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    };
                    steps.steps.push(Step {
                        name: "handshake",
                        outcome,
                        detail: format!(
                            "the provider's {kind} handshake ({}): answered {} {} (reply not shown); not stored or published",
                            trigger(h),
                            reply.status,
                            reply.content_type
                        ),
                        code: (outcome == Outcome::Fail).then_some("handshake_refused"),
                    });
                    return Verdict::Handshake {
                        kind,
                        status: reply.status,
                    };
                }
                Err(r) => {
                    steps.info(
                        "handshake",
                        format!("a {kind} handshake request ({}), checked first", trigger(h)),
                    );
                    if self.explain_scheme(&parts, now, steps).is_ok() {
                        steps.reject("handshake", r, "the handshake's own check failed");
                    }
                    return Verdict::Rejected(r);
                }
                Ok(None) => steps.info(
                    "handshake",
                    format!("not the provider's {kind} handshake ({})", trigger(h)),
                ),
            }
        }
        if is_get {
            let why = if self.answers_get() {
                "a GET that is not the provider's handshake"
            } else {
                "this provider answers no GET handshake"
            };
            steps.fail(
                "method",
                "method_not_allowed",
                format!("{}: {why}, answered 405", parts.method),
            );
            steps.skip(&LATER);
            return Verdict::MethodNotAllowed;
        }

        if let Err(r) = self.explain_scheme(&parts, now, steps) {
            steps.skip(&["event id", "event type"]);
            return Verdict::Rejected(r);
        }

        let payload = Body::new(body);
        let event_id = match explain_source("event id", &self.event_id, &parts, &payload, steps) {
            Ok(()) => match extract::event_id(&self.event_id, parts.headers, &payload) {
                Ok(id) => id,
                Err(_) => return Verdict::Rejected(Rejection::MalformedPayload),
            },
            Err(r) => {
                steps.skip(&["event type"]);
                return Verdict::Rejected(r);
            }
        };
        let event_type =
            match explain_source("event type", &self.event_type, &parts, &payload, steps) {
                Ok(()) => match extract::event_type(&self.event_type, parts.headers, &payload) {
                    Ok(t) => t,
                    Err(_) => return Verdict::Rejected(Rejection::MalformedPayload),
                },
                Err(r) => return Verdict::Rejected(r),
            };
        if let Some(h) = self.handshake.as_ref().filter(|h| after_verification(h)) {
            let mac = self.scheme.first_mac_key();
            match h.signed(parts.headers, &event_type, body, mac) {
                Some(reply) => {
                    steps.pass(
                        "handshake",
                        format!(
                            "the provider's {kind} handshake ({}): answered {} {} (reply not shown); not stored or published",
                            trigger(h),
                            reply.status,
                            reply.content_type
                        ),
                    );
                    return Verdict::Handshake {
                        kind,
                        status: reply.status,
                    };
                }
                None => steps.info(
                    "handshake",
                    format!("not the provider's {kind} handshake ({})", trigger(h)),
                ),
            }
        }
        Verdict::Accepted {
            event_id,
            event_type,
        }
    }

    /// The scheme's checks: required headers, timestamp, signature.
    fn explain_scheme(
        &self,
        request: &Request<'_>,
        now: i64,
        steps: &mut Steps,
    ) -> Result<(), Rejection> {
        let keys = self.scheme.key_count();
        let result = self.scheme.verify(request, now);
        let matched = || matched_key(&self.scheme, request, now);
        match &self.scheme {
            Scheme::Hmac(s) => {
                explain_envelope(&s.envelope, request, now, result, keys, matched, steps)
            }
            Scheme::StandardWebhooks(s) => {
                explain_envelope(&s.envelope, request, now, result, keys, matched, steps)
            }
            Scheme::Ed25519(s) => {
                explain_envelope(&s.envelope, request, now, result, keys, matched, steps)
            }
            Scheme::EcdsaP256(s) => {
                explain_envelope(&s.envelope, request, now, result, keys, matched, steps)
            }
            Scheme::Twilio(s) => explain_twilio(s, request, result, keys, matched, steps),
            Scheme::Token(s) => {
                let header = &s.header;
                match request.headers.get(header) {
                    None => {
                        steps.reject(
                            "headers",
                            Rejection::MissingSignature,
                            format!("missing: {header}"),
                        );
                        steps.skip(&["signature"]);
                    }
                    Some(_) => {
                        steps.pass("headers", format!("present: {header}"));
                        signature_step(result, keys, matched, steps, "the header's value");
                    }
                }
                result
            }
            Scheme::Mailgun(_) => explain_mailgun(request, now, result, keys, matched, steps, self),
            Scheme::Fetched(f) => {
                // Which key the request names, and whether its URL passes key_hosts; the
                // keys themselves are fetched by the server, not here.
                match f.key_ref(request) {
                    Err(r) => {
                        steps.reject(
                            "key",
                            r,
                            "the request names no key, or a key URL outside key_hosts \
                             (never fetched)",
                        );
                        steps.skip(&["signature"]);
                        return Err(r);
                    }
                    Ok(key_ref) => steps.info(
                        "key",
                        format!(
                            "{} (key ID {}), allowed by key_hosts; {}",
                            key_ref.url(),
                            key_ref.kid().unwrap_or("-"),
                            if request.keys.is_some() {
                                "keys given"
                            } else {
                                "not fetched by explain: the signature cannot be checked here"
                            }
                        ),
                    ),
                }
                signature_step(result, 1, || None, steps, "the provider's published key");
                result
            }
            Scheme::ClientState(_) => {
                let batch: Option<serde_json::Value> = serde_json::from_slice(request.body).ok();
                let items = batch
                    .as_ref()
                    .and_then(|b| b.get("value"))
                    .and_then(serde_json::Value::as_array);
                match (result, items) {
                    (Err(Rejection::MissingSignature), _) | (_, None) => {
                        steps.reject(
                            "body proof",
                            Rejection::MissingSignature,
                            "the body is not a JSON object with a value[] array of notifications",
                        );
                        steps.skip(&["signature"]);
                    }
                    (_, Some(items)) => {
                        let with_state = items
                            .iter()
                            .filter(|n| n.get("clientState").is_some_and(|v| v.is_string()))
                            .count();
                        steps.pass(
                            "body proof",
                            format!(
                                "{} notification(s) in value[], {with_state} carrying clientState",
                                items.len()
                            ),
                        );
                        signature_step(
                            result,
                            keys,
                            matched,
                            steps,
                            "every notification's clientState",
                        );
                    }
                }
                result
            }
        }
    }
}

/// Which key (1-based) verifies the request on its own, for the detail of a match.
fn matched_key(scheme: &Scheme, request: &Request<'_>, now: i64) -> Option<usize> {
    (0..scheme.key_count())
        .find(|&i| single_key(scheme, i).is_some_and(|one| one.verify(request, now).is_ok()))
        .map(|i| i + 1)
}

/// `scheme` with only its `i`-th key (in the order of [`Scheme::key_count`]).
fn single_key(scheme: &Scheme, i: usize) -> Option<Scheme> {
    fn only<T: Clone>(keys: &[T], i: usize) -> Option<Vec<T>> {
        keys.get(i).map(|k| vec![k.clone()])
    }
    let mut one = scheme.clone();
    match &mut one {
        Scheme::Hmac(s) => s.keys = only(&s.keys, i)?,
        Scheme::StandardWebhooks(s) => {
            if i < s.hmac_keys.len() {
                s.hmac_keys = only(&s.hmac_keys, i)?;
                s.public_keys.clear();
            } else {
                s.public_keys = only(&s.public_keys, i - s.hmac_keys.len())?;
                s.hmac_keys.clear();
            }
        }
        Scheme::Ed25519(s) => s.keys = only(&s.keys, i)?,
        Scheme::EcdsaP256(s) => s.keys = only(&s.keys, i)?,
        Scheme::Twilio(s) => s.keys = only(&s.keys, i)?,
        Scheme::Token(s) => s.keys = only(&s.keys, i)?,
        Scheme::Mailgun(s) => s.keys = only(&s.keys, i)?,
        Scheme::ClientState(s) => s.keys = only(&s.keys, i)?,
        // Fetched keys are not configured keys: there is none to single out.
        Scheme::Fetched(_) => return None,
    }
    Some(one)
}

/// The signature step, from the scheme's own result.
fn signature_step(
    result: Result<(), Rejection>,
    keys: usize,
    matched: impl FnOnce() -> Option<usize>,
    steps: &mut Steps,
    what: &str,
) {
    match result {
        Ok(()) | Err(Rejection::MalformedPayload) => {
            let which = matched().map_or_else(|| ": one".to_owned(), |k| format!(": key {k}"));
            steps.pass(
                "signature",
                format!("{what} compared with {keys} configured key(s){which} matches"),
            );
        }
        Err(Rejection::InvalidSignature) => steps.reject(
            "signature",
            Rejection::InvalidSignature,
            format!(
                "{what} compared with {keys} configured key(s): none matches (wrong secret or key, \
                 or the signed bytes changed on the way: a proxy re-encoding the body, a body \
                 edited or re-saved after capture, a different URL)"
            ),
        ),
        // Timestamp failures after the signature are reported by their own step.
        Err(_) => {
            let which = matched().map_or_else(|| ": one".to_owned(), |k| format!(": key {k}"));
            steps.pass(
                "signature",
                format!("{what} compared with {keys} configured key(s){which} matches"),
            );
        }
    }
}

/// Header, timestamp and signature checks of the header-signed schemes.
fn explain_envelope(
    env: &Envelope,
    request: &Request<'_>,
    now: i64,
    result: Result<(), Rejection>,
    keys: usize,
    matched: impl FnOnce() -> Option<usize>,
    steps: &mut Steps,
) -> Result<(), Rejection> {
    let opened = env.open(request, now).map(|_| ());
    // Required headers, named.
    let mut present = Vec::new();
    let mut missing = Vec::new();
    let mut note = |names: &[String], what: &str| match scheme::first_header(request.headers, names)
    {
        Some(_) => present.push(
            names
                .iter()
                .find(|n| request.headers.get(n).is_some())
                .cloned()
                .unwrap_or_default(),
        ),
        None => missing.push(format!("{} ({what})", names.join(" or "))),
    };
    note(&env.signature_headers, "signature");
    if let TimestampSource::Header(names) = &env.timestamp {
        note(names, "timestamp");
    }
    if let (Some(id), true) = (&env.id_header, env.template.uses(&Part::Id)) {
        note(std::slice::from_ref(id), "signed id");
    }
    let header = scheme::first_header(request.headers, &env.signature_headers);
    let Some(header) = header else {
        steps.reject(
            "headers",
            Rejection::MissingSignature,
            format!("missing: {}", missing.join(", ")),
        );
        steps.skip(&["timestamp", "signature"]);
        return result;
    };
    if missing.is_empty() {
        steps.pass("headers", format!("present: {}", present.join(", ")));
    } else {
        steps.info(
            "headers",
            format!(
                "present: {}; missing: {}",
                present.join(", "),
                missing.join(", ")
            ),
        );
    }
    let signatures = env.candidates(header).count();
    if signatures == 0 {
        let expected = env
            .signature_prefix
            .as_deref()
            .map_or_else(String::new, |p| {
                format!(" (expected items starting with {p:?})")
            });
        steps.reject(
            "signature",
            Rejection::InvalidSignature,
            format!("the signature header carries no signature{expected}"),
        );
        steps.skip(&["timestamp"]);
        return result;
    }

    // The timestamp: where it comes from, its value, its skew against the tolerance.
    let tolerance = format!("±{} s", env.tolerance_ms / 1000);
    let raw: Option<Vec<u8>> = match &env.timestamp {
        TimestampSource::None | TimestampSource::Json(_) => None,
        TimestampSource::Header(names) => {
            scheme::first_header(request.headers, names).map(<[u8]>::to_vec)
        }
        TimestampSource::Item(prefix) => env
            .items(header)
            .find_map(|item| item.strip_prefix(prefix.as_bytes()))
            .map(<[u8]>::to_vec),
    };
    match (&env.timestamp, opened) {
        (TimestampSource::None, _) => steps.info(
            "timestamp",
            "this provider signs no timestamp: no replay window",
        ),
        (TimestampSource::Json(_), _) => {}
        (_, Err(r @ (Rejection::InvalidTimestamp | Rejection::TimestampOutOfTolerance))) => {
            steps.reject(
                "timestamp",
                r,
                timestamp_detail(raw.as_deref(), env, now, &tolerance),
            );
            steps.skip(&["signature"]);
            return Err(r);
        }
        (_, _) => steps.pass(
            "timestamp",
            timestamp_detail(raw.as_deref(), env, now, &tolerance),
        ),
    }
    if let Err(r) = opened {
        // Only a missing signed-id header is left for `open` to refuse.
        steps.reject(
            "signature",
            r,
            format!(
                "cannot compute the signed bytes: missing {}",
                missing.join(", ")
            ),
        );
        return Err(r);
    }
    let decodable = {
        let mut buf = [0u8; scheme::MAX_SIGNATURE];
        env.candidates(header)
            .filter(|text| {
                let text = text
                    .strip_prefix(b"v1a,")
                    .or_else(|| text.strip_prefix(b"v1,"))
                    .unwrap_or(text);
                env.decode_into(text, &mut buf).is_some()
            })
            .count()
    };
    let what = format!(
        "{signatures} signature(s) in the header ({decodable} decodable as {})",
        match env.encoding {
            crate::config::Encoding::Hex => "hex",
            crate::config::Encoding::Base64 => "base64",
        }
    );
    signature_step(result, keys, matched, steps, &what);
    if let TimestampSource::Json(pointer) = &env.timestamp
        && result != Err(Rejection::InvalidSignature)
    {
        let raw = crate::json_seek::seek(request.body, pointer).ok().flatten();
        let detail = timestamp_detail(raw.as_deref().map(str::as_bytes), env, now, &tolerance);
        let detail = format!("in the body at /{}: {detail}", pointer.join("/"));
        match result {
            Err(r @ (Rejection::InvalidTimestamp | Rejection::TimestampOutOfTolerance)) => {
                steps.reject("timestamp", r, detail);
            }
            _ => steps.pass("timestamp", detail),
        }
    }
    result
}

/// `1700000000 (unix): 12 s in the past, within ±300 s`, or why it does not parse.
fn timestamp_detail(raw: Option<&[u8]>, env: &Envelope, now: i64, tolerance: &str) -> String {
    let format = match env.timestamp_format {
        TimestampFormat::Unix => "unix seconds",
        TimestampFormat::UnixMs => "unix milliseconds",
        TimestampFormat::Rfc3339 => "RFC 3339",
    };
    let Some(raw) = raw else {
        return format!("missing (expected {format})");
    };
    let shown = String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned();
    match timestamp::parse(raw, env.timestamp_format) {
        Err(_) => format!("{shown:?} is not a timestamp in {format}"),
        Ok(ms) => skew(&shown, ms, now, tolerance, env.tolerance_ms),
    }
}

fn skew(shown: &str, ms: i64, now: i64, tolerance: &str, tolerance_ms: i64) -> String {
    let diff_ms = ms.saturating_sub(now.saturating_mul(1000));
    let secs = diff_ms.unsigned_abs() / 1000;
    let direction = if diff_ms > 0 {
        "in the future"
    } else {
        "in the past"
    };
    let within = if diff_ms.unsigned_abs() > tolerance_ms.unsigned_abs() {
        "outside"
    } else {
        "within"
    };
    format!("{shown}: {secs} s {direction}, {within} the tolerance {tolerance}")
}

/// Twilio: header, signed URL, body hash or form fields, signature.
fn explain_twilio(
    s: &twilio::TwilioScheme,
    request: &Request<'_>,
    result: Result<(), Rejection>,
    keys: usize,
    matched: impl FnOnce() -> Option<usize>,
    steps: &mut Steps,
) -> Result<(), Rejection> {
    let Some(header) = scheme::first_header(request.headers, &s.signature_headers) else {
        steps.reject(
            "headers",
            Rejection::MissingSignature,
            format!("missing: {} (signature)", s.signature_headers.join(" or ")),
        );
        steps.skip(&["signature"]);
        return result;
    };
    steps.pass(
        "headers",
        format!("present: {}", s.signature_headers.join(" or ")),
    );
    let url = scheme::signed_url(&s.public_url, request.query);
    let url = String::from_utf8_lossy(&url).into_owned();
    let hash = twilio::body_hash(&url);
    let signed = match &hash {
        Some(_) => "the URL alone (JSON body, bodySHA256 in the query)".to_owned(),
        None => format!(
            "the URL and {} sorted form field(s)",
            twilio::sorted_params(request.body).len()
        ),
    };
    steps.info(
        "signed url",
        format!(
            "{url} (public_url{}; also tried with and without the default port); signs {signed}",
            if url.len() > s.public_url.len() {
                " + the request's query"
            } else {
                ""
            }
        ),
    );
    let mut buf = [0u8; scheme::MAX_SIGNATURE];
    if scheme::decode_into(
        crate::config::Encoding::Base64,
        header.trim_ascii(),
        &mut buf,
    )
    .is_none()
    {
        steps.reject(
            "signature",
            Rejection::InvalidSignature,
            "the signature header is not base64 of an HMAC",
        );
        return result;
    }
    if let Some(expected) = hash {
        let actual = hex::encode(scheme::sha256(request.body));
        if actual != expected {
            steps.reject(
                "body hash",
                Rejection::InvalidSignature,
                "the body's SHA-256 differs from bodySHA256 in the URL: the body changed on the way",
            );
            return result;
        }
        steps.pass(
            "body hash",
            "the body's SHA-256 equals bodySHA256 in the URL",
        );
    }
    signature_step(result, keys, matched, steps, "the signature");
    result
}

/// Mailgun: the proof inside the body, its timestamp, its signature.
fn explain_mailgun(
    request: &Request<'_>,
    now: i64,
    result: Result<(), Rejection>,
    keys: usize,
    matched: impl FnOnce() -> Option<usize>,
    steps: &mut Steps,
    provider: &Provider,
) -> Result<(), Rejection> {
    let Scheme::Mailgun(s) = &provider.scheme else {
        return result;
    };
    let root: Option<serde_json::Value> = serde_json::from_slice(request.body).ok();
    let sig = root.as_ref().and_then(|r| r.get("signature"));
    if result == Err(Rejection::MissingSignature) || sig.is_none() {
        steps.reject(
            "body proof",
            Rejection::MissingSignature,
            "the body is not JSON with a signature object {timestamp, token, signature}",
        );
        steps.skip(&["timestamp", "signature"]);
        return result;
    }
    steps.pass(
        "body proof",
        "signature object in the body (Mailgun signs only its timestamp and token, not the event data)",
    );
    let raw = sig
        .and_then(|s| s.get("timestamp"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let tolerance = format!("±{} s", s.tolerance_ms / 1000);
    let detail = match raw.as_deref() {
        None => "missing signature.timestamp".to_owned(),
        Some(raw) => match timestamp::parse(raw.as_bytes(), TimestampFormat::Unix) {
            Err(_) => format!("{raw:?} is not a timestamp in unix seconds"),
            Ok(ms) => skew(raw, ms, now, &tolerance, s.tolerance_ms),
        },
    };
    if let Err(r @ (Rejection::InvalidTimestamp | Rejection::TimestampOutOfTolerance)) = result {
        steps.reject("timestamp", r, detail);
        steps.skip(&["signature"]);
        return result;
    }
    steps.pass("timestamp", detail);
    signature_step(result, keys, matched, steps, "signature.signature");
    result
}

/// Which source of `chain` yields the value, in the extraction's own order.
fn explain_source(
    name: &'static str,
    chain: &[Source],
    request: &Request<'_>,
    body: &Body<'_>,
    steps: &mut Steps,
) -> Result<(), Rejection> {
    for source in chain {
        match extract::first_present(std::slice::from_ref(source), request.headers, body) {
            Ok(Some(value)) => {
                let shown = if value.len() > extract::MAX_FIELD {
                    format!(
                        "{} bytes (too long: {})",
                        value.len(),
                        if name == "event id" {
                            "hashed to sha256:…"
                        } else {
                            "cut to 200 bytes"
                        }
                    )
                } else {
                    format!("{value:?}")
                };
                steps.pass(name, format!("{shown} from {}", spec(source)));
                return Ok(());
            }
            Ok(None) => {}
            Err(_) => {
                steps.reject(
                    name,
                    Rejection::MalformedPayload,
                    format!(
                        "the body is not JSON but {} reads JSON (answered 400 after verification)",
                        spec(source)
                    ),
                );
                return Err(Rejection::MalformedPayload);
            }
        }
    }
    let tried = if chain.is_empty() {
        "no source configured".to_owned()
    } else {
        format!(
            "none present of {}",
            chain.iter().map(spec).collect::<Vec<_>>().join(", ")
        )
    };
    let fallback = if name == "event id" {
        "the body's SHA-256 (sha256:<hex>)"
    } else {
        "\"unknown\""
    };
    steps.info(name, format!("{fallback}: {tried}"));
    Ok(())
}

/// A source written as in the config.
fn spec(source: &Source) -> String {
    match source {
        Source::Header(name) => format!("header:{name}"),
        Source::Json(tokens) => format!(
            "json:{}",
            tokens
                .iter()
                .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
                .collect::<String>()
        ),
        Source::Form(field) => format!("form:{field}"),
        Source::Const(text) => format!("const:{text}"),
    }
}

/// Whether a handshake is answered only after the request's own signature verified.
fn after_verification(h: &Handshake) -> bool {
    matches!(
        h,
        Handshake::Challenge { .. } | Handshake::Fixed { .. } | Handshake::Zoom { .. }
    )
}

/// What makes a request the handshake, for the step's detail.
fn trigger(h: &Handshake) -> String {
    match h {
        Handshake::Challenge { trigger, .. }
        | Handshake::Fixed { trigger, .. }
        | Handshake::Zoom { trigger, .. } => {
            format!("{} = {:?}", spec(&trigger.source), trigger.equals)
        }
        Handshake::VerifyToken { .. } => {
            "GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…".to_owned()
        }
        Handshake::QueryEcho { param, methods } => {
            format!("{} with ?{param}=…", methods.join("/"))
        }
        Handshake::Crc { param } => format!("GET ?{param}=…"),
        Handshake::HeaderEcho { header, .. } => format!("GET with {header}"),
    }
}
