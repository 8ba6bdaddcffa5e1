//! A server on 127.0.0.1:0 over a store in a temporary home, with a known access token.

#![allow(dead_code)]

use secrecy::SecretString;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_server::{AccessToken, AppState, ServerOptions};
use zbridge_sim::zuora::RunningZuoraSim;
use zbridge_store::{Home, Store};

pub const TOKEN: &str = "test-access-token-0123456789abcdef";

pub struct Server {
    pub url: String,
    pub store: Store,
    pub _home: tempfile::TempDir,
}

pub async fn start() -> Server {
    let home = tempfile::tempdir().unwrap();
    let mut h = Home::in_dir(home.path());
    h.master_key = Some(SecretString::from("42".repeat(32)));
    let store = Store::open(&h).await.unwrap();
    let token = AccessToken::from_secret(&SecretString::from(TOKEN.to_string()));
    let state = AppState::new(store.clone(), token, ServerOptions::default()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(zbridge_server::serve(listener, state));
    Server {
        url,
        store,
        _home: home,
    }
}

/// A client that never follows a proxy from the environment, and does not follow redirects
/// (tests look at them).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Server {
    /// Saves the connection `Sim`: Data Query against the Zuora simulator, polling every second.
    pub async fn add_sim_connection(&self, sim: &RunningZuoraSim) {
        let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Sim").unwrap());
        def.client_id = sim.client_id().into();
        def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
        def.service = "DataQuery".into();
        def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
            .unwrap();
        def.set_advanced("PollInterval", SecretString::from("1".to_string()))
            .unwrap();
        self.store.create_connection(&def).await.unwrap();
    }

    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        http()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    /// Signs in like a browser; returns the session cookie and the page's CSRF token.
    pub async fn browser_session(&self) -> (String, String) {
        let resp = http()
            .post(format!("{}/login", self.url))
            .form(&[("token", TOKEN), ("next", "/connections")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let cookie = resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let page = http()
            .get(format!("{}/connections", self.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_string();
        (cookie, csrf)
    }
}
pub mod browser;
