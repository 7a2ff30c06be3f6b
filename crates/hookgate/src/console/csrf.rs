//! Protection of every state-changing console request against cross-site requests.
//!
//! Three layers: the session cookie is `SameSite=Strict` (a cross-site request does not
//! carry it); every `POST` must come from this origin (`Sec-Fetch-Site` is `same-origin`
//! or absent, and `Origin`, when sent, names the same host as `Host`; browsers send
//! `Origin: null` under `Referrer-Policy: no-referrer`, which passes only together with
//! `Sec-Fetch-Site: same-origin`); and every action
//! but login carries the session's CSRF token in a hidden `csrf` field, compared in
//! constant time. Bearer-token requests need no CSRF token: browsers never add that
//! header by themselves. A refused request answers 403.

use actix_web::{HttpRequest, http::header};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    ConsoleError,
    auth::{self, Viewer},
};
use crate::state::AppState;

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's token.
    pub csrf: Option<String>,
}

/// Refuse a request that a browser marks as cross-site or whose `Origin` is another host.
pub fn same_origin(request: &HttpRequest) -> Result<(), ConsoleError> {
    let headers = request.headers();
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if site.is_some_and(|s| !matches!(s, b"same-origin" | b"none")) {
        return Err(ConsoleError::Forbidden(
            "cross-site request refused (Sec-Fetch-Site)",
        ));
    }
    let origin = headers
        .get(header::ORIGIN)
        .filter(|o| !(o.as_bytes() == b"null" && site == Some(b"same-origin")));
    if let Some(origin) = origin {
        let host = headers.get(header::HOST).map(|h| h.as_bytes());
        let authority = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, authority)| authority.as_bytes());
        if authority.is_none() || authority != host {
            return Err(ConsoleError::Forbidden(
                "cross-site request refused (Origin)",
            ));
        }
    }
    Ok(())
}

/// Admit a state-changing request: same origin, authenticated, and (for a session) with
/// the session's CSRF token.
pub fn action(
    request: &HttpRequest,
    state: &AppState,
    presented: Option<&str>,
) -> Result<Viewer, ConsoleError> {
    state.admin_token.as_ref().ok_or(ConsoleError::NotFound)?;
    same_origin(request)?;
    let viewer = auth::viewer(request, state)?;
    if let Viewer::Session { csrf, .. } = &viewer {
        let ok = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(csrf.as_bytes())));
        if !ok {
            return Err(ConsoleError::Forbidden("missing or wrong CSRF token"));
        }
    }
    Ok(viewer)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn check(headers: &[(&str, &str)]) -> bool {
        let mut req = TestRequest::post().uri("/console/replay");
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        same_origin(&req.to_http_request()).is_ok()
    }

    #[test]
    fn only_same_origin_posts_pass() {
        assert!(check(&[]), "non-browser clients send neither header");
        assert!(check(&[("host", "gw:8080"), ("origin", "http://gw:8080")]));
        assert!(check(&[
            ("host", "gw"),
            ("origin", "https://gw"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!check(&[
            ("host", "gw:8080"),
            ("origin", "http://evil:8080")
        ]));
        assert!(!check(&[("host", "gw:8080"), ("origin", "http://gw:9090")]));
        assert!(!check(&[("host", "gw"), ("origin", "null")]));
        assert!(check(&[
            ("host", "gw"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!check(&[
            ("host", "gw"),
            ("origin", "null"),
            ("sec-fetch-site", "same-site")
        ]));
        assert!(!check(&[("sec-fetch-site", "cross-site")]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
    }
}
