//! The Sync pages: profiles with Run now and a schedule, the live progress of a run, the
//! history with statuses and per-object counts, and a run's error CSV.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zbridge_store::{ObjectStats, SyncFailure};
use zbridge_sync::SyncOptions;

use super::connections::encode_path;
use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;
use crate::{AppState, sync};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync", get(index))
        .route("/sync/profiles/{profile}/run", post(run_now))
        .route("/sync/profiles/{profile}/schedule", post(schedule))
        .route("/sync/profiles/{profile}/verify", post(verify))
        .route("/sync/runs/{id}", get(run_page))
        .route("/sync/runs/{id}/progress", get(progress))
        .route("/sync/runs/{id}/errors.csv", get(errors_csv))
}

/// A profile on the sync page.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    name: String,
    schedule: String,
    every: String,
    /// The latest verify in a line, or "never verified".
    verify: String,
    drifted: bool,
    drift: Vec<DriftRow>,
}

/// One object of a profile's latest verify.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DriftRow {
    object: String,
    in_scope: u64,
    in_org: u64,
    missing: u64,
    extra: u64,
    duplicated: u64,
    stale: u64,
}

/// The latest verify of a profile in a line, and its rows.
fn verify_summary(v: Option<&zbridge_store::SyncVerification>) -> (String, bool, Vec<DriftRow>) {
    let Some(v) = v else {
        return ("never verified".into(), false, Vec::new());
    };
    let rows: Vec<DriftRow> = serde_json::from_value(v.report.clone()).unwrap_or_default();
    let total = |f: fn(&DriftRow) -> u64| rows.iter().map(f).sum::<u64>();
    let at = v.verified_at.format("%Y-%m-%d %H:%M");
    let text = if v.drifted {
        format!(
            "{at}: {} missing, {} extra, {} duplicated, {} stale",
            total(|r| r.missing),
            total(|r| r.extra),
            total(|r| r.duplicated),
            total(|r| r.stale)
        )
    } else {
        format!("{at}: no drift")
    };
    (text, v.drifted, rows)
}

/// A run in the history.
#[derive(Debug, Clone)]
pub struct RunRow {
    id: String,
    short: String,
    profile: String,
    started: String,
    trigger: String,
    kind: &'static str,
    status: String,
    duration: String,
    counts: String,
}

/// Per-object counts in one line: `Account 7↑ 0✗ · Subscription 10↑ …`.
fn object_counts(objects: &[ObjectStats]) -> String {
    let parts: Vec<String> = objects
        .iter()
        .filter(|o| o.read + o.upserted + o.deleted + o.failed > 0)
        .map(|o| {
            let mut text = format!("{} {} upserted", o.object, o.upserted);
            if o.deleted > 0 {
                text.push_str(&format!(", {} deleted", o.deleted));
            }
            if o.failed > 0 {
                text.push_str(&format!(", {} failed", o.failed));
            }
            text
        })
        .collect();
    if parts.is_empty() {
        "nothing changed".into()
    } else {
        parts.join("; ")
    }
}

fn every_text(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s => format!("{}m", s / 60),
    }
}

#[derive(Template)]
#[template(path = "sync.html")]
struct SyncPage {
    csrf: String,
    profiles: Vec<ProfileRow>,
    runs: Vec<RunRow>,
    notice: String,
    error: Option<ErrorDetail>,
}

#[derive(serde::Deserialize, Default)]
struct Notice {
    scheduled: Option<String>,
    verified: Option<String>,
}

async fn sync_page(state: &AppState, csrf: String) -> Result<SyncPage, ApiError> {
    let profiles = state.store().list_sync_profiles().await?;
    let verifications = state.store().sync_verifications(None).await?;
    let runs = state.store().list_sync_runs(None, 50).await?;
    let mut counts = Vec::with_capacity(runs.len());
    for run in &runs {
        let (_, objects) = state.store().load_sync_run(&run.id).await?;
        counts.push(object_counts(&objects));
    }
    let name_of = |id: &str| {
        profiles
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    Ok(SyncPage {
        csrf,
        runs: runs
            .iter()
            .zip(counts)
            .map(|(r, counts)| RunRow {
                counts,
                id: r.id.clone(),
                short: r.short_id().to_string(),
                profile: name_of(&r.profile_id),
                started: r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                trigger: r.trigger.clone(),
                kind: if r.full { "full" } else { "incremental" },
                status: r.status.clone(),
                duration: r.duration_text(),
            })
            .collect(),
        profiles: profiles
            .iter()
            .map(|p| {
                let secs = SyncOptions::from_json(&p.options)
                    .ok()
                    .and_then(|o| o.schedule_secs);
                let (verify, drifted, drift) =
                    verify_summary(verifications.iter().find(|v| v.profile_id == p.id));
                ProfileRow {
                    name: p.name.clone(),
                    schedule: secs
                        .map(|s| format!("every {}", every_text(s)))
                        .unwrap_or_else(|| "not scheduled".into()),
                    every: secs.map(every_text).unwrap_or_default(),
                    verify,
                    drifted,
                    drift,
                }
            })
            .collect(),
        notice: String::new(),
        error: None,
    })
}

async fn index(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Query(q): Query<Notice>,
) -> Result<Response, ApiError> {
    let mut page = sync_page(&state, csrf).await?;
    if let Some(p) = q.scheduled {
        page.notice = format!("Saved the schedule of '{p}'; 'zbridge worker' runs what is due.");
    }
    if let Some(p) = q.verified {
        page.notice = format!(
            "Verified '{p}': its latest verify is in the profile's row; tick Repair and Verify again to send what drifted."
        );
    }
    Ok(render(&page))
}

async fn with_error(state: &AppState, csrf: String, error: ApiError) -> Result<Response, ApiError> {
    let mut page = sync_page(state, csrf).await?;
    let status = error.status();
    page.error = Some(error.detail());
    Ok((status, render(&page)).into_response())
}

async fn run_now(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let job = sync::Job::Run {
        full: form.checked("full"),
    };
    match sync::start_run(&state, &profile, job).await {
        Ok(id) => Ok(Redirect::to(&format!("/sync/runs/{id}")).into_response()),
        Err(e) => with_error(&state, csrf, e).await,
    }
}

async fn schedule(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let every = if form.checked("off") {
        None
    } else {
        form.get("every")
    };
    match sync::set_schedule(state.store(), &profile, every).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/sync?scheduled={}", encode_path(&profile))).into_response())
        }
        Err(e) => with_error(&state, csrf, e).await,
    }
}

/// Verifies a profile (and repairs it when asked), then shows the sync page with the result.
async fn verify(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    match sync::verify(&state, &profile, form.checked("repair")).await {
        Ok(outcome) => Ok(Redirect::to(&format!(
            "/sync?verified={}",
            encode_path(&outcome.profile)
        ))
        .into_response()),
        Err(e) => with_error(&state, csrf, e).await,
    }
}

/// A run with its counts: the progress section and the run page share it.
#[derive(Template)]
#[template(path = "run_progress.html")]
struct RunProgress {
    id: String,
    short: String,
    profile: String,
    status: String,
    message: String,
    warnings: Vec<String>,
    kind: &'static str,
    trigger: String,
    started: String,
    duration: String,
    running: bool,
    objects: Vec<ObjectStats>,
    failed: i64,
}

#[derive(Template)]
#[template(path = "sync_run.html")]
struct RunPage {
    csrf: String,
    progress: RunProgress,
}

async fn load_progress(state: &AppState, id: &str) -> Result<RunProgress, ApiError> {
    let (run, objects) = state.store().load_sync_run(id).await?;
    let profile = state
        .store()
        .list_sync_profiles()
        .await?
        .into_iter()
        .find(|p| p.id == run.profile_id)
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(RunProgress {
        short: run.short_id().to_string(),
        failed: objects.iter().map(|o| o.failed).sum(),
        running: run.finished_at.is_none(),
        status: run.status.clone(),
        message: run.message.clone().unwrap_or_default(),
        warnings: run.warnings.clone(),
        kind: if run.full { "full" } else { "incremental" },
        trigger: run.trigger.clone(),
        started: run.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        duration: run.duration_text(),
        id: run.id,
        profile,
        objects,
    })
}

async fn run_page(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let progress = load_progress(&state, &id).await?;
    Ok(render(&RunPage { csrf, progress }))
}

async fn progress(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(render(&load_progress(&state, &id).await?))
}

async fn errors_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (run, _) = state.store().load_sync_run(&id).await?;
    let failures = state.store().sync_run_failures(&run.id).await?;
    let mut body = Vec::new();
    SyncFailure::write_csv(&failures, &mut body)
        .map_err(|e| ApiError::Internal(format!("cannot write the error CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"sync-errors-{}.csv\"",
                    run.short_id()
                ),
            ),
        ],
        body,
    )
        .into_response())
}
