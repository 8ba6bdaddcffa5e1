//! The OAuth authorize page in a real browser: headless Chromium driven through chromedriver
//! (plain WebDriver JSON over HTTP) logs in, approves, and is redirected to a local callback
//! with a code that the token endpoint accepts with its PKCE verifier. Screenshots of each step
//! land in `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without chromedriver the test fails when `CI`
//! is set and is skipped with a notice otherwise.

mod salesforce_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use salesforce_support::client;
use serde_json::{Value, json};
use sha2::Digest;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|p| p.is_file())
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(chromedriver: &PathBuf, profile: &std::path::Path) -> Driver {
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
        let base = format!("http://127.0.0.1:{port}");
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1024,768",
            format!("--user-data-dir={}", profile.display()),
        ]});
        if let Some(chromium) = find_program("chromium") {
            options["binary"] = json!(chromium);
        }
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}))
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
        let mut driver = Driver {
            child,
            base,
            session,
            http,
        };
        driver.base = format!("{}/session/{}", driver.base, driver.session);
        driver
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method != reqwest::Method::GET {
            req = req.json(&body);
        }
        let resp: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(resp["value"].get("error").is_none(), "{path}: {resp}");
        resp["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Finds an element, waiting up to 10 s for it: after a click the next page may still be
    /// loading, above all on a loaded machine.
    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let resp: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(element) = resp["value"][ELEMENT_KEY].as_str() {
                return element.to_string();
            }
            assert!(Instant::now() < deadline, "/element {css}: {resp}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    async fn title(&self) -> String {
        self.cmd(reqwest::Method::GET, "/title", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn screenshot(&self, name: &str) {
        let png = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("salesforce_authorize_{name}.png")), bytes).unwrap();
    }

    async fn wait_for_title(&self, fragment: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.title().await.contains(fragment) {
            assert!(
                Instant::now() < deadline,
                "page title never contained {fragment:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("screenshots")
}

/// A one-route server that records the query string the browser is redirected with.
async fn callback_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(q.unwrap_or_default());
                axum::response::Html("<html><head><title>Callback received</title></head><body>Connected</body></html>")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%2F", "/").replace("%3D", "="))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_page_logs_in_approves_and_redirects_in_chromium() {
    let Some(chromedriver) = find_program("chromedriver") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is missing; CI must install chromium and chromium-driver"
        );
        eprintln!(
            "NOTICE: chromedriver not found; skipping the headless Chromium test (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let sim = SalesforceSim::builder().start().await.unwrap();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
    let (callback, mut received) = callback_server().await;
    let verifier = "browser-test-code-verifier-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = reqwest::Url::parse_with_params(
        &format!("{}/services/oauth2/authorize", sim.login_url()),
        &[
            ("response_type", "code"),
            ("client_id", org.connected_app.consumer_key.as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "api refresh_token id"),
            ("state", "browser-state"),
        ],
    )
    .unwrap();

    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(&chromedriver, profile.path()).await;
    driver.goto(authorize.as_str()).await;
    driver.wait_for_title("Login").await;
    driver.type_into("#username", &admin.username).await;
    driver.type_into("#password", "not the password").await;
    driver.click("#Login").await;
    driver.wait_for_title("Login").await;
    assert!(
        !driver.find("#error").await.is_empty(),
        "a wrong password shows an error"
    );
    driver.screenshot("1_login_error").await;
    // The re-rendered form keeps the authorize parameters.
    driver.type_into("#username", &admin.username).await;
    driver.type_into("#password", &admin.password).await;
    driver.screenshot("2_login").await;
    driver.click("#Login").await;
    driver.wait_for_title("Allow Access").await;
    driver.screenshot("3_approve").await;
    driver.click("#oaapprove").await;
    let query = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .unwrap()
        .unwrap();
    driver.wait_for_title("Callback received").await;
    assert!(driver.current_url().await.starts_with(&callback));
    driver.screenshot("4_callback").await;
    driver.quit().await;

    assert_eq!(
        query_param(&query, "state").as_deref(),
        Some("browser-state")
    );
    let code = query_param(&query, "code").expect("a code in the redirect");
    let token: Value = client()
        .post(format!("{}/services/oauth2/token", sim.login_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", org.connected_app.consumer_key.as_str()),
            ("client_secret", org.connected_app.consumer_secret.as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(token["refresh_token"].is_string(), "{token}");
    assert!(
        screenshot_dir()
            .join("salesforce_authorize_3_approve.png")
            .is_file()
    );
}
