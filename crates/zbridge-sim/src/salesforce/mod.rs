//! Simulator of the Salesforce APIs a Zuora 360 sync uses: SOAP `login()` and `logout()`, OAuth
//! 2.0 (authorize page, token grants, revoke, userinfo), identity, REST (describe with
//! field-level security, CRUD, upsert by external id, sObject Collections with retrieve, SOQL
//! `query` and `queryAll` over a 15-day recycle bin, `updated`/`deleted` replication, Composite
//! and sObject Tree, limits) and Bulk API 2.0 ingest and query jobs, with the Zuora 360 objects
//! installed, fault profiles, and a `/sim/` control API with a movable clock.
//!
//! Built from `shared/reference/salesforce-api.md` and `zuora360-sync.md`; see `SALESFORCE.md`
//! in this crate for endpoints, behaviour and every choice made where Salesforce's behaviour is
//! unknown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zbridge_sim::salesforce::SimError> {
//! use zbridge_sim::salesforce::SalesforceSim;
//! let sim = SalesforceSim::builder().seed(7).sandbox_org(true).start().await?;
//! println!("{}", sim.login_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

// Handlers return ready-made HTTP responses as their error values; boxing them buys nothing.
#[allow(clippy::result_large_err)]
mod auth;
#[allow(clippy::result_large_err)]
mod bulk;
#[allow(clippy::result_large_err)]
mod collections;
#[allow(clippy::result_large_err)]
mod composite;
mod control;
mod faults;
mod http;
pub mod ids;
mod org;
#[allow(clippy::result_large_err)]
mod query_jobs;
#[allow(clippy::result_large_err)]
mod replication;
#[allow(clippy::result_large_err)]
mod rest;
mod schema;
mod soql;
mod store;
mod write;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FAULT_NAMES, FaultProfile, UnknownFault};
pub use org::OrgKind;
pub use write::CASCADE_LIMIT;

use http::{OrgCell, Shared};
use org::{Org, OrgConfig, OrgSettings};

/// Private key (PKCS#8 PEM) matching the connected app's default JWT certificate. It is test
/// material committed with the simulator, not a secret.
pub const JWT_TEST_PRIVATE_KEY_PEM: &str = include_str!("fixtures/jwt_test_key.pem");
const JWT_TEST_PUBLIC_KEY_PEM: &str = include_str!("fixtures/jwt_test_pub.pem");

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind the Salesforce simulator to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The ids of the standard Account records seeded into the production org for `seed`. The Zuora
/// simulator uses them as `CrmId` values so that both simulators agree.
pub fn seeded_account_ids(seed: u64, count: usize) -> Vec<String> {
    org::seeded_account_ids_for(OrgKind::Production, seed, count)
}

/// Like [`seeded_account_ids`], for the sandbox org.
pub fn seeded_sandbox_account_ids(seed: u64, count: usize) -> Vec<String> {
    org::seeded_account_ids_for(OrgKind::Sandbox, seed, count)
}

/// Entry point: `SalesforceSim::builder()`.
pub struct SalesforceSim;

impl SalesforceSim {
    /// A builder with the defaults (127.0.0.1:0, seed 1, production org only, 2 h sessions,
    /// 100,000 daily API calls, rotation on, no faults, 50 seeded accounts).
    pub fn builder() -> SalesforceSimBuilder {
        SalesforceSimBuilder::default()
    }
}

/// Configures and starts the simulator.
#[derive(Clone, Debug)]
pub struct SalesforceSimBuilder {
    bind: SocketAddr,
    sandbox_bind: SocketAddr,
    seed: u64,
    sandbox: bool,
    accounts: usize,
    settings: OrgSettings,
    faults: FaultProfile,
    jwt_public_key_pem: String,
}

impl Default for SalesforceSimBuilder {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        SalesforceSimBuilder {
            bind: loopback,
            sandbox_bind: loopback,
            seed: 1,
            sandbox: false,
            accounts: 50,
            settings: OrgSettings {
                soap_login_enabled: true,
                trusted_ip: false,
                session_timeout: Duration::from_secs(2 * 60 * 60),
                api_daily_max: 100_000,
                refresh_token_rotation: true,
                storage_max_records: 50_000_000,
            },
            faults: FaultProfile::default(),
            jwt_public_key_pem: JWT_TEST_PUBLIC_KEY_PEM.to_string(),
        }
    }
}

impl SalesforceSimBuilder {
    /// Address of the production org's listener (login and instance host).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Address of the sandbox org's listener.
    pub fn sandbox_bind(mut self, addr: SocketAddr) -> Self {
        self.sandbox_bind = addr;
        self
    }

    /// Seed for ids, credentials and prefixes: the same seed gives the same orgs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Also start a sandbox org with its own org id, users and listener.
    pub fn sandbox_org(mut self, on: bool) -> Self {
        self.sandbox = on;
        self
    }

    /// Number of standard Account records to seed (see [`seeded_account_ids`]).
    pub fn accounts(mut self, n: usize) -> Self {
        self.accounts = n;
        self
    }

    /// Session timeout (inactivity).
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.settings.session_timeout = d;
        self
    }

    /// Daily API request allocation.
    pub fn daily_api_allocation(mut self, n: u64) -> Self {
        self.settings.api_daily_max = n;
        self
    }

    /// Refresh Token Rotation on the connected app.
    pub fn refresh_token_rotation(mut self, on: bool) -> Self {
        self.settings.refresh_token_rotation = on;
        self
    }

    /// "Enable SOAP API login()" in the org.
    pub fn soap_login_enabled(mut self, on: bool) -> Self {
        self.settings.soap_login_enabled = on;
        self
    }

    /// Whether loopback is a trusted IP range (then the security token may be omitted).
    pub fn trusted_ip(mut self, on: bool) -> Self {
        self.settings.trusted_ip = on;
        self
    }

    /// Records the org can hold before `STORAGE_LIMIT_EXCEEDED`.
    pub fn storage_max_records(mut self, n: u64) -> Self {
        self.settings.storage_max_records = n;
        self
    }

    /// Fault profile for both orgs.
    pub fn faults(mut self, faults: FaultProfile) -> Self {
        self.faults = faults;
        self
    }

    /// Fault profile from its text form (`"row-lock,slow-jobs"`); the error lists valid names.
    pub fn fault_profile(mut self, text: &str) -> Result<Self, UnknownFault> {
        self.faults = text.parse()?;
        Ok(self)
    }

    /// PEM public key of the certificate uploaded to the connected app for the JWT flow.
    pub fn jwt_public_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.jwt_public_key_pem = pem.into();
        self
    }

    fn config(&self, kind: OrgKind) -> OrgConfig {
        OrgConfig {
            kind,
            seed: self.seed,
            accounts: self.accounts,
            settings: self.settings.clone(),
            faults: self.faults.clone(),
            jwt_public_key_pem: self.jwt_public_key_pem.clone(),
        }
    }

    /// Binds the listener(s) and starts serving.
    pub async fn start(self) -> Result<RunningSalesforceSim, SimError> {
        let production = serve_org(Org::new(self.config(OrgKind::Production)), self.bind).await?;
        let sandbox = if self.sandbox {
            Some(serve_org(Org::new(self.config(OrgKind::Sandbox)), self.sandbox_bind).await?)
        } else {
            None
        };
        Ok(RunningSalesforceSim {
            production,
            sandbox,
        })
    }
}

struct OrgServer {
    cell: Shared,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for OrgServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve_org(mut org: Org, addr: SocketAddr) -> Result<OrgServer, SimError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    org.base_url = format!("http://{local}");
    let cell: Shared = Arc::new(OrgCell::new(org));
    let app = http::app(cell.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "Salesforce simulator stopped with an error");
        }
    });
    Ok(OrgServer {
        cell,
        addr: local,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A user of a simulated org, with the credentials a client needs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SimUser {
    pub username: String,
    pub password: String,
    pub security_token: String,
    pub org_id: String,
    pub user_id: String,
    pub profile: String,
    pub password_expired: bool,
}

/// The connected app's credentials.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConnectedAppInfo {
    pub consumer_key: String,
    pub consumer_secret: String,
    /// Loopback callbacks (`http://127.0.0.1:*/…`, `http://localhost:*/…`) are accepted.
    pub callback_policy: String,
}

/// What a client needs to reach one org.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OrgInfo {
    pub kind: String,
    pub org_id: String,
    pub org_id15: String,
    pub login_url: String,
    pub instance_url: String,
    pub users: Vec<SimUser>,
    pub connected_app: ConnectedAppInfo,
}

impl OrgInfo {
    /// As JSON (for `/sim/info` and the example binary).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The user with the given profile name's first user.
    pub fn user(&self, login_prefix: &str) -> Option<&SimUser> {
        self.users
            .iter()
            .find(|u| u.username.starts_with(&format!("{login_prefix}@")))
    }
}

fn org_info(org: &Org) -> OrgInfo {
    OrgInfo {
        kind: match org.kind {
            OrgKind::Production => "production".into(),
            OrgKind::Sandbox => "sandbox".into(),
        },
        org_id: org.org_id.to_string(),
        org_id15: org.org_id.id15().to_string(),
        login_url: org.base_url.clone(),
        instance_url: org.instance_url(),
        users: org
            .users
            .iter()
            .map(|u| SimUser {
                username: u.username.clone(),
                password: u.password.clone(),
                security_token: u.security_token.clone(),
                org_id: org.org_id.to_string(),
                user_id: u.id.to_string(),
                profile: org.profiles[u.profile].name.clone(),
                password_expired: u.password_expired,
            })
            .collect(),
        connected_app: ConnectedAppInfo {
            consumer_key: org.app.consumer_key.clone(),
            consumer_secret: org.app.consumer_secret.clone(),
            callback_policy: "any http(s)://127.0.0.1 or http(s)://localhost URL".into(),
        },
    }
}

/// A running simulator. Dropping it stops the listeners.
pub struct RunningSalesforceSim {
    production: OrgServer,
    sandbox: Option<OrgServer>,
}

impl RunningSalesforceSim {
    fn server(&self, kind: OrgKind) -> &OrgServer {
        match kind {
            OrgKind::Production => &self.production,
            OrgKind::Sandbox => self.sandbox.as_ref().unwrap_or(&self.production),
        }
    }

    /// Login (and instance) URL of the production org, e.g. `http://127.0.0.1:41234`.
    pub fn login_url(&self) -> String {
        format!("http://{}", self.production.addr)
    }

    /// Login URL of the sandbox org, if started.
    pub fn sandbox_login_url(&self) -> Option<String> {
        self.sandbox.as_ref().map(|s| format!("http://{}", s.addr))
    }

    /// Socket address of an org's listener.
    pub fn addr(&self, kind: OrgKind) -> SocketAddr {
        self.server(kind).addr
    }

    /// Org id, URLs, users and connected app of an org (the production org when no sandbox runs).
    pub fn org(&self, kind: OrgKind) -> OrgInfo {
        org_info(&self.server(kind).cell.lock())
    }

    /// Every started org.
    pub fn orgs(&self) -> Vec<OrgInfo> {
        let mut out = vec![self.org(OrgKind::Production)];
        if self.sandbox.is_some() {
            out.push(self.org(OrgKind::Sandbox));
        }
        out
    }

    /// Private key matching the app's JWT certificate (test material).
    pub fn jwt_private_key_pem(&self) -> &'static str {
        JWT_TEST_PRIVATE_KEY_PEM
    }

    /// Every record of an object, all fields; `None` for an unknown object.
    pub fn records(&self, kind: OrgKind, object: &str) -> Option<Vec<serde_json::Value>> {
        control::all_records(&self.server(kind).cell.lock(), object)
    }

    /// Drops all records and grants and re-seeds the org.
    pub fn reset(&self, kind: OrgKind) {
        self.server(kind).cell.lock().reset();
    }

    /// Calls per `METHOD /route` since start or reset.
    pub fn counters(&self, kind: OrgKind) -> BTreeMap<String, u64> {
        self.server(kind).cell.lock().counters.clone()
    }

    /// API calls counted against the daily allocation.
    pub fn api_used(&self, kind: OrgKind) -> u64 {
        self.server(kind).cell.lock().api_used
    }

    /// Switches the fault profile of an org.
    pub fn set_faults(&self, kind: OrgKind, faults: FaultProfile) {
        self.server(kind).cell.lock().faults = faults;
    }

    /// Moves an org's clock forward (record timestamps, the 15-day recycle bin and the
    /// replication windows follow it; session inactivity keeps real time).
    pub fn advance_clock(&self, kind: OrgKind, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.server(kind).cell.lock().advance_clock(ms);
    }

    /// An org's current time in Unix milliseconds.
    pub fn now_ms(&self, kind: OrgKind) -> i64 {
        self.server(kind).cell.lock().clock_ms()
    }

    /// Ends every session of an org (the next call gets `INVALID_SESSION_ID`).
    pub fn expire_sessions(&self, kind: OrgKind) {
        self.server(kind).cell.lock().expire_sessions();
    }

    /// Enables or disables SOAP `login()` for an org.
    pub fn set_soap_login_enabled(&self, kind: OrgKind, on: bool) {
        self.server(kind).cell.lock().settings.soap_login_enabled = on;
    }

    /// Stops the listeners and waits for them to finish.
    pub async fn shutdown(mut self) {
        let mut servers = vec![&mut self.production];
        if let Some(s) = self.sandbox.as_mut() {
            servers.push(s);
        }
        for s in servers {
            if let Some(stop) = s.stop.take() {
                let _ = stop.send(());
            }
            if let Some(task) = s.task.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        }
    }
}
