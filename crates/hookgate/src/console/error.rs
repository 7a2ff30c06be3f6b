//! [`ConsoleError`] and its one mapping to an HTTP status and an HTML page (with the
//! console's security headers). Pages never carry a database error's text: it is logged.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

use super::html::{self, Chrome, Nav, escape};
use crate::ingress::RETRY_AFTER_SECS;

/// Why a console request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The console is off (no admin token), or the thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// No session and no bearer token: a browser is sent to the login form.
    #[error("login required")]
    LoginRequired,
    /// A wrong bearer token, or an action without a session.
    #[error("unauthorized")]
    Unauthorized,
    /// A cross-site request, or a missing or wrong CSRF token.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A malformed filter or form value; the text says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// Something in this process failed (logged; the page says no more).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The database is unavailable.
    #[error("database unavailable")]
    Unavailable(#[from] sqlx::Error),
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::LoginRequired => StatusCode::SEE_OTHER,
            ConsoleError::Unauthorized => StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, detail) = match self {
            ConsoleError::LoginRequired => {
                return html::secure(&mut HttpResponse::SeeOther())
                    .insert_header(("Location", "/console/login"))
                    .finish();
            }
            ConsoleError::NotFound => ("Not found", "Nothing here.".to_owned()),
            ConsoleError::Unauthorized => (
                "Unauthorized",
                "Log in at <a href=\"/console/login\">/console/login</a>, or send \
                 <code>Authorization: Bearer &lt;admin token&gt;</code>."
                    .to_owned(),
            ),
            ConsoleError::Forbidden(why) => ("Forbidden", escape(why)),
            ConsoleError::BadRequest(why) => ("Bad request", escape(why)),
            ConsoleError::Internal(what) => {
                tracing::error!(what, "console request failed");
                (
                    "Internal error",
                    "Something went wrong; see the gateway's log.".to_owned(),
                )
            }
            ConsoleError::Unavailable(e) => {
                tracing::warn!(error = %e, "console request: database unavailable");
                (
                    "Database unavailable",
                    "The database did not answer; try again shortly.".to_owned(),
                )
            }
        };
        let chrome = Chrome {
            nav: Nav::None,
            instance: "",
            logout_csrf: None,
        };
        let body = format!(
            "<div class=\"box err\"><p id=\"error\">{detail}</p><p><a href=\"/console\">Back to the console</a></p></div>"
        );
        let mut response = html::page(self.status_code(), &chrome, title, &body);
        match self {
            ConsoleError::Unavailable(_) => {
                if let Ok(v) = RETRY_AFTER_SECS.to_string().parse() {
                    response
                        .headers_mut()
                        .insert(actix_web::http::header::RETRY_AFTER, v);
                }
            }
            ConsoleError::Unauthorized => {
                response.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static("Bearer"),
                );
            }
            _ => {}
        }
        response
    }
}
