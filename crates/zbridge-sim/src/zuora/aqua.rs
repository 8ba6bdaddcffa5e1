//! AQuA: `/v1/batch-query/`. Stateless and stateful jobs of ZOQL / Export ZOQL queries that
//! really run over the data and produce CSV (optionally zip/gzip) files, segmented when large.
//! Errors come back with HTTP 200, as Zuora returns them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::faults::{FaultKind, Phase};
use super::format::{parse_naive_at, plain_at};
use super::http::AuthCtx;
use super::output::{Compression, RenderOptions, Source, Style, write_file};
use super::query::exec::{DeletedFormat, DeletedMode, Prepared, QueryError, QueryOptions, prepare};
use super::query::parse::Dialect;
use super::state::{Sim, StoredFile, lock};

/// The exact message of a submit-time syntax error (tap-zuora compares it verbatim).
pub const SYNTAX_ERROR: &str = "There is a syntax error in one of the queries in the AQuA input";
/// The exact message for `deleted` on an object without delete support.
pub const NO_DELETED_SUPPORT: &str = "Objects included in the queries do not support the querying of deleted records. \
Remove Deleted section in the JSON request and retry the request";
/// Objects that cannot export deleted records (Zuora's list plus tap-zuora's wider one).
const NO_DELETE_OBJECTS: &[&str] = &[
    "AccountingPeriod",
    "AccountingCode",
    "ContactSnapshot",
    "DiscountAppliedMetrics",
    "PaymentGatewayReconciliationEventLog",
    "PaymentTransactionLog",
    "PaymentMethodTransactionLog",
    "PaymentReconciliationJob",
    "PaymentReconciliationLog",
    "ProcessedUsage",
    "RefundTransactionLog",
    "UpdaterBatch",
    "UpdaterDetail",
    "BookingTransaction",
    "CalloutHistory",
    "SmartPreventionAudit",
    "HpmCaptchaValidationResult",
    "EmailHistory",
];
/// A stateful session older than this gives a full load again.
const SESSION_MAX_AGE_MS: i64 = 180 * 86_400_000;
/// The transient message of an aborted batch (resubmitting works).
const TRANSIENT_ABORT: &str = "Service Temporarily Unavailable: the server is temporarily unable to service your request. LINK_30000007";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobStatus {
    Submitted,
    Executing,
    Completed,
    Aborted,
    Failed,
    Cancelled,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Submitted => "submitted",
            JobStatus::Executing => "executing",
            JobStatus::Completed => "completed",
            JobStatus::Aborted => "aborted",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    fn active(self) -> bool {
        matches!(self, JobStatus::Submitted | JobStatus::Executing)
    }
}

#[derive(Debug, Clone)]
struct Batch {
    id: String,
    name: Option<String>,
    query: String,
    batch_type: String,
    api_version: String,
    status: &'static str,
    full: bool,
    record_count: usize,
    message: String,
    file_id: Option<String>,
    segments: Vec<String>,
    deleted: Option<(String, DeletedFormat)>,
}

#[derive(Debug)]
pub(crate) struct AquaJob {
    id: String,
    entity: usize,
    name: Option<String>,
    version: Json,
    format: String,
    status: JobStatus,
    start_ms: Option<i64>,
    encrypted: String,
    partner: Option<String>,
    project: Option<String>,
    stateful: bool,
    use_labels: bool,
    utc: bool,
    null_replacement: String,
    incremental_ms: Option<i64>,
    offset_s: i64,
    batches: Vec<Batch>,
    cancel: Arc<AtomicBool>,
}

#[derive(Debug, Clone)]
struct Session {
    last_start_ms: i64,
    queries: HashMap<String, String>,
}

/// All AQuA jobs and stateful sessions.
#[derive(Debug, Default)]
pub(crate) struct AquaState {
    jobs: HashMap<String, AquaJob>,
    sessions: HashMap<(usize, String, String), Session>,
    last_completed: HashMap<(usize, String, String), String>,
}

/// An error answered with HTTP 200, as AQuA answers them.
fn aqua_error(code: &str, message: &str) -> Response {
    axum::Json(json!({"id": null, "status": "error", "errorCode": code, "message": message}))
        .into_response()
}

fn flag(v: Option<&Json>) -> bool {
    match v {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn text(v: Option<&Json>) -> Option<String> {
    match v {
        Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn job_json(sim: &Sim, job: &AquaJob) -> Json {
    let batches: Vec<Json> = job
        .batches
        .iter()
        .map(|b| {
            let mut j = json!({
                "batchId": b.id,
                "apiVersion": b.api_version,
                "batchType": b.batch_type,
                "full": b.full,
                "message": b.message,
                "query": b.query,
                "recordCount": b.record_count,
                "status": b.status,
                "localizedStatus": b.status,
            });
            if let Some(n) = &b.name {
                j["name"] = json!(n);
            }
            if b.segments.is_empty() {
                if let Some(f) = &b.file_id {
                    j["fileId"] = json!(f);
                }
            } else {
                j["segments"] = json!(b.segments);
            }
            if let Some((column, format)) = &b.deleted {
                j["deleted"] = json!({"column": column, "format": if *format == DeletedFormat::Boolean { "Boolean" } else { "Numeric" }});
            }
            j
        })
        .collect();
    let mut j = json!({
        "id": job.id,
        "version": job.version,
        "format": job.format,
        "status": job.status.as_str(),
        "encrypted": job.encrypted,
        "sourceData": "LIVE",
        "useLastCompletedJobQueries": false,
        "offset": job.offset_s,
        "batches": batches,
    });
    if let Some(n) = &job.name {
        j["name"] = json!(n);
    }
    if let Some(p) = &job.partner {
        j["partner"] = json!(p);
    }
    if let Some(p) = &job.project {
        j["project"] = json!(p);
    }
    if let Some(s) = job.start_ms {
        j["startTime"] = json!(plain_at(s, sim.cfg.tenant_offset_minutes));
    }
    j
}

fn query_options(
    sim: &Sim,
    dialect: Dialect,
    deleted: Option<(String, DeletedFormat)>,
) -> QueryOptions {
    QueryOptions {
        dialect,
        deleted: DeletedMode::Exclude,
        since: None,
        deleted_column: deleted,
        tenant_offset_minutes: sim.cfg.tenant_offset_minutes,
        now_ms: sim.now_ms(),
    }
}

/// `POST /v1/batch-query/` (with or without the trailing slash).
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    body: axum::body::Bytes,
) -> Response {
    let body: Json = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return aqua_error("90005", &format!("Malformed JSON request: {e}")),
    };
    let format = body
        .get("format")
        .and_then(Json::as_str)
        .unwrap_or("csv")
        .to_ascii_lowercase();
    if !["csv", "zip", "gzip"].contains(&format.as_str()) {
        return axum::Json(json!({
            "success": false,
            "code": 50_000_090,
            "message": format!("Invalid format '{format}'. Valid values are csv, zip and gzip."),
        }))
        .into_response();
    }
    let Some(queries) = body
        .get("queries")
        .and_then(Json::as_array)
        .filter(|q| !q.is_empty())
    else {
        return aqua_error("90016", "There are no queries in the AQuA input");
    };
    if queries.len() > 50 {
        return aqua_error(
            "90004",
            "The number of queries in the AQuA input exceeds the maximum of 50",
        );
    }
    let version_text = text(body.get("version")).unwrap_or_else(|| "1.0".into());
    let partner = text(body.get("partner"));
    let project = text(body.get("project"));
    let stateful =
        version_text != "1.0" && version_text != "1" && partner.is_some() && project.is_some();
    if stateful
        && let (Some(allowed), Some(p)) = (&sim.cfg.aqua_partners, &partner)
        && !allowed.iter().any(|a| a == p)
    {
        return aqua_error(
            "90019",
            &format!(
                "The partner {p} is not recognized. Contact Zuora Global Support for a partner ID."
            ),
        );
    }
    if body
        .get("notifyUrl")
        .and_then(Json::as_str)
        .is_some_and(|u| u.len() >= 5000)
    {
        return aqua_error("90014", "The notifyUrl is too long");
    }
    let incremental_ms = match (stateful, text(body.get("incrementalTime"))) {
        (true, Some(t)) => match parse_naive_at(&t, sim.cfg.tenant_offset_minutes) {
            Some(ms) => Some(ms),
            None => {
                return aqua_error(
                    "90015",
                    &format!("Invalid incrementalTime '{t}'; use yyyy-MM-dd HH:mm:ss"),
                );
            }
        },
        _ => None,
    };
    let mut batches = Vec::new();
    {
        let store = sim.entities[ctx.entity]
            .store
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for q in queries {
            let query = q
                .get("query")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            let batch_type = q
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("zoql")
                .to_ascii_lowercase();
            let dialect = match batch_type.as_str() {
                "zoqlexport" => Dialect::ZoqlExport,
                "zoql" => Dialect::Zoql,
                _ => return aqua_error("90005", SYNTAX_ERROR),
            };
            let deleted = match q.get("deleted") {
                None | Some(Json::Null) => None,
                Some(d) => {
                    let d = if let Some(first) = d.as_array().and_then(|a| a.first()) {
                        first
                    } else {
                        d
                    };
                    let column = d
                        .get("column")
                        .and_then(Json::as_str)
                        .unwrap_or("Deleted")
                        .to_string();
                    let format = match d.get("format").and_then(Json::as_str) {
                        Some(f) if f.eq_ignore_ascii_case("numeric") => DeletedFormat::Numeric,
                        _ => DeletedFormat::Boolean,
                    };
                    Some((column, format))
                }
            };
            if deleted.is_some() && !stateful {
                return aqua_error(
                    "90012",
                    "Stateless AQuA does not support the deleted column; use stateful mode (version 1.1 with partner and project)",
                );
            }
            if query.chars().count() > 20_000 {
                return aqua_error("90005", SYNTAX_ERROR);
            }
            match prepare(
                &query,
                &query_options(&sim, dialect, deleted.clone()),
                &store,
            ) {
                Err(QueryError::Syntax(_)) => return aqua_error("90005", SYNTAX_ERROR),
                Ok(Prepared::Select(plan)) => {
                    let object = plan.base.def().name;
                    if deleted.is_some() && NO_DELETE_OBJECTS.contains(&object) {
                        return aqua_error("90017", NO_DELETED_SUPPORT);
                    }
                }
                Ok(Prepared::Fixed { .. }) => return aqua_error("90005", SYNTAX_ERROR),
                // Semantic errors surface when the batch runs, as an aborted job.
                Err(QueryError::Semantic(_)) => {}
            }
            batches.push(Batch {
                id: sim.new_hex_id(),
                name: text(q.get("name")),
                query,
                batch_type,
                api_version: text(q.get("apiVersion")).unwrap_or_else(|| "145.0".into()),
                status: "pending",
                full: true,
                record_count: 0,
                message: String::new(),
                file_id: None,
                segments: Vec::new(),
                deleted,
            });
        }
    }
    let mut state = lock(&sim.aqua);
    let active = state
        .jobs
        .values()
        .filter(|j| j.status.active() && j.stateful == stateful)
        .count();
    if active >= sim.cfg.aqua_job_limit {
        return aqua_error(
            "90028",
            &format!(
                "The number of concurrent AQuA jobs has reached the limit of {}; retry later",
                sim.cfg.aqua_job_limit
            ),
        );
    }
    let id = sim.new_hex_id();
    let cancel = Arc::new(AtomicBool::new(false));
    let job = AquaJob {
        id: id.clone(),
        entity: ctx.entity,
        name: text(body.get("name")),
        version: body.get("version").cloned().unwrap_or(json!(1)),
        format: format.to_ascii_uppercase(),
        status: JobStatus::Submitted,
        start_ms: None,
        encrypted: body
            .get("encrypted")
            .and_then(Json::as_str)
            .unwrap_or("none")
            .to_string(),
        partner,
        project,
        stateful,
        use_labels: flag(body.get("useQueryLabels")),
        utc: flag(body.get("dateTimeUtc")),
        null_replacement: body
            .get("nullReplacement")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        incremental_ms,
        offset_s: body
            .get("offset")
            .and_then(Json::as_i64)
            .unwrap_or(0)
            .clamp(0, 3600),
        batches,
        cancel: cancel.clone(),
    };
    let answer = job_json(&sim, &job);
    state.jobs.insert(id.clone(), job);
    drop(state);
    tokio::spawn(run_job(sim.clone(), id, cancel));
    axum::Json(answer).into_response()
}

fn with_job(sim: &Sim, id: &str, f: impl FnOnce(&mut AquaJob)) {
    if let Some(job) = lock(&sim.aqua).jobs.get_mut(id)
        && job.status != JobStatus::Cancelled
    {
        f(job);
    }
}

async fn run_job(sim: Arc<Sim>, id: String, cancel: Arc<AtomicBool>) {
    tokio::time::sleep(sim.cfg.job_delay).await;
    if cancel.load(Ordering::SeqCst) {
        return;
    }
    let start = sim.now_ms();
    with_job(&sim, &id, |j| {
        j.status = JobStatus::Executing;
        j.start_ms = Some(start);
    });
    let fault = lock(&sim.faults).check("job.aqua", Phase::Job);
    match fault {
        Some(FaultKind::JobFail) => {
            return with_job(&sim, &id, |j| {
                j.status = JobStatus::Failed;
                for b in &mut j.batches {
                    b.status = "aborted";
                    b.message =
                        "The job failed because of an internal error. Resubmit the job.".into();
                }
            });
        }
        Some(FaultKind::JobAbort) => {
            return with_job(&sim, &id, |j| {
                j.status = JobStatus::Aborted;
                if let Some(b) = j.batches.first_mut() {
                    b.status = "aborted";
                    b.message = TRANSIENT_ABORT.into();
                }
            });
        }
        Some(FaultKind::SlowJob { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        _ => {}
    }
    let n = lock(&sim.aqua).jobs.get(&id).map_or(0, |j| j.batches.len());
    for i in 0..n {
        if cancel.load(Ordering::SeqCst) {
            return;
        }
        with_job(&sim, &id, |j| j.batches[i].status = "executing");
        let sim2 = sim.clone();
        let id2 = id.clone();
        let cancel2 = cancel.clone();
        let outcome =
            tokio::task::spawn_blocking(move || run_batch(&sim2, &id2, i, &cancel2)).await;
        let failed = !matches!(outcome, Ok(Ok(())));
        if failed {
            let message = match outcome {
                Ok(Err(m)) => m,
                _ => "internal error".into(),
            };
            return with_job(&sim, &id, |j| {
                j.status = JobStatus::Aborted;
                j.batches[i].status = "aborted";
                j.batches[i].message = message;
            });
        }
    }
    let mut state = lock(&sim.aqua);
    let Some(job) = state.jobs.get_mut(&id) else {
        return;
    };
    if job.status == JobStatus::Cancelled {
        return;
    }
    job.status = JobStatus::Completed;
    if job.stateful
        && let (Some(p), Some(q)) = (job.partner.clone(), job.project.clone())
    {
        let queries = job
            .batches
            .iter()
            .map(|b| (b.name.clone().unwrap_or_default(), b.query.clone()))
            .collect();
        let key = (job.entity, p, q);
        state.sessions.insert(
            key.clone(),
            Session {
                last_start_ms: start,
                queries,
            },
        );
        state.last_completed.insert(key, id.clone());
    }
}

/// Runs batch `i` of job `id`: chooses full or incremental, runs the query and writes files.
fn run_batch(sim: &Sim, id: &str, i: usize, cancel: &AtomicBool) -> Result<(), String> {
    let (entity, batch, stateful_key, incremental_ms, offset_s, style, compression) = {
        let state = lock(&sim.aqua);
        let job = state.jobs.get(id).ok_or("job vanished")?;
        let style = Style::Aqua {
            api_names: job.use_labels,
            utc: job.utc,
            null: job.null_replacement.clone(),
        };
        let compression = match job.format.as_str() {
            "ZIP" => Compression::Zip,
            "GZIP" => Compression::Gzip,
            _ => Compression::None,
        };
        let key = match (job.stateful, &job.partner, &job.project) {
            (true, Some(p), Some(q)) => Some((job.entity, p.clone(), q.clone())),
            _ => None,
        };
        let session = key.as_ref().and_then(|k| state.sessions.get(k).cloned());
        (
            job.entity,
            job.batches[i].clone(),
            key.map(|k| (k, session)),
            job.incremental_ms,
            job.offset_s,
            style,
            compression,
        )
    };
    let now = sim.now_ms();
    // Stateful: an explicit incrementalTime, or the previous session's start (same query, under
    // 180 days old) makes an incremental load; anything else is a full load.
    let since = match &stateful_key {
        Some(_) if incremental_ms.is_some() => incremental_ms,
        Some((_, Some(s)))
            if now - s.last_start_ms < SESSION_MAX_AGE_MS
                && s.queries.get(&batch.name.clone().unwrap_or_default()) == Some(&batch.query) =>
        {
            Some(s.last_start_ms - offset_s * 1000)
        }
        _ => None,
    };
    let full = since.is_none();
    let dialect = if batch.batch_type == "zoqlexport" {
        Dialect::ZoqlExport
    } else {
        Dialect::Zoql
    };
    let mut opts = query_options(sim, dialect, batch.deleted.clone());
    opts.since = since;
    opts.deleted = if !full && batch.deleted.is_some() {
        DeletedMode::Both
    } else {
        DeletedMode::Exclude
    };
    let store = sim.entities[entity]
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let plan = match prepare(&batch.query, &opts, &store).map_err(|e| e.to_string())? {
        Prepared::Select(p) => p,
        Prepared::Fixed { .. } => return Err("You must specify a select.".into()),
    };
    let rows = plan.run(&store, &|| cancel.load(Ordering::SeqCst));
    let render = RenderOptions {
        style,
        tenant_offset_minutes: sim.cfg.tenant_offset_minutes,
    };
    let (ext, content_type) = match compression {
        Compression::None => ("csv", "text/csv"),
        Compression::Gzip => ("csv.gz", "application/x-gzip"),
        Compression::Zip => ("zip", "application/zip"),
    };
    let entry = format!(
        "{}.csv",
        batch.name.clone().unwrap_or_else(|| batch.id.clone())
    );
    let total = rows.len();
    let segment = sim.cfg.segment_size.max(1);
    let mut file_ids = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + segment).min(total);
        let file_id = sim.new_hex_id();
        let path = sim.spool.dir.join(format!("{file_id}.{ext}"));
        let source = Source::Plan {
            plan: &plan,
            rows: &rows,
            store: &store,
            range: start..end,
        };
        let size = write_file(&path, &entry, &source, &render, compression)
            .map_err(|e| format!("storage error: {e}"))?;
        sim.add_file(
            file_id.clone(),
            StoredFile {
                path,
                content_type,
                size,
                created_ms: sim.now_ms(),
            },
        );
        file_ids.push(file_id);
        start = end;
        if start >= total {
            break;
        }
    }
    drop(store);
    with_job(sim, id, |j| {
        let b = &mut j.batches[i];
        b.status = "completed";
        b.full = full;
        b.record_count = total;
        if file_ids.len() > 1 {
            b.segments = file_ids;
        } else {
            b.file_id = file_ids.pop();
        }
    });
    Ok(())
}

/// `GET /v1/batch-query/jobs/{id}`.
pub(crate) async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&sim.aqua);
    match state.jobs.get(&id).filter(|j| j.entity == ctx.entity) {
        Some(job) => axum::Json(job_json(&sim, job)).into_response(),
        None => aqua_error("90002", &format!("Invalid job id {id}")),
    }
}

/// `DELETE /v1/batch-query/jobs/{id}`: cancels a job that is not complete; errors otherwise.
pub(crate) async fn delete(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let mut state = lock(&sim.aqua);
    match state.jobs.get_mut(&id).filter(|j| j.entity == ctx.entity) {
        Some(job) if job.status.active() => {
            job.status = JobStatus::Cancelled;
            job.cancel.store(true, Ordering::SeqCst);
            for b in &mut job.batches {
                if b.status != "completed" {
                    b.status = "cancelled";
                }
            }
            axum::Json(job_json(&sim, job)).into_response()
        }
        Some(job) => aqua_error(
            "90003",
            &format!(
                "The job {id} is {} and cannot be cancelled",
                job.status.as_str()
            ),
        ),
        None => aqua_error("90003", &format!("Invalid job id {id} for cancellation")),
    }
}

/// `GET /v1/batch-query/jobs/partner/{partner}/project/{project}`: the last completed stateful job.
pub(crate) async fn last(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path((partner, project)): Path<(String, String)>,
) -> Response {
    let state = lock(&sim.aqua);
    let job = state
        .last_completed
        .get(&(ctx.entity, partner.clone(), project.clone()))
        .and_then(|id| state.jobs.get(id));
    match job {
        Some(job) => axum::Json(job_json(&sim, job)).into_response(),
        None => aqua_error(
            "90002",
            &format!("No completed job for partner {partner} and project {project}"),
        ),
    }
}
