//! The operator console, `GET /console` (SPEC §8): server-rendered HTML pages over the
//! stored events, this instance's recent traffic and rejections, and replay. No script,
//! no build step: every view is one request and one small page. Served only while the
//! admin API is on (an admin token is configured), 404 otherwise.
//!
//! - [`auth`]: login form, sessions, bearer tokens, the failed-login throttle.
//! - [`csrf`]: same-origin and CSRF-token checks of every state-changing request.
//! - [`html`]: the one `escape`, the layout and the security headers.
//! - [`params`]: parsing and validating filters (malformed ones answer 400).
//! - [`error`]: [`ConsoleError`] and its one mapping to a status and a page.
//! - `views`: one module per page (overview, events, event, rejections, replay).

pub mod auth;
pub mod csrf;
mod error;
pub mod html;
pub mod params;
mod views;

use std::time::SystemTime;

use actix_web::{HttpRequest, web};
use hookgate_core::template::RoutingKey;

pub use error::ConsoleError;

/// The console's share of the application state.
pub struct ConsoleState {
    /// Logged-in sessions of this process.
    pub sessions: auth::Sessions,
    /// Failed-login delays.
    pub throttle: auth::LoginThrottle,
    /// `amqp.routing_key`, to show the key each event was published with.
    pub routing_key: RoutingKey,
    /// This instance's name (host and process id), shown on every page.
    pub instance: String,
    /// When this process started (its in-memory counters cover only the time since).
    pub started: SystemTime,
}

impl ConsoleState {
    /// Fresh state: no sessions, no failures.
    pub fn new(routing_key: RoutingKey) -> Self {
        Self {
            sessions: auth::Sessions::default(),
            throttle: auth::LoginThrottle::default(),
            routing_key,
            instance: instance_name(),
            started: SystemTime::now(),
        }
    }
}

/// `HOSTNAME` (a pod's name on Kubernetes) or the kernel's host name, and the process id.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}/{}", std::process::id())
}

fn bad_input(err: impl std::fmt::Display, _req: &HttpRequest) -> actix_web::Error {
    ConsoleError::BadRequest(format!("malformed parameters: {err}")).into()
}

/// Register `/console` and its pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .app_data(web::QueryConfig::default().error_handler(bad_input))
            .app_data(
                web::FormConfig::default()
                    .limit(16 * 1024)
                    .error_handler(bad_input),
            )
            .route("", web::get().to(views::overview::show))
            .route("/", web::get().to(views::overview::show))
            .route("/login", web::get().to(auth::login_form))
            .route("/login", web::post().to(auth::login))
            .route("/logout", web::post().to(auth::logout))
            .route("/events", web::get().to(views::events::list))
            .route("/events/{pk}", web::get().to(views::event::show))
            .route("/rejections", web::get().to(views::rejections::list))
            .route("/replay", web::post().to(views::replay::replay))
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<actix_web::HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound)
}
