//! The operator console over real HTTP against a real gateway: login and sessions, CSRF
//! and origin checks, every view and its filters (malformed ones answer 400), escaping,
//! the rejection records, and replay through the confirmation step. `browser` drives the
//! same scenario in a real Chromium.

mod auth;
mod browser;
mod replay;
mod views;
mod webdriver;

use std::time::Duration;

use crate::helpers::*;

/// The admin token of console tests.
pub const TOKEN: &str = "console-test-token-0123456789";

/// A gateway with the console on.
pub async fn console_app() -> TestApp {
    let mut settings = Settings::new();
    settings.admin_token = Some(TOKEN.into());
    spawn_app_with(settings).await
}

/// An HTTP answer with the headers and the body as text.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("page has a CSRF field")
            + "name=\"csrf\" value=\"".len();
        self.body[at..].split('"').next().expect("token").to_owned()
    }
}

/// A cookie-holding client of one gateway (no redirects followed).
pub struct Client {
    base: String,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.url(""),
            cookie: None,
        }
    }

    fn awc() -> awc::Client {
        awc::Client::builder()
            .disable_redirects()
            .timeout(Duration::from_secs(30))
            .finish()
    }

    async fn finish(
        res: Result<
            awc::ClientResponse<
                impl futures_util::Stream<
                    Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>,
                > + Unpin,
            >,
            awc::error::SendRequestError,
        >,
    ) -> Page {
        let mut res = res.expect("console request");
        let body = res.body().limit(4 << 20).await.expect("body");
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// GET with the session cookie (if any) and extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = Self::awc().get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.insert_header(("cookie", c.as_str()));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        Self::finish(req.send().await).await
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// POST a form with the session cookie (if any) and extra headers.
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = Self::awc().post(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.insert_header(("cookie", c.as_str()));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        Self::finish(req.send_form(&form).await).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[]).await
    }

    /// Log in with the admin token; keeps the session cookie.
    pub async fn login(&mut self) -> Page {
        let page = self.post("/console/login", &[("token", TOKEN)]).await;
        assert_eq!(page.status, 303, "{page:?}");
        let set = page.header("set-cookie").expect("Set-Cookie").to_owned();
        self.cookie = Some(set.split(';').next().expect("pair").to_owned());
        page
    }
}

/// The row id of a stored event.
pub async fn pk_of(app: &TestApp, event_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM events WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("stored event")
}
