//! `/api/sync-profiles/{profile}/run|schedule` and `/api/sync-runs`: the 360 sync.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zbridge_store::{ObjectStats, SyncFailure, SyncRun};

use super::ApiJson;
use crate::error::ApiError;
use crate::form::FormData;
use crate::{AppState, sync};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync-profiles/{profile}/run", post(run))
        .route("/sync-profiles/{profile}/cleanup", post(cleanup))
        .route("/sync-profiles/{profile}/schedule", put(schedule))
        .route(
            "/sync-profiles/{profile}/verify",
            get(last_verify).post(verify),
        )
        .route("/sync-runs", get(history))
        .route("/sync-runs/{id}", get(show))
        .route("/sync-runs/{id}/errors", get(errors))
}

/// A run to start.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    #[serde(default)]
    full: bool,
}

#[derive(Debug, Serialize)]
struct Started {
    run_id: String,
}

async fn run(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<Response, ApiError> {
    let job = sync::Job::Run { full: input.full };
    let run_id = sync::start_run(&state, &profile, job).await?;
    Ok((StatusCode::ACCEPTED, Json(Started { run_id })).into_response())
}

async fn cleanup(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Response, ApiError> {
    let run_id = sync::start_run(&state, &profile, sync::Job::Cleanup).await?;
    Ok((StatusCode::ACCEPTED, Json(Started { run_id })).into_response())
}

/// A verify to run.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput {
    /// Send what drifted again and delete the extra records, then verify again.
    #[serde(default)]
    repair: bool,
}

/// Compares the org with Zuora now (and repairs when asked); 200 with the counts per object.
async fn verify(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<VerifyInput>,
) -> Result<Json<sync::VerifyOutcome>, ApiError> {
    Ok(Json(sync::verify(&state, &profile, input.repair).await?))
}

/// The profile's latest verify.
async fn last_verify(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<zbridge_store::SyncVerification>, ApiError> {
    let p = state.store().load_sync_profile(&profile).await?;
    state
        .store()
        .sync_verifications(Some(&p.id))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "sync profile '{}' was never verified; POST to this URL verifies it",
                p.name
            ))
        })
}

/// A schedule: an interval (`30m`, `2h`, `daily`), or null to remove it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    every: Option<String>,
}

#[derive(Debug, Serialize)]
struct Schedule {
    every_secs: Option<i64>,
}

async fn schedule(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> Result<Json<Schedule>, ApiError> {
    let every_secs = sync::set_schedule(state.store(), &profile, input.every.as_deref()).await?;
    Ok(Json(Schedule { every_secs }))
}

/// `?profile=NAME&limit=N` (1 to 1000, default 50); read by hand so that a bad value is a
/// JSON error naming the parameter.
async fn history(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<SyncRun>>, ApiError> {
    let query = FormData::parse(raw.unwrap_or_default().as_bytes());
    let limit = match query.get("limit") {
        None => 50,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("limit", "must be a whole number from 1 to 1000")
            })?,
    };
    let profile_id = match query.get("profile").filter(|p| !p.is_empty()) {
        Some(name) => Some(state.store().load_sync_profile(name).await?.id),
        None => None,
    };
    Ok(Json(
        state
            .store()
            .list_sync_runs(profile_id.as_deref(), limit)
            .await?,
    ))
}

#[derive(Debug, Serialize)]
struct RunDetail {
    run: SyncRun,
    objects: Vec<ObjectStats>,
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let (run, objects) = state.store().load_sync_run(&id).await?;
    Ok(Json(RunDetail { run, objects }))
}

async fn errors(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<SyncFailure>>, ApiError> {
    let (run, _) = state.store().load_sync_run(&id).await?;
    Ok(Json(state.store().sync_run_failures(&run.id).await?))
}
