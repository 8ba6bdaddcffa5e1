//! `zbridge sync …` as a user runs it, against both simulators running in the test process:
//! profiles with options, runs, history, errors, cleanup, schedules and the worker.

#[path = "../../zbridge-sync/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{Mutation, RunningZuoraSim, ZuoraSim};

const SEED: u64 = 5;
const ACCOUNTS: usize = 20;

async fn run(home: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .stdin(Stdio::null())
        .args(args)
        .output()
        .await
        .expect("run zbridge")
}

async fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Sims {
    zuora: RunningZuoraSim,
    sf: RunningSalesforceSim,
}

async fn setup() -> (tempfile::TempDir, Sims) {
    let sf = SalesforceSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .start()
        .await
        .unwrap();
    let zuora = ZuoraSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .start_time(chrono::Utc::now())
        .job_delay(Duration::from_millis(1))
        .crm_ids(seeded_account_ids(SEED, ACCOUNTS))
        .start()
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let secret = zuora.client_secret().to_string();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", h)
        .env("SIM_SECRET", &secret)
        .stdin(Stdio::null())
        .args([
            "connection",
            "create",
            "Sim",
            "--service",
            "DataQuery",
            "--client-id",
            zuora.client_id(),
            "--client-secret-from",
            "env:SIM_SECRET",
            "--set",
            &format!("URL={}", zuora.base_url()),
            "--set",
            "PollInterval=1",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(
        h,
        &[
            "sync",
            "profile",
            "create",
            "Main",
            "--connection",
            "Sim",
            "--lag-secs",
            "0",
            "--skip-accounts-without-crm-id",
            "true",
        ],
    )
    .await;
    let admin = sf.org(OrgKind::Production).user("admin").unwrap().clone();
    ok(
        h,
        &[
            "sf-credentials",
            "edit",
            "password",
            "Main",
            "--username",
            &admin.username,
            "--password",
            &admin.password,
            "--security-token",
            &admin.security_token,
            "--login-url",
            &sf.login_url(),
        ],
    )
    .await;
    (home, Sims { zuora, sf })
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn count(sims: &Sims, object: &str) -> usize {
    sims.sf
        .records(OrgKind::Production, object)
        .unwrap_or_default()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_history_errors_and_cleanup() {
    let (home, sims) = setup().await;
    let h = home.path();
    let shown = json(&ok(h, &["sync", "profile", "show", "Main", "--json"]).await);
    assert_eq!(shown["options"]["lag_secs"], 0);
    ok(
        h,
        &[
            "sync",
            "profile",
            "edit",
            "Main",
            "--subscription-statuses",
            "Active,Cancelled",
        ],
    )
    .await;
    let shown = json(&ok(h, &["sync", "profile", "show", "Main", "--json"]).await);
    assert_eq!(
        shown["options"]["subscription_statuses"],
        serde_json::json!(["Active", "Cancelled"])
    );
    let bad = run(h, &["sync", "profile", "edit", "Main", "--objects", "Nope"]).await;
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let first = json(&ok(h, &["sync", "run", "Main", "--json"]).await);
    assert_eq!(first["run"]["status"], "Finished", "{first:#}");
    assert_eq!(
        first["run"]["full"], true,
        "not asked for, but the first run reads all and is labelled full"
    );
    let accounts = count(&sims, "Zuora__CustomerAccount__c");
    assert!(accounts > 5, "{accounts}");
    let objects = first["objects"].as_array().unwrap();
    let account = objects.iter().find(|o| o["object"] == "Account").unwrap();
    assert_eq!(account["upserted"].as_u64().unwrap() as usize, accounts);
    assert!(account["api_calls"].as_i64().unwrap() > 0);

    // One account gets a malformed CrmId: a needs-fix failure, listed by `sync errors`.
    let ids = sims
        .zuora
        .mutate(0, "Account", 1, Mutation::Update)
        .unwrap();
    sims.zuora
        .set_field(0, "Account", &ids[0], "CrmId", Some("001BOGUS"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = json(&ok(h, &["sync", "run", "Main", "--json"]).await);
    assert_eq!(
        second["run"]["status"], "Finished with Errors",
        "{second:#}"
    );
    let run_id = second["run"]["id"].as_str().unwrap().to_string();
    let csv = ok(h, &["sync", "errors", &run_id[..8], "--csv"]).await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("object,external_id,operation,code,retry_class,status_code,message,fields")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("Account,{},upsert,DACO-02,needs_fix", ids[0])),
        "{row}"
    );
    let table = ok(h, &["sync", "history", &run_id]).await;
    assert!(
        table.contains("Account") && table.contains("API calls"),
        "{table}"
    );
    let list = json(&ok(h, &["sync", "history", "--json"]).await);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Not retried while the record does not change: the next run reads nothing for it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let third = json(&ok(h, &["sync", "run", "Main", "--json"]).await);
    assert_eq!(third["run"]["status"], "Finished", "{third:#}");

    let cleanup = json(&ok(h, &["sync", "cleanup", "Main", "--yes", "--json"]).await);
    assert_eq!(cleanup["run"]["status"], "Finished", "{cleanup:#}");
    for object in [
        "Zuora__CustomerAccount__c",
        "Zuora__Subscription__c",
        "Zuora__SubscriptionProductCharge__c",
        "Zuora__ZInvoice__c",
        "zqu__ProductRatePlan__c",
    ] {
        assert_eq!(count(&sims, object), 0, "{object} after cleanup");
    }
    let after = json(&ok(h, &["sync", "run", "Main", "--json"]).await);
    let account = after["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "Account")
        .unwrap()
        .clone();
    assert!(
        account["watermark_before"].is_null(),
        "after cleanup the run is full: {account:#}"
    );
    assert_eq!(count(&sims, "Zuora__CustomerAccount__c"), accounts - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_is_run_by_the_worker() {
    let (home, sims) = setup().await;
    let h = home.path();
    let bad = run(h, &["sync", "schedule", "Main", "--every", "soon"]).await;
    assert_eq!(bad.status.code(), Some(2));
    ok(h, &["sync", "schedule", "Main", "--every", "30m"]).await;
    let shown = json(&ok(h, &["sync", "profile", "show", "Main", "--json"]).await);
    assert_eq!(shown["options"]["schedule_secs"], 1800);
    ok(h, &["worker", "--once", "--json"]).await;
    assert!(count(&sims, "Zuora__CustomerAccount__c") > 0);
    let runs = json(&ok(h, &["sync", "history", "--json"]).await);
    assert_eq!(runs[0]["trigger"], "schedule");
    // Not due again for 30 minutes.
    ok(h, &["worker", "--once"]).await;
    let runs = json(&ok(h, &["sync", "history", "--json"]).await);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    ok(h, &["sync", "schedule", "Main", "--off"]).await;
}

/// `zbridge sync run` killed with SIGKILL at ten points of its work, with changes made in
/// Zuora between the attempts, then run to the end: the org holds exactly what the mapping
/// says, with no duplicate and no lost change.
#[tokio::test(flavor = "multi_thread")]
async fn runs_killed_at_random_points_converge_when_rerun() {
    let (home, sims) = setup().await;
    let h = home.path();
    ok(h, &["sync", "profile", "edit", "Main", "--batch-size", "3"]).await;
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let actions = [Mutation::Update, Mutation::Cancel, Mutation::Delete];
    let objects = [
        "Account",
        "Subscription",
        "RatePlanCharge",
        "Invoice",
        "Payment",
    ];
    let mut killed = 0;
    for _ in 0..10 {
        for _ in 0..3 {
            let object = objects[next(objects.len() as u64) as usize];
            let action = actions[next(3) as usize];
            let _ = sims.zuora.mutate(0, object, 1, action);
        }
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ZBRIDGE_HOME", h)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .args(["sync", "run", "Main"])
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100 + next(2_500))).await;
        if child.try_wait().unwrap().is_none() {
            child.start_kill().unwrap();
            killed += 1;
        }
        child.wait().await.unwrap();
    }
    assert!(
        killed >= 5,
        "only {killed} runs were still going when killed"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let last = json(&ok(h, &["sync", "run", "Main", "--json"]).await);
    assert_eq!(last["run"]["status"], "Finished", "{last:#}");
    let runs = json(&ok(h, &["sync", "history", "--json"]).await);
    let interrupted = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "Failure")
        .count();
    assert!(
        interrupted >= killed,
        "killed runs are recorded as interrupted: {runs:#}"
    );
    assert!(
        !runs
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "Running")
    );
    let (_, client) = common::zuora_client(&sims.zuora, zbridge_core::ZuoraService::DataQuery);
    let want = common::expected(&client).await;
    let diffs = common::differences_in(&sims.sf, &want);
    assert!(
        diffs.is_empty(),
        "{} differences: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
}
