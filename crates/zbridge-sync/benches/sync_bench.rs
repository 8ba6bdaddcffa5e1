//! Benchmark (not a test): a full 360 sync of a simulated tenant into a simulated org, then an
//! incremental sync after 1 % of the records changed. Reports records/s, Salesforce API calls
//! and Bulk jobs, and the peak RSS of the process (both simulators run in it, so the figure is
//! an upper bound for the engine).
//!
//! `cargo bench -p zbridge-sync --bench sync_bench` (100,000 accounts);
//! `ZBRIDGE_BENCH_ACCOUNTS=5000 cargo bench …` for a quicker look.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_salesforce::credentials::{EndpointFields, PasswordFields};
use zbridge_salesforce::{ClientOptions, SyncCredentials};
use zbridge_sim::salesforce::{OrgKind, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{Mutation, ZuoraSim};
use zbridge_store::{Home, Store};
use zbridge_sync::{Engine, RunReport, RunRequest};
use zbridge_zuora::{TokenCache, ZuoraClient};

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

fn summary(label: &str, report: &RunReport, elapsed: Duration, calls: u64) {
    let written: i64 = report.objects.iter().map(|o| o.upserted + o.deleted).sum();
    let read: i64 = report.objects.iter().map(|o| o.read).sum();
    let jobs: i64 = report.objects.iter().map(|o| o.bulk_jobs).sum();
    println!(
        "{label}: {} in {:.1}s; {read} rows read, {written} records written ({:.0} records/s); {calls} Salesforce API calls, {jobs} Bulk jobs; {} failed; peak RSS {:.0} MiB",
        report.run.status,
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64().max(0.001),
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
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let accounts: usize = std::env::var("ZBRIDGE_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed = 3;
    let started = Instant::now();
    let sf = SalesforceSim::builder()
        .seed(seed)
        .accounts(accounts)
        .daily_api_allocation(10_000_000)
        .start()
        .await
        .expect("Salesforce simulator");
    let zuora = ZuoraSim::builder()
        .seed(seed)
        .accounts(accounts)
        .job_delay(Duration::from_millis(1))
        .crm_ids(seeded_account_ids(seed, accounts))
        .start()
        .await
        .expect("Zuora simulator");
    println!(
        "tenant of {accounts} accounts generated in {:.1}s: {:?}",
        started.elapsed().as_secs_f64(),
        zuora.row_counts()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(SecretString::from("44".repeat(32)));
    let store = Store::open(&home).await.expect("store");
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Bench").expect("name"));
    def.service = ZuoraService::DataQuery.as_str().into();
    def.client_id = zuora.client_id().into();
    def.client_secret = Some(SecretString::from(zuora.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(zuora.base_url().to_string()))
        .expect("URL");
    store.create_connection(&def).await.expect("connection");
    store
        .create_sync_profile("Bench", "Bench", serde_json::json!({"lag_secs": 60}))
        .await
        .expect("profile");
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let service = SyncCredentials::new(store.clone(), http);
    let admin = sf
        .org(OrgKind::Production)
        .user("admin")
        .expect("admin")
        .clone();
    service
        .save_password(
            "Bench",
            PasswordFields {
                username: Some(admin.username.clone()),
                password: Some(SecretString::from(admin.password.clone())),
                security_token: Some(SecretString::from(admin.security_token.clone())),
                endpoint: EndpointFields {
                    sandbox: Some(false),
                    login_url: Some(Some(sf.login_url())),
                },
            },
        )
        .await
        .expect("credentials");
    let salesforce = service
        .client("Bench", ClientOptions::default())
        .await
        .expect("client");
    let client = ZuoraClient::new(
        def.resolve(&VariableScope::default()).expect("resolve"),
        TokenCache::Memory,
    )
    .expect("zuora client");
    let engine = Engine::new(store.clone(), client, salesforce);
    let request = |now| RunRequest {
        profile: "Bench".into(),
        now: Some(now),
        ..Default::default()
    };

    let calls = sf.api_used(OrgKind::Production);
    let t = Instant::now();
    let full = engine.run(&request(zuora.now())).await.expect("full run");
    summary(
        "full sync",
        &full,
        t.elapsed(),
        sf.api_used(OrgKind::Production) - calls,
    );

    let changes = (accounts / 100).max(1);
    for (object, n) in [
        ("Account", changes),
        ("Subscription", changes),
        ("RatePlanCharge", changes),
        ("Invoice", changes),
        ("Payment", changes),
    ] {
        zuora
            .mutate(0, object, n, Mutation::Update)
            .expect("mutate");
    }
    zuora
        .mutate(0, "Subscription", changes / 10 + 1, Mutation::Cancel)
        .expect("cancel");
    zuora
        .mutate(0, "Account", changes / 10 + 1, Mutation::Cancel)
        .expect("cancel");
    zuora.advance_clock(Duration::from_secs(600));
    let calls = sf.api_used(OrgKind::Production);
    let t = Instant::now();
    let incremental = engine
        .run(&request(zuora.now()))
        .await
        .expect("incremental run");
    summary(
        "incremental sync (1% changed)",
        &incremental,
        t.elapsed(),
        sf.api_used(OrgKind::Production) - calls,
    );
}
