//! Both simulators, a store with one sync profile, an engine, and an independent statement
//! of what the org should hold (built from the Zuora tenant's live rows with the scope rules
//! of zuora360-sync.md §2, not with the engine's code).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Once};
use std::time::Duration;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::value::Value;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_salesforce::credentials::{EndpointFields, PasswordFields};
use zbridge_salesforce::{ClientOptions, SyncCredentials};
use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};
use zbridge_store::{Home, Store};
use zbridge_sync::{Engine, RunReport, RunRequest};
use zbridge_zuora::query::{self, OutputColumn, Progress, QuerySpec, RecordSink};
use zbridge_zuora::{TokenCache, ZuoraClient, discovery};

pub const PROFILE: &str = "Main";
pub const SEED: u64 = 7;

pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub struct Env {
    pub zuora: RunningZuoraSim,
    pub sf: RunningSalesforceSim,
    pub store: Store,
    pub service: SyncCredentials,
    pub client: ZuoraClient,
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

pub fn zuora_client(
    sim: &RunningZuoraSim,
    service: ZuoraService,
) -> (ZuoraConnectionDef, ZuoraClient) {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora Sim").unwrap());
    def.service = service.as_str().into();
    def.client_id = sim.client_id().into();
    def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
        .unwrap();
    def.set_advanced("PollInterval", SecretString::from("1".to_string()))
        .unwrap();
    let resolved = def.resolve(&VariableScope::default()).unwrap();
    // The default policy's waits (from 1 s) with short steps, so fault tests stay quick.
    let policy = zbridge_zuora::policy::RetryPolicy {
        max_retries: 8,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(500),
        ..Default::default()
    };
    let client = ZuoraClient::with_policy(resolved, TokenCache::Memory, policy).unwrap();
    (def, client)
}

pub fn sf_options() -> ClientOptions {
    ClientOptions {
        retry_base: Duration::from_millis(20),
        bulk_poll_initial: Duration::from_millis(20),
        bulk_poll_max: Duration::from_millis(100),
        ..Default::default()
    }
}

pub struct Setup {
    pub accounts: usize,
    pub service: ZuoraService,
    pub options: serde_json::Value,
    pub sf_faults: Option<&'static str>,
    pub zuora_faults: Option<&'static str>,
    /// The tenant's clock at start (the simulator's fixed default when `None`).
    pub zuora_clock: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            accounts: 30,
            service: ZuoraService::DataQuery,
            // Accounts without a CrmId are left out quietly here; the DACO-02 default has
            // its own test.
            options: serde_json::json!({"lag_secs": 60, "skip_accounts_without_crm_id": true}),
            sf_faults: None,
            zuora_faults: None,
            zuora_clock: None,
        }
    }
}

pub async fn env(setup: Setup) -> Env {
    install_crypto();
    let mut sf = SalesforceSim::builder().seed(SEED).accounts(setup.accounts);
    if let Some(f) = setup.sf_faults {
        sf = sf.fault_profile(f).unwrap();
    }
    let sf = sf.start().await.unwrap();
    let mut z = ZuoraSim::builder()
        .seed(SEED)
        .accounts(setup.accounts)
        .crm_share(0.8)
        .job_delay(Duration::from_millis(1))
        .crm_ids(seeded_account_ids(SEED, setup.accounts));
    if let Some(f) = setup.zuora_faults {
        z = z.fault_profile(f).unwrap();
    }
    if let Some(clock) = setup.zuora_clock {
        z = z.start_time(clock);
    }
    let zuora = z.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(SecretString::from("33".repeat(32)));
    let store = Store::open(&home).await.unwrap();
    let (def, client) = zuora_client(&zuora, setup.service);
    store.create_connection(&def).await.unwrap();
    store
        .create_sync_profile(PROFILE, "Zuora Sim", setup.options)
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let service = SyncCredentials::new(store.clone(), http);
    save_password(&service, &sf, "admin").await;
    let salesforce = service.client(PROFILE, sf_options()).await.unwrap();
    let engine = Engine::new(store.clone(), client.clone(), salesforce);
    Env {
        zuora,
        sf,
        store,
        service,
        client,
        dir,
        engine,
    }
}

pub async fn save_password(service: &SyncCredentials, sf: &RunningSalesforceSim, login: &str) {
    let u = sf.org(OrgKind::Production).user(login).unwrap().clone();
    service
        .save_password(
            PROFILE,
            PasswordFields {
                username: Some(u.username.clone()),
                password: Some(SecretString::from(u.password.clone())),
                security_token: Some(SecretString::from(u.security_token.clone())),
                endpoint: EndpointFields {
                    sandbox: Some(false),
                    login_url: Some(Some(sf.login_url())),
                },
            },
        )
        .await
        .unwrap();
}

impl Env {
    /// A run as users start it: its windows end on Zuora's clock, read from its answers.
    pub async fn run(&self, full: bool) -> RunReport {
        self.run_objects(full, &[]).await
    }

    /// A run of some objects only (`sync run --objects`).
    pub async fn run_objects(&self, full: bool, objects: &[&str]) -> RunReport {
        self.engine
            .run(&RunRequest {
                profile: PROFILE.into(),
                full,
                objects: objects.iter().map(|o| o.to_string()).collect(),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Salesforce records of an object, by external id.
    pub fn org(&self, object: &str, key: &str) -> HashMap<String, serde_json::Value> {
        let mut out = HashMap::new();
        for r in self
            .sf
            .records(OrgKind::Production, object)
            .unwrap_or_default()
        {
            let id = r[key].as_str().unwrap_or_default().to_string();
            assert!(
                out.insert(id.clone(), r).is_none(),
                "{object}: duplicate {id}"
            );
        }
        out
    }
}

#[derive(Default)]
struct Collect {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl RecordSink for Collect {
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()> {
        self.columns = columns
            .iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        Ok(())
    }
    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        self.rows.push(row.to_vec());
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Live rows of a Zuora table as maps of lowercase column → text.
pub async fn table(
    client: &ZuoraClient,
    name: &str,
    columns: &[&str],
) -> Vec<BTreeMap<String, String>> {
    let t = name.to_ascii_lowercase();
    let schema = discovery::describe(client, &t).await.unwrap();
    let spec = QuerySpec {
        table: t,
        columns: Some(columns.iter().map(|c| c.to_string()).collect()),
        ..Default::default()
    };
    let plan = query::plan(&spec, &schema, ZuoraService::DataQuery).unwrap();
    let mut sink = Collect::default();
    query::run(
        client,
        &plan,
        &mut sink,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    sink.rows
        .into_iter()
        .map(|r| {
            sink.columns
                .iter()
                .cloned()
                .zip(r.iter().map(|v| match v {
                    // As Zuora wrote it, in the tenant's time zone.
                    Value::DateTime(t) => t.to_rfc3339(),
                    other => other.to_string(),
                }))
                .collect()
        })
        .collect()
}

/// What one Salesforce object must hold: external id → (field → expected text).
pub type Expected =
    BTreeMap<&'static str, (&'static str, HashMap<String, Vec<(&'static str, String)>>)>;

fn crm18(text: &str) -> Option<String> {
    let id = zbridge_core::sfid::SalesforceId::parse(text).ok()?;
    (id.key_prefix() == "001").then(|| id.to18().to_string())
}

/// The org Zuora 360 would produce from the tenant as it is now.
pub async fn expected(client: &ZuoraClient) -> Expected {
    let mut out: Expected = BTreeMap::new();
    let accounts = table(client, "Account", &["Id", "CrmId", "Status", "Notes"]).await;
    let mut in_scope: HashMap<String, String> = HashMap::new();
    let mut rows = HashMap::new();
    for a in &accounts {
        let Some(crm) = crm18(&a["crmid"]) else {
            continue;
        };
        if a["status"] == "Canceled" {
            continue;
        }
        in_scope.insert(a["id"].clone(), crm.clone());
        rows.insert(
            a["id"].clone(),
            vec![
                ("Zuora__Account__c", crm),
                ("Zuora__Notes__c", a["notes"].clone()),
            ],
        );
    }
    out.insert("Zuora__CustomerAccount__c", ("Zuora__External_Id__c", rows));

    let statuses = [
        "Active",
        "PendingActivation",
        "PendingAcceptance",
        "Cancelled",
    ];
    let subs = table(
        client,
        "Subscription",
        &["Id", "AccountId", "Status", "Notes"],
    )
    .await;
    let mut sub_scope = HashMap::new();
    let mut rows = HashMap::new();
    for s in &subs {
        let Some(crm) = in_scope.get(&s["accountid"]) else {
            continue;
        };
        if !statuses.contains(&s["status"].as_str()) {
            continue;
        }
        sub_scope.insert(s["id"].clone(), crm.clone());
        rows.insert(
            s["id"].clone(),
            vec![
                ("Zuora__Account__c", crm.clone()),
                ("Zuora__Status__c", s["status"].clone()),
                ("Zuora__Notes__c", s["notes"].clone()),
            ],
        );
    }
    out.insert("Zuora__Subscription__c", ("Zuora__External_Id__c", rows));

    let plans = table(client, "RatePlan", &["Id", "SubscriptionId", "Name"]).await;
    let mut plan_scope = HashMap::new();
    let mut rows = HashMap::new();
    for p in &plans {
        let Some(crm) = sub_scope.get(&p["subscriptionid"]) else {
            continue;
        };
        plan_scope.insert(p["id"].clone(), (crm.clone(), p["subscriptionid"].clone()));
        rows.insert(p["id"].clone(), vec![("Name", p["name"].clone())]);
    }
    out.insert(
        "Zuora__SubscriptionRatePlan__c",
        ("Zuora__External_Id__c", rows),
    );

    let charges = table(client, "RatePlanCharge", &["Id", "RatePlanId", "Name"]).await;
    let mut rows = HashMap::new();
    for c in &charges {
        let Some((crm, _sub)) = plan_scope.get(&c["rateplanid"]) else {
            continue;
        };
        rows.insert(
            c["id"].clone(),
            vec![
                ("Name", c["name"].clone()),
                ("Zuora__Account__c", crm.clone()),
            ],
        );
    }
    out.insert(
        "Zuora__SubscriptionProductCharge__c",
        ("Zuora__External_Id__c", rows),
    );

    let invoices = table(
        client,
        "Invoice",
        &["Id", "AccountId", "Status", "Comments", "PostedDate"],
    )
    .await;
    let mut rows = HashMap::new();
    for i in &invoices {
        if in_scope.contains_key(&i["accountid"]) && i["status"] == "Posted" {
            rows.insert(
                i["id"].clone(),
                vec![
                    ("Zuora__Description__c", i["comments"].clone()),
                    ("Zuora__PostedDate__c", tenant_day(&i["posteddate"])),
                ],
            );
        }
    }
    out.insert("Zuora__ZInvoice__c", ("Zuora__External_Id__c", rows));

    let payments = table(client, "Payment", &["Id", "AccountId", "Comment"]).await;
    let mut pay_scope = HashSet::new();
    let mut rows = HashMap::new();
    for p in &payments {
        if in_scope.contains_key(&p["accountid"]) {
            pay_scope.insert(p["id"].clone());
            rows.insert(
                p["id"].clone(),
                vec![("Zuora__Comment__c", p["comment"].clone())],
            );
        }
    }
    out.insert("Zuora__Payment__c", ("Zuora__External_Id__c", rows));

    let ips = table(client, "InvoicePayment", &["Id", "PaymentId"]).await;
    let rows = ips
        .iter()
        .filter(|r| pay_scope.contains(&r["paymentid"]))
        .map(|r| (r["id"].clone(), vec![]))
        .collect();
    out.insert("Zuora__PaymentInvoice__c", ("Zuora__EXT_ID__c", rows));

    for (table_name, object) in [
        ("Refund", "Zuora__Refund__c"),
        ("PaymentMethod", "Zuora__PaymentMethod__c"),
    ] {
        let rs = table(client, table_name, &["Id", "AccountId"]).await;
        let rows = rs
            .iter()
            .filter(|r| in_scope.contains_key(&r["accountid"]))
            .map(|r| (r["id"].clone(), vec![]))
            .collect();
        out.insert(object, ("Zuora__External_Id__c", rows));
    }
    out
}

/// The calendar day of an instant in the simulated tenant's time zone (UTC−8, the
/// simulator's default): the day Zuora 360 shows for a datetime in a date field.
fn tenant_day(instant: &str) -> String {
    if instant.is_empty() {
        return String::new();
    }
    let utc = chrono::DateTime::parse_from_rfc3339(instant)
        .unwrap()
        .with_timezone(&chrono::Utc);
    (utc - chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares the org with the expectation record by record; returns every difference.
pub fn differences(env: &Env, expected: &Expected) -> Vec<String> {
    differences_in(&env.sf, expected)
}

/// Salesforce records of an object in the production org, by external id; a duplicate
/// external id fails the test.
pub fn org_records(
    sf: &RunningSalesforceSim,
    object: &str,
    key: &str,
) -> HashMap<String, serde_json::Value> {
    let mut out = HashMap::new();
    for r in sf.records(OrgKind::Production, object).unwrap_or_default() {
        let id = r[key].as_str().unwrap_or_default().to_string();
        assert!(
            out.insert(id.clone(), r).is_none(),
            "{object}: duplicate {id}"
        );
    }
    out
}

/// [`differences`] for any simulated org.
pub fn differences_in(sf: &RunningSalesforceSim, expected: &Expected) -> Vec<String> {
    drift(sf, expected)
        .into_values()
        .flat_map(|d| d.differences)
        .collect()
}

/// How one Salesforce object differs from what it should hold.
#[derive(Debug, Default)]
pub struct Drift {
    /// In scope in Zuora, absent from the org.
    pub missing: usize,
    /// In the org, not in Zuora's scope.
    pub extra: usize,
    /// External ids held by more than one org record.
    pub duplicated: usize,
    /// Present with a mapped field that differs.
    pub stale: usize,
    /// One line per difference.
    pub differences: Vec<String>,
}

impl Drift {
    /// Whether anything differs.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Compares the org with the expectation record by record, per object.
pub fn drift(sf: &RunningSalesforceSim, expected: &Expected) -> BTreeMap<&'static str, Drift> {
    let mut out = BTreeMap::new();
    for (object, (key, rows)) in expected {
        let mut d = Drift::default();
        let mut org: HashMap<String, serde_json::Value> = HashMap::new();
        for r in sf.records(OrgKind::Production, object).unwrap_or_default() {
            let id = r[*key].as_str().unwrap_or_default().to_string();
            if org.insert(id.clone(), r).is_some() {
                d.duplicated += 1;
                d.differences.push(format!("{object} {id}: duplicated"));
            }
        }
        for (id, fields) in rows {
            let Some(record) = org.get(id) else {
                d.missing += 1;
                d.differences.push(format!("{object} {id}: missing"));
                continue;
            };
            let stale: Vec<String> = fields
                .iter()
                .filter(|(field, want)| text_of(&record[*field]) != *want)
                .map(|(field, want)| {
                    let got = text_of(&record[*field]);
                    format!("{object} {id}: {field} is {got:?}, want {want:?} (stale)")
                })
                .collect();
            if !stale.is_empty() {
                d.stale += 1;
                d.differences.extend(stale);
            }
        }
        for id in org.keys().filter(|id| !rows.contains_key(*id)) {
            d.extra += 1;
            d.differences.push(format!("{object} {id}: extra"));
        }
        out.insert(*object, d);
    }
    out
}
