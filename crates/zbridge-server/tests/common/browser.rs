//! Headless Chromium through chromedriver, spoken to as plain WebDriver JSON over HTTP (the
//! same way as zbridge-sim's authorize-page test). Screenshots land in `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|p| p.is_file())
}

/// chromedriver, or `None` (with a notice) when it is missing outside CI; in CI it must exist.
pub fn chromedriver() -> Option<PathBuf> {
    let found = find_program("chromedriver");
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is missing; CI must install chromium and chromium-driver"
        );
        eprintln!(
            "NOTICE: chromedriver not found; skipping the browser test (apt-get install chromium chromium-driver)"
        );
    }
    found
}

pub struct Browser {
    child: Child,
    base: String,
    http: reqwest::Client,
    prefix: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; screenshots are named
    /// `<prefix>_<step>.png`.
    pub async fn start(chromedriver: &Path, prefix: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let root = format!("http://127.0.0.1:{port}");
        let http = super::http();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{root}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,1400",
            format!("--user-data-dir={}", profile.path().display()),
        ]});
        if let Some(chromium) = find_program("chromium") {
            options["binary"] = json!(chromium);
        }
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        options["prefs"] = json!({
            "download.default_directory": downloads,
            "download.prompt_for_download": false,
        });
        let resp: Value = http
            .post(format!("{root}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": options,
                "unhandledPromptBehavior": "ignore"}}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        Browser {
            child,
            base: format!("{root}/session/{session}"),
            http,
            prefix: prefix.to_string(),
            _profile: profile,
        }
    }

    async fn try_cmd(&self, method: Method, path: &str, body: Value) -> Result<Value, Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method != Method::GET {
            req = req.json(&body);
        }
        let resp: Value = req.send().await.unwrap().json().await.unwrap();
        if resp["value"].get("error").is_some() {
            return Err(resp["value"].clone());
        }
        Ok(resp["value"].clone())
    }

    async fn cmd(&self, method: Method, path: &str, body: Value) -> Value {
        match self.try_cmd(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(Method::POST, "/url", json!({"url": url})).await;
    }

    async fn try_find(&self, css: &str) -> Option<String> {
        let v = self
            .try_cmd(
                Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await
            .ok()?;
        v[ELEMENT_KEY].as_str().map(str::to_string)
    }

    /// Waits up to 10 s for an element.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if Instant::now() > deadline {
                let html = self
                    .script("return document.body.innerText", json!([]))
                    .await;
                panic!("no element {css:?} on the page:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.try_find(css).await.is_some()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    pub async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(Method::POST, &format!("/element/{e}/clear"), json!({}))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(Method::POST, &format!("/element/{e}/click"), json!({}))
            .await;
    }

    /// The element's rendered text, read in one script call so that an element htmx swaps
    /// meanwhile cannot go stale between finding and reading it.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await;
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn value(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(
            Method::GET,
            &format!("/element/{e}/property/value"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn enabled(&self, css: &str) -> bool {
        let e = self.find(css).await;
        self.cmd(Method::GET, &format!("/element/{e}/enabled"), Value::Null)
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Waits up to 10 s for the element's text to contain `fragment`; returns the text.
    pub async fn wait_text(&self, css: &str, fragment: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.exists(css).await {
                let text = self.text(css).await;
                if text.contains(fragment) {
                    return text;
                }
                if Instant::now() > deadline {
                    panic!("{css} never contained {fragment:?}; it says {text:?}");
                }
            } else if Instant::now() > deadline {
                panic!("{css} never appeared");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to 30 s for the element's text to contain one of `fragments`.
    pub async fn wait_text_any(&self, css: &str, fragments: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.exists(css).await {
                let text = self.text(css).await;
                if fragments.iter().any(|f| text.contains(f)) {
                    return text;
                }
                assert!(Instant::now() < deadline, "{css} says {text:?}");
            } else {
                assert!(Instant::now() < deadline, "{css} never appeared");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts that every visible control of the page has a label (a `<label for>`, an
    /// enclosing `<label>`, `aria-label`, or a button's text).
    pub async fn assert_labelled(&self) {
        let unlabelled = self
            .script(
                r#"return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
                    .filter(e => {
                        if (e.getAttribute('aria-label')) return false;
                        if (e.tagName === 'BUTTON') return !e.innerText.trim();
                        if (e.id && document.querySelector(`label[for="${e.id}"]`)) return false;
                        return !e.closest('label');
                    })
                    .map(e => e.outerHTML.slice(0, 120));"#,
                json!([]),
            )
            .await;
        let title = self.title().await;
        assert_eq!(unlabelled, json!([]), "unlabelled controls on {title:?}");
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(
            Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    pub async fn title(&self) -> String {
        self.cmd(Method::GET, "/title", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn wait_title(&self, fragment: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let title = self.title().await;
            if title.contains(fragment) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "title {title:?} never contained {fragment:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a `window.confirm` and returns its text.
    pub async fn alert_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(v) = self.try_cmd(Method::GET, "/alert/text", Value::Null).await {
                return v.as_str().unwrap_or_default().to_string();
            }
            assert!(Instant::now() < deadline, "no confirmation dialog appeared");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn accept_alert(&self) {
        self.cmd(Method::POST, "/alert/accept", json!({})).await;
    }

    pub async fn dismiss_alert(&self) {
        self.cmd(Method::POST, "/alert/dismiss", json!({})).await;
    }

    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let png = self.cmd(Method::GET, "/screenshot", Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}_{step}.png", self.prefix));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Signs in through the login page.
    pub async fn sign_in(&self, server_url: &str, token: &str) {
        self.goto(&format!("{server_url}/connections")).await;
        self.wait_title("Sign in").await;
        self.type_into("#token", token).await;
        self.click("#sign-in").await;
        self.wait_title("Connections").await;
    }

    /// Where downloads land.
    pub fn downloads(&self) -> PathBuf {
        self._profile.path().join("downloads")
    }

    /// Waits up to 10 s for a finished download named `name`; returns its bytes.
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads().join(name);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Chromium writes `<name>.crdownload` and renames it when complete.
            if path.is_file() {
                return std::fs::read(&path).unwrap();
            }
            let listing: Vec<_> = std::fs::read_dir(self.downloads())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            assert!(
                Instant::now() < deadline,
                "no download {name}; the directory holds {listing:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn quit(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
