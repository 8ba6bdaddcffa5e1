//! Data Query and AQuA jobs: submit, poll with backoff until a terminal state, cancel.
//!
//! Polls start at `PollInterval` and back off to `MaxPollInterval`; a job still running after
//! `JobTimeout` is cancelled, as is every job the caller abandons (a cancelled token), so no
//! abandoned job keeps counting against the tenant's limits (lessons L9, L11). Job ids are kept
//! from the submit response; a job is never found by listing (L15).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::{Call, ZuoraClient};
use crate::error::ZuoraError;
use crate::reader;

/// A permit to run one job at a tenant; dropping it frees the place.
pub type JobSlot = tokio::sync::OwnedSemaphorePermit;

/// Waits for a place among the tenant's `MaxConcurrentJobs`. All connections of this process
/// to one tenant (one base URL) share the places, because Zuora's job limits are per tenant
/// and shared with every other integration (lessons L8).
pub async fn job_slot(client: &ZuoraClient) -> Result<JobSlot, ZuoraError> {
    static SLOTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
    > = std::sync::OnceLock::new();
    let conn = client.connection();
    let semaphore = {
        let mut slots =
            SLOTS
                .get_or_init(Default::default)
                .lock()
                .map_err(|_| ZuoraError::Protocol {
                    path: "job slots".into(),
                    detail: "poisoned".into(),
                })?;
        slots
            .entry(conn.base_url.clone())
            .or_insert_with(|| {
                std::sync::Arc::new(tokio::sync::Semaphore::new(
                    conn.settings.max_concurrent_jobs.max(1) as usize,
                ))
            })
            .clone()
    };
    semaphore
        .acquire_owned()
        .await
        .map_err(|_| ZuoraError::Protocol {
            path: "job slots".into(),
            detail: "closed".into(),
        })
}

/// A Data Query job request.
#[derive(Debug, Clone)]
pub struct DataQueryJob {
    /// The SQL.
    pub query: String,
    /// `readDeleted`: only deleted rows.
    pub read_deleted: bool,
}

impl DataQueryJob {
    /// A job for `query`, results as gzip-compressed JSON Lines (where, unlike CSV, a null and
    /// an empty string differ).
    pub fn new(query: &str) -> Self {
        DataQueryJob {
            query: query.to_string(),
            read_deleted: false,
        }
    }

    fn body(&self, source_data: &str) -> Value {
        let mut body = json!({
            "query": self.query,
            "outputFormat": "JSON",
            "compression": "GZIP",
            "output": {"target": "S3"},
        });
        if self.read_deleted {
            body["readDeleted"] = json!(true);
        }
        if source_data != "LIVE" {
            body["sourceData"] = json!(source_data);
        }
        body
    }
}

/// Where a finished job's rows are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultFile {
    /// A pre-signed URL, downloaded without Zuora's `Authorization` header (lessons L6).
    Presigned {
        /// The Data Query job, re-read for a fresh URL if this one expired.
        job_id: String,
        /// The URL.
        url: String,
    },
    /// An AQuA file, `/v1/files/{id}` with authentication.
    Zuora {
        /// The file id.
        file_id: String,
    },
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The job id.
    pub job_id: String,
    /// The result files in order (AQuA segments, or the one Data Query file).
    pub files: Vec<ResultFile>,
    /// The row count Zuora reported, to check the download against.
    pub rows: Option<u64>,
}

/// What happened to a job, for progress displays.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// The job id.
    pub job_id: String,
    /// Zuora's status word.
    pub status: String,
}

/// A failed, aborted or cancelled job.
pub fn job_failed(service: &'static str, job_id: &str, status: &str, message: &str) -> ZuoraError {
    ZuoraError::JobFailed {
        service,
        job_id: job_id.to_string(),
        status: status.to_string(),
        message: message.to_string(),
    }
}

/// Submits a Data Query job and returns its id.
pub async fn submit_data_query(
    client: &ZuoraClient,
    job: &DataQueryJob,
) -> Result<String, ZuoraError> {
    let body = job.body(&client.connection().settings.source_data);
    let answer = client.json(Call::post("/query/jobs", &body)).await?;
    answer["data"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ZuoraError::Protocol {
            path: "/query/jobs".into(),
            detail: "no job id in the answer".into(),
        })
}

/// Waits for a Data Query job to finish.
pub async fn wait_data_query(
    client: &ZuoraClient,
    job_id: &str,
    cancel: &CancellationToken,
    on_status: &(dyn Fn(JobStatus) + Send + Sync),
) -> Result<Finished, ZuoraError> {
    let path = format!("/query/jobs/{job_id}");
    let data = poll(client, &path, cancel, on_status, job_id, |answer| {
        let data = &answer["data"];
        let status = data["queryStatus"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase();
        match status.as_str() {
            "completed" => Poll::Done(data.clone()),
            "failed" | "cancelled" | "canceled" | "aborted" => Poll::Failed(
                status.clone(),
                data["errorMessage"]
                    .as_str()
                    .unwrap_or("no errorMessage given")
                    .to_string(),
            ),
            _ => Poll::Running(status),
        }
    })
    .await;
    let data = match data {
        Ok(data) => data,
        Err(error) => {
            cancel_data_query(client, job_id).await;
            return Err(error);
        }
    };
    let url = data["dataFile"]
        .as_str()
        .ok_or_else(|| ZuoraError::Protocol {
            path: path.clone(),
            detail: "a completed job without dataFile".into(),
        })?;
    Ok(Finished {
        job_id: job_id.to_string(),
        files: vec![ResultFile::Presigned {
            job_id: job_id.to_string(),
            url: url.to_string(),
        }],
        rows: data["outputRows"].as_u64(),
    })
}

/// Cancels a Data Query job; failures are logged, as the job may have finished meanwhile.
pub async fn cancel_data_query(client: &ZuoraClient, job_id: &str) {
    let path = format!("/query/jobs/{job_id}");
    if let Err(error) = client.send(Call::delete(&path)).await {
        tracing::debug!(job_id, %error, "cancelling the Data Query job failed");
    }
}

/// A fresh `dataFile` URL for a completed Data Query job (the old one may have expired).
pub async fn fresh_data_file(client: &ZuoraClient, job_id: &str) -> Result<String, ZuoraError> {
    let path = format!("/query/jobs/{job_id}");
    let answer = client.get_json(&path).await?;
    answer["data"]["dataFile"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ZuoraError::Protocol {
            path,
            detail: "no dataFile".into(),
        })
}

/// Runs a small Data Query (`SHOW TABLES`, `DESCRIBE t`) and returns its rows as
/// `(column, value)` pairs. A download that breaks is fetched again whole (the file is small),
/// as the client's retry policy allows.
pub async fn run_data_query_rows(
    client: &ZuoraClient,
    job: &DataQueryJob,
) -> Result<Vec<Vec<(String, String)>>, ZuoraError> {
    let slot = job_slot(client).await?;
    let id = submit_data_query(client, job).await?;
    let finished = wait_data_query(client, &id, &CancellationToken::new(), &|_| {}).await?;
    drop(slot);
    let mut rows = Vec::new();
    for file in &finished.files {
        let started = std::time::Instant::now();
        let mut retry = 0;
        loop {
            match small_file_rows(client, file).await {
                Ok(file_rows) => {
                    rows.extend(file_rows);
                    break;
                }
                Err(error) => {
                    let broken = matches!(error, ZuoraError::BadDownload { .. })
                        || crate::transport::is_transient(&error);
                    let policy = client.retry_policy();
                    let wait = broken
                        .then(|| policy.next_wait(retry, started.elapsed(), None, &mut rand::rng()))
                        .flatten();
                    let Some(wait) = wait else {
                        return Err(error);
                    };
                    tracing::info!(%error, "download broke; fetching the file again");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
            }
        }
    }
    Ok(rows)
}

/// Every row of one small result file.
async fn small_file_rows(
    client: &ZuoraClient,
    file: &ResultFile,
) -> Result<Vec<Vec<(String, String)>>, ZuoraError> {
    let mut result = reader::open_rows(client, file).await?;
    let header = result.header().to_vec();
    let mut rows = Vec::new();
    while let Some(cells) = result.next_cells().await? {
        rows.push(
            header
                .iter()
                .cloned()
                .zip(cells.into_iter().map(Option::unwrap_or_default))
                .collect(),
        );
    }
    Ok(rows)
}

/// One Export ZOQL query of an AQuA job.
#[derive(Debug, Clone)]
pub struct AquaQuery {
    /// Unique within the job.
    pub name: String,
    /// The Export ZOQL text.
    pub zoql: String,
    /// Stateful only: the column that flags deleted rows.
    pub deleted_column: Option<String>,
}

/// An AQuA job request: stateless by default, stateful when partner and project are set.
#[derive(Debug, Clone, Default)]
pub struct AquaJob {
    /// Job name (at most 32 characters are kept).
    pub name: String,
    /// The queries.
    pub queries: Vec<AquaQuery>,
    /// Stateful partner and project.
    pub stateful: Option<(String, String)>,
    /// Stateful `incrementalTime`, already in the tenant region's zone.
    pub incremental_time: Option<String>,
    /// `nullReplacement`.
    pub null_replacement: Option<String>,
}

impl AquaJob {
    fn body(&self) -> Value {
        let queries: Vec<Value> = self
            .queries
            .iter()
            .map(|q| {
                let mut query = json!({"name": q.name, "query": q.zoql, "type": "zoqlexport"});
                if let Some(column) = &q.deleted_column {
                    query["deleted"] = json!({"column": column, "format": "Boolean"});
                }
                query
            })
            .collect();
        let name: String = self.name.chars().take(32).collect();
        let mut body = json!({
            "format": "gzip",
            "version": "1.1",
            "name": name,
            "encrypted": "none",
            "useQueryLabels": "true",
            "dateTimeUtc": "true",
            "queries": queries,
        });
        if let Some((partner, project)) = &self.stateful {
            body["partner"] = json!(partner);
            body["project"] = json!(project);
        }
        if let Some(time) = &self.incremental_time {
            body["incrementalTime"] = json!(time);
        }
        if let Some(replacement) = &self.null_replacement {
            body["nullReplacement"] = json!(replacement);
        }
        body
    }
}

/// Submits an AQuA job and returns its id. Errors Zuora sends with HTTP 200 are errors.
pub async fn submit_aqua(client: &ZuoraClient, job: &AquaJob) -> Result<String, ZuoraError> {
    let body = job.body();
    let answer = client
        .json(Call::post("/v1/batch-query/", &body).expecting_id())
        .await?;
    answer["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ZuoraError::Protocol {
            path: "/v1/batch-query/".into(),
            detail: "no job id".into(),
        })
}

/// Waits for an AQuA job; returns one [`Finished`] per query, in query order.
pub async fn wait_aqua(
    client: &ZuoraClient,
    job_id: &str,
    cancel: &CancellationToken,
    on_status: &(dyn Fn(JobStatus) + Send + Sync),
) -> Result<Vec<Finished>, ZuoraError> {
    let path = format!("/v1/batch-query/jobs/{job_id}");
    let answer = poll(client, &path, cancel, on_status, job_id, |answer| {
        let status = answer["status"].as_str().unwrap_or("").to_ascii_lowercase();
        match status.as_str() {
            "completed" => Poll::Done(answer.clone()),
            "error" | "aborted" | "cancelled" | "failed" => {
                let messages: Vec<&str> = answer["batches"]
                    .as_array()
                    .map(|b| {
                        b.iter()
                            .filter_map(|b| b["message"].as_str())
                            .filter(|m| !m.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                Poll::Failed(
                    status.clone(),
                    if messages.is_empty() {
                        "no message given".into()
                    } else {
                        messages.join("; ")
                    },
                )
            }
            _ => Poll::Running(status),
        }
    })
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            cancel_aqua(client, job_id).await;
            return Err(error);
        }
    };
    let batches = answer["batches"].as_array().cloned().unwrap_or_default();
    Ok(batches
        .iter()
        .map(|batch| finished_batch(job_id, batch))
        .collect())
}

fn finished_batch(job_id: &str, batch: &Value) -> Finished {
    let files = match batch["segments"].as_array().filter(|s| !s.is_empty()) {
        Some(segments) => segments
            .iter()
            .filter_map(Value::as_str)
            .map(|id| ResultFile::Zuora {
                file_id: id.to_string(),
            })
            .collect(),
        None => batch["fileId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(|id| {
                vec![ResultFile::Zuora {
                    file_id: id.to_string(),
                }]
            })
            .unwrap_or_default(),
    };
    // recordCount is a number in the examples and a string in the schema.
    let rows = batch["recordCount"].as_u64().or_else(|| {
        batch["recordCount"]
            .as_str()
            .and_then(|s| s.trim().parse().ok())
    });
    Finished {
        job_id: job_id.to_string(),
        files,
        rows,
    }
}

/// Cancels an AQuA job; a job that already finished answers with an error, which is ignored.
pub async fn cancel_aqua(client: &ZuoraClient, job_id: &str) {
    let path = format!("/v1/batch-query/jobs/{job_id}");
    if let Err(error) = client.send(Call::delete(&path)).await {
        tracing::debug!(job_id, %error, "cancelling the AQuA job failed");
    }
}

enum Poll {
    Running(String),
    Done(Value),
    Failed(String, String),
}

/// Polls `path` until `judge` says the job is done or failed, with backoff, bounded by the
/// connection's JobTimeout and by `cancel`.
async fn poll(
    client: &ZuoraClient,
    path: &str,
    cancel: &CancellationToken,
    on_status: &(dyn Fn(JobStatus) + Send + Sync),
    job_id: &str,
    judge: impl Fn(&Value) -> Poll,
) -> Result<Value, ZuoraError> {
    let settings = &client.connection().settings;
    let started = Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        let answer = client.get_json(path).await?;
        match judge(&answer) {
            Poll::Done(value) => {
                on_status(JobStatus {
                    job_id: job_id.to_string(),
                    status: "completed".into(),
                });
                return Ok(value);
            }
            Poll::Failed(status, message) => {
                on_status(JobStatus {
                    job_id: job_id.to_string(),
                    status: status.clone(),
                });
                let service = if path.starts_with("/query") {
                    "Data Query"
                } else {
                    "AQuA"
                };
                return Err(job_failed(service, job_id, &status, &message));
            }
            Poll::Running(status) => on_status(JobStatus {
                job_id: job_id.to_string(),
                status,
            }),
        }
        if started.elapsed() >= settings.job_timeout {
            return Err(ZuoraError::Timeout {
                what: format!("job {job_id}"),
                seconds: settings.job_timeout.as_secs(),
            });
        }
        tokio::select! {
            () = cancel.cancelled() => {
                return Err(ZuoraError::Protocol { path: path.to_string(), detail: "cancelled".into() });
            }
            () = tokio::time::sleep(wait) => {}
        }
        // Quick first polls finish small jobs quickly; after a minute the backoff keeps long
        // jobs cheap.
        let cap = if started.elapsed() < Duration::from_secs(60) {
            settings.poll_interval
        } else {
            settings.max_poll_interval.max(settings.poll_interval)
        };
        wait = (wait * 2).min(cap);
    }
}
