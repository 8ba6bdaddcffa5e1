//! Benchmark (not a test): a full 360 sync of a simulated tenant into a simulated org, then an
//! incremental sync after 1 % of the records changed. Reports records/s, Salesforce API calls
//! and Bulk jobs, and the peak RSS of the process.
//!
//! `cargo bench -p zbridge-sync --bench sync_bench` (100,000 accounts);
//! `ZBRIDGE_BENCH_ACCOUNTS=5000 cargo bench …` for a quicker look.
//!
//! By default both simulators run inside the process, so the peak RSS is an upper bound for the
//! engine. `bench/sync.sh` runs them as their own processes instead and passes their JSON lines
//! (the `zuora_sim` and `salesforce_sim` examples' output) in `ZBRIDGE_BENCH_ZUORA` and
//! `ZBRIDGE_BENCH_SALESFORCE` (file paths): the peak RSS is then the engine's alone, and the
//! clock, mutations and API counters go through the simulators' `/sim/` control APIs. Each run
//! ends with one `BENCH_JSON {…}` line for scripts. `ZBRIDGE_BENCH_OPTIONS` (JSON) sets sync
//! profile options, e.g. `{"bulk_batch_size": 100000}`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_salesforce::credentials::{EndpointFields, PasswordFields};
use zbridge_salesforce::{ClientOptions, SyncCredentials};
use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{Mutation, RunningZuoraSim, ZuoraSim};
use zbridge_store::{Home, Store};
use zbridge_sync::{Engine, RunReport, RunRequest};
use zbridge_zuora::{TokenCache, ZuoraClient};

type Error = Box<dyn std::error::Error>;

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0), so the next peak is one step's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Where to reach the simulators, and the credentials they printed.
struct Endpoints {
    zuora_url: String,
    zuora_client_id: String,
    zuora_secret: String,
    sf_login_url: String,
    sf_username: String,
    sf_password: String,
    sf_token: String,
}

/// The two simulators, in this process or in their own.
enum Sims {
    InProcess {
        zuora: Box<RunningZuoraSim>,
        salesforce: Box<RunningSalesforceSim>,
    },
    External {
        zuora_url: String,
        sf_login_url: String,
        http: reqwest::Client,
    },
}

fn first_line(path: &str) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_json::from_str(
        text.lines().next().unwrap_or_default(),
    )?)
}

fn text(value: &Value, key: &str) -> Result<String, Error> {
    value[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {key} in {value}").into())
}

fn admin(org: &Value) -> Result<Value, Error> {
    org["users"]
        .as_array()
        .and_then(|users| {
            users.iter().find(|u| {
                u["username"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("admin@"))
            })
        })
        .cloned()
        .ok_or_else(|| "no admin user".into())
}

impl Sims {
    async fn start(accounts: usize, seed: u64) -> Result<(Sims, Endpoints), Error> {
        if let (Ok(zuora), Ok(salesforce)) = (
            std::env::var("ZBRIDGE_BENCH_ZUORA"),
            std::env::var("ZBRIDGE_BENCH_SALESFORCE"),
        ) {
            let z = first_line(&zuora)?;
            let org = first_line(&salesforce)?["orgs"][0].clone();
            let user = admin(&org)?;
            let endpoints = Endpoints {
                zuora_url: text(&z, "baseUrl")?,
                zuora_client_id: text(&z, "clientId")?,
                zuora_secret: text(&z, "clientSecret")?,
                sf_login_url: text(&org, "login_url")?,
                sf_username: text(&user, "username")?,
                sf_password: text(&user, "password")?,
                sf_token: text(&user, "security_token")?,
            };
            let sims = Sims::External {
                zuora_url: endpoints.zuora_url.clone(),
                sf_login_url: endpoints.sf_login_url.clone(),
                http: reqwest::Client::builder().no_proxy().build()?,
            };
            return Ok((sims, endpoints));
        }
        let salesforce = SalesforceSim::builder()
            .seed(seed)
            .accounts(accounts)
            .daily_api_allocation(10_000_000)
            .start()
            .await?;
        let zuora = ZuoraSim::builder()
            .seed(seed)
            .accounts(accounts)
            .job_delay(Duration::from_millis(1))
            .crm_ids(seeded_account_ids(seed, accounts))
            .start()
            .await?;
        let user = salesforce
            .org(OrgKind::Production)
            .user("admin")
            .ok_or("no admin user")?
            .clone();
        let endpoints = Endpoints {
            zuora_url: zuora.base_url().to_string(),
            zuora_client_id: zuora.client_id().to_string(),
            zuora_secret: zuora.client_secret().to_string(),
            sf_login_url: salesforce.login_url(),
            sf_username: user.username,
            sf_password: user.password,
            sf_token: user.security_token,
        };
        Ok((
            Sims::InProcess {
                zuora: Box::new(zuora),
                salesforce: Box::new(salesforce),
            },
            endpoints,
        ))
    }

    fn in_process(&self) -> bool {
        matches!(self, Sims::InProcess { .. })
    }

    async fn get(&self, url: String) -> Result<Value, Error> {
        match self {
            Sims::External { http, .. } => Ok(http.get(url).send().await?.json().await?),
            Sims::InProcess { .. } => Err("no HTTP control in process".into()),
        }
    }

    async fn post(&self, url: String, body: Value) -> Result<Value, Error> {
        match self {
            Sims::External { http, .. } => {
                let response = http.post(url).json(&body).send().await?;
                let status = response.status();
                let answer: Value = response.json().await?;
                if !status.is_success() {
                    return Err(format!("{status}: {answer}").into());
                }
                Ok(answer)
            }
            Sims::InProcess { .. } => Err("no HTTP control in process".into()),
        }
    }

    async fn api_used(&self) -> Result<u64, Error> {
        match self {
            Sims::InProcess { salesforce, .. } => Ok(salesforce.api_used(OrgKind::Production)),
            Sims::External { sf_login_url, .. } => {
                self.get(format!("{sf_login_url}/sim/counters")).await?["apiUsed"]
                    .as_u64()
                    .ok_or_else(|| "no apiUsed".into())
            }
        }
    }

    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        match self {
            Sims::InProcess { zuora, .. } => Ok(zuora.now()),
            Sims::External { zuora_url, .. } => {
                let clock = self.get(format!("{zuora_url}/sim/clock")).await?;
                clock["nowMs"]
                    .as_i64()
                    .and_then(DateTime::from_timestamp_millis)
                    .ok_or_else(|| format!("no nowMs in {clock}").into())
            }
        }
    }

    async fn row_counts(&self) -> Result<Value, Error> {
        match self {
            Sims::InProcess { zuora, .. } => Ok(json!(zuora.row_counts())),
            Sims::External { zuora_url, .. } => {
                let info = self.get(format!("{zuora_url}/sim/info")).await?;
                Ok(info["entities"][0]["rows"].clone())
            }
        }
    }

    async fn mutate(&self, object: &str, count: usize, action: Mutation) -> Result<(), Error> {
        match self {
            Sims::InProcess { zuora, .. } => {
                zuora.mutate(0, object, count, action)?;
            }
            Sims::External { zuora_url, .. } => {
                let action = match action {
                    Mutation::Update => "update",
                    Mutation::Cancel => "cancel",
                    Mutation::Delete => "delete",
                };
                self.post(
                    format!("{zuora_url}/sim/mutate"),
                    json!({"object": object, "count": count, "action": action}),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn advance_clock(&self, seconds: u64) -> Result<(), Error> {
        match self {
            Sims::InProcess { zuora, .. } => zuora.advance_clock(Duration::from_secs(seconds)),
            Sims::External { zuora_url, .. } => {
                self.post(
                    format!("{zuora_url}/sim/clock/advance"),
                    json!({"seconds": seconds}),
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn summary(label: &str, report: &RunReport, elapsed: Duration, calls: u64) -> Value {
    let written: i64 = report.objects.iter().map(|o| o.upserted + o.deleted).sum();
    let read: i64 = report.objects.iter().map(|o| o.read).sum();
    let jobs: i64 = report.objects.iter().map(|o| o.bulk_jobs).sum();
    let seconds = elapsed.as_secs_f64();
    println!(
        "{label}: {} in {seconds:.1}s; {read} rows read, {written} records written ({:.0} records/s); {calls} Salesforce API calls, {jobs} Bulk jobs; {} failed; peak RSS {:.0} MiB",
        report.run.status,
        written as f64 / seconds.max(0.001),
        report.failed,
        peak_rss_mib()
    );
    for o in &report.objects {
        println!(
            "  {:<28} read {:>8}  upserted {:>8}  deleted {:>6}  failed {:>5}  calls {:>6}  jobs {:>3}  {:>7.1}s",
            o.object,
            o.read,
            o.upserted,
            o.deleted,
            o.failed,
            o.api_calls,
            o.bulk_jobs,
            o.duration_ms as f64 / 1000.0
        );
    }
    json!({
        "status": report.run.status.to_string(),
        "seconds": seconds,
        "read": read,
        "written": written,
        "failed": report.failed,
        "apiCalls": calls,
        "bulkJobs": jobs,
        "peakRssMib": peak_rss_mib(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let accounts: usize = std::env::var("ZBRIDGE_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed = 3;
    let started = Instant::now();
    let (sims, endpoints) = Sims::start(accounts, seed).await?;
    println!(
        "tenant of {accounts} accounts ready in {:.1}s ({}): {}",
        started.elapsed().as_secs_f64(),
        if sims.in_process() {
            "simulators in this process"
        } else {
            "simulators in their own processes"
        },
        sims.row_counts().await?
    );
    let dir = tempfile::tempdir()?;
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(SecretString::from("44".repeat(32)));
    let store = Store::open(&home).await?;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Bench")?);
    def.service = ZuoraService::DataQuery.as_str().into();
    def.client_id = endpoints.zuora_client_id.clone();
    def.client_secret = Some(SecretString::from(endpoints.zuora_secret.clone()));
    def.set_advanced("URL", SecretString::from(endpoints.zuora_url.clone()))?;
    store.create_connection(&def).await?;
    // Profile options, e.g. ZBRIDGE_BENCH_OPTIONS='{"bulk_batch_size": 100000}' to compare batch
    // sizes; the lag is always a minute.
    let mut options: Value = match std::env::var("ZBRIDGE_BENCH_OPTIONS") {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => json!({}),
    };
    options["lag_secs"] = json!(60);
    store
        .create_sync_profile("Bench", "Bench", options.clone())
        .await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let service = SyncCredentials::new(store.clone(), http);
    service
        .save_password(
            "Bench",
            PasswordFields {
                username: Some(endpoints.sf_username.clone()),
                password: Some(SecretString::from(endpoints.sf_password.clone())),
                security_token: Some(SecretString::from(endpoints.sf_token.clone())),
                endpoint: EndpointFields {
                    sandbox: Some(false),
                    login_url: Some(Some(endpoints.sf_login_url.clone())),
                },
            },
        )
        .await?;
    let salesforce = service.client("Bench", ClientOptions::default()).await?;
    let client = ZuoraClient::new(def.resolve(&VariableScope::default())?, TokenCache::Memory)?;
    let engine = Engine::new(store.clone(), client, salesforce);
    let request = |now| RunRequest {
        profile: "Bench".into(),
        now: Some(now),
        ..Default::default()
    };

    let calls = sims.api_used().await?;
    let t = Instant::now();
    let full = engine.run(&request(sims.now().await?)).await?;
    let full = summary(
        "full sync",
        &full,
        t.elapsed(),
        sims.api_used().await? - calls,
    );

    // `sync verify` right after the full sync: every object read from both sides.
    reset_peak_rss();
    let calls = sims.api_used().await?;
    let t = Instant::now();
    let verified = engine
        .verify(&zbridge_sync::engine::VerifyRequest {
            profile: "Bench".into(),
            ..Default::default()
        })
        .await?;
    let seconds = t.elapsed().as_secs_f64();
    let in_org: u64 = verified.objects.iter().map(|o| o.in_org).sum();
    let verify = json!({
        "seconds": seconds,
        "records": in_org,
        "inScope": verified.objects.iter().map(|o| o.in_scope).sum::<u64>(),
        "drifted": verified.drifted(),
        "apiCalls": sims.api_used().await? - calls,
        "peakRssMib": peak_rss_mib(),
    });
    println!(
        "verify: {in_org} org records against Zuora in {seconds:.1}s ({:.0} records/s); drifted: {}; peak RSS {:.0} MiB",
        in_org as f64 / seconds.max(1e-9),
        verified.drifted(),
        peak_rss_mib()
    );

    let changes = (accounts / 100).max(1);
    for object in [
        "Account",
        "Subscription",
        "RatePlanCharge",
        "Invoice",
        "Payment",
    ] {
        sims.mutate(object, changes, Mutation::Update).await?;
    }
    sims.mutate("Subscription", changes / 10 + 1, Mutation::Cancel)
        .await?;
    sims.mutate("Account", changes / 10 + 1, Mutation::Cancel)
        .await?;
    sims.advance_clock(600).await?;
    reset_peak_rss();
    let calls = sims.api_used().await?;
    let t = Instant::now();
    let incremental = engine.run(&request(sims.now().await?)).await?;
    let incremental = summary(
        "incremental sync (1% changed)",
        &incremental,
        t.elapsed(),
        sims.api_used().await? - calls,
    );
    println!(
        "BENCH_JSON {}",
        json!({
            "accounts": accounts,
            "inProcess": sims.in_process(),
            "options": options,
            "full": full,
            "verify": verify,
            "incremental": incremental,
        })
    );
    Ok(())
}
