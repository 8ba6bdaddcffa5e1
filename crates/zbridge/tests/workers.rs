//! `zbridge worker` processes against both simulators running in the test process: several
//! workers on one PostgreSQL database run each due profile exactly once per tick; a worker
//! killed with SIGKILL mid-run is taken over once its lease expires and the org converges;
//! SIGTERM stops a run between batches and releases its lease; `/metrics` speaks the
//! Prometheus text format and shows each profile's drift from its latest `sync verify`.
//!
//! The PostgreSQL tests need `PG_URL` (a fresh database per test, as the store tests); under
//! CI (`CI` set) a missing `PG_URL` fails them.

#[path = "../../zbridge-sync/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use sqlx::Connection;
use tokio::io::AsyncBufReadExt;
use zbridge_core::ZuoraService;
use zbridge_salesforce::SyncCredentials;
use zbridge_salesforce::credentials::{EndpointFields, PasswordFields};
use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{FaultKind, FaultProfile, FaultRule, RunningZuoraSim, Trigger, ZuoraSim};
use zbridge_store::{Home, Store, SyncProfile, SyncRun};

const SEED: u64 = 11;
const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// A fresh PostgreSQL database on `PG_URL`, or `None` (skipped) outside CI without one.
async fn pg_database() -> Option<String> {
    let admin = match std::env::var("PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PG_URL is not: the worker tests on PostgreSQL must run")
        }
        _ => {
            eprintln!("PG_URL is not set: the worker tests on PostgreSQL are skipped");
            return None;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let db = format!("zbw_{}_{nanos}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("PG_URL ends with a database");
    Some(format!("{base}/{db}"))
}

/// Both simulators, a store shared with the `zbridge` processes, and its profiles.
struct World {
    zuora: RunningZuoraSim,
    sf: RunningSalesforceSim,
    home: tempfile::TempDir,
    database_url: Option<String>,
    store: Store,
}

async fn world(accounts: usize, database_url: Option<String>) -> World {
    common::install_crypto();
    let sf = SalesforceSim::builder()
        .seed(SEED)
        .accounts(accounts)
        .start()
        .await
        .unwrap();
    let zuora = ZuoraSim::builder()
        .seed(SEED)
        .accounts(accounts)
        .start_time(Utc::now())
        .job_delay(Duration::from_millis(1))
        .crm_ids(seeded_account_ids(SEED, accounts))
        .start()
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut h = Home::in_dir(home.path());
    h.master_key = Some(SecretString::from(KEY.to_string()));
    h.database_url = database_url.clone();
    let store = Store::open(&h).await.unwrap();
    let (def, _) = common::zuora_client(&zuora, ZuoraService::DataQuery);
    store.create_connection(&def).await.unwrap();
    World {
        zuora,
        sf,
        home,
        database_url,
        store,
    }
}

impl World {
    /// A profile with its Salesforce credentials, scheduled hourly and due now.
    async fn profile(&self, name: &str, options: serde_json::Value) -> SyncProfile {
        let p = self
            .store
            .create_sync_profile(name, "Zuora Sim", options)
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let admin = self
            .sf
            .org(OrgKind::Production)
            .user("admin")
            .unwrap()
            .clone();
        SyncCredentials::new(self.store.clone(), http)
            .save_password(
                name,
                PasswordFields {
                    username: Some(admin.username.clone()),
                    password: Some(SecretString::from(admin.password.clone())),
                    security_token: Some(SecretString::from(admin.security_token.clone())),
                    endpoint: EndpointFields {
                        sandbox: Some(false),
                        login_url: Some(Some(self.sf.login_url())),
                    },
                },
            )
            .await
            .unwrap();
        self.store
            .set_sync_schedule(&p.id, 3600, Utc::now())
            .await
            .unwrap();
        p
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ZBRIDGE_HOME", self.home.path())
            .env("ZBRIDGE_MASTER_KEY", KEY)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .args(args);
        if let Some(url) = &self.database_url {
            cmd.env("ZBRIDGE_DATABASE_URL", url);
        }
        cmd
    }

    /// Starts `zbridge worker` with `args`; its stderr is collected line by line.
    fn worker(&self, args: &[&str]) -> Worker {
        let mut all = vec!["worker"];
        all.extend_from_slice(args);
        let mut child = self
            .command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Worker { child, log }
    }

    async fn runs(&self, profile: &SyncProfile) -> Vec<SyncRun> {
        let mut runs = self
            .store
            .list_sync_runs(Some(&profile.id), 100)
            .await
            .unwrap();
        runs.reverse();
        runs
    }
}

struct Worker {
    child: tokio::process::Child,
    log: Arc<Mutex<String>>,
}

impl Worker {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn pid(&self) -> String {
        self.child.id().unwrap().to_string()
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most `limit`) until the log holds `text`.
    async fn wait_for(&self, text: &str, limit: Duration) {
        wait_until(limit, &format!("the worker logs {text:?}"), || async {
            self.log().contains(text)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
    }

    /// SIGTERM, then the exit code.
    async fn stop(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the worker exits after SIGTERM")
            .unwrap();
        // Let the reader take the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        (status.code(), self.log())
    }
}

/// Polls `check` every 100 ms until it holds, or fails after `limit` naming `what`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("waited {limit:?} for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every profile's runs, oldest first, by profile name.
async fn ended_runs(world: &World, profiles: &[SyncProfile]) -> BTreeMap<String, Vec<SyncRun>> {
    let mut out = BTreeMap::new();
    for p in profiles {
        out.insert(p.name.clone(), world.runs(p).await);
    }
    out
}

fn all_ended(runs: &BTreeMap<String, Vec<SyncRun>>, ticks: usize) -> bool {
    runs.values()
        .all(|r| r.len() >= ticks && r.iter().all(|r| r.finished_at.is_some()))
}

fn slow_jobs(millis: u64) -> FaultProfile {
    FaultProfile {
        name: "slow".into(),
        rules: vec![FaultRule {
            endpoint: "job.*".into(),
            fault: FaultKind::SlowJob { millis },
            trigger: Trigger::Always,
        }],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_run_every_due_profile_exactly_once_per_tick() {
    const PROFILES: usize = 30;
    let Some(url) = pg_database().await else {
        return;
    };
    let w = world(4, Some(url)).await;
    let options = serde_json::json!({"lag_secs": 0, "objects": ["Account"]});
    let mut profiles = Vec::new();
    for i in 0..PROFILES {
        profiles.push(w.profile(&format!("P{i:02}"), options.clone()).await);
    }
    let args = [
        "--poll-secs",
        "1",
        "--concurrency",
        "3",
        "--lease-secs",
        "6",
    ];
    let workers: Vec<Worker> = (0..3).map(|_| w.worker(&args)).collect();

    for tick in 1..=2 {
        if tick == 2 {
            // The next tick, without waiting an hour: every schedule is due again.
            for p in &profiles {
                w.store
                    .set_sync_schedule(&p.id, 3600, Utc::now())
                    .await
                    .unwrap();
            }
        }
        wait_until(Duration::from_secs(40), "every run of the tick", || async {
            all_ended(&ended_runs(&w, &profiles).await, tick)
        })
        .await
        .unwrap_or_else(|e| {
            let logs: Vec<String> = workers.iter().map(Worker::log).collect();
            panic!("tick {tick}: {e}\n{}", logs.join("\n---\n"))
        });
        // Two more polls of every worker: nothing runs a second time.
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        for (name, runs) in ended_runs(&w, &profiles).await {
            assert_eq!(runs.len(), tick, "{name} at tick {tick}: {runs:#?}");
            for r in &runs {
                assert_eq!(r.status, "Finished", "{name}: {r:#?}");
                assert_eq!(r.trigger, "schedule");
            }
            if let [first, second] = &runs[..] {
                assert!(
                    first.finished_at.unwrap() <= second.started_at,
                    "{name}: two runs at once: {runs:#?}"
                );
            }
        }
    }

    let mut claims: HashMap<usize, usize> = HashMap::new();
    for (i, worker) in workers.into_iter().enumerate() {
        let (code, log) = worker.stop().await;
        assert_eq!(code, Some(0), "{log}");
        claims.insert(i, log.matches("claimed '").count());
    }
    assert_eq!(
        claims.values().sum::<usize>(),
        2 * PROFILES,
        "one claim per profile per tick: {claims:?}"
    );
    assert!(
        claims.values().filter(|&&n| n > 0).count() >= 2,
        "the work was shared: {claims:?}"
    );
    for p in &profiles {
        assert_eq!(w.store.sync_lease(&p.id).await.unwrap(), None, "{}", p.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_run_is_taken_over_after_its_lease_expires() {
    let Some(url) = pg_database().await else {
        return;
    };
    let w = world(20, Some(url)).await;
    let p = w.profile("Main", serde_json::json!({"lag_secs": 0})).await;
    // Every Zuora job takes 0.4 s longer, so the first worker is caught mid-run.
    w.zuora.set_faults(slow_jobs(400));
    let args = ["--poll-secs", "1", "--lease-secs", "3"];
    let mut first = w.worker(&args);
    first
        .wait_for("claimed 'Main'", Duration::from_secs(15))
        .await;
    let second = w.worker(&args);
    second.wait_for("started on", Duration::from_secs(15)).await;
    // Killed once the run has committed at least one object (it resumes from there).
    wait_until(Duration::from_secs(20), "a committed object", || async {
        let Some(run) = w.runs(&p).await.into_iter().next() else {
            return false;
        };
        let (_, objects) = w.store.load_sync_run(&run.id).await.unwrap();
        objects.iter().any(|o| o.watermark_after.is_some())
    })
    .await
    .unwrap();
    let run_id = w.runs(&p).await[0].id.clone();
    let lease = w.store.sync_lease(&p.id).await.unwrap().unwrap();
    assert!(lease.live && first.log().contains(&lease.worker_id));
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();
    w.zuora.set_faults(FaultProfile::none());

    wait_until(Duration::from_secs(25), "the resumed run", || async {
        let runs = w.runs(&p).await;
        runs.len() == 2 && runs[1].finished_at.is_some()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", second.log()));
    let runs = w.runs(&p).await;
    assert_eq!(runs[0].id, run_id);
    assert_eq!(runs[0].status, "Failure");
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("interrupted"),
        "{:#?}",
        runs[0]
    );
    let resumed = &runs[1];
    assert_eq!(resumed.status, "Finished", "{resumed:#?}");
    assert_eq!(resumed.trigger, "resume");
    assert!(
        resumed.started_at >= lease.expires_at - chrono::Duration::milliseconds(50),
        "taken over only after the lease expired: {} < {}",
        resumed.started_at,
        lease.expires_at
    );
    // The resumed run read on from the first run's committed watermarks.
    let (_, killed) = w.store.load_sync_run(&runs[0].id).await.unwrap();
    let (_, after) = w.store.load_sync_run(&resumed.id).await.unwrap();
    for done in killed.iter().filter(|o| o.watermark_after.is_some()) {
        if done.watermark_after == done.watermark_before {
            continue;
        }
        let again = after.iter().find(|o| o.object == done.object).unwrap();
        assert_eq!(
            again.watermark_before, done.watermark_after,
            "{}",
            done.object
        );
    }
    assert!(second.log().contains("resuming its interrupted run"));

    // The org holds every expected record once (a duplicate external id fails here).
    let (_, client) = common::zuora_client(&w.zuora, ZuoraService::DataQuery);
    let want = common::expected(&client).await;
    let diffs = common::differences_in(&w.sf, &want);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let (code, log) = second.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(w.store.sync_lease(&p.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_run_between_batches_and_releases_the_lease() {
    let w = world(10, None).await;
    let p = w.profile("Main", serde_json::json!({"lag_secs": 0})).await;
    w.zuora.set_faults(slow_jobs(1_500));
    let worker = w.worker(&["--poll-secs", "1", "--lease-secs", "3"]);
    wait_until(Duration::from_secs(15), "a running run", || async {
        w.runs(&p).await.iter().any(|r| r.status == "Running")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log()));

    // One profile never has two runs at once: `sync run` refuses while the worker holds it.
    let refused = w.command(&["sync", "run", "Main"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sync profile 'Main' is running on worker ") && stderr.contains(":"),
        "{stderr}"
    );

    let (code, log) = worker.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopping: no new runs"), "{log}");
    let runs = w.runs(&p).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert!(
        run.status == "Finished"
            || (run.status == "Failure"
                && run.message.as_deref().unwrap_or("").starts_with("stopped")),
        "{run:#?}"
    );
    assert_eq!(w.store.sync_lease(&p.id).await.unwrap(), None, "released");

    // The profile is free again: a manual run takes the lease and finishes what was left.
    w.zuora.set_faults(FaultProfile::none());
    let out = w.command(&["sync", "run", "Main"]).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.store.sync_lease(&p.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_lease_is_taken_stops_its_run_at_once() {
    let w = world(10, None).await;
    let p = w.profile("Main", serde_json::json!({"lag_secs": 0})).await;
    w.zuora.set_faults(slow_jobs(1_500));
    let worker = w.worker(&["--poll-secs", "1", "--lease-secs", "3"]);
    wait_until(Duration::from_secs(15), "a running run", || async {
        w.runs(&p).await.iter().any(|r| r.status == "Running")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log()));
    // As if the worker had stalled past its lease: it expires and someone else takes it.
    let db = w.home.path().join("zbridge.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE sync_leases SET expires_at = 0")
        .execute(&mut conn)
        .await
        .unwrap();
    let thief = w
        .store
        .acquire_sync_lease(&p, "thief", Duration::from_secs(60))
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), "the run to stop", || async {
        w.runs(&p).await[0].finished_at.is_some()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log()));
    let run = &w.runs(&p).await[0];
    assert_eq!(run.status, "Failure", "{run:#?}");
    assert!(
        run.message.as_deref().unwrap_or("").starts_with("stopped"),
        "{run:#?}"
    );
    let (code, log) = worker.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("was taken by another worker; stopping its run now"),
        "{log}"
    );
    assert_eq!(
        w.store.sync_lease(&p.id).await.unwrap().unwrap().worker_id,
        "thief",
        "the worker did not drop the new holder's lease"
    );
    assert!(w.store.release_sync_lease(&thief).await.unwrap());
}

/// One sample of the exposition: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format strictly enough to catch a malformed line: HELP and TYPE
/// come before a family's samples, and every sample belongs to a declared family.
fn parse_exposition(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let mut types = HashMap::new();
    let mut helps = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{line}");
            helps.insert(name.to_string(), help.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(helps.contains_key(name), "HELP before TYPE: {line}");
            types.insert(name.to_string(), kind.to_string());
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                    let labels = body
                        .split("\",")
                        .filter(|l| !l.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            let kind = types
                .get(&name)
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            samples.push((name, labels, value));
        }
    }
    (types, samples)
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name && label.is_none_or(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
        })
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"))
        .2
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let w = world(6, None).await;
    let p = w.profile("Main", serde_json::json!({"lag_secs": 0})).await;
    let worker = w.worker(&[
        "--poll-secs",
        "1",
        "--lease-secs",
        "3",
        "--concurrency",
        "2",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    worker.wait_for("/metrics", Duration::from_secs(15)).await;
    let log = worker.log();
    let url = log
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/metrics"))
        .unwrap()
        .to_string();
    wait_until(Duration::from_secs(20), "the run", || async {
        w.runs(&p).await.iter().any(|r| r.finished_at.is_some())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log()));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // The run's counts are added just after the run is stored.
    let scraped = &Mutex::new(String::new());
    let (http, url) = (&http, &url);
    wait_until(
        Duration::from_secs(5),
        "the run's counts",
        move || async move {
            let response = http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
            let text = response.text().await.unwrap();
            let done = text.contains("zbridge_sync_runs_total{status=\"finished\"} 1")
                && text.contains("zbridge_worker_active_runs 0");
            *scraped.lock().unwrap() = text;
            done
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", scraped.lock().unwrap()));
    let text = scraped.lock().unwrap().clone();
    let (types, samples) = parse_exposition(&text);
    for family in [
        "zbridge_sync_runs_total",
        "zbridge_sync_records_read_total",
        "zbridge_sync_records_upserted_total",
        "zbridge_sync_records_deleted_total",
        "zbridge_sync_records_failed_total",
        "zbridge_sync_records_skipped_total",
        "zbridge_salesforce_api_calls_total",
        "zbridge_salesforce_bulk_jobs_total",
        "zbridge_worker_errors_total",
        "zbridge_worker_lease_claims_total",
        "zbridge_worker_lease_renewals_total",
        "zbridge_worker_leases_lost_total",
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some("counter"),
            "{family}"
        );
    }
    assert_eq!(types["zbridge_worker_active_runs"], "gauge");
    let runs = w.runs(&p).await;
    let (_, objects) = w.store.load_sync_run(&runs[0].id).await.unwrap();
    let upserted: i64 = objects.iter().map(|o| o.upserted).sum();
    let api_calls: i64 = objects.iter().map(|o| o.api_calls).sum();
    assert!(upserted > 0 && api_calls > 0);
    assert_eq!(
        value(&samples, "zbridge_sync_records_upserted_total", None),
        upserted as f64
    );
    assert_eq!(
        value(&samples, "zbridge_salesforce_api_calls_total", None),
        api_calls as f64
    );
    assert_eq!(
        value(
            &samples,
            "zbridge_sync_runs_total",
            Some(("status", "failure"))
        ),
        0.0
    );
    assert_eq!(
        value(&samples, "zbridge_worker_lease_claims_total", None),
        1.0
    );
    assert_eq!(
        value(&samples, "zbridge_worker_leases_lost_total", None),
        0.0
    );
    assert_eq!(value(&samples, "zbridge_worker_concurrency", None), 2.0);
    let info = samples
        .iter()
        .find(|(n, _, _)| n == "zbridge_worker_info")
        .unwrap();
    assert!(
        log.contains(&info.1["worker_id"]),
        "the id is the one logged"
    );
    let (code, log) = worker.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

/// The `http://…/metrics` address a worker logged.
fn metrics_url(worker: &Worker) -> String {
    worker
        .log()
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in\n{}", worker.log()))
        .to_string()
}

/// One scrape, checked for the Prometheus text format (version 0.0.4).
async fn scrape(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.unwrap()
}

/// The drift gauge of one profile, object and kind, if exposed.
fn drift(samples: &[Sample], profile: &str, object: &str, kind: &str) -> Option<f64> {
    let want: BTreeMap<String, String> = [("profile", profile), ("object", object), ("kind", kind)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, labels, _)| n == "zbridge_sync_drift_records" && *labels == want)
        .map(|(_, _, v)| *v)
        .collect();
    assert!(found.len() <= 1, "one series per label set: {found:?}");
    found.first().copied()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_the_drift_of_each_profiles_latest_verify() {
    let w = world(2, None).await;
    let options = serde_json::json!({"lag_secs": 0});
    let main = w.profile("Main", options.clone()).await;
    let other = w.profile("Never verified", options).await;
    for p in [&main, &other] {
        w.store.remove_sync_schedule(&p.id).await.unwrap();
    }
    let report = |account: [u64; 4], invoice: [u64; 4]| {
        let entry = |object: &str, target: &str, [missing, extra, duplicated, stale]: [u64; 4]| {
            serde_json::json!({
                "object": object, "target": target, "in_scope": 10, "in_org": 10 + extra,
                "missing": missing, "extra": extra, "duplicated": duplicated, "stale": stale,
                "failing": 1,
            })
        };
        serde_json::json!([
            entry("Account", "Zuora__CustomerAccount__c", account),
            entry("Invoice", "Zuora__ZInvoice__c", invoice),
        ])
    };
    w.store
        .save_sync_verification(&main.id, true, &report([1, 0, 2, 3], [0, 4, 0, 0]))
        .await
        .unwrap();
    let worker = w.worker(&["--poll-secs", "1", "--metrics-addr", "127.0.0.1:0"]);
    worker.wait_for("/metrics", Duration::from_secs(15)).await;
    let (http, url) = (
        reqwest::Client::builder().no_proxy().build().unwrap(),
        metrics_url(&worker),
    );

    let text = scrape(&http, &url).await;
    let (types, samples) = parse_exposition(&text);
    assert_eq!(types["zbridge_sync_drift_records"], "gauge", "{text}");
    assert_eq!(
        types["zbridge_sync_verified_timestamp_seconds"], "gauge",
        "{text}"
    );
    let expected = [
        ("Account", [1.0, 0.0, 2.0, 3.0]),
        ("Invoice", [0.0, 4.0, 0.0, 0.0]),
    ];
    for (object, counts) in expected {
        for (kind, count) in ["missing", "extra", "duplicated", "stale"]
            .into_iter()
            .zip(counts)
        {
            assert_eq!(
                drift(&samples, "Main", object, kind),
                Some(count),
                "{object} {kind}\n{text}"
            );
        }
    }
    let drift_series: Vec<&Sample> = samples
        .iter()
        .filter(|(n, _, _)| n == "zbridge_sync_drift_records")
        .collect();
    assert_eq!(
        drift_series.len(),
        8,
        "4 kinds of 2 objects: {drift_series:#?}"
    );
    assert!(
        !text.contains("Never verified") && !text.contains("failing") && !text.contains("in_org"),
        "only verified profiles, only the four kinds: {text}"
    );
    let stored = w.store.sync_verifications(Some(&main.id)).await.unwrap();
    let at = stored[0].verified_at.timestamp_millis() as f64 / 1000.0;
    let shown = value(
        &samples,
        "zbridge_sync_verified_timestamp_seconds",
        Some(("profile", "Main")),
    );
    assert!((shown - at).abs() < 0.002, "{shown} != {at}");
    assert_eq!(
        value(
            &samples,
            "zbridge_worker_errors_total",
            Some(("kind", "metrics"))
        ),
        0.0
    );

    // Read at each scrape: a newer verify (after a repair) shows at once, without a restart.
    w.store
        .save_sync_verification(&main.id, false, &report([0; 4], [0; 4]))
        .await
        .unwrap();
    let text = scrape(&http, &url).await;
    let (_, samples) = parse_exposition(&text);
    for object in ["Account", "Invoice"] {
        for kind in ["missing", "extra", "duplicated", "stale"] {
            assert_eq!(drift(&samples, "Main", object, kind), Some(0.0), "{text}");
        }
    }
    let (code, log) = worker.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("drift counts"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_flags_are_checked() {
    let w = world(1, None).await;
    for (args, message) in [
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--lease-secs", "1"], "--lease-secs must be at least 3"),
    ] {
        let mut all = vec!["worker"];
        all.extend_from_slice(&args);
        let out = w.command(&all).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(message));
    }
}
