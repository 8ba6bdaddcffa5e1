//! `zbridge sync run|history|errors|cleanup|schedule`: the 360 sync on the command line. Every
//! command is a thin call into `zbridge-sync` and the store. A run or a cleanup holds the
//! profile's lease while it works, as the workers and the web UI do, so one profile never has
//! two runs at once.

use std::io::Write;

use tokio_util::sync::CancellationToken;
use zbridge_salesforce::SyncCredentials;
use zbridge_store::{
    DEFAULT_LEASE_TTL, LeaseEvent, LeaseKeeper, ObjectStats, Store, SyncFailure, SyncProfile,
};
use zbridge_sync::engine::FAILURE;
use zbridge_sync::engine::{VerifyReport, VerifyRequest};
use zbridge_sync::{Engine, RunReport, RunRequest};

use crate::exit::UsageError;
use crate::output;

/// An engine for a profile: its Zuora connection and its active Salesforce credential.
pub async fn engine_for(store: &Store, profile: &str) -> anyhow::Result<Engine> {
    let http = zbridge_salesforce::service::http_client()?;
    let credentials = SyncCredentials::new(store.clone(), http);
    Ok(Engine::for_profile(store, &credentials, profile).await?)
}

fn split_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `zbridge sync run`. Ctrl-C stops the run at the next batch boundary.
pub async fn run(
    profile: &str,
    full: bool,
    objects: &[String],
    trigger: &str,
    json: bool,
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Stopping after the batch in flight (Ctrl-C again to abort at once).");
            on_ctrl_c.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let store = super::open_store().await?;
    let p = store.load_sync_profile(profile).await?;
    let keeper = take_lease(&store, &p, stop.clone()).await?;
    let result = run_once(&store, &p.name, full, objects, trigger, stop).await;
    release(keeper).await;
    let report = result?;
    print_report(&report, json)?;
    finish(&report)
}

/// Takes the profile's lease for this process (failing clearly when a worker or another
/// command holds it) and keeps it while the run works; losing it cancels `stop`.
async fn take_lease(
    store: &Store,
    profile: &SyncProfile,
    stop: CancellationToken,
) -> anyhow::Result<LeaseKeeper> {
    let lease = store
        .acquire_sync_lease(profile, zbridge_store::this_worker_id(), DEFAULT_LEASE_TTL)
        .await?;
    if let Some(gone) = &lease.took_over_from {
        eprintln!(
            "Took over sync profile '{}' from {gone}, which ended without releasing it.",
            profile.name
        );
    }
    Ok(store.keep_sync_lease(lease, move |event| {
        if let LeaseEvent::Lost(why) = event {
            eprintln!("{why}; stopping after the batch in flight.");
            stop.cancel();
        }
    }))
}

/// Gives the lease up; when that fails it expires on its own, so a warning is enough.
async fn release(keeper: LeaseKeeper) {
    if let Err(e) = keeper.release().await {
        eprintln!("warning: the profile's lease was not released (it expires by itself): {e}");
    }
}

/// Runs one sync of `profile` until it ends or `stop` is cancelled. The caller holds the
/// profile's lease (`sync run` and the workers take it first).
pub async fn run_once(
    store: &Store,
    profile: &str,
    full: bool,
    objects: &[String],
    trigger: &str,
    stop: CancellationToken,
) -> anyhow::Result<RunReport> {
    let engine = engine_for(store, profile).await?;
    Ok(engine
        .run(&RunRequest {
            profile: profile.to_string(),
            full,
            objects: split_list(objects),
            trigger: trigger.to_string(),
            stop,
            ..RunRequest::default()
        })
        .await?)
}

/// `zbridge sync verify`: drift per object; with `repair`, a repair run and a second verify.
/// Exits 0 when nothing drifted (after the repair, if any), 1 otherwise.
pub async fn verify(
    profile: &str,
    objects: &[String],
    csv_dir: Option<std::path::PathBuf>,
    repair: bool,
    json: bool,
) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let p = store.load_sync_profile(profile).await?;
    let engine = engine_for(&store, &p.name).await?;
    let request = VerifyRequest {
        profile: p.name.clone(),
        objects: split_list(objects),
        csv_dir: csv_dir.clone(),
        ..VerifyRequest::default()
    };
    let before = engine.verify(&request).await?;
    if !repair || !before.drifted() {
        print_verify(&before, None, None, json)?;
        return verified(&before);
    }
    let stop = CancellationToken::new();
    let keeper = take_lease(&store, &p, stop.clone()).await?;
    let repaired = engine
        .run(&RunRequest {
            profile: p.name.clone(),
            repair: Some(before.repair()),
            stop,
            ..RunRequest::default()
        })
        .await;
    release(keeper).await;
    let repaired = repaired?;
    let after = engine
        .verify(&VerifyRequest {
            csv_dir: None,
            ..request
        })
        .await?;
    print_verify(&before, Some(&repaired), Some(&after), json)?;
    finish(&repaired)?;
    verified(&after)
}

fn verified(report: &VerifyReport) -> anyhow::Result<()> {
    if report.drifted() {
        return Err(crate::exit::Drifted.into());
    }
    Ok(())
}

fn drift_table(report: &VerifyReport) -> comfy_table::Table {
    let mut table = output::table(&[
        "Object",
        "In scope",
        "In org",
        "Missing",
        "Extra",
        "Duplicated",
        "Stale",
        "Fields that differ",
    ]);
    for o in &report.objects {
        let fields: Vec<String> = o
            .stale_fields
            .iter()
            .take(3)
            .map(|f| format!("{} ({})", f.field, f.records))
            .collect();
        table.add_row([
            o.object.clone(),
            o.in_scope.to_string(),
            o.in_org.to_string(),
            o.missing.to_string(),
            o.extra.to_string(),
            o.duplicated.to_string(),
            o.stale.to_string(),
            fields.join(", "),
        ]);
    }
    table
}

fn print_verify(
    before: &VerifyReport,
    repair: Option<&RunReport>,
    after: Option<&VerifyReport>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return output::json(&serde_json::json!({
            "profile": before.profile,
            "drifted": after.unwrap_or(before).drifted(),
            "objects": before.objects,
            "repair": repair,
            "after_repair": after.map(|a| &a.objects),
        }));
    }
    println!("{}", drift_table(before));
    if let (Some(repair), Some(after)) = (repair, after) {
        eprintln!(
            "Repair run {}: {}; {} record(s) sent again, {} deleted, {} failed.",
            repair.run.short_id(),
            repair.run.status,
            repair.objects.iter().map(|o| o.upserted).sum::<i64>(),
            repair.objects.iter().map(|o| o.deleted).sum::<i64>(),
            repair.failed
        );
        println!("After the repair:\n{}", drift_table(after));
    }
    let last = after.unwrap_or(before);
    let failing: u64 = last.objects.iter().map(|o| o.failing).sum();
    if last.drifted() && after.is_none() {
        eprintln!(
            "The org has drifted from Zuora. 'zbridge sync verify {} --repair' sends the missing and stale records again and deletes the extra ones (children first); --csv DIR lists them.",
            last.profile
        );
    } else if last.drifted() {
        eprintln!(
            "Some drift remains: see the failures of the repair run with 'zbridge sync errors'."
        );
    } else {
        eprintln!("No drift: the org matches Zuora.");
    }
    if failing > 0 {
        eprintln!(
            "{failing} Zuora record(s) are not expected in the org because a run records them as failed; 'zbridge sync errors RUN' lists them."
        );
    }
    Ok(())
}

fn finish(report: &RunReport) -> anyhow::Result<()> {
    if report.run.status == FAILURE {
        anyhow::bail!(
            "sync run {} ended as Failure: {}; the watermarks did not move past unwritten data, the next run continues from there",
            report.run.short_id(),
            report.run.message.clone().unwrap_or_default()
        );
    }
    Ok(())
}

pub fn objects_table(objects: &[ObjectStats]) -> comfy_table::Table {
    let mut table = output::table(&[
        "Object",
        "Read",
        "Upserted",
        "Deleted",
        "Failed",
        "Skipped",
        "API calls",
        "Bulk jobs",
        "Duration",
    ]);
    for o in objects {
        table.add_row([
            o.object.clone(),
            o.read.to_string(),
            o.upserted.to_string(),
            o.deleted.to_string(),
            o.failed.to_string(),
            o.skipped.to_string(),
            o.api_calls.to_string(),
            o.bulk_jobs.to_string(),
            format!("{:.1}s", o.duration_ms as f64 / 1000.0),
        ]);
    }
    table
}

fn print_report(report: &RunReport, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(report);
    }
    println!("{}", objects_table(&report.objects));
    let message = report
        .run
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    eprintln!(
        "Run {} ({}): {}{message}; {} failed record(s){}",
        report.run.short_id(),
        if report.run.full {
            "full"
        } else {
            "incremental"
        },
        report.run.status,
        report.failed,
        if report.failed > 0 {
            format!("; see 'zbridge sync errors {}'", report.run.short_id())
        } else {
            String::new()
        }
    );
    print_warnings(&report.run);
    Ok(())
}

fn print_warnings(run: &zbridge_store::SyncRun) {
    for warning in &run.warnings {
        eprintln!("warning: {warning}");
    }
}

/// `zbridge sync history [RUN]`.
pub async fn history(
    run: Option<&str>,
    profile: Option<&str>,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    if let Some(id) = run {
        let (run, objects) = store.load_sync_run(id).await?;
        if json {
            return output::json(&serde_json::json!({"run": run, "objects": objects}));
        }
        println!("{}", objects_table(&objects));
        eprintln!(
            "Run {} ({}, {}): {}{} in {}",
            run.short_id(),
            run.trigger,
            if run.full { "full" } else { "incremental" },
            run.status,
            run.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
            run.duration_text()
        );
        print_warnings(&run);
        return Ok(());
    }
    let profile_id = match profile {
        Some(name) => Some(store.load_sync_profile(name).await?.id),
        None => None,
    };
    let runs = store.list_sync_runs(profile_id.as_deref(), limit).await?;
    if json {
        return output::json(&runs);
    }
    let profiles = store.list_sync_profiles().await?;
    let mut table = output::table(&[
        "Run", "Profile", "Started", "Trigger", "Type", "Status", "Duration",
    ]);
    for r in &runs {
        let name = profiles
            .iter()
            .find(|p| p.id == r.profile_id)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        table.add_row([
            r.short_id().to_string(),
            name,
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.trigger.clone(),
            if r.full { "full" } else { "incremental" }.to_string(),
            r.status.clone(),
            r.duration_text(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// `zbridge sync errors RUN [--csv]`.
pub async fn errors(run: &str, csv: bool, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let (run, _) = store.load_sync_run(run).await?;
    let failures = store.sync_run_failures(&run.id).await?;
    if json {
        return output::json(&failures);
    }
    if csv {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        SyncFailure::write_csv(&failures, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    let mut table = output::table(&[
        "Object",
        "External id",
        "Operation",
        "Code",
        "Class",
        "Message",
    ]);
    for f in &failures {
        table.add_row([
            f.object.clone(),
            f.external_id.clone(),
            f.operation.clone(),
            f.code.clone(),
            f.retry_class.clone(),
            format!("{}: {}", f.status_code, f.message),
        ]);
    }
    println!("{table}");
    eprintln!(
        "{} failed record(s) in run {}",
        failures.len(),
        run.short_id()
    );
    Ok(())
}

/// `zbridge sync cleanup PROFILE`.
pub async fn cleanup(profile: &str, yes: bool, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let p = store.load_sync_profile(profile).await?;
    if !yes
        && !super::confirm(&format!(
            "Delete everything sync profile '{}' wrote to the Salesforce org?",
            p.name
        ))?
    {
        eprintln!("Nothing deleted.");
        return Ok(());
    }
    let keeper = take_lease(&store, &p, CancellationToken::new()).await?;
    let result = cleanup_with(&store, &p.name).await;
    release(keeper).await;
    let report = result?;
    print_report(&report, json)?;
    finish(&report)?;
    eprintln!("The next run of '{}' is a full sync.", p.name);
    Ok(())
}

async fn cleanup_with(store: &Store, profile: &str) -> anyhow::Result<RunReport> {
    let engine = engine_for(store, profile).await?;
    Ok(engine.cleanup(profile).await?)
}

/// `zbridge sync schedule PROFILE --every 30m|2h|daily` (or `--off`).
pub async fn schedule(profile: &str, every: Option<&str>, off: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    if off {
        zbridge_sync::service::set_schedule(&store, profile, None).await?;
        eprintln!("Sync profile '{profile}' is no longer scheduled.");
        return Ok(());
    }
    let every = every.ok_or_else(|| UsageError("give --every 30m|2h|daily, or --off".into()))?;
    let secs =
        zbridge_sync::options::parse_interval(every).map_err(|e| UsageError(e.to_string()))?;
    zbridge_sync::service::set_schedule(&store, profile, Some(secs)).await?;
    eprintln!(
        "Sync profile '{profile}' runs every {every}; 'zbridge worker' runs what is due (the first run now)."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lists_split_on_commas() {
        assert_eq!(
            split_list(&["Account, Subscription".into(), "Invoice".into()]),
            vec!["Account", "Subscription", "Invoice"]
        );
    }
}
