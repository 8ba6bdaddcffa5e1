//! Bulk API 2.0 query jobs: create (`query` / `queryAll`), poll, list, abort, delete, and the
//! CSV results paged with `maxRecords` and `locator` (`Sforce-Locator`,
//! `Sforce-NumberOfRecords`).
//!
//! A job runs the SOQL subset of `soql.rs` once, on a blocking thread, and keeps only the ids
//! it selected (in result order). Each results page is rendered on demand from those ids, a few
//! thousand rows per org lock, and streamed: a million-record result never exists as one
//! string. Values are read when the page is downloaded (see SALESFORCE.md for what that means).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use futures::StreamExt;

use super::bulk::{DELIMITERS, JobState, csv_writer};
use super::http::{Caller, Shared, json, not_found, rest_error};
use super::ids::SfId;
use super::org::{Org, stamp};
use super::soql::{self, Prepared, Scope};

/// Rows per page when the client sends no `maxRecords` (the service's default, our choice).
pub const DEFAULT_MAX_RECORDS: usize = 100_000;
/// Rows rendered per org lock while a page streams.
const RENDER_CHUNK: usize = 2_000;
/// Jobs per page of `GET …/jobs/query`.
const LIST_PAGE: usize = 1_000;
/// Query jobs exist from API version 47.0.
const MIN_VERSION: u32 = 47;
/// Column order follows the SELECT list from API version 50.0 (alphabetical before).
const ORDERED_COLUMNS_VERSION: u32 = 50;

/// Bulk query routes.
pub fn routes() -> Router<Shared> {
    let base = "/services/data/{version}/jobs/query";
    Router::new()
        .route(base, get(list_jobs).post(create_job))
        .route(
            &format!("{base}/{{job}}"),
            get(get_job).patch(patch_job).delete(delete_job),
        )
        .route(&format!("{base}/{{job}}/results"), get(results))
}

/// One query job.
#[derive(Debug)]
pub struct QueryJob {
    id: SfId,
    object: String,
    scope: Scope,
    query: soql::Query,
    prepared: Arc<Prepared>,
    delimiter: (&'static str, u8),
    crlf: bool,
    state: JobState,
    created_by: usize,
    created_ms: i64,
    modified_ms: i64,
    api_version: u32,
    ids: Arc<Vec<SfId>>,
    processing_ms: u64,
    error_message: Option<String>,
}

/// Which keys a job-info body carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Created,
    Listed,
    Full,
}

impl QueryJob {
    fn info(&self, org: &Org, view: View) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id.to_string(),
            "operation": match self.scope { Scope::Live => "query", Scope::All => "queryAll" },
            "object": self.object,
            "createdById": org.users.get(self.created_by).map(|u| u.id.to_string()),
            "createdDate": stamp(self.created_ms),
            "systemModstamp": stamp(self.modified_ms),
            "state": self.state.name(),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": f64::from(self.api_version),
            "lineEnding": if self.crlf { "CRLF" } else { "LF" },
            "columnDelimiter": self.delimiter.0,
        });
        if view != View::Created {
            v["jobType"] = "V2Query".into();
        }
        if view == View::Full {
            v["numberRecordsProcessed"] = self.ids.len().into();
            v["retries"] = 0.into();
            v["totalProcessingTime"] = self.processing_ms.into();
            v["isPkChunkingSupported"] = true.into();
            if let Some(msg) = &self.error_message {
                v["errorMessage"] = msg.clone().into();
            }
        }
        v
    }
}

fn invalid_job(message: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

fn api_error(message: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, "API_ERROR", message)
}

fn job_key(org: &Org, raw: &str) -> Option<String> {
    let key = SfId::parse(raw)?.to_string();
    org.query_jobs.contains_key(&key).then_some(key)
}

#[derive(serde::Deserialize)]
struct CreateQueryJob {
    operation: Option<String>,
    query: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    #[serde(rename = "columnDelimiter")]
    column_delimiter: Option<String>,
    #[serde(rename = "lineEnding")]
    line_ending: Option<String>,
}

/// The validated settings of a create request.
struct Settings {
    scope: Scope,
    query: soql::Query,
    delimiter: (&'static str, u8),
    crlf: bool,
}

fn settings(req: CreateQueryJob) -> Result<Settings, Response> {
    let scope = match req.operation.as_deref() {
        Some("query") => Scope::Live,
        Some("queryAll") => Scope::All,
        _ => {
            return Err(invalid_job(
                "InvalidJob : Invalid operation; use query or queryAll",
            ));
        }
    };
    if req.content_type.as_deref().is_some_and(|t| t != "CSV") {
        return Err(invalid_job("InvalidJob : contentType must be CSV"));
    }
    let name = req.column_delimiter.unwrap_or_else(|| "COMMA".into());
    let Some(&delimiter) = DELIMITERS.iter().find(|(n, _)| *n == name) else {
        return Err(invalid_job("InvalidJob : Invalid columnDelimiter"));
    };
    let crlf = match req.line_ending.as_deref().unwrap_or("LF") {
        "LF" => false,
        "CRLF" => true,
        _ => {
            return Err(invalid_job(
                "InvalidJob : Invalid lineEnding; use LF or CRLF",
            ));
        }
    };
    let text = req
        .query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| invalid_job("InvalidJob : A query is required for a query job"))?;
    let query =
        soql::parse(&text).map_err(|e| rest_error(StatusCode::BAD_REQUEST, e.code, &e.message))?;
    if query.count || query.offset.is_some() {
        return Err(api_error(
            "Bulk API 2.0 doesn't support queries with COUNT() or OFFSET",
        ));
    }
    Ok(Settings {
        scope,
        query,
        delimiter,
        crlf,
    })
}

async fn create_job(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    if c.version < MIN_VERSION {
        return not_found();
    }
    let req: CreateQueryJob = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return rest_error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &e.to_string()),
    };
    let settings = match settings(req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut org = state.lock();
    if org.faults.bulk_disabled {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "FeatureNotEnabled",
            "Async API not enabled",
        );
    }
    let prepared = match soql::prepare(&org, c.user, &settings.query) {
        Ok(p) => p,
        Err(e) => return rest_error(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    let job = new_job(&mut org, c, settings, prepared);
    let info = job.info(&org, View::Created);
    let key = job.id.to_string();
    org.query_jobs.insert(key.clone(), job);
    org.query_jobs_created += 1;
    drop(org);
    let shared = state.clone();
    tokio::task::spawn_blocking(move || run_job(&shared, &key));
    json(StatusCode::OK, info)
}

/// A new job in `UploadComplete`, waiting for its thread.
fn new_job(org: &mut Org, c: Caller, settings: Settings, prepared: Prepared) -> QueryJob {
    let id = org.new_id_with_prefix("750");
    let now = org.clock_ms();
    QueryJob {
        id,
        object: org.schema.objects[prepared.object].name.clone(),
        scope: settings.scope,
        query: settings.query,
        prepared: Arc::new(prepared),
        delimiter: settings.delimiter,
        crlf: settings.crlf,
        state: JobState::UploadComplete,
        created_by: c.user,
        created_ms: now,
        modified_ms: now,
        api_version: c.version,
        ids: Arc::new(Vec::new()),
        processing_ms: 0,
        error_message: None,
    }
}

/// Moves a job to `InProgress` (returns whether the slow-jobs fault is on), or `None` when it
/// was aborted or deleted first.
fn start_job(state: &Shared, key: &str) -> Option<bool> {
    let mut org = state.lock();
    let now = org.clock_ms();
    let slow = org.faults.slow_jobs;
    let job = org.query_jobs.get_mut(key)?;
    if job.state != JobState::UploadComplete {
        return None;
    }
    job.state = JobState::InProgress;
    job.modified_ms = now;
    Some(slow)
}

fn run_job(state: &Shared, key: &str) {
    let started = Instant::now();
    let Some(slow) = start_job(state, key) else {
        return;
    };
    if slow {
        std::thread::sleep(Duration::from_millis(1500));
    }
    let mut org = state.lock();
    let Some(job) = org.query_jobs.get(key) else {
        return;
    };
    if job.state != JobState::InProgress {
        return;
    }
    let ids: Vec<SfId> = soql::matching(&org, &job.prepared, &job.query, job.scope)
        .iter()
        .map(|r| r.id)
        .collect();
    let fails = org.faults.job_fails;
    let now = org.clock_ms();
    let Some(job) = org.query_jobs.get_mut(key) else {
        return;
    };
    job.processing_ms = started.elapsed().as_millis() as u64;
    job.modified_ms = now;
    if fails {
        job.state = JobState::Failed;
        job.error_message = Some(
            "InternalServerError : the query job failed while processing; create it again".into(),
        );
    } else {
        job.ids = Arc::new(ids);
        job.state = JobState::JobComplete;
    }
}

async fn get_job(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    if c.version < MIN_VERSION {
        return not_found();
    }
    let org = state.lock();
    match job_key(&org, &job).and_then(|k| org.query_jobs.get(&k)) {
        Some(j) => json(StatusCode::OK, j.info(&org, View::Full)),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
struct PatchJob {
    state: Option<String>,
}

async fn patch_job(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, job)): Path<(String, String)>,
    body: String,
) -> Response {
    if c.version < MIN_VERSION {
        return not_found();
    }
    let wanted = serde_json::from_str::<PatchJob>(&body)
        .ok()
        .and_then(|p| p.state);
    if wanted.as_deref() != Some("Aborted") {
        return invalid_job(
            "InvalidJob : the only state a client can set on a query job is Aborted",
        );
    }
    let mut org = state.lock();
    let now = org.clock_ms();
    let Some(key) = job_key(&org, &job) else {
        return not_found();
    };
    let Some(j) = org.query_jobs.get_mut(&key) else {
        return not_found();
    };
    if !matches!(j.state, JobState::UploadComplete | JobState::InProgress) {
        return api_error(&format!(
            "Cannot abort the job because its state is {}",
            j.state.name()
        ));
    }
    j.state = JobState::Aborted;
    j.modified_ms = now;
    match org.query_jobs.get(&key) {
        Some(j) => json(StatusCode::OK, j.info(&org, View::Created)),
        None => not_found(),
    }
}

async fn delete_job(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, job)): Path<(String, String)>,
) -> Response {
    if c.version < MIN_VERSION {
        return not_found();
    }
    let mut org = state.lock();
    let Some(key) = job_key(&org, &job) else {
        return not_found();
    };
    let terminated = org.query_jobs.get(&key).is_some_and(|j| {
        matches!(
            j.state,
            JobState::JobComplete | JobState::Aborted | JobState::Failed
        )
    });
    if !terminated {
        return api_error(
            "Error encountered when deleting the job because the job is not terminated",
        );
    }
    org.query_jobs.remove(&key);
    StatusCode::NO_CONTENT.into_response()
}

fn params(query: Option<String>) -> HashMap<String, String> {
    super::auth::url_pairs(&query.unwrap_or_default())
        .into_iter()
        .collect()
}

/// Whether a job passes the list filters (`jobType`, `concurrencyMode`, `isPkChunkingEnabled`;
/// every job here is a `V2Query` job in `Parallel` mode without PK chunking).
fn listed(params: &HashMap<String, String>) -> bool {
    params.get("jobType").is_none_or(|t| t == "V2Query")
        && params
            .get("concurrencyMode")
            .is_none_or(|m| m.eq_ignore_ascii_case("parallel"))
        && params
            .get("isPkChunkingEnabled")
            .is_none_or(|v| v != "true")
}

async fn list_jobs(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    if c.version < MIN_VERSION {
        return not_found();
    }
    let params = params(query);
    let Some(start) = params
        .get("queryLocator")
        .map_or(Some(0), |l| decode_locator(l))
    else {
        return invalid_locator();
    };
    let org = state.lock();
    let mut jobs: Vec<&QueryJob> = if listed(&params) {
        org.query_jobs.values().collect()
    } else {
        Vec::new()
    };
    jobs.sort_by_key(|j| (j.created_ms, j.id));
    let end = (start + LIST_PAGE).min(jobs.len());
    let records: Vec<serde_json::Value> = jobs
        .get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|j| j.info(&org, View::Listed))
        .collect();
    let done = end >= jobs.len();
    let next = (!done).then(|| {
        format!(
            "/services/data/v{}.0/jobs/query?queryLocator={}",
            c.version,
            encode_locator(end)
        )
    });
    json(
        StatusCode::OK,
        serde_json::json!({"done": done, "records": records, "nextRecordsUrl": next}),
    )
}

// ---------------------------------------------------------------------------------------------
// Results

/// The locator of the page starting at `offset`: base64 of the offset (`MTAwMDA` = 10000).
fn encode_locator(offset: usize) -> String {
    STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    if locator.is_empty() {
        return Some(0);
    }
    let bytes = STANDARD_NO_PAD.decode(locator.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

fn invalid_locator() -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_LOCATOR",
        "invalid query locator",
    )
}

/// What streaming one page needs, copied out of the lock.
struct Page {
    prepared: Arc<Prepared>,
    ids: Arc<Vec<SfId>>,
    columns: Vec<String>,
    /// Output position → selected column (alphabetical before API 50.0).
    order: Vec<usize>,
    delimiter: u8,
    crlf: bool,
    from: usize,
    to: usize,
}

fn status_word(state: JobState) -> &'static str {
    match state {
        JobState::Open => "OPEN",
        JobState::UploadComplete => "UPLOAD_COMPLETE",
        JobState::InProgress => "IN_PROGRESS",
        JobState::JobComplete => "JOB_COMPLETE",
        JobState::Failed => "FAILED",
        JobState::Aborted => "ABORTED",
    }
}

fn max_records(params: &HashMap<String, String>) -> Result<usize, Response> {
    match params.get("maxRecords") {
        None => Ok(DEFAULT_MAX_RECORDS),
        Some(v) => {
            v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                api_error(&format!("maxRecords must be a positive integer, not '{v}'"))
            })
        }
    }
}

/// The job whose results can be read, or the documented refusal.
fn complete_job<'a>(org: &'a Org, c: Caller, job: &str) -> Result<&'a QueryJob, Response> {
    let j = job_key(org, job)
        .and_then(|k| org.query_jobs.get(&k))
        .ok_or_else(not_found)?;
    if c.version != j.api_version {
        return Err(rest_error(
            StatusCode::CONFLICT,
            "API_ERROR",
            &format!(
                "Use the API version the query job was created with (v{}.0) to get its results",
                j.api_version
            ),
        ));
    }
    if j.state != JobState::JobComplete {
        return Err(rest_error(
            StatusCode::PRECONDITION_FAILED,
            "JOB_NOT_COMPLETE",
            &format!(
                "can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: {}",
                status_word(j.state)
            ),
        ));
    }
    Ok(j)
}

/// Checks the request and copies out the page to stream.
fn plan_page(
    org: &Org,
    c: Caller,
    job: &str,
    params: &HashMap<String, String>,
) -> Result<Page, Response> {
    let j = complete_job(org, c, job)?;
    let max = max_records(params)?;
    let from = decode_locator(params.get("locator").map_or("", String::as_str))
        .filter(|o| *o <= j.ids.len())
        .ok_or_else(invalid_locator)?;
    let columns = j.prepared.column_names(org);
    let mut order: Vec<usize> = (0..columns.len()).collect();
    if j.api_version < ORDERED_COLUMNS_VERSION {
        order.sort_by(|a, b| columns[*a].cmp(&columns[*b]));
    }
    Ok(Page {
        prepared: j.prepared.clone(),
        ids: j.ids.clone(),
        columns,
        order,
        delimiter: j.delimiter.1,
        crlf: j.crlf,
        from,
        to: from.saturating_add(max).min(j.ids.len()),
    })
}

async fn results(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, job)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = params(query);
    let page = {
        let org = state.lock();
        match plan_page(&org, c, &job, &params) {
            Ok(p) => p,
            Err(r) => return r,
        }
    };
    let locator = if page.to < page.ids.len() {
        encode_locator(page.to)
    } else {
        "null".to_string()
    };
    let count = page.to - page.from;
    let mut resp = stream_page(state, page).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if let Ok(v) = HeaderValue::from_str(&locator) {
        headers.insert("sforce-locator", v);
    }
    headers.insert("sforce-numberofrecords", HeaderValue::from(count));
    resp
}

fn stream_page(state: Shared, page: Page) -> Body {
    let page = Arc::new(page);
    let head = Bytes::from(render_header(&page));
    let starts: Vec<usize> = (page.from..page.to).step_by(RENDER_CHUNK).collect();
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(
        futures::stream::iter(starts).map(move |start| {
            let end = (start + RENDER_CHUNK).min(page.to);
            Ok(Bytes::from(render_rows(&state, &page, start, end)))
        }),
    );
    Body::from_stream(stream)
}

fn writer(page: &Page) -> csv::Writer<Vec<u8>> {
    csv_writer(page.delimiter, page.crlf)
}

fn render_header(page: &Page) -> Vec<u8> {
    let mut w = writer(page);
    let _ = w.write_record(page.order.iter().map(|&i| page.columns[i].as_str()));
    w.into_inner().unwrap_or_default()
}

/// Renders rows `start..end` of a page under one org lock. A record purged since the job ran
/// (hard-deleted, or out of the recycle bin) keeps its row with only its `Id` column.
fn render_rows(state: &Shared, page: &Page, start: usize, end: usize) -> Vec<u8> {
    let org = state.lock();
    let object = page.prepared.object;
    let mut w = writer(page);
    for id in page.ids.get(start..end).unwrap_or_default() {
        let cells = match org.tables[object].get_any(id) {
            Some(r) => page.prepared.csv_cells(&org, r),
            None => page
                .columns
                .iter()
                .map(|c| {
                    if c == "Id" {
                        id.to_string()
                    } else {
                        String::new()
                    }
                })
                .collect(),
        };
        let _ = w.write_record(page.order.iter().map(|&i| cells[i].as_str()));
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_are_base64_offsets() {
        assert_eq!(encode_locator(10000), "MTAwMDA");
        assert_eq!(decode_locator("MTAwMDA"), Some(10000));
        assert_eq!(decode_locator("MTAwMDA="), Some(10000));
        assert_eq!(decode_locator(""), Some(0));
        assert_eq!(decode_locator("not base64!"), None);
    }
}
