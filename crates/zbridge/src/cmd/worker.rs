//! `zbridge worker`: runs the scheduled syncs that are due, any number of workers on one
//! database (PostgreSQL for workers on several machines).
//!
//! A worker claims due profiles with leases ([`Store::claim_sync_profiles`]), runs up to
//! `--concurrency` of them at once, renews each lease while its run works, and releases it at
//! the end. When a renewal finds the lease taken, the run is stopped at once. A worker that
//! dies stops renewing; once its leases expire another worker claims those profiles and
//! resumes their runs from the committed checkpoints. SIGTERM or Ctrl-C stops claiming,
//! lets each run finish its batch in flight, releases the leases and exits 0.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zbridge_store::{ClaimedProfile, LeaseEvent, Store};
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
    let worker = Worker {
        id: zbridge_store::this_worker_id().to_string(),
        store,
        ttl: Duration::from_secs(args.lease_secs),
        metrics: Arc::new(Metrics::new(args.concurrency)),
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
    if args.once && worker.metrics.errors.claim.load(Ordering::Relaxed) > 0 {
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
                self.metrics.errors.claim.fetch_add(1, Ordering::Relaxed);
                self.log(&format!("cannot claim due profiles: {e}"));
                Vec::new()
            }
        }
    }

    fn check_ended(&self, ended: Result<(), tokio::task::JoinError>) {
        if let Err(e) = ended {
            self.metrics.errors.run.fetch_add(1, Ordering::Relaxed);
            self.log(&format!("a run stopped abnormally: {e}"));
        }
    }

    /// Starts a claimed profile's run on a blocking thread (the engine's future is not `Send`,
    /// so it cannot be a task of its own; the thread drives it with this runtime's handle).
    fn start(&self, runs: &mut JoinSet<()>, claim: ClaimedProfile, stop: CancellationToken) {
        self.metrics.lease_claims.fetch_add(1, Ordering::Relaxed);
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
        self.metrics.active_runs.fetch_add(1, Ordering::Relaxed);
        let keeper = {
            let (metrics, stop, id) = (self.metrics.clone(), stop.clone(), self.id.clone());
            self.store
                .keep_sync_lease(claim.lease, move |event| match event {
                    LeaseEvent::Renewed(_) => {
                        metrics.lease_renewals.fetch_add(1, Ordering::Relaxed);
                    }
                    LeaseEvent::RenewFailed(why) => {
                        metrics.errors.renew.fetch_add(1, Ordering::Relaxed);
                        eprintln!("worker {id}: lease renewal failed: {why}");
                    }
                    LeaseEvent::Lost(why) => {
                        metrics.leases_lost.fetch_add(1, Ordering::Relaxed);
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
                self.metrics.errors.run.fetch_add(1, Ordering::Relaxed);
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
                self.metrics.errors.release.fetch_add(1, Ordering::Relaxed);
                self.log(&format!(
                    "cannot release the lease on '{name}' (it expires on its own): {e}"
                ));
            }
        }
        self.metrics.active_runs.fetch_sub(1, Ordering::Relaxed);
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

/// Worker-level errors by kind.
#[derive(Debug, Default)]
struct Errors {
    claim: AtomicU64,
    run: AtomicU64,
    renew: AtomicU64,
    release: AtomicU64,
}

/// What `/metrics` shows: counters since the worker started, and gauges.
#[derive(Debug)]
struct Metrics {
    worker_id: String,
    concurrency: usize,
    /// Runs by status label, in [`RUN_STATUSES`] order.
    runs: [AtomicU64; 4],
    read: AtomicU64,
    upserted: AtomicU64,
    deleted: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    api_calls: AtomicU64,
    bulk_jobs: AtomicU64,
    errors: Errors,
    lease_claims: AtomicU64,
    lease_renewals: AtomicU64,
    leases_lost: AtomicU64,
    active_runs: AtomicI64,
}

/// The status labels of `zbridge_sync_runs_total`: the run's stored status, or `error` when
/// the run could not start (no credentials, the connection is gone, ...).
const RUN_STATUSES: [&str; 4] = ["finished", "finished_with_errors", "failure", "error"];

impl Metrics {
    fn new(concurrency: usize) -> Self {
        Metrics {
            worker_id: zbridge_store::this_worker_id().to_string(),
            concurrency,
            runs: Default::default(),
            read: AtomicU64::new(0),
            upserted: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            api_calls: AtomicU64::new(0),
            bulk_jobs: AtomicU64::new(0),
            errors: Errors::default(),
            lease_claims: AtomicU64::new(0),
            lease_renewals: AtomicU64::new(0),
            leases_lost: AtomicU64::new(0),
            active_runs: AtomicI64::new(0),
        }
    }

    fn count_run(&self, label: &str) {
        if let Some(i) = RUN_STATUSES.iter().position(|s| *s == label) {
            self.runs[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_report(&self, report: &RunReport) {
        let label = report.run.status.to_ascii_lowercase().replace(' ', "_");
        self.count_run(&label);
        let add = |counter: &AtomicU64, value: i64| {
            counter.fetch_add(u64::try_from(value).unwrap_or(0), Ordering::Relaxed);
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

    /// The Prometheus text exposition format (version 0.0.4).
    fn render(&self) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        family(
            &mut out,
            "zbridge_worker_info",
            "gauge",
            "This worker (always 1), labelled with its id.",
            &[(
                format!("worker_id=\"{}\"", escape_label(&self.worker_id)),
                1,
            )],
        );
        let runs: Vec<(String, u64)> = RUN_STATUSES
            .iter()
            .zip(&self.runs)
            .map(|(status, c)| (format!("status=\"{status}\""), load(c)))
            .collect();
        family(
            &mut out,
            "zbridge_sync_runs_total",
            "counter",
            "Sync runs this worker ended, by status (error: the run could not start).",
            &runs,
        );
        for (name, help, counter) in [
            (
                "zbridge_sync_records_read_total",
                "Rows read from Zuora by this worker's runs.",
                &self.read,
            ),
            (
                "zbridge_sync_records_upserted_total",
                "Records upserted into Salesforce by this worker's runs.",
                &self.upserted,
            ),
            (
                "zbridge_sync_records_deleted_total",
                "Records deleted from Salesforce by this worker's runs.",
                &self.deleted,
            ),
            (
                "zbridge_sync_records_failed_total",
                "Records that failed in this worker's runs.",
                &self.failed,
            ),
            (
                "zbridge_sync_records_skipped_total",
                "Rows out of the sync's scope in this worker's runs.",
                &self.skipped,
            ),
            (
                "zbridge_salesforce_api_calls_total",
                "Salesforce API calls made by this worker's runs.",
                &self.api_calls,
            ),
            (
                "zbridge_salesforce_bulk_jobs_total",
                "Salesforce Bulk API 2.0 jobs run by this worker's runs.",
                &self.bulk_jobs,
            ),
            (
                "zbridge_worker_lease_claims_total",
                "Profiles this worker claimed (each with a lease).",
                &self.lease_claims,
            ),
            (
                "zbridge_worker_lease_renewals_total",
                "Lease renewals that succeeded.",
                &self.lease_renewals,
            ),
            (
                "zbridge_worker_leases_lost_total",
                "Leases lost while their run worked (the run was stopped at once).",
                &self.leases_lost,
            ),
        ] {
            family(
                &mut out,
                name,
                "counter",
                help,
                &[(String::new(), load(counter))],
            );
        }
        let e = &self.errors;
        let errors: Vec<(String, u64)> = [
            ("claim", &e.claim),
            ("run", &e.run),
            ("renew", &e.renew),
            ("release", &e.release),
        ]
        .into_iter()
        .map(|(kind, c)| (format!("kind=\"{kind}\""), load(c)))
        .collect();
        family(
            &mut out,
            "zbridge_worker_errors_total",
            "counter",
            "Worker errors by kind: claim (the database), run (a run could not start or stopped abnormally), renew (a lease renewal failed), release.",
            &errors,
        );
        let active = u64::try_from(self.active_runs.load(Ordering::Relaxed)).unwrap_or(0);
        family(
            &mut out,
            "zbridge_worker_active_runs",
            "gauge",
            "Runs in progress on this worker.",
            &[(String::new(), active)],
        );
        family(
            &mut out,
            "zbridge_worker_concurrency",
            "gauge",
            "How many runs this worker runs at once at most (--concurrency).",
            &[(String::new(), self.concurrency as u64)],
        );
        out
    }
}

/// One metric family: its HELP and TYPE lines, then one sample per label set.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\"));
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
            let body = metrics.render();
            async move {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    body,
                )
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

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let m = Metrics::new(2);
        m.count_run("finished");
        m.lease_renewals.fetch_add(3, Ordering::Relaxed);
        let text = m.render();
        let mut families = 0;
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut parts = line.split(' ').skip(2);
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            families += 1;
        }
        assert!(families >= 14, "{text}");
        assert!(text.contains("zbridge_sync_runs_total{status=\"finished\"} 1\n"));
        assert!(text.contains("zbridge_worker_lease_renewals_total 3\n"));
        assert!(text.contains("zbridge_worker_concurrency 2\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
