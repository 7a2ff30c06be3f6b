//! A minimal W3C WebDriver client over `awc` (already a dev-dependency), enough to drive
//! Debian's Chromium through `chromedriver`: open pages, find elements, type, click, read
//! text and the URL, take screenshots. Waiting is polling with a deadline, never a sleep.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const DEADLINE: Duration = Duration::from_secs(20);

/// Make sure Chromium and ChromeDriver are installed, running `scripts/browser-deps` if
/// not; panics with a clear message when they cannot be.
pub fn ensure_installed() {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser-deps");
    let status = Command::new(&script).status();
    assert!(
        matches!(status, Ok(s) if s.success())
            && Path::new(CHROMIUM).exists()
            && Path::new(CHROMEDRIVER).exists(),
        "the console's browser test needs Debian's chromium and chromium-driver; \
         {} could not install them ({status:?}). Install them by hand, or set \
         HOOKGATE_SKIP_BROWSER=1 to skip this test explicitly.",
        script.display()
    );
}

/// A chromedriver process with one headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Start chromedriver and a headless Chromium with a fresh profile.
    pub async fn start(profile: PathBuf) -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            profile,
        };
        let started = Instant::now();
        loop {
            let ready = client()
                .get(format!("{}/status", browser.base))
                .send()
                .await
                .ok();
            if let Some(mut res) = ready
                && let Ok(v) = res.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", browser.profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = browser.call("POST", "/session", Some(caps)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let req = client().request(method, url);
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("webdriver call");
        let v: Value = res.json().limit(64 << 20).await.expect("webdriver answer");
        v["value"].clone()
    }

    async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Navigate and wait for the load.
    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.session_call("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn find_once(&self, using: &str, value: &str) -> Option<String> {
        let v = self
            .session_call(
                "POST",
                "/element",
                Some(json!({"using": using, "value": value})),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_owned)
    }

    /// Wait (bounded) for an element, by CSS selector or, with `link:`, by link text.
    pub async fn find(&self, what: &str) -> String {
        let (using, value) = match what.strip_prefix("link:") {
            Some(text) => ("link text", text),
            None => ("css selector", what),
        };
        let started = Instant::now();
        loop {
            if let Some(id) = self.find_once(using, value).await {
                return id;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "no element {what} on {}:\n{}",
                self.url().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Click an element.
    pub async fn click(&self, what: &str) {
        let id = self.find(what).await;
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    /// Type into an input.
    pub async fn type_into(&self, what: &str, text: &str) {
        let id = self.find(what).await;
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// An element's visible text.
    pub async fn text(&self, what: &str) -> String {
        let id = self.find(what).await;
        self.session_call("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Wait (bounded) until the URL's path ends with `suffix`.
    pub async fn wait_for_path(&self, suffix: &str) {
        self.wait_for_url(|url| url.split('?').next().is_some_and(|p| p.ends_with(suffix)))
            .await;
    }

    /// Wait (bounded) until the URL contains `part` (a navigation has committed, so
    /// elements are looked up in the new page, not the one being left).
    pub async fn wait_for_url_with(&self, part: &str) {
        self.wait_for_url(|url| url.contains(part)).await;
    }

    async fn wait_for_url(&self, done: impl Fn(&str) -> bool) {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if done(&url) {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "still at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Save a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let png = self.session_call("GET", "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("base64 PNG");
        std::fs::write(path, bytes).expect("write screenshot");
    }

    /// End the session (Chromium exits); chromedriver is stopped on drop.
    pub async fn quit(self) {
        self.session_call("DELETE", "", None).await;
    }
}
