//! The 360 sync for the UI and the API: start a run in the background and follow it, verify
//! (and repair) a profile, set a profile's schedule.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zbridge_store::{DEFAULT_LEASE_TTL, LeaseError, LeaseEvent, LeaseKeeper, Store, SyncProfile};
use zbridge_sync::engine::{ObjectDrift, VerifyRequest};
use zbridge_sync::{Engine, RunRequest, SyncError};

use crate::AppState;
use crate::error::ApiError;

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Store(e) => e.into(),
            SyncError::Salesforce(e) => e.into(),
            SyncError::Zuora(e) => e.into(),
            SyncError::Options(m) => ApiError::bad_request("Sync options", m),
            SyncError::ConnectionGone(_) => ApiError::NotFound(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// An engine for a profile: its Zuora connection and its active Salesforce credential.
pub async fn engine_for(state: &AppState, profile: &str) -> Result<Engine, ApiError> {
    Ok(Engine::for_profile(state.store(), state.sf(), profile).await?)
}

/// What to start.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// A sync run, full or incremental.
    Run {
        /// Read everything.
        full: bool,
    },
    /// Delete everything the profile wrote to the org; the next run is full.
    Cleanup,
}

/// Starts a run (or a cleanup) of `profile` in the background and returns its id as soon as
/// the engine has recorded it (so the caller can follow it), or the error that stopped it
/// first. The run holds the profile's lease while it works (409 when a worker or another
/// command holds it), and stops at the next batch boundary if the lease is lost.
pub async fn start_run(state: &AppState, profile: &str, job: Job) -> Result<String, ApiError> {
    let store = state.store().clone();
    let p = store.load_sync_profile(profile).await?;
    let before = latest_run(&store, &p.id).await?;
    let stop = CancellationToken::new();
    let keeper = take_lease(&store, &p, stop.clone()).await?;
    let engine = match engine_for(state, profile).await {
        Ok(engine) => engine,
        Err(e) => {
            let _ = keeper.release().await;
            return Err(e);
        }
    };
    let request = RunRequest {
        profile: p.name.clone(),
        full: matches!(job, Job::Run { full: true }),
        trigger: "manual".into(),
        stop,
        ..RunRequest::default()
    };
    // The engine's future is not provably `Send` (higher-ranked closures inside it), so it
    // cannot be `tokio::spawn`ed; a thread drives it with this runtime's handle instead (its
    // I/O and timers stay on the runtime, which must be multi-threaded, as the server's is).
    let handle = tokio::runtime::Handle::current();
    let (done_tx, mut done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("sync {}", p.name))
        .spawn(move || {
            let result = handle.block_on(async {
                let result = match job {
                    Job::Run { .. } => engine.run(&request).await,
                    Job::Cleanup => engine.cleanup(&request.profile).await,
                };
                // When the release fails, the lease expires on its own.
                if let Err(e) = keeper.release().await {
                    tracing::warn!(error = %e, "the sync lease was not released");
                }
                result
            });
            if let Err(e) = &result {
                tracing::warn!(error = %e, "sync run failed");
            }
            let _ = done_tx.send(result);
        })
        .map_err(|e| ApiError::Internal(format!("cannot start the sync: {e}")))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match done.try_recv() {
            Ok(Ok(report)) => return Ok(report.run.id),
            Ok(Err(e)) => return Err(e.into()),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return Err(ApiError::Internal("the sync thread stopped".into()));
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        let latest = latest_run(&store, &p.id).await?;
        if let Some(id) = latest.filter(|id| Some(id) != before.as_ref()) {
            return Ok(id);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ApiError::Internal(
                "the run did not start within 30 s; see the history".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Takes the profile's lease for this process (409 while a worker or another command holds
/// it) and keeps it; losing it cancels `stop`.
async fn take_lease(
    store: &Store,
    profile: &SyncProfile,
    stop: CancellationToken,
) -> Result<LeaseKeeper, ApiError> {
    let lease = match store
        .acquire_sync_lease(profile, zbridge_store::this_worker_id(), DEFAULT_LEASE_TTL)
        .await
    {
        Ok(lease) => lease,
        Err(LeaseError::Store(e)) => return Err(e.into()),
        Err(held) => {
            return Err(ApiError::Conflict {
                field: "profile".into(),
                rule: held.to_string(),
                used_by: Vec::new(),
            });
        }
    };
    Ok(store.keep_sync_lease(lease, move |event| {
        if let LeaseEvent::Lost(why) = event {
            tracing::warn!(%why, "sync lease lost; stopping the run");
            stop.cancel();
        }
    }))
}

/// What a verify found, and, after a repair, the repair run and a second verify.
#[derive(Debug, serde::Serialize)]
pub struct VerifyOutcome {
    /// The profile.
    pub profile: String,
    /// Whether anything differs in the end (after the repair, if any).
    pub drifted: bool,
    /// Per object, before any repair.
    pub objects: Vec<ObjectDrift>,
    /// The repair run's id.
    pub repair_run_id: Option<String>,
    /// Per object, after the repair.
    pub after_repair: Option<Vec<ObjectDrift>>,
}

/// Verifies `profile` (and repairs what drifted when `repair`), on a thread of its own as a
/// run is, and waits for it. A repair holds the profile's lease (409 while it is held).
pub async fn verify(
    state: &AppState,
    profile: &str,
    repair: bool,
) -> Result<VerifyOutcome, ApiError> {
    let store = state.store().clone();
    let p = store.load_sync_profile(profile).await?;
    let engine = engine_for(state, profile).await?;
    let stop = CancellationToken::new();
    let keeper = match repair {
        true => Some(take_lease(&store, &p, stop.clone()).await?),
        false => None,
    };
    let handle = tokio::runtime::Handle::current();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let name = p.name.clone();
    std::thread::Builder::new()
        .name(format!("verify {name}"))
        .spawn(move || {
            let result = handle.block_on(async {
                let outcome = verify_and_repair(&engine, &name, keeper.is_some(), stop).await;
                if let Some(keeper) = keeper
                    && let Err(e) = keeper.release().await
                {
                    tracing::warn!(error = %e, "the sync lease was not released");
                }
                outcome
            });
            let _ = done_tx.send(result);
        })
        .map_err(|e| ApiError::Internal(format!("cannot start the verify: {e}")))?;
    done.await
        .map_err(|_| ApiError::Internal("the verify thread stopped".into()))?
        .map_err(ApiError::from)
}

async fn verify_and_repair(
    engine: &Engine,
    profile: &str,
    repair: bool,
    stop: CancellationToken,
) -> Result<VerifyOutcome, SyncError> {
    let request = VerifyRequest {
        profile: profile.to_string(),
        ..VerifyRequest::default()
    };
    let before = engine.verify(&request).await?;
    let mut outcome = VerifyOutcome {
        profile: before.profile.clone(),
        drifted: before.drifted(),
        objects: before.objects.clone(),
        repair_run_id: None,
        after_repair: None,
    };
    if repair && before.drifted() {
        let run = engine
            .run(&RunRequest {
                profile: profile.to_string(),
                repair: Some(before.repair()),
                stop,
                ..RunRequest::default()
            })
            .await?;
        let after = engine.verify(&request).await?;
        outcome.repair_run_id = Some(run.run.id);
        outcome.drifted = after.drifted();
        outcome.after_repair = Some(after.objects);
    }
    Ok(outcome)
}

async fn latest_run(store: &Store, profile_id: &str) -> Result<Option<String>, ApiError> {
    Ok(store
        .list_sync_runs(Some(profile_id), 1)
        .await?
        .into_iter()
        .next()
        .map(|r| r.id))
}

/// Sets a profile's schedule (`30m`, `2h`, `daily`, ...; the first run is due now), or removes
/// it with `None`. `zbridge worker` runs what is due.
pub async fn set_schedule(
    store: &Store,
    profile: &str,
    every: Option<&str>,
) -> Result<Option<i64>, ApiError> {
    let secs = match every.map(str::trim).filter(|e| !e.is_empty()) {
        Some(every) => Some(
            zbridge_sync::options::parse_interval(every)
                .map_err(|e| ApiError::bad_request("Schedule", e.to_string()))?,
        ),
        None => None,
    };
    zbridge_sync::service::set_schedule(store, profile, secs).await?;
    Ok(secs)
}
