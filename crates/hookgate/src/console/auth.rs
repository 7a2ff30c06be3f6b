//! Who may use the console: the login form, sessions and the failed-login throttle.
//!
//! - **Login** posts the admin token; on success the answer sets the cookie
//!   `hookgate_console=<session id>; HttpOnly; SameSite=Strict; Path=/console; Max-Age`
//!   (plus `Secure` when the request came over HTTPS, as actix reads it from the
//!   connection or a `Forwarded` / `X-Forwarded-Proto` header). The session id is 32
//!   random bytes, never the token; sessions live in a bounded in-memory map of this
//!   process and expire after [`SESSION_TTL`].
//! - **Scripts** send `Authorization: Bearer <token>` instead (compared in constant time).
//! - **Failed logins**: a wrong token and a missing one get the same answer, and each peer
//!   address waits longer after every failure ([`LoginThrottle`], bounded).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    ConsoleError,
    csrf::{self, CsrfForm},
    html::{self, Chrome, Nav},
};
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "hookgate_console";
/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at once; the oldest goes first.
const MAX_SESSIONS: usize = 256;
/// Peers whose failures are remembered; beyond it they share one counter.
const MAX_PEERS: usize = 4096;
/// A peer's failures are forgotten after this long without another.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);
/// The first failure's delay; it doubles with each further one.
const BASE_DELAY: Duration = Duration::from_millis(125);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(8);

/// A logged-in browser session.
#[derive(Clone)]
struct Session {
    csrf: String,
    expires: Instant,
}

/// The in-memory session map of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| ConsoleError::Internal("no randomness available"))?;
    Ok(hex::encode(bytes))
}

impl Sessions {
    /// Open a session; returns its id.
    fn create(&self) -> Result<String, ConsoleError> {
        let id = random_hex()?;
        let session = Session {
            csrf: random_hex()?,
            expires: Instant::now() + SESSION_TTL,
        };
        let Ok(mut map) = self.map.lock() else {
            return Err(ConsoleError::Internal("session store unavailable"));
        };
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session);
        Ok(id)
    }

    /// The CSRF token of a live session.
    fn csrf_of(&self, id: &str) -> Option<String> {
        let map = self.map.lock().ok()?;
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

struct Failures {
    count: u32,
    last: Instant,
}

/// Failed logins per peer address, bounded: beyond [`MAX_PEERS`] live entries, new peers
/// share one counter (so a flood from many addresses slows every login down).
#[derive(Default)]
pub struct LoginThrottle {
    peers: Mutex<HashMap<IpAddr, Failures>>,
}

/// The shared counter's key once the map is full.
const OVERFLOW: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

impl LoginThrottle {
    /// How long an attempt from `peer` waits before it is checked.
    fn delay(&self, peer: IpAddr) -> Duration {
        let Ok(peers) = self.peers.lock() else {
            return MAX_DELAY;
        };
        let key = if peers.contains_key(&peer) || peers.len() < MAX_PEERS {
            peer
        } else {
            OVERFLOW
        };
        match peers.get(&key) {
            Some(f) if f.last.elapsed() < FAILURE_MEMORY && f.count > 0 => {
                let doubling = f.count.saturating_sub(1).min(16);
                (BASE_DELAY * 2u32.pow(doubling)).min(MAX_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    fn failed(&self, peer: IpAddr) {
        let Ok(mut peers) = self.peers.lock() else {
            return;
        };
        if !peers.contains_key(&peer) && peers.len() >= MAX_PEERS {
            peers.retain(|_, f| f.last.elapsed() < FAILURE_MEMORY);
        }
        let key = if peers.contains_key(&peer) || peers.len() < MAX_PEERS {
            peer
        } else {
            OVERFLOW
        };
        let entry = peers.entry(key).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        if entry.last.elapsed() >= FAILURE_MEMORY {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = Instant::now();
    }

    fn succeeded(&self, peer: IpAddr) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.remove(&peer);
        }
    }
}

/// Compare a presented token with the admin token in constant time, also in length (both
/// are hashed first).
fn token_matches(presented: &[u8], token: &secrecy::SecretString) -> bool {
    use sha2::Digest;
    let a = sha2::Sha256::digest(presented);
    let b = sha2::Sha256::digest(token.expose_secret().as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// Who is asking. No `Debug`: it holds the session id and CSRF token.
#[derive(Clone)]
pub enum Viewer {
    /// A browser session, with its CSRF token.
    Session {
        /// Session id (the cookie value).
        id: String,
        /// The token its forms carry.
        csrf: String,
    },
    /// A script with the bearer token: no cookie, so no CSRF token is needed.
    Bearer,
}

impl Viewer {
    /// The token forms carry (empty for bearer requests).
    pub fn csrf(&self) -> &str {
        match self {
            Viewer::Session { csrf, .. } => csrf,
            Viewer::Bearer => "",
        }
    }

    /// The page header for this viewer.
    pub fn chrome<'a>(&'a self, nav: Nav, state: &'a AppState) -> Chrome<'a> {
        Chrome {
            nav,
            instance: &state.console.instance,
            logout_csrf: match self {
                Viewer::Session { csrf, .. } => Some(csrf),
                Viewer::Bearer => None,
            },
        }
    }
}

fn session_cookie(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The viewer of a request: a bearer token or a live session. Without either, a `GET` is
/// sent to the login form and anything else is refused. 404 while the console is off.
pub fn viewer(request: &HttpRequest, state: &AppState) -> Result<Viewer, ConsoleError> {
    let token = state.admin_token.as_ref().ok_or(ConsoleError::NotFound)?;
    if let Some(auth) = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
    {
        let presented = auth
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or(ConsoleError::Unauthorized)?;
        return if token_matches(presented, token) {
            Ok(Viewer::Bearer)
        } else {
            Err(ConsoleError::Unauthorized)
        };
    }
    if let Some(id) = session_cookie(request)
        && let Some(csrf) = state.console.sessions.csrf_of(&id)
    {
        return Ok(Viewer::Session { id, csrf });
    }
    if request.method() == actix_web::http::Method::GET {
        Err(ConsoleError::LoginRequired)
    } else {
        Err(ConsoleError::Unauthorized)
    }
}

fn login_page(status: StatusCode, state: &AppState, message: Option<&str>) -> HttpResponse {
    let chrome = Chrome {
        nav: Nav::None,
        instance: &state.console.instance,
        logout_csrf: None,
    };
    let note = message
        .map(|m| {
            format!(
                "<p class=\"bad\" id=\"login-error\">{}</p>",
                html::escape(m)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<div class=\"box\">{note}<form method=\"post\" action=\"/console/login\">\
         <label>Admin token<input type=\"password\" name=\"token\" id=\"token\" \
         autocomplete=\"current-password\" required autofocus></label>\
         <p><button id=\"login\">Log in</button></p></form>\
         <p class=\"muted\">The token is the one in the environment variable named by \
         <code>admin.token_env</code>. The session lasts 12 hours on this instance.</p></div>"
    );
    html::page(status, &chrome, "Log in", &body)
}

/// `GET /console/login`.
pub async fn login_form(state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    state.admin_token.as_ref().ok_or(ConsoleError::NotFound)?;
    Ok(login_page(StatusCode::OK, &state, None))
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// `POST /console/login`: same-origin only; a wrong or missing token gets one answer,
/// later than the last one from the same peer.
pub async fn login(
    request: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let token = state.admin_token.as_ref().ok_or(ConsoleError::NotFound)?;
    csrf::same_origin(&request)?;
    let peer = request.peer_addr().map(|a| a.ip()).unwrap_or(OVERFLOW);
    let throttle = &state.console.throttle;
    let wait = throttle.delay(peer);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if !token_matches(form.token.as_bytes(), token) {
        throttle.failed(peer);
        tracing::info!(%peer, "console login refused");
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            &state,
            Some("Wrong or missing token."),
        ));
    }
    throttle.succeeded(peer);
    let id = state.console.sessions.create()?;
    let secure = if request.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    tracing::info!(%peer, "console login");
    Ok(html::secure(&mut HttpResponse::SeeOther())
        .insert_header(("Location", "/console"))
        .insert_header((
            "Set-Cookie",
            format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={}{secure}",
                SESSION_TTL.as_secs()
            ),
        ))
        .finish())
}

/// `POST /console/logout`: ends the session (CSRF-checked) and clears the cookie.
pub async fn logout(
    request: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = csrf::action(&request, &state, form.csrf.as_deref())?;
    if let Viewer::Session { id, .. } = &viewer {
        state.console.sessions.remove(id);
    }
    Ok(html::secure(&mut HttpResponse::SeeOther())
        .insert_header(("Location", "/console/login"))
        .insert_header((
            "Set-Cookie",
            format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0"),
        ))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_peer_and_are_bounded() {
        let t = LoginThrottle::default();
        let peer: IpAddr = [10, 0, 0, 1].into();
        assert_eq!(t.delay(peer), Duration::ZERO);
        t.failed(peer);
        assert_eq!(t.delay(peer), BASE_DELAY);
        t.failed(peer);
        assert_eq!(t.delay(peer), BASE_DELAY * 2);
        for _ in 0..40 {
            t.failed(peer);
        }
        assert_eq!(t.delay(peer), MAX_DELAY);
        t.succeeded(peer);
        assert_eq!(t.delay(peer), Duration::ZERO);
    }

    #[test]
    fn the_peer_map_is_bounded() {
        let t = LoginThrottle::default();
        for i in 0..(MAX_PEERS as u32 + 100) {
            t.failed(IpAddr::V4(Ipv4Addr::from(i + 1)));
        }
        let len = t.peers.lock().map(|p| p.len()).unwrap_or(usize::MAX);
        assert!(len <= MAX_PEERS + 1, "{len}");
        // Newcomers share the overflow counter, which has failures on it.
        assert!(t.delay(IpAddr::V4(Ipv4Addr::new(200, 1, 1, 1))) > Duration::ZERO);
    }

    #[test]
    fn sessions_are_bounded_and_random() {
        let s = Sessions::default();
        let a = s.create().unwrap_or_default();
        let b = s.create().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(s.csrf_of(&a).is_some());
        for _ in 0..(MAX_SESSIONS * 2) {
            let _ = s.create();
        }
        assert!(s.map.lock().map(|m| m.len()).unwrap_or(usize::MAX) <= MAX_SESSIONS);
        s.remove(&b);
        assert!(s.csrf_of(&b).is_none());
    }
}
