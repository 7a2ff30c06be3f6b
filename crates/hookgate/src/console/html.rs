//! HTML output: the one [`escape`] function every value goes through, the page layout, the
//! inline stylesheet (allowed by its hash in the `Content-Security-Policy`, no script at
//! all) and the security headers of every console answer.

use std::{fmt::Write, sync::LazyLock};

use actix_web::{HttpResponse, http::StatusCode};
use base64::Engine;
use sha2::Digest;

/// Escape text for an HTML element or a double-quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query-string value (RFC 3986 unreserved characters stay).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}\
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2430;color:#fff}\
header a{color:#cfe0ff;text-decoration:none}header a.on{color:#fff;font-weight:600}\
header .inst{margin-left:auto;color:#9aa7b8;font-size:12px}header form{margin:0}\
main{padding:1em 1.2em;max-width:1200px}h1{font-size:20px;margin:.2em 0 .6em}h2{font-size:16px;margin:1.2em 0 .4em}\
table{border-collapse:collapse;background:#fff;width:100%;margin:.4em 0}\
th,td{border:1px solid #dde2e8;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#eef1f5}\
td.n{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px/1.4 ui-monospace,monospace}\
pre{background:#fff;border:1px solid #dde2e8;padding:.8em;overflow:auto;max-height:60vh}\
form.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;margin:.4em 0}\
label{display:flex;flex-direction:column;font-size:12px;color:#4a5567}\
input,select,button{font:inherit;padding:.25em .4em}button{cursor:pointer}\
.ok{color:#17803d}.warn{color:#b45309}.bad{color:#b91c1c}.muted{color:#6b7686;font-size:12px}\
.box{background:#fff;border:1px solid #dde2e8;padding:.8em 1em;margin:.6em 0}\
.err{background:#fff1f1;border-color:#f3b7b7}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#4a5567}";

/// The `Content-Security-Policy` of every console answer: nothing but the inline
/// stylesheet above (by hash), same-origin forms, no framing.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(CSS));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// Add the console's security headers to a response builder.
pub fn secure(builder: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    builder
        .insert_header(("Content-Security-Policy", CSP.as_str()))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
}

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/console`
    Overview,
    /// `/console/events`
    Events,
    /// `/console/rejections`
    Rejections,
    /// Login and error pages: no navigation.
    None,
}

/// What the header shows besides the navigation.
pub struct Chrome<'a> {
    /// Current entry.
    pub nav: Nav,
    /// This instance's name.
    pub instance: &'a str,
    /// The session's CSRF token, for the logout button (absent for bearer requests).
    pub logout_csrf: Option<&'a str>,
}

/// A whole page: `title` is escaped here, `body` is HTML built from escaped parts.
pub fn page(status: StatusCode, chrome: &Chrome<'_>, title: &str, body: &str) -> HttpResponse {
    let mut html = String::with_capacity(body.len() + CSS.len() + 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · hookgate console</title><style>{CSS}</style></head><body><header>\
         <b>hookgate console</b>",
        title = escape(title),
    );
    if chrome.nav != Nav::None {
        for (nav, href, label) in [
            (Nav::Overview, "/console", "Overview"),
            (Nav::Events, "/console/events", "Events"),
            (Nav::Rejections, "/console/rejections", "Rejections"),
        ] {
            let class = if nav == chrome.nav {
                " class=\"on\""
            } else {
                ""
            };
            let _ = write!(html, "<a href=\"{href}\"{class}>{label}</a>");
        }
    }
    let _ = write!(
        html,
        "<span class=\"inst\">instance {}</span>",
        escape(chrome.instance)
    );
    if let Some(csrf) = chrome.logout_csrf {
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/console/logout\">{}<button id=\"logout\">Log out</button></form>",
            csrf_field(csrf)
        );
    }
    let _ = write!(
        html,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        escape(title)
    );
    secure(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(token)
    )
}

/// A hidden field carrying `value` under `name` (both escaped).
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// A duration as a person reads it: `850 ms`, `42 s`, `3 min`, `5 h`, `2 d`.
pub fn age(secs: f64) -> String {
    match secs {
        s if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.0} h", s / 3600.0),
        s => format!("{:.0} d", s / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_attribute_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn url_encode_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_encode("evt_1-2.3~"), "evt_1-2.3~");
    }

    #[test]
    fn the_policy_allows_the_stylesheet_by_hash_and_no_script() {
        assert!(CSP.contains("style-src 'sha256-"));
        assert!(!CSP.contains("unsafe-inline"));
        assert!(
            !CSP.contains("script-src"),
            "default-src 'none' covers scripts"
        );
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(0.0042), "4 ms");
        assert_eq!(age(42.0), "42 s");
        assert_eq!(age(600.0), "10 min");
        assert_eq!(age(3.0 * 86_400.0), "3 d");
    }
}
