//! Shared set-up for the Salesforce client tests: a simulator, a store in a temporary home with
//! one sync profile, and a way to drive the simulator's authorize page by form POST.
#![allow(dead_code)]

use std::sync::Once;

use secrecy::SecretString;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_salesforce::SyncCredentials;
use zbridge_salesforce::credentials::{EndpointFields, OAuthFields, PasswordFields};
use zbridge_salesforce::loopback::CallbackListener;
use zbridge_salesforce::service::SetupOutcome;
use zbridge_sim::salesforce::{
    OrgKind, RunningSalesforceSim, SalesforceSim, SalesforceSimBuilder, SimUser,
};
use zbridge_store::{Home, Store};

pub const PROFILE: &str = "Main";

pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub struct Env {
    pub sim: RunningSalesforceSim,
    pub store: Store,
    pub service: SyncCredentials,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn user(&self, login: &str) -> SimUser {
        self.sim
            .org(OrgKind::Production)
            .user(login)
            .unwrap()
            .clone()
    }

    pub fn login_url(&self) -> String {
        self.sim.login_url()
    }

    pub fn endpoint(&self) -> EndpointFields {
        EndpointFields {
            sandbox: Some(false),
            login_url: Some(Some(self.login_url())),
        }
    }

    /// Saves Salesforce credentials for `login` (with its security token).
    pub async fn save_password(&self, login: &str) {
        let u = self.user(login);
        self.service
            .save_password(
                PROFILE,
                PasswordFields {
                    username: Some(u.username.clone()),
                    password: Some(secret(&u.password)),
                    security_token: Some(secret(&u.security_token)),
                    endpoint: self.endpoint(),
                },
            )
            .await
            .unwrap();
    }

    /// Saves OAuth credentials naming `login` as the user.
    pub async fn save_oauth(&self, login: &str) {
        let u = self.user(login);
        let app = self.sim.org(OrgKind::Production).connected_app;
        self.service
            .save_oauth(
                PROFILE,
                OAuthFields {
                    org_id: Some(u.org_id.clone()),
                    user_id: Some(u.user_id.clone()),
                    consumer_key: Some(app.consumer_key.clone()),
                    consumer_secret: Some(secret(&app.consumer_secret)),
                    endpoint: self.endpoint(),
                },
            )
            .await
            .unwrap();
    }

    /// Runs setup-oauth, logging in on the simulator's authorize page as `login`.
    pub async fn setup_oauth_as(
        &self,
        login: &str,
    ) -> Result<SetupOutcome, zbridge_salesforce::SalesforceError> {
        let listener = CallbackListener::bind(0).await.unwrap();
        let pending = self
            .service
            .begin_oauth_setup(PROFILE, listener.redirect_uri())
            .await
            .unwrap();
        let location = authorize_by_form_post(&pending.authorize_url, &self.user(login)).await;
        let waiting = tokio::spawn(listener.wait());
        // The browser follows the redirect to the loopback listener.
        let page = http().get(&location).send().await.unwrap();
        assert!(page.status().is_success());
        let redirected = waiting.await.unwrap().unwrap();
        self.service.finish_oauth_setup(pending, &redirected).await
    }
}

/// Logs in on the authorize page with a form POST (username, pw, decision=allow) and returns
/// the redirect Location.
pub async fn authorize_by_form_post(authorize_url: &str, user: &SimUser) -> String {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("username".into(), user.username.clone()));
    form.push(("pw".into(), user.password.clone()));
    form.push(("decision".into(), "allow".into()));
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(authorize_url).send().await.unwrap();
    assert!(
        page.status().is_success(),
        "authorize page: {}",
        page.status()
    );
    let mut action = url.clone();
    action.set_query(None);
    let resp = client.post(action).form(&form).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        302,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    resp.headers()["location"].to_str().unwrap().to_string()
}

pub async fn env_with(builder: SalesforceSimBuilder) -> Env {
    install_crypto();
    let sim = builder.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(secret(&"22".repeat(32)));
    let store = Store::open(&home).await.unwrap();
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secret("zuora-secret"));
    store.create_connection(&def).await.unwrap();
    store
        .create_sync_profile(PROFILE, "Zuora", serde_json::Value::Null)
        .await
        .unwrap();
    let service = SyncCredentials::new(store.clone(), http());
    Env {
        sim,
        store,
        service,
        dir,
    }
}

pub async fn env() -> Env {
    env_with(SalesforceSim::builder().seed(11)).await
}
