//! Data Query: `/query/jobs` (no `/v1` prefix). Jobs really run the SQL over the tenant's data
//! and spool the result to a file served from a pre-signed, expiring loopback URL.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::faults::{FaultKind, Phase};
use super::format::{iso_utc, utc_now_ms};
use super::http::AuthCtx;
use super::output::{Compression, RenderOptions, Source, Style, write_file};
use super::query::exec::{DeletedMode, Prepared, QueryOptions, prepare};
use super::query::parse::Dialect;
use super::state::{Sim, StoredFile, lock};

/// A job's status, with the spec's spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DqStatus {
    Accepted,
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl DqStatus {
    fn as_str(self) -> &'static str {
        match self {
            DqStatus::Accepted => "accepted",
            DqStatus::InProgress => "in_progress",
            DqStatus::Completed => "completed",
            DqStatus::Failed => "failed",
            DqStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
struct Params {
    format: String,
    separator: u8,
    compression: Compression,
    read_deleted: bool,
}

#[derive(Debug)]
pub(crate) struct DqJob {
    id: String,
    entity: usize,
    query: String,
    status: DqStatus,
    created_ms: i64,
    updated_ms: i64,
    use_index_join: bool,
    source_data: String,
    params: Params,
    output_rows: Option<usize>,
    processing_ms: Option<u64>,
    file: Option<String>,
    error: Option<String>,
    cancel: Arc<AtomicBool>,
}

/// All Data Query jobs.
#[derive(Debug, Default)]
pub(crate) struct DqState {
    jobs: HashMap<String, DqJob>,
    order: Vec<String>,
}

fn dq_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "message": message})),
    )
        .into_response()
}

const USER_ID: &str = "514f3ea1-6716-4f44-b6e0-9a8f0cf44bd2";

fn job_json(sim: &Sim, job: &DqJob) -> Json {
    let mut j = json!({
        "id": job.id,
        "query": job.query,
        "useIndexJoin": job.use_index_join,
        "sourceData": job.source_data,
        "queryStatus": job.status.as_str(),
        "remainingRetries": 3,
        "retries": 3,
        "updatedOn": iso_utc(job.updated_ms),
        "createdOn": iso_utc(job.created_ms),
        "createdBy": USER_ID,
        "createdByUserEmail": "api-user@zbridge-sim.example",
    });
    if job.status == DqStatus::Completed {
        if let Some(file) = &job.file {
            j["dataFile"] = json!(presigned_url(sim, file));
        }
        j["outputRows"] = json!(job.output_rows.unwrap_or(0));
        j["processingTime"] = json!(job.processing_ms.unwrap_or(0));
    }
    if let Some(e) = &job.error {
        j["errorMessage"] = json!(e);
    }
    j
}

/// A fresh pre-signed URL for a result file, valid for `data_file_ttl` of tenant time.
fn presigned_url(sim: &Sim, file: &str) -> String {
    let now = sim.now_ms();
    let expires = sim.cfg.data_file_ttl.as_secs();
    let date = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ");
    let deadline = now + i64::try_from(expires).unwrap_or(0) * 1000;
    format!(
        "{}/sim-s3/results/{file}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={expires}\
         &X-Amz-Deadline={deadline}&X-Amz-Security-Token=sim-session&X-Amz-Signature={}",
        sim.base_url,
        sim.sign(file, deadline)
    )
}

fn parse_params(body: &Json) -> Result<(String, Params, bool, String), String> {
    let query = body
        .get("query")
        .and_then(Json::as_str)
        .ok_or("query is required")?;
    if query.len() > 1_000_000 {
        return Err("query must be at most 1000000 characters".into());
    }
    let format = body
        .get("outputFormat")
        .and_then(Json::as_str)
        .ok_or("outputFormat is required")?
        .to_ascii_uppercase();
    if !["JSON", "CSV", "TSV", "DSV"].contains(&format.as_str()) {
        return Err(format!(
            "outputFormat must be one of JSON, CSV, TSV, DSV; got {format}"
        ));
    }
    let compression = match body
        .get("compression")
        .and_then(Json::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("NONE") => Compression::None,
        Some("GZIP") => Compression::Gzip,
        Some("ZIP") => Compression::Zip,
        Some(other) => {
            return Err(format!(
                "compression must be one of NONE, GZIP, ZIP; got {other}"
            ));
        }
        None => return Err("compression is required".into()),
    };
    match body
        .get("output")
        .and_then(|o| o.get("target"))
        .and_then(Json::as_str)
    {
        Some(t) if t.eq_ignore_ascii_case("S3") => {}
        Some(t) => return Err(format!("output.target must be S3; got {t}")),
        None => return Err("output is required".into()),
    }
    let separator = match (
        format.as_str(),
        body.get("columnSeparator").and_then(Json::as_str),
    ) {
        ("DSV", Some(s)) if s.len() == 1 => s.as_bytes()[0],
        ("DSV", _) => return Err("columnSeparator (one character) is required with DSV".into()),
        (_, Some(_)) => return Err("columnSeparator is only allowed with DSV".into()),
        ("TSV", None) => b'\t',
        _ => b',',
    };
    let source = body
        .get("sourceData")
        .and_then(Json::as_str)
        .unwrap_or("LIVE")
        .to_ascii_uppercase();
    if source != "LIVE" {
        return Err(format!(
            "sourceData {source} is not enabled for this tenant"
        ));
    }
    let read_deleted = body
        .get("readDeleted")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let index_join = body
        .get("useIndexJoin")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    Ok((
        query.to_string(),
        Params {
            format,
            separator,
            compression,
            read_deleted,
        },
        index_join,
        source,
    ))
}

/// `POST /query/jobs`.
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json_ct {
        return dq_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        );
    }
    let body: Json = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return dq_error(StatusCode::BAD_REQUEST, &format!("Malformed JSON: {e}")),
    };
    let (query, params, use_index_join, source_data) = match parse_params(&body) {
        Ok(p) => p,
        Err(m) => return dq_error(StatusCode::BAD_REQUEST, &m),
    };
    let now = sim.now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut job = DqJob {
        id: id.clone(),
        entity: ctx.entity,
        query,
        status: DqStatus::Accepted,
        created_ms: now,
        updated_ms: now,
        use_index_join,
        source_data,
        params,
        output_rows: None,
        processing_ms: None,
        file: None,
        error: None,
        cancel: cancel.clone(),
    };
    let mut state = lock(&sim.dq);
    let running = state
        .jobs
        .values()
        .filter(|j| j.status == DqStatus::InProgress)
        .count();
    let queued = state
        .jobs
        .values()
        .filter(|j| j.status == DqStatus::Accepted)
        .count();
    let over_limit = running + queued >= sim.cfg.dq_running_limit + sim.cfg.dq_queue_limit;
    if over_limit {
        job.status = DqStatus::Failed;
        job.error = Some(format!(
            "The number of queued queries exceeds the limit of {} (with {} running). Retry later.",
            sim.cfg.dq_queue_limit, sim.cfg.dq_running_limit
        ));
    }
    let answer = json!({"data": job_json(&sim, &job)});
    state.order.push(id.clone());
    state.jobs.insert(id.clone(), job);
    drop(state);
    if !over_limit {
        tokio::spawn(run_job(sim.clone(), id, cancel));
    }
    axum::Json(answer).into_response()
}

fn update(sim: &Sim, id: &str, f: impl FnOnce(&mut DqJob)) {
    if let Some(job) = lock(&sim.dq).jobs.get_mut(id)
        && job.status != DqStatus::Cancelled
    {
        f(job);
        job.updated_ms = sim.now_ms();
    }
}

async fn run_job(sim: Arc<Sim>, id: String, cancel: Arc<AtomicBool>) {
    tokio::time::sleep(sim.cfg.job_delay).await;
    let Ok(_permit) = sim.dq_slots.acquire().await else {
        return;
    };
    if cancel.load(Ordering::SeqCst) {
        return;
    }
    update(&sim, &id, |j| j.status = DqStatus::InProgress);
    let started = Instant::now();
    let fault = lock(&sim.faults).check("job.dq", Phase::Job);
    match fault {
        Some(FaultKind::JobFail) => {
            return update(&sim, &id, |j| {
                j.status = DqStatus::Failed;
                j.error = Some("failed to process object".into());
            });
        }
        Some(FaultKind::JobAbort) => {
            return update(&sim, &id, |j| {
                j.status = DqStatus::Failed;
                j.error = Some("Query exceeded the maximum time limit of 3600.00s".into());
            });
        }
        Some(FaultKind::SlowJob { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        _ => {}
    }
    let (entity, query, params) = {
        let state = lock(&sim.dq);
        let Some(j) = state.jobs.get(&id) else { return };
        (j.entity, j.query.clone(), j.params.clone())
    };
    let sim2 = sim.clone();
    let cancel2 = cancel.clone();
    let id2 = id.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        execute(&sim2, entity, &id2, &query, &params, &cancel2)
    })
    .await;
    if cancel.load(Ordering::SeqCst) {
        return;
    }
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(Ok((rows, file))) => update(&sim, &id, |j| {
            j.status = DqStatus::Completed;
            j.output_rows = Some(rows);
            j.processing_ms = Some(elapsed);
            j.file = Some(file);
        }),
        Ok(Err(message)) => update(&sim, &id, |j| {
            j.status = DqStatus::Failed;
            j.error = Some(message);
        }),
        Err(_) => update(&sim, &id, |j| {
            j.status = DqStatus::Failed;
            j.error = Some("failed to process object".into());
        }),
    }
}

/// Runs the SQL and spools the result; returns (rows, file name).
fn execute(
    sim: &Sim,
    entity: usize,
    id: &str,
    query: &str,
    params: &Params,
    cancel: &AtomicBool,
) -> Result<(usize, String), String> {
    let store = sim.entities[entity]
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let opts = QueryOptions {
        dialect: Dialect::Sql,
        deleted: if params.read_deleted {
            DeletedMode::Only
        } else {
            DeletedMode::Exclude
        },
        since: None,
        deleted_column: None,
        tenant_offset_minutes: sim.cfg.tenant_offset_minutes,
        now_ms: sim.now_ms(),
    };
    let prepared = prepare(query, &opts, &store).map_err(|e| e.to_string())?;
    let ext = match params.format.as_str() {
        "JSON" => "json",
        "TSV" => "tsv",
        "DSV" => "dsv",
        _ => "csv",
    };
    let entry = format!("{id}.{ext}");
    let file = match params.compression {
        Compression::None => entry.clone(),
        Compression::Gzip => format!("{entry}.gz"),
        Compression::Zip => format!("{id}.zip"),
    };
    let style = if params.format == "JSON" {
        Style::DataQueryJson
    } else {
        Style::DataQuery {
            separator: params.separator,
        }
    };
    let render = RenderOptions {
        style,
        tenant_offset_minutes: sim.cfg.tenant_offset_minutes,
    };
    let path = sim.spool.dir.join(&file);
    let (rows, size) = match &prepared {
        Prepared::Fixed { headers, rows } => {
            let size = write_file(
                &path,
                &entry,
                &Source::Fixed { headers, rows },
                &render,
                params.compression,
            )
            .map_err(|e| format!("failed to write result: {e}"))?;
            (rows.len(), size)
        }
        Prepared::Select(plan) => {
            let result = plan.run(&store, &|| cancel.load(Ordering::SeqCst));
            if result.len() > sim.cfg.output_row_cap {
                return Err(format!(
                    "Query output exceeded the maximum number of output rows ({}). Add filters or a LIMIT.",
                    sim.cfg.output_row_cap
                ));
            }
            let source = Source::Plan {
                plan,
                rows: &result,
                store: &store,
                range: 0..result.len(),
            };
            let size = write_file(&path, &entry, &source, &render, params.compression)
                .map_err(|e| format!("failed to write result: {e}"))?;
            (result.len(), size)
        }
    };
    let content_type = match params.compression {
        Compression::None if params.format == "JSON" => "application/json",
        Compression::None => "text/csv",
        Compression::Gzip => "application/gzip",
        Compression::Zip => "application/zip",
    };
    sim.add_file(
        file.clone(),
        StoredFile {
            path,
            content_type,
            size,
            created_ms: sim.now_ms(),
        },
    );
    Ok((rows, file))
}

/// `GET /query/jobs/{id}`.
pub(crate) async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&sim.dq);
    match state.jobs.get(&id).filter(|j| j.entity == ctx.entity) {
        Some(job) => axum::Json(json!({"data": job_json(&sim, job)})).into_response(),
        None => dq_error(StatusCode::NOT_FOUND, &format!("Query job {id} not found")),
    }
}

/// `GET /query/jobs?queryStatus=…&pageSize=…`, newest first.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page_size = match q.get("pageSize").map(|s| s.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return dq_error(
                StatusCode::BAD_REQUEST,
                "pageSize must be between 1 and 1000",
            );
        }
    };
    let wanted = q.get("queryStatus").map(|s| s.to_ascii_lowercase());
    let state = lock(&sim.dq);
    let data: Vec<Json> = state
        .order
        .iter()
        .rev()
        .filter_map(|id| state.jobs.get(id))
        .filter(|j| j.entity == ctx.entity)
        .filter(|j| wanted.as_deref().is_none_or(|w| j.status.as_str() == w))
        .take(page_size)
        .map(|j| job_json(&sim, j))
        .collect();
    axum::Json(json!({"data": data})).into_response()
}

/// `DELETE /query/jobs/{id}`: only `accepted` or `in_progress` jobs can be cancelled.
pub(crate) async fn cancel(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let mut state = lock(&sim.dq);
    let Some(job) = state.jobs.get_mut(&id).filter(|j| j.entity == ctx.entity) else {
        return dq_error(StatusCode::NOT_FOUND, &format!("Query job {id} not found"));
    };
    if !matches!(job.status, DqStatus::Accepted | DqStatus::InProgress) {
        return dq_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Query job {id} is {} and can no longer be cancelled",
                job.status.as_str()
            ),
        );
    }
    job.status = DqStatus::Cancelled;
    job.updated_ms = sim.now_ms();
    job.cancel.store(true, Ordering::SeqCst);
    let _ = utc_now_ms();
    axum::Json(json!({"data": job_json(&sim, job)})).into_response()
}
