//! Bulk API 2.0 ingest (salesforce-api.md §10): create, one upload, close, poll, abort, delete,
//! and the successful / failed / unprocessed result CSVs.
//!
//! The upload is kept as one `Bytes` buffer (≤ 100 MB). Processing runs on a blocking thread in
//! internal batches of 10,000 rows, taking the org lock once per batch so other calls keep
//! flowing. Outcomes are stored compactly per row; result files are rendered batch by batch from
//! the upload when they are downloaded, streamed, and in an order that differs from the upload.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;

use super::http::{Caller, Shared, json, rest_error};
use super::ids::SfId;
use super::org::{FieldAccess, Org, now_ms, stamp};
use super::write::{
    Column, Raw, RecordError, WriteOp, delete_records, hard_delete_records, resolve_column,
    write_record,
};

/// Largest accepted upload (salesforce-api.md §10.3).
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Rows per internal batch.
pub const INTERNAL_BATCH_ROWS: usize = 10_000;

/// Bulk ingest operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Upsert,
    Update,
    Delete,
    HardDelete,
}

impl Operation {
    fn parse(s: &str) -> Option<Operation> {
        Some(match s {
            "insert" => Operation::Insert,
            "upsert" => Operation::Upsert,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            "hardDelete" => Operation::HardDelete,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Upsert => "upsert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::HardDelete => "hardDelete",
        }
    }
}

/// Job states (salesforce-api.md §10.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    /// The state's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }

    /// Whether the job can no longer change.
    pub fn terminal(self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }
}

/// The `columnDelimiter` names and their bytes.
pub const DELIMITERS: &[(&str, u8)] = &[
    ("COMMA", b','),
    ("BACKQUOTE", b'`'),
    ("CARET", b'^'),
    ("PIPE", b'|'),
    ("SEMICOLON", b';'),
    ("TAB", b'\t'),
];

/// What happened to one row.
#[derive(Clone, Debug)]
pub enum Outcome {
    Success { id: SfId, created: bool },
    Failed(Box<str>),
    Unprocessed,
}

/// One internal batch: where its rows start in the upload and what happened to each row.
/// `outcomes: None` means every row from `start` to the end of the upload was never processed.
#[derive(Debug)]
pub struct BatchResult {
    start: usize,
    outcomes: Option<Vec<Outcome>>,
}

/// One ingest job.
#[derive(Debug)]
pub struct Job {
    pub id: SfId,
    pub object: String,
    object_index: usize,
    pub operation: Operation,
    external_id_field: Option<String>,
    delimiter: (&'static str, u8),
    crlf: bool,
    pub state: JobState,
    created_by: usize,
    created_ms: i64,
    modified_ms: i64,
    api_version: u32,
    uploads: u32,
    upload: Bytes,
    pub error_message: Option<String>,
    pub processed: u64,
    pub failed: u64,
    header: Vec<String>,
    batches: Vec<Arc<BatchResult>>,
    processing_ms: u64,
}

impl Job {
    fn info(&self, org: &Org, full: bool) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id.to_string(),
            "operation": self.operation.name(),
            "object": self.object,
            "createdById": org.users.get(self.created_by).map(|u| u.id.to_string()),
            "createdDate": stamp(self.created_ms),
            "systemModstamp": stamp(self.modified_ms),
            "state": self.state.name(),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": f64::from(self.api_version),
            "jobType": "V2Ingest",
            "contentUrl": format!("services/data/v{}.0/jobs/ingest/{}/batches", self.api_version, self.id),
            "lineEnding": if self.crlf { "CRLF" } else { "LF" },
            "columnDelimiter": self.delimiter.0,
        });
        if let Some(ext) = &self.external_id_field {
            v["externalIdFieldName"] = serde_json::Value::String(ext.clone());
        }
        if full {
            v["numberRecordsProcessed"] = self.processed.into();
            v["numberRecordsFailed"] = self.failed.into();
            v["retries"] = 0.into();
            v["totalProcessingTime"] = self.processing_ms.into();
            v["apiActiveProcessingTime"] = self.processing_ms.into();
            v["apexProcessingTime"] = 0.into();
            if let Some(msg) = &self.error_message {
                v["errorMessage"] = serde_json::Value::String(msg.clone());
            }
        }
        v
    }
}

/// Bulk ingest routes.
pub fn routes() -> Router<Shared> {
    let base = "/services/data/{version}/jobs/ingest";
    Router::new()
        .route(base, get(list_jobs).post(create_job))
        .route(
            &format!("{base}/{{job}}"),
            get(get_job).patch(patch_job).delete(delete_job),
        )
        .route(
            &format!("{base}/{{job}}/batches"),
            axum::routing::put(upload),
        )
        .route(
            &format!("{base}/{{job}}/successfulResults"),
            get(successful_results),
        )
        .route(
            &format!("{base}/{{job}}/failedResults"),
            get(failed_results),
        )
        .route(
            &format!("{base}/{{job}}/unprocessedrecords"),
            get(unprocessed_results),
        )
        .route(
            &format!("{base}/{{job}}/unprocessedRecords"),
            get(unprocessed_results),
        )
}

fn invalid_job(message: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

fn job_not_found() -> Response {
    rest_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

#[derive(serde::Deserialize)]
struct CreateJob {
    object: Option<String>,
    operation: Option<String>,
    #[serde(rename = "externalIdFieldName")]
    external_id_field_name: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    #[serde(rename = "columnDelimiter")]
    column_delimiter: Option<String>,
    #[serde(rename = "lineEnding")]
    line_ending: Option<String>,
}

async fn create_job(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    let req: CreateJob = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return rest_error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &e.to_string()),
    };
    let mut org = state.lock();
    if org.faults.bulk_disabled {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "FeatureNotEnabled",
            "Async API not enabled",
        );
    }
    let Some(operation) = req.operation.as_deref().and_then(Operation::parse) else {
        return invalid_job(
            "InvalidJob : Invalid operation; use insert, upsert, update, delete or hardDelete",
        );
    };
    let object_name = req.object.unwrap_or_default();
    let Some(object) = org.schema.object(&object_name) else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "INVALIDENTITY",
            &format!("sObject type '{object_name}' is not supported"),
        );
    };
    if !org.schema.objects[object].writable {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "INVALIDENTITY",
            &format!("Entity '{object_name}' is not supported by the Bulk API."),
        );
    }
    if req.content_type.as_deref().is_some_and(|t| t != "CSV") {
        return invalid_job("InvalidJob : contentType must be CSV");
    }
    let delimiter_name = req.column_delimiter.unwrap_or_else(|| "COMMA".into());
    let Some(&(dname, dbyte)) = DELIMITERS.iter().find(|(n, _)| *n == delimiter_name) else {
        return invalid_job("InvalidJob : Invalid columnDelimiter");
    };
    let crlf = match req.line_ending.as_deref().unwrap_or("LF") {
        "LF" => false,
        "CRLF" => true,
        _ => return invalid_job("InvalidJob : Invalid lineEnding; use LF or CRLF"),
    };
    let external_id_field = if operation == Operation::Upsert {
        let def = &org.schema.objects[object];
        let Some(name) = req.external_id_field_name.filter(|n| !n.is_empty()) else {
            return invalid_job(&format!(
                "External ID was blank for {}. An External ID must be specified for upsert.",
                def.name
            ));
        };
        let field = def.field(&name).filter(|&f| {
            (def.fields[f].external_id || name.eq_ignore_ascii_case("Id"))
                && org.field_access(c.user, object, f) != FieldAccess::Hidden
        });
        let Some(field) = field else {
            return invalid_job(&format!(
                "The field {name} is not an External ID field of {}",
                def.name
            ));
        };
        Some(def.fields[field].name.clone())
    } else {
        None
    };
    let id = org.new_id_with_prefix("750");
    let now = now_ms();
    let job = Job {
        id,
        object: org.schema.objects[object].name.clone(),
        object_index: object,
        operation,
        external_id_field,
        delimiter: (dname, dbyte),
        crlf,
        state: JobState::Open,
        created_by: c.user,
        created_ms: now,
        modified_ms: now,
        api_version: c.version,
        uploads: 0,
        upload: Bytes::new(),
        error_message: None,
        processed: 0,
        failed: 0,
        header: Vec::new(),
        batches: Vec::new(),
        processing_ms: 0,
    };
    let info = job.info(&org, false);
    org.jobs.insert(id.to_string(), job);
    json(StatusCode::OK, info)
}

fn job_key(org: &Org, raw: &str) -> Option<String> {
    let id = SfId::parse(raw)?;
    let key = id.to_string();
    org.jobs.contains_key(&key).then_some(key)
}

async fn list_jobs(State(state): State<Shared>) -> Response {
    let org = state.lock();
    let mut jobs: Vec<&Job> = org.jobs.values().collect();
    jobs.sort_by_key(|j| j.created_ms);
    let records: Vec<serde_json::Value> = jobs.iter().map(|j| j.info(&org, false)).collect();
    json(
        StatusCode::OK,
        serde_json::json!({"done": true, "records": records, "nextRecordsUrl": null}),
    )
}

async fn get_job(State(state): State<Shared>, Path((_, job)): Path<(String, String)>) -> Response {
    let org = state.lock();
    match job_key(&org, &job).and_then(|k| org.jobs.get(&k)) {
        Some(j) => json(StatusCode::OK, j.info(&org, true)),
        None => job_not_found(),
    }
}

async fn upload(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    {
        let org = state.lock();
        match job_key(&org, &job).and_then(|k| org.jobs.get(&k)) {
            None => return job_not_found(),
            Some(j) if j.state != JobState::Open => {
                return rest_error(
                    StatusCode::CONFLICT,
                    "INVALIDJOBSTATE",
                    "The job is not open for data uploads",
                );
            }
            Some(_) => {}
        }
    }
    let mut stream = body.into_data_stream();
    // Size the buffer from Content-Length so a 100 MB upload does not double its capacity.
    let expected = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_UPLOAD_BYTES);
    let mut buf = bytes::BytesMut::with_capacity(expected);
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "the upload was interrupted",
            );
        };
        if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return rest_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "EXCEEDED_MAX_SIZE_REQUEST",
                "The upload exceeds the 100 MB limit for one job. Split the data into several jobs.",
            );
        }
        buf.extend_from_slice(&chunk);
    }
    let mut org = state.lock();
    let Some(j) = job_key(&org, &job).and_then(|k| org.jobs.get_mut(&k)) else {
        return job_not_found();
    };
    j.uploads += 1;
    if j.uploads == 1 {
        j.upload = buf.freeze();
    }
    j.modified_ms = now_ms();
    StatusCode::CREATED.into_response()
}

#[derive(serde::Deserialize)]
struct PatchJob {
    state: String,
}

async fn patch_job(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
    Json(req): Json<PatchJob>,
) -> Response {
    let mut org = state.lock();
    let Some(key) = job_key(&org, &job) else {
        return job_not_found();
    };
    let slow = org.faults.slow_jobs;
    let Some(j) = org.jobs.get_mut(&key) else {
        return job_not_found();
    };
    match req.state.as_str() {
        "UploadComplete" => {
            if j.state != JobState::Open {
                return rest_error(
                    StatusCode::CONFLICT,
                    "INVALIDJOBSTATE",
                    "Only an Open job can be closed",
                );
            }
            if j.uploads > 1 {
                return invalid_job(&format!(
                    "Found multipe contents for job: <{}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
                    j.id
                ));
            }
            j.state = JobState::UploadComplete;
            j.modified_ms = now_ms();
            let id = j.id.to_string();
            let Some(j) = org.jobs.get(&key) else {
                return job_not_found();
            };
            let info = j.info(&org, false);
            drop(org);
            let shared = state.clone();
            tokio::task::spawn_blocking(move || process_job(&shared, &id, slow));
            json(StatusCode::OK, info)
        }
        "Aborted" => {
            if j.state.terminal() {
                return rest_error(
                    StatusCode::CONFLICT,
                    "INVALIDJOBSTATE",
                    "A finished job cannot be aborted",
                );
            }
            j.state = JobState::Aborted;
            j.modified_ms = now_ms();
            if j.batches.is_empty() && !j.upload.is_empty() {
                let start = data_start(&j.upload, j.delimiter.1);
                j.batches.push(Arc::new(BatchResult {
                    start,
                    outcomes: None,
                }));
            }
            let Some(j) = org.jobs.get(&key) else {
                return job_not_found();
            };
            let info = j.info(&org, false);
            json(StatusCode::OK, info)
        }
        other => invalid_job(&format!(
            "InvalidJob : state {other} cannot be set by the client"
        )),
    }
}

async fn delete_job(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    let mut org = state.lock();
    let Some(key) = job_key(&org, &job) else {
        return job_not_found();
    };
    let deletable = org
        .jobs
        .get(&key)
        .is_some_and(|j| j.state.terminal() || j.state == JobState::Open);
    if !deletable {
        return rest_error(
            StatusCode::CONFLICT,
            "INVALIDJOBSTATE",
            "A job that is being processed cannot be deleted; abort it first",
        );
    }
    org.jobs.remove(&key);
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------------
// Processing

fn fail_job(state: &Shared, id: &str, message: &str, unprocessed_from: Option<usize>) {
    let mut org = state.lock();
    if let Some(j) = org.jobs.get_mut(id) {
        j.state = JobState::Failed;
        j.error_message = Some(message.to_string());
        j.modified_ms = now_ms();
        if let Some(start) = unprocessed_from {
            j.batches.push(Arc::new(BatchResult {
                start,
                outcomes: None,
            }));
        }
    }
}

fn csv_reader(data: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(data)
}

/// Everything the processing thread needs to know about the job, copied out of the lock.
struct Plan {
    object: usize,
    user: usize,
    operation: Operation,
    upsert_field: Option<usize>,
    upsert_column: Option<usize>,
    id_column: Option<usize>,
    columns: Vec<(usize, Column)>,
    delimiter: u8,
    crlf: bool,
    upload: Bytes,
}

fn process_job(state: &Shared, id: &str, slow: bool) {
    let started = Instant::now();
    let plan = {
        let mut org = state.lock();
        let Some(j) = org.jobs.get_mut(id) else {
            return;
        };
        if j.state != JobState::UploadComplete {
            return;
        }
        j.state = JobState::InProgress;
        j.modified_ms = now_ms();
        let (object, user, operation, delimiter, crlf, upload) = (
            j.object_index,
            j.created_by,
            j.operation,
            j.delimiter.1,
            j.crlf,
            j.upload.clone(),
        );
        let ext = j.external_id_field.clone();
        match plan_job(
            &org,
            object,
            user,
            operation,
            ext.as_deref(),
            delimiter,
            crlf,
            upload,
        ) {
            Ok((plan, header)) => {
                if let Some(j) = org.jobs.get_mut(id) {
                    j.header = header;
                }
                plan
            }
            Err((message, data_start)) => {
                drop(org);
                fail_job(state, id, &message, data_start);
                return;
            }
        }
    };
    if slow {
        std::thread::sleep(Duration::from_millis(1500));
    }
    run_batches(state, id, &plan, slow);
    let mut org = state.lock();
    if let Some(j) = org.jobs.get_mut(id) {
        j.processing_ms = started.elapsed().as_millis() as u64;
        if j.state == JobState::InProgress {
            j.state = JobState::JobComplete;
        }
        j.modified_ms = now_ms();
    }
}

type PlanError = (String, Option<usize>);

#[allow(clippy::too_many_arguments)]
fn plan_job(
    org: &Org,
    object: usize,
    user: usize,
    operation: Operation,
    external_id_field: Option<&str>,
    delimiter: u8,
    crlf: bool,
    upload: Bytes,
) -> Result<(Plan, Vec<String>), PlanError> {
    let body_start = if upload.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let data = &upload[body_start..];
    if data.is_empty() {
        return Err((
            "InvalidBatch : No data was uploaded for this job".into(),
            None,
        ));
    }
    if let Some(nl) = data.iter().position(|&b| b == b'\n') {
        let has_cr = nl > 0 && data[nl - 1] == b'\r';
        if has_cr != crlf {
            let setting = if crlf { "CRLF" } else { "LF" };
            return Err((
                format!(
                    "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {setting}"
                ),
                Some(data_start(&upload, delimiter)),
            ));
        }
    }
    let mut reader = csv_reader(data, delimiter);
    let mut header = csv::StringRecord::new();
    if !reader.read_record(&mut header).unwrap_or(false) {
        return Err((
            "InvalidBatch : No data was uploaded for this job".into(),
            None,
        ));
    }
    let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let data_start = body_start + reader.position().byte() as usize;
    let unprocessed = |msg: String| (msg, Some(data_start));
    let def = &org.schema.objects[object];
    let mut plan = Plan {
        object,
        user,
        operation,
        upsert_field: None,
        upsert_column: None,
        id_column: None,
        columns: Vec::new(),
        delimiter,
        crlf,
        upload: upload.clone(),
    };
    let is_delete = matches!(operation, Operation::Delete | Operation::HardDelete);
    for (i, name) in header.iter().enumerate() {
        if name.eq_ignore_ascii_case("Id") && operation != Operation::Insert {
            plan.id_column = Some(i);
            continue;
        }
        if is_delete {
            return Err(unprocessed(format!(
                "InvalidBatch : The '{}' batch must contain only the 'Id' field",
                operation.name()
            )));
        }
        if external_id_field.is_some_and(|e| e.eq_ignore_ascii_case(name)) {
            plan.upsert_column = Some(i);
            plan.upsert_field = def.field(name);
            continue;
        }
        match resolve_column(org, object, user, name) {
            Ok(column) => plan.columns.push((i, column)),
            Err(_) => {
                return Err(unprocessed(format!(
                    "InvalidBatch : Field name not found : {name}"
                )));
            }
        }
    }
    if let (Operation::Upsert, Some(ext)) = (operation, external_id_field) {
        if plan.upsert_column.is_none() && !ext.eq_ignore_ascii_case("Id") {
            return Err(unprocessed(format!(
                "InvalidBatch : Field name not found : {ext}"
            )));
        }
        if ext.eq_ignore_ascii_case("Id") {
            plan.upsert_column = plan.id_column;
        }
    }
    if matches!(
        operation,
        Operation::Update | Operation::Delete | Operation::HardDelete
    ) && plan.id_column.is_none()
    {
        return Err(unprocessed(
            "InvalidBatch : Field name not found : Id".into(),
        ));
    }
    let _ = plan.crlf;
    Ok((plan, header))
}

fn row_hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.to_lowercase().hash(&mut h);
    h.finish()
}

/// Counts upsert keys over the whole job, so rows sharing a key fail together.
fn duplicate_keys(plan: &Plan, data: &[u8]) -> HashMap<u64, u32> {
    let mut counts: HashMap<u64, u32> = HashMap::new();
    let Some(col) = plan.upsert_column else {
        return counts;
    };
    let mut reader = csv_reader(data, plan.delimiter);
    let mut rec = csv::StringRecord::new();
    while reader.read_record(&mut rec).unwrap_or(false) {
        if let Some(v) = rec.get(col).map(trim_cr).filter(|v| !v.is_empty()) {
            *counts.entry(row_hash(v)).or_default() += 1;
        }
    }
    counts.retain(|_, n| *n > 1);
    counts
}

fn trim_cr(v: &str) -> &str {
    v.strip_suffix('\r').unwrap_or(v)
}

fn run_batches(state: &Shared, id: &str, plan: &Plan, slow: bool) {
    let data_start = {
        let org = state.lock();
        let Some(_) = org.jobs.get(id) else { return };
        drop(org);
        header_end(plan)
    };
    let data = &plan.upload[data_start..];
    let duplicates = duplicate_keys(plan, data);
    let total_rows = if state.lock().faults.job_fails {
        count_rows(plan, data)
    } else {
        0
    };
    let fail_at = state.lock().faults.job_fails.then_some(total_rows / 2);
    let mut reader = csv_reader(data, plan.delimiter);
    let mut rec = csv::StringRecord::new();
    let mut row_index = 0usize;
    loop {
        let batch_start = data_start + reader.position().byte() as usize;
        let mut rows: Vec<csv::StringRecord> = Vec::with_capacity(INTERNAL_BATCH_ROWS.min(1024));
        while rows.len() < INTERNAL_BATCH_ROWS && reader.read_record(&mut rec).unwrap_or(false) {
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                continue;
            }
            rows.push(rec.clone());
        }
        if rows.is_empty() {
            return;
        }
        let mut org = state.lock();
        let Some(job_state) = org.jobs.get(id).map(|j| j.state) else {
            return;
        };
        if job_state != JobState::InProgress {
            if let Some(j) = org.jobs.get_mut(id) {
                j.batches.push(Arc::new(BatchResult {
                    start: batch_start,
                    outcomes: None,
                }));
            }
            return;
        }
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut failed_job = false;
        for row in &rows {
            if fail_at.is_some_and(|n| row_index >= n) {
                failed_job = true;
                outcomes.push(Outcome::Unprocessed);
                continue;
            }
            outcomes.push(process_row(&mut org, plan, row, &duplicates));
            row_index += 1;
        }
        let (ok, bad) = outcomes.iter().fold((0u64, 0u64), |(s, f), o| match o {
            Outcome::Success { .. } => (s + 1, f),
            Outcome::Failed(_) => (s, f + 1),
            Outcome::Unprocessed => (s, f),
        });
        if let Some(j) = org.jobs.get_mut(id) {
            j.processed += ok + bad;
            j.failed += bad;
            j.batches.push(Arc::new(BatchResult {
                start: batch_start,
                outcomes: Some(outcomes),
            }));
            j.modified_ms = now_ms();
            if failed_job {
                j.state = JobState::Failed;
                j.error_message = Some(
                    "InternalServerError : the job failed while processing; unprocessed records can be retried in a new job"
                        .into(),
                );
            }
        }
        if failed_job {
            let rest_start = data_start + reader.position().byte() as usize;
            if rest_start < plan.upload.len()
                && let Some(j) = org.jobs.get_mut(id)
            {
                j.batches.push(Arc::new(BatchResult {
                    start: rest_start,
                    outcomes: None,
                }));
            }
            return;
        }
        drop(org);
        if slow {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn header_end(plan: &Plan) -> usize {
    data_start(&plan.upload, plan.delimiter)
}

/// Byte offset of the first data row: after an optional BOM and the header line.
fn data_start(upload: &[u8], delimiter: u8) -> usize {
    let body_start = if upload.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut reader = csv_reader(&upload[body_start..], delimiter);
    let mut header = csv::StringRecord::new();
    let _ = reader.read_record(&mut header);
    body_start + reader.position().byte() as usize
}

fn count_rows(plan: &Plan, data: &[u8]) -> usize {
    let mut reader = csv_reader(data, plan.delimiter);
    let mut rec = csv::StringRecord::new();
    let mut n = 0;
    while reader.read_record(&mut rec).unwrap_or(false) {
        n += 1;
    }
    n
}

fn process_row(
    org: &mut Org,
    plan: &Plan,
    row: &csv::StringRecord,
    duplicates: &HashMap<u64, u32>,
) -> Outcome {
    let result = row_result(org, plan, row, duplicates);
    match result {
        Ok((id, created)) => Outcome::Success { id, created },
        Err(e) => Outcome::Failed(e.to_bulk_text().into()),
    }
}

fn row_result(
    org: &mut Org,
    plan: &Plan,
    row: &csv::StringRecord,
    duplicates: &HashMap<u64, u32>,
) -> Result<(SfId, bool), RecordError> {
    let cell = |i: usize| trim_cr(row.get(i).unwrap_or(""));
    let row_id = || -> Result<SfId, RecordError> {
        let raw = plan.id_column.map(cell).unwrap_or("");
        if raw.is_empty() {
            return Err(RecordError::new(
                "MISSING_ARGUMENT",
                "Id not specified in an update call",
                &["Id"],
            ));
        }
        SfId::parse(raw)
            .ok_or_else(|| RecordError::new("MALFORMED_ID", format!("malformed id {raw}"), &["Id"]))
    };
    match plan.operation {
        Operation::Delete | Operation::HardDelete => {
            let id = row_id()?;
            let object = org
                .schema
                .object_by_prefix(id.key_prefix())
                .filter(|o| *o == plan.object)
                .ok_or_else(|| {
                    RecordError::new("MALFORMED_ID", format!("malformed id {id}"), &["Id"])
                })?;
            let delete = if plan.operation == Operation::HardDelete {
                hard_delete_records
            } else {
                delete_records
            };
            delete(org, object, &[id]).remove(0).map(|id| (id, false))
        }
        op => {
            let mut values: Vec<(Column, Raw<'_>)> = Vec::with_capacity(plan.columns.len());
            for (i, column) in &plan.columns {
                let v = cell(*i);
                match v {
                    "" => {}
                    "#N/A" => values.push((column.clone(), Raw::Null)),
                    text => values.push((column.clone(), Raw::Text(text.into()))),
                }
            }
            let key = plan.upsert_column.map(cell).unwrap_or("");
            let write = match op {
                Operation::Insert => WriteOp::Insert,
                Operation::Update => WriteOp::Update(row_id()?),
                _ => {
                    if !key.is_empty() && duplicates.contains_key(&row_hash(key)) {
                        return Err(RecordError::new(
                            "DUPLICATE_EXTERNAL_ID",
                            format!("Duplicate external id specified: {key}"),
                            &[plan
                                .upsert_field
                                .map(|f| org.schema.objects[plan.object].fields[f].name.as_str())
                                .unwrap_or("Id")],
                        ));
                    }
                    match plan.upsert_field {
                        Some(field) => WriteOp::Upsert {
                            field,
                            value: key.to_string(),
                        },
                        None if key.is_empty() => WriteOp::Insert,
                        None => WriteOp::Update(row_id()?),
                    }
                }
            };
            let lock_key = if key.is_empty() {
                row.as_slice().to_string()
            } else {
                key.to_string()
            };
            write_record(org, plan.object, plan.user, write, &values, &lock_key)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Result files

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

struct ResultSource {
    upload: Bytes,
    delimiter: u8,
    crlf: bool,
    header: Vec<String>,
    batches: Vec<Arc<BatchResult>>,
}

async fn successful_results(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    results(&state, &job, ResultKind::Successful)
}

async fn failed_results(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    results(&state, &job, ResultKind::Failed)
}

async fn unprocessed_results(
    State(state): State<Shared>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    results(&state, &job, ResultKind::Unprocessed)
}

fn results(state: &Shared, job: &str, kind: ResultKind) -> Response {
    let source = {
        let org = state.lock();
        let Some(j) = job_key(&org, job).and_then(|k| org.jobs.get(&k)) else {
            return job_not_found();
        };
        let mut batches = j.batches.clone();
        if kind == ResultKind::Unprocessed && j.state == JobState::Open && !j.upload.is_empty() {
            let start = data_start(&j.upload, j.delimiter.1);
            batches.push(Arc::new(BatchResult {
                start,
                outcomes: None,
            }));
        }
        let header = if j.header.is_empty() {
            header_of(&j.upload, j.delimiter.1)
        } else {
            j.header.clone()
        };
        ResultSource {
            upload: j.upload.clone(),
            delimiter: j.delimiter.1,
            crlf: j.crlf,
            header,
            batches,
        }
    };
    // Result order is not guaranteed (salesforce-api.md §10.2): batches come back last-first.
    let order: Vec<usize> = (0..source.batches.len()).rev().collect();
    let source = Arc::new(source);
    let head = Bytes::from(render_header(&source, kind));
    let body_source = source.clone();
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(
        futures::stream::iter(order)
            .map(move |i| Ok(Bytes::from(render_batch(&body_source, i, kind)))),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn header_of(upload: &[u8], delimiter: u8) -> Vec<String> {
    let body = upload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(upload);
    let mut reader = csv_reader(body, delimiter);
    let mut header = csv::StringRecord::new();
    if reader.read_record(&mut header).unwrap_or(false) {
        header
            .iter()
            .map(|h| trim_cr(h).trim().to_string())
            .collect()
    } else {
        Vec::new()
    }
}

fn writer(source: &ResultSource) -> csv::Writer<Vec<u8>> {
    csv_writer(source.delimiter, source.crlf)
}

/// A CSV writer as Bulk API 2.0 result files use: every field quoted, the job's delimiter and
/// line ending.
pub fn csv_writer(delimiter: u8, crlf: bool) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new())
}

fn render_header(source: &ResultSource, kind: ResultKind) -> Vec<u8> {
    let mut w = writer(source);
    let mut row: Vec<&str> = match kind {
        ResultKind::Successful => vec!["sf__Id", "sf__Created"],
        ResultKind::Failed => vec!["sf__Id", "sf__Error"],
        ResultKind::Unprocessed => vec![],
    };
    row.extend(source.header.iter().map(String::as_str));
    let _ = w.write_record(&row);
    w.into_inner().unwrap_or_default()
}

fn render_batch(source: &ResultSource, index: usize, kind: ResultKind) -> Vec<u8> {
    let batch = &source.batches[index];
    let data = &source.upload[batch.start.min(source.upload.len())..];
    let mut reader = csv_reader(data, source.delimiter);
    let mut rec = csv::StringRecord::new();
    let mut picked: Vec<(usize, csv::StringRecord)> = Vec::new();
    let mut i = 0usize;
    loop {
        if batch.outcomes.as_ref().is_some_and(|o| i >= o.len()) {
            break;
        }
        if !reader.read_record(&mut rec).unwrap_or(false) {
            break;
        }
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
            continue;
        }
        let wanted = matches!(
            (kind, batch.outcomes.as_ref().map(|o| &o[i])),
            (ResultKind::Successful, Some(Outcome::Success { .. }))
                | (ResultKind::Failed, Some(Outcome::Failed(_)))
                | (ResultKind::Unprocessed, Some(Outcome::Unprocessed) | None)
        );
        if wanted {
            picked.push((i, rec.clone()));
        }
        i += 1;
    }
    // Rows within a batch come back rotated, so clients cannot rely on upload order.
    let mid = picked.len() / 2;
    picked.rotate_left(mid);
    let mut w = writer(source);
    for (i, rec) in &picked {
        let original = rec.iter().map(trim_cr);
        let _ = match batch.outcomes.as_ref().map(|o| &o[*i]) {
            Some(Outcome::Success { id, created }) => {
                let prefix = [id.as_str(), if *created { "true" } else { "false" }];
                w.write_record(prefix.into_iter().chain(original))
            }
            Some(Outcome::Failed(err)) => {
                w.write_record(["", err.as_ref()].into_iter().chain(original))
            }
            _ => w.write_record(original),
        };
    }
    w.into_inner().unwrap_or_default()
}
