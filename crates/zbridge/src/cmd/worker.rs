//! `zbridge worker`: runs the scheduled syncs that are due, any number of workers on one
//! database (PostgreSQL for workers on several machines).
//!
//! A worker claims due profiles with leases ([`Store::claim_sync_profiles`]), runs up to
//! `--concurrency` of them at once, renews each lease while its run works, and releases it at
//! the end. When a renewal finds the lease taken, the run is stopped at once. A worker that
//! dies stops renewing; once its leases expire another worker claims those profiles and
//! resumes their runs from the committed checkpoints. SIGTERM or Ctrl-C stops claiming,
//! lets each run finish its batch in flight, releases the leases and exits 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use clap::Args;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zbridge_store::{ClaimedProfile, LeaseEvent, Store, SyncVerification};
use zbridge_sync::RunReport;

use crate::exit::UsageError;

/// `zbridge worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Run what is due now, wait for those runs, and exit.
    #[arg(long)]
    pub once: bool,
    /// How often to look for due schedules, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub poll_secs: u64,
    /// How many profiles this worker runs at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// How long a lease lives without renewal, in seconds (renewed every third of it). A
    /// profile whose worker died is taken over after this long.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub lease_secs: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

/// Runs the worker until SIGTERM or Ctrl-C (or, with `--once`, until nothing is due).
pub async fn run(args: WorkerArgs, json: bool) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    if args.lease_secs < 3 {
        return Err(UsageError(
            "--lease-secs must be at least 3 (the lease is renewed every third of it)".into(),
        )
        .into());
    }
    let store = super::open_store().await?;
    let metrics = Arc::new(Metrics::new(args.concurrency, Some(store.clone())));
    let worker = Worker {
        id: zbridge_store::this_worker_id().to_string(),
        store,
        ttl: Duration::from_secs(args.lease_secs),
        metrics,
        json,
    };
    if let Some(addr) = args.metrics_addr {
        let bound = serve_metrics(addr, worker.metrics.clone()).await?;
        worker.log(&format!("metrics at http://{bound}/metrics"));
    }
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone(), worker.id.clone());
    worker.log(&format!(
        "started on {:?}; up to {} run(s) at once, leases of {} s",
        worker.store.database_kind(),
        args.concurrency,
        args.lease_secs
    ));
    worker.claim_and_run(&args, &shutdown).await;
    worker.store.close().await;
    worker.log("stopped");
    if args.once && worker.metrics.errors("claim") > 0 {
        anyhow::bail!("could not look for due profiles (see above); nothing may have run");
    }
    Ok(())
}

/// Cancels `shutdown` on the first SIGTERM or Ctrl-C; a second one exits at once (the leases
/// then expire on their own).
fn watch_signals(shutdown: CancellationToken, id: String) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    eprintln!("worker {id}: cannot watch SIGTERM: {e}");
                    return;
                }
            };
        for signals in 0.. {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            if signals > 0 {
                eprintln!("worker {id}: stopping at once; its leases expire on their own");
                std::process::exit(130);
            }
            eprintln!(
                "worker {id}: stopping: no new runs; the runs in flight finish their batch and release their leases (signal again to stop at once)"
            );
            shutdown.cancel();
        }
    });
}

struct Worker {
    id: String,
    store: Store,
    ttl: Duration,
    metrics: Arc<Metrics>,
    json: bool,
}

impl Worker {
    fn log(&self, message: &str) {
        eprintln!("worker {}: {message}", self.id);
    }

    /// The claim loop: fills free run slots with claimed profiles, and wakes when a run ends,
    /// at every poll, or on shutdown (then waits for the runs in flight).
    async fn claim_and_run(&self, args: &WorkerArgs, shutdown: &CancellationToken) {
        let mut runs: JoinSet<()> = JoinSet::new();
        let poll = Duration::from_secs(args.poll_secs.max(1));
        while !shutdown.is_cancelled() {
            let free = args.concurrency.saturating_sub(runs.len());
            for claim in self.claim(free).await {
                self.start(&mut runs, claim, shutdown.child_token());
            }
            if args.once && runs.is_empty() {
                break;
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                Some(ended) = runs.join_next(), if !runs.is_empty() => self.check_ended(ended),
                _ = tokio::time::sleep(poll), if !args.once => {}
            }
        }
        if !runs.is_empty() {
            self.log(&format!("waiting for {} run(s) to stop", runs.len()));
        }
        while let Some(ended) = runs.join_next().await {
            self.check_ended(ended);
        }
    }

    async fn claim(&self, free: usize) -> Vec<ClaimedProfile> {
        if free == 0 {
            return Vec::new();
        }
        match self
            .store
            .claim_sync_profiles(&self.id, self.ttl, free)
            .await
        {
            Ok(claims) => claims,
            Err(e) => {
                self.metrics.error("claim");
                self.log(&format!("cannot claim due profiles: {e}"));
                Vec::new()
            }
        }
    }

    fn check_ended(&self, ended: Result<(), tokio::task::JoinError>) {
        if let Err(e) = ended {
            self.metrics.error("run");
            self.log(&format!("a run stopped abnormally: {e}"));
        }
    }

    /// Starts a claimed profile's run on a blocking thread (the engine's future is not `Send`,
    /// so it cannot be a task of its own; the thread drives it with this runtime's handle).
    fn start(&self, runs: &mut JoinSet<()>, claim: ClaimedProfile, stop: CancellationToken) {
        self.metrics.lease_claims.inc();
        let why = if claim.resume {
            "resuming its interrupted run"
        } else {
            "due"
        };
        self.log(&format!(
            "claimed '{}' ({why}); lease until {}",
            claim.lease.profile_name,
            claim.lease.expires_at.format("%H:%M:%S%.3f")
        ));
        let run = LeasedRun {
            id: self.id.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            json: self.json,
        };
        let handle = tokio::runtime::Handle::current();
        runs.spawn_blocking(move || handle.block_on(run.run(claim, stop)));
    }
}

/// One claimed run and what it reports to.
struct LeasedRun {
    id: String,
    store: Store,
    metrics: Arc<Metrics>,
    json: bool,
}

impl LeasedRun {
    fn log(&self, message: &str) {
        eprintln!("worker {}: {message}", self.id);
    }

    /// Keeps the lease while the run works, stops the run at once if the lease is lost, and
    /// releases the lease at the end.
    async fn run(self, claim: ClaimedProfile, stop: CancellationToken) {
        let name = claim.lease.profile_name.clone();
        let trigger = if claim.resume && !claim.due {
            "resume"
        } else {
            "schedule"
        };
        self.metrics.active_runs.inc();
        let keeper = {
            let (metrics, stop, id) = (self.metrics.clone(), stop.clone(), self.id.clone());
            self.store
                .keep_sync_lease(claim.lease, move |event| match event {
                    LeaseEvent::Renewed(_) => {
                        metrics.lease_renewals.inc();
                    }
                    LeaseEvent::RenewFailed(why) => {
                        metrics.error("renew");
                        eprintln!("worker {id}: lease renewal failed: {why}");
                    }
                    LeaseEvent::Lost(why) => {
                        metrics.leases_lost.inc();
                        eprintln!("worker {id}: {why}; stopping its run now");
                        stop.cancel();
                    }
                })
        };
        let started = Instant::now();
        let result = super::sync::run_once(&self.store, &name, false, &[], trigger, stop).await;
        match &result {
            Ok(report) => self.report(&name, report, started),
            Err(e) => {
                self.metrics.count_run("error");
                self.metrics.error("run");
                self.log(&format!(
                    "'{name}' could not run: {}",
                    crate::exit::render(e)
                ));
            }
        }
        let lost = keeper.is_lost();
        match keeper.release().await {
            Ok(true) => {}
            Ok(false) if lost => {}
            Ok(false) => self.log(&format!("the lease on '{name}' was gone at the end")),
            Err(e) => {
                self.metrics.error("release");
                self.log(&format!(
                    "cannot release the lease on '{name}' (it expires on its own): {e}"
                ));
            }
        }
        self.metrics.active_runs.dec();
    }

    fn report(&self, name: &str, report: &RunReport, started: Instant) {
        self.metrics.count_report(report);
        let sum = |f: fn(&zbridge_store::ObjectStats) -> i64| -> i64 {
            report.objects.iter().map(f).sum()
        };
        self.log(&format!(
            "'{name}' {}{} in {:.1} s: read {}, upserted {}, deleted {}, failed {}",
            report.run.status,
            report
                .run
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64(),
            sum(|o| o.read),
            sum(|o| o.upserted),
            sum(|o| o.deleted),
            sum(|o| o.failed),
        ));
        if self.json {
            match serde_json::to_string(report) {
                Ok(line) => println!("{line}"),
                Err(e) => self.log(&format!("cannot print the report: {e}")),
            }
        }
    }
}

/// The `kind` labels of `zbridge_worker_errors_total`.
const ERROR_KINDS: [&str; 5] = ["claim", "run", "renew", "release", "metrics"];

/// The status labels of `zbridge_sync_runs_total`: the run's stored status, or `error` when
/// the run could not start (no credentials, the connection is gone, ...).
const RUN_STATUSES: [&str; 4] = ["finished", "finished_with_errors", "failure", "error"];

/// The `kind` labels of `zbridge_sync_drift_records`: the counts of a `sync verify` report.
const DRIFT_KINDS: [&str; 4] = ["missing", "extra", "duplicated", "stale"];

/// How long a scrape waits for the drift counts before it answers without them.
const DRIFT_READ_LIMIT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabel {
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftLabels {
    profile: String,
    object: String,
    kind: &'static str,
}

/// What `/metrics` shows: counters since the worker started and gauges, in a
/// `prometheus-client` registry (each field shares its value with the registered copy), plus
/// the drift counts of each profile's latest `sync verify`, read from the store per scrape.
struct Metrics {
    worker_id: String,
    /// Where the drift counts are read from (none: no drift metrics).
    store: Option<Store>,
    registry: Registry,
    runs: Family<StatusLabel, Counter>,
    read: Counter,
    upserted: Counter,
    deleted: Counter,
    failed: Counter,
    skipped: Counter,
    api_calls: Counter,
    bulk_jobs: Counter,
    errors: Family<KindLabel, Counter>,
    lease_claims: Counter,
    lease_renewals: Counter,
    leases_lost: Counter,
    active_runs: Gauge,
}

impl Metrics {
    fn new(concurrency: usize, store: Option<Store>) -> Self {
        let worker_id = zbridge_store::this_worker_id().to_string();
        let m = Metrics {
            worker_id,
            store,
            registry: Registry::default(),
            runs: Family::default(),
            read: Counter::default(),
            upserted: Counter::default(),
            deleted: Counter::default(),
            failed: Counter::default(),
            skipped: Counter::default(),
            api_calls: Counter::default(),
            bulk_jobs: Counter::default(),
            errors: Family::default(),
            lease_claims: Counter::default(),
            lease_renewals: Counter::default(),
            leases_lost: Counter::default(),
            active_runs: Gauge::default(),
        };
        // Every label value is shown from the start, at 0.
        for status in RUN_STATUSES {
            m.runs.get_or_create_owned(&StatusLabel { status });
        }
        for kind in ERROR_KINDS {
            m.errors.get_or_create_owned(&KindLabel { kind });
        }
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder appends it (and a full stop
        // to each help text).
        registry.register(
            "zbridge_worker",
            "This worker (always 1), labelled with its id",
            Info::new(vec![("worker_id".to_string(), m.worker_id.clone())]),
        );
        registry.register(
            "zbridge_sync_runs",
            "Sync runs this worker ended, by status (error: the run could not start)",
            m.runs.clone(),
        );
        for (name, help, counter) in [
            (
                "zbridge_sync_records_read",
                "Rows read from Zuora by this worker's runs",
                &m.read,
            ),
            (
                "zbridge_sync_records_upserted",
                "Records upserted into Salesforce by this worker's runs",
                &m.upserted,
            ),
            (
                "zbridge_sync_records_deleted",
                "Records deleted from Salesforce by this worker's runs",
                &m.deleted,
            ),
            (
                "zbridge_sync_records_failed",
                "Records that failed in this worker's runs",
                &m.failed,
            ),
            (
                "zbridge_sync_records_skipped",
                "Rows out of the sync's scope in this worker's runs",
                &m.skipped,
            ),
            (
                "zbridge_salesforce_api_calls",
                "Salesforce API calls made by this worker's runs",
                &m.api_calls,
            ),
            (
                "zbridge_salesforce_bulk_jobs",
                "Salesforce Bulk API 2.0 jobs run by this worker's runs",
                &m.bulk_jobs,
            ),
            (
                "zbridge_worker_lease_claims",
                "Profiles this worker claimed (each with a lease)",
                &m.lease_claims,
            ),
            (
                "zbridge_worker_lease_renewals",
                "Lease renewals that succeeded",
                &m.lease_renewals,
            ),
            (
                "zbridge_worker_leases_lost",
                "Leases lost while their run worked (the run was stopped at once)",
                &m.leases_lost,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "zbridge_worker_errors",
            "Worker errors by kind: claim (the database), run (a run could not start or stopped abnormally), renew (a lease renewal failed), release, metrics (the drift counts could not be read for /metrics)",
            m.errors.clone(),
        );
        registry.register(
            "zbridge_worker_active_runs",
            "Runs in progress on this worker",
            m.active_runs.clone(),
        );
        registry.register(
            "zbridge_worker_concurrency",
            "How many runs this worker runs at once at most (--concurrency)",
            ConstGauge::new(i64::try_from(concurrency).unwrap_or(i64::MAX)),
        );
        Metrics { registry, ..m }
    }

    fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&KindLabel { kind }).inc();
    }

    fn errors(&self, kind: &'static str) -> u64 {
        self.errors.get_or_create(&KindLabel { kind }).get()
    }

    fn count_run(&self, label: &str) {
        if let Some(status) = RUN_STATUSES.iter().find(|s| **s == label) {
            self.runs.get_or_create(&StatusLabel { status }).inc();
        }
    }

    fn count_report(&self, report: &RunReport) {
        let label = report.run.status.to_ascii_lowercase().replace(' ', "_");
        self.count_run(&label);
        let add = |counter: &Counter, value: i64| {
            counter.inc_by(u64::try_from(value).unwrap_or(0));
        };
        for o in &report.objects {
            add(&self.read, o.read);
            add(&self.upserted, o.upserted);
            add(&self.deleted, o.deleted);
            add(&self.failed, o.failed);
            add(&self.skipped, o.skipped);
            add(&self.api_calls, o.api_calls);
            add(&self.bulk_jobs, o.bulk_jobs);
        }
    }

    /// The Prometheus text exposition format (version 0.0.4). The drift counts are read from
    /// the store now; when that fails the rest is served without them, and the failure is
    /// logged and counted (`zbridge_worker_errors_total{kind="metrics"}`).
    async fn render(&self) -> String {
        let drift = match &self.store {
            None => None,
            Some(store) => match tokio::time::timeout(DRIFT_READ_LIMIT, read_drift(store)).await {
                Ok(Ok(drift)) => Some(drift),
                Ok(Err(e)) => {
                    self.drift_failed(&e.to_string());
                    None
                }
                Err(_) => {
                    self.drift_failed(&format!(
                        "the store did not answer within {} s",
                        DRIFT_READ_LIMIT.as_secs()
                    ));
                    None
                }
            },
        };
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        if let Some(drift) = drift {
            let _ = prometheus_text::encode(&mut out, &drift);
        }
        out
    }

    fn drift_failed(&self, why: &str) {
        self.error("metrics");
        eprintln!(
            "worker {}: /metrics is served without the drift counts: cannot read them: {why}",
            self.worker_id
        );
    }
}

/// The latest `sync verify` of each profile, as drift gauges.
async fn read_drift(store: &Store) -> Result<Registry, zbridge_store::StoreError> {
    let verifications = store.sync_verifications(None).await?;
    let names = if verifications.is_empty() {
        HashMap::new()
    } else {
        store
            .list_sync_profiles()
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect()
    };
    Ok(drift_registry(&verifications, &names))
}

/// `zbridge_sync_drift_records{profile,object,kind}` and
/// `zbridge_sync_verified_timestamp_seconds{profile}` from stored verifications; `names` maps
/// profile ids to names (a verification of a profile not there, just deleted, is left out, as
/// are report entries without an `object`).
fn drift_registry(verifications: &[SyncVerification], names: &HashMap<String, String>) -> Registry {
    let records = Family::<DriftLabels, Gauge>::default();
    let verified = Family::<ProfileLabel, Gauge<f64, AtomicU64>>::default();
    for v in verifications {
        let Some(profile) = names.get(&v.profile_id) else {
            continue;
        };
        let seconds = v.verified_at.timestamp_millis() as f64 / 1000.0;
        verified
            .get_or_create(&ProfileLabel {
                profile: profile.clone(),
            })
            .set(seconds);
        for entry in v.report.as_array().into_iter().flatten() {
            let Some(object) = entry.get("object").and_then(serde_json::Value::as_str) else {
                continue;
            };
            for kind in DRIFT_KINDS {
                let Some(count) = entry.get(kind).and_then(serde_json::Value::as_u64) else {
                    continue;
                };
                records
                    .get_or_create(&DriftLabels {
                        profile: profile.clone(),
                        object: object.to_string(),
                        kind,
                    })
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
    }
    let mut registry = Registry::default();
    registry.register(
        "zbridge_sync_drift_records",
        "Records that drifted at the profile's latest sync verify, by catalog object and kind: missing (in scope, not in the org), extra (in the org, not in scope), duplicated (org records beyond the first for one external id), stale (a mapped field differs)",
        records,
    );
    registry.register(
        "zbridge_sync_verified_timestamp_seconds",
        "When the profile's latest sync verify ran (Unix time)",
        verified,
    );
    registry
}

/// Serves `/metrics` on `addr` in the background; returns the bound address (port 0 picks a
/// free one).
async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    use axum::http::header::CONTENT_TYPE;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--metrics-addr {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                let body = metrics.render().await;
                ([(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], body)
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("metrics server stopped: {e}");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn every_family_has_help_and_type_and_counters_end_in_total() {
        let m = Metrics::new(2, None);
        m.count_run("finished");
        m.count_run("not a status");
        m.lease_renewals.inc_by(3);
        m.active_runs.inc();
        m.error("renew");
        let text = m.render().await;
        let mut families = 0;
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut parts = line.split(' ').skip(2);
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            assert!(!name.ends_with("_total_total"), "{line}");
            families += 1;
        }
        assert_eq!(families, 15, "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            !text.contains(".."),
            "one full stop after each help: {text}"
        );
        for sample in [
            "zbridge_sync_runs_total{status=\"finished\"} 1\n",
            "zbridge_sync_runs_total{status=\"error\"} 0\n",
            "zbridge_sync_records_skipped_total 0\n",
            "zbridge_worker_lease_renewals_total 3\n",
            "zbridge_worker_errors_total{kind=\"renew\"} 1\n",
            "zbridge_worker_errors_total{kind=\"metrics\"} 0\n",
            "zbridge_worker_active_runs 1\n",
            "zbridge_worker_concurrency 2\n",
            "# TYPE zbridge_worker_info gauge\n",
        ] {
            assert!(text.contains(sample), "no {sample:?} in\n{text}");
        }
        assert!(
            text.contains(&format!(
                "zbridge_worker_info{{worker_id=\"{}\"}} 1\n",
                m.worker_id
            )),
            "{text}"
        );
        assert_eq!(text.matches("zbridge_sync_runs_total{").count(), 4);
    }

    #[test]
    fn drift_gauges_come_from_each_profiles_latest_verify() {
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_250).unwrap();
        let verification = |profile_id: &str, report| SyncVerification {
            profile_id: profile_id.to_string(),
            verified_at: at,
            drifted: true,
            report,
        };
        let verifications = [
            verification(
                "p1",
                json!([
                    {"object": "Account", "target": "Zuora__CustomerAccount__c", "in_scope": 5,
                     "in_org": 4, "missing": 1, "extra": 0, "duplicated": 2, "stale": 3,
                     "failing": 0},
                    {"target": "no object"},
                    {"object": "Invoice", "missing": 0, "extra": 7}
                ]),
            ),
            verification("gone", json!([{"object": "Account", "missing": 9}])),
            verification("p2", serde_json::Value::Null),
        ];
        let names: HashMap<String, String> = [("p1", "Main \"EU\""), ("p2", "Other")]
            .into_iter()
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect();
        let mut text = String::new();
        prometheus_text::encode(&mut text, &drift_registry(&verifications, &names)).unwrap();
        let mut samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        samples.sort_unstable();
        assert_eq!(
            samples,
            [
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Account",kind="duplicated"} 2"#,
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Account",kind="extra"} 0"#,
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Account",kind="missing"} 1"#,
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Account",kind="stale"} 3"#,
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Invoice",kind="extra"} 7"#,
                r#"zbridge_sync_drift_records{profile="Main \"EU\"",object="Invoice",kind="missing"} 0"#,
                r#"zbridge_sync_verified_timestamp_seconds{profile="Main \"EU\""} 1700000000.25"#,
                r#"zbridge_sync_verified_timestamp_seconds{profile="Other"} 1700000000.25"#,
            ],
            "{text}"
        );
        assert!(text.contains("# TYPE zbridge_sync_drift_records gauge\n"));
        assert!(text.contains("# TYPE zbridge_sync_verified_timestamp_seconds gauge\n"));
    }

    #[tokio::test]
    async fn a_failing_store_read_leaves_the_other_metrics_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = zbridge_store::Home::in_dir(dir.path());
        home.master_key = Some(secrecy::SecretString::from("42".repeat(32)));
        let store = Store::open(&home).await.unwrap();
        let m = Metrics::new(1, Some(store.clone()));
        let text = m.render().await;
        assert!(
            text.contains("zbridge_worker_errors_total{kind=\"metrics\"} 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("zbridge_sync_drift_records"),
            "nothing verified: {text}"
        );
        store.close().await;
        let text = m.render().await;
        assert!(
            text.contains("zbridge_worker_errors_total{kind=\"metrics\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zbridge_sync_runs_total{status=\"finished\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("zbridge_worker_active_runs 0\n"), "{text}");
        assert_eq!(m.errors("metrics"), 1);
    }
}
