//! A convergence run (issue 17 §5): the tenant is changed at random (updates, cancellations,
//! deletes, new accounts, CrmIds added, changed and removed, subscription amendments), and
//! `zbridge sync run` runs as a user runs it, through faults on both sides, often killed with
//! SIGKILL at a random moment. Then the faults stop, one clean run goes, and the org is
//! compared with the tenant object by object, by `zbridge sync verify` and by the test's own
//! oracle: missing, extra, duplicated and stale records must all be zero. A run may fail or be
//! killed; it may never lose or duplicate anything.
//!
//! `ZBRIDGE_CHAOS_SEED=n` replays one sequence; the seed is printed.

#[path = "../../zbridge-sync/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zbridge_core::ZuoraService;
use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{Mutation, RunningZuoraSim, ZuoraSim};

const SEED: u64 = 11;
const ACCOUNTS: usize = 60;
const ROUNDS: usize = 7;
const ZUORA_FAULTS: [&str; 6] = [
    "none",
    "connection-reset",
    "server-errors",
    "truncated-file",
    "revoked-token",
    "job-failure",
];
const SALESFORCE_FAULTS: [&str; 4] = ["none", "row-lock", "job-fails", "maintenance"];

fn zbridge(home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .stdin(Stdio::null());
    command
}

async fn ok(home: &Path, args: &[&str]) -> Output {
    let out = zbridge(home).args(args).output().await.unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn setup(home: &Path) -> (RunningZuoraSim, RunningSalesforceSim) {
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
    let url = format!("URL={}", zuora.base_url());
    let secret = zuora.client_secret().to_string();
    let out = zbridge(home)
        .env("SIM_SECRET", &secret)
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
            &url,
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
        home,
        &[
            "sync",
            "profile",
            "create",
            "Main",
            "--connection",
            "Sim",
            "--lag-secs",
            "0",
            "--bulk-threshold",
            "40",
            "--skip-accounts-without-crm-id",
            "true",
        ],
    )
    .await;
    let admin = sf.org(OrgKind::Production).user("admin").unwrap().clone();
    let login = sf.login_url();
    let out = zbridge(home)
        .env("SF_PASSWORD", &admin.password)
        .env("SF_TOKEN", &admin.security_token)
        .args([
            "sf-credentials",
            "edit",
            "password",
            "Main",
            "--username",
            &admin.username,
            "--password-from",
            "env:SF_PASSWORD",
            "--security-token-from",
            "env:SF_TOKEN",
            "--login-url",
            &login,
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (zuora, sf)
}

/// Ids of a Zuora table's rows, with one column's value.
async fn ids_with(
    client: &zbridge_zuora::ZuoraClient,
    table: &str,
    column: &str,
) -> Vec<(String, String)> {
    common::table(client, table, &["Id", column])
        .await
        .into_iter()
        .map(|r| (r["id"].clone(), r[&column.to_ascii_lowercase()].clone()))
        .collect()
}

/// One random change to the tenant; returns what it did.
async fn mutate(
    zuora: &RunningZuoraSim,
    client: &zbridge_zuora::ZuoraClient,
    rng: &mut ChaCha8Rng,
) -> String {
    use Mutation::{Cancel, Delete, Update};
    let count = rng.random_range(1..=3);
    let (object, action) = match rng.random_range(0..12) {
        0 => ("Account", Update),
        1 => ("Account", Cancel),
        2 => ("Subscription", Update),
        3 => ("Subscription", Cancel),
        4 => ("Subscription", Delete),
        5 => ("RatePlanCharge", Update),
        6 => ("Invoice", Update),
        7 => ("Payment", Delete),
        8 => ("Invoice", Delete),
        9 => return crm_id_change(zuora, client, rng).await,
        10 => {
            let accounts = ids_with(client, "Account", "CrmId").await;
            let (id, _) = &accounts[rng.random_range(0..accounts.len())];
            zuora.copy_record(0, "Account", id, 1).unwrap();
            return format!("new account copied from {id}");
        }
        _ => ("RatePlan", Update),
    };
    let done = zuora.mutate(0, object, count, action).map(|ids| ids.len());
    format!("{action:?} {done:?} {object}")
}

/// A CrmId added to an account without one, removed, or changed to another Account.
async fn crm_id_change(
    zuora: &RunningZuoraSim,
    client: &zbridge_zuora::ZuoraClient,
    rng: &mut ChaCha8Rng,
) -> String {
    let accounts = ids_with(client, "Account", "CrmId").await;
    let (id, crm) = &accounts[rng.random_range(0..accounts.len())];
    let crm_ids = seeded_account_ids(SEED, ACCOUNTS);
    let new = match rng.random_range(0..3) {
        0 if !crm.is_empty() => None,
        _ => Some(crm_ids[rng.random_range(0..crm_ids.len())].clone()),
    };
    zuora
        .set_field(0, "Account", id, "CrmId", new.as_deref())
        .unwrap();
    format!("CrmId of {id}: {crm:?} -> {new:?}")
}

/// `zbridge sync run`, killed with SIGKILL after `kill_after` when given.
async fn sync_run(home: &Path, kill_after: Option<Duration>) -> String {
    let mut child = zbridge(home)
        .args(["sync", "run", "Main", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    if let Some(after) = kill_after {
        tokio::select! {
            status = child.wait() => return format!("ended before the kill: {:?}", status.unwrap().code()),
            () = tokio::time::sleep(after) => {}
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        return format!("killed after {} ms", after.as_millis());
    }
    let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("a run ends")
        .unwrap();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 3)),
        "a run exits 0, 1 or 3, never crashes: {code:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    format!(
        "{} {}",
        report["run"]["status"].as_str().unwrap_or("?"),
        report["run"]["message"].as_str().unwrap_or("")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_faults_and_kills_lose_and_duplicate_nothing() {
    common::install_crypto();
    let seed: u64 = std::env::var("ZBRIDGE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(17);
    println!("ZBRIDGE_CHAOS_SEED={seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (zuora, sf) = setup(h).await;
    let (_, client) = common::zuora_client(&zuora, ZuoraService::DataQuery);
    let mut log = Vec::new();
    log.push(format!("first run: {}", sync_run(h, None).await));
    for round in 0..ROUNDS {
        for _ in 0..rng.random_range(3..=6) {
            log.push(mutate(&zuora, &client, &mut rng).await);
        }
        let zf = ZUORA_FAULTS[rng.random_range(0..ZUORA_FAULTS.len())];
        let sff = SALESFORCE_FAULTS[rng.random_range(0..SALESFORCE_FAULTS.len())];
        zuora.set_faults(zf.parse().unwrap());
        sf.set_faults(OrgKind::Production, sff.parse().unwrap());
        let kill = rng
            .random_bool(0.6)
            .then(|| Duration::from_millis(rng.random_range(20..2_500)));
        let outcome = sync_run(h, kill).await;
        log.push(format!(
            "round {round} (Zuora {zf}, Salesforce {sff}): {outcome}"
        ));
        // The test's own reads of the tenant go without faults.
        zuora.set_faults("none".parse().unwrap());
        sf.set_faults(OrgKind::Production, "none".parse().unwrap());
        zuora.advance_clock(Duration::from_secs(60));
    }
    zuora.advance_clock(Duration::from_secs(60));
    let last = ok(h, &["sync", "run", "Main", "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&last.stdout).unwrap();
    assert_eq!(report["run"]["status"], "Finished", "{report:#}\n{log:#?}");

    for line in &log {
        println!("{line}");
    }
    // The product's own check agrees with the test's oracle.
    let verified = zbridge(h)
        .args(["sync", "verify", "Main", "--json"])
        .output()
        .await
        .unwrap();
    let verify: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(
        verified.status.code(),
        Some(0),
        "sync verify finds no drift: {verify:#}\n{log:#?}"
    );
    assert_eq!(verify["drifted"], false);
    let drift = common::drift(&sf, &common::expected(&client).await);
    println!(
        "{:<40} {:>8} {:>6} {:>10} {:>6}",
        "object", "missing", "extra", "duplicated", "stale"
    );
    for (object, d) in &drift {
        println!(
            "{object:<40} {:>8} {:>6} {:>10} {:>6}",
            d.missing, d.extra, d.duplicated, d.stale
        );
    }
    let differences: Vec<&String> = drift.values().flat_map(|d| &d.differences).collect();
    assert!(
        differences.is_empty(),
        "seed {seed}: {} differences: {:#?}\n{log:#?}",
        differences.len(),
        &differences[..differences.len().min(30)]
    );
}
