//! Bulk API 2.0 ingest (salesforce-api.md §10): upsert by external id and delete, split into
//! jobs of at most 100 MB of CSV with one upload each, polled with backoff, and every row of
//! the successful, failed and unprocessed result files mapped back to the caller's input row
//! by its key column (results come back in any order).
//!
//! Rows that failed only with `UNABLE_TO_LOCK_ROW` go into a new, smaller job after a pause.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{ApiRequest, SalesforceClient, check_name};
use crate::collections::{RecordError, RecordOutcome, RecordResult};
use crate::error::{Result, SalesforceError};
use crate::session::Authenticator;

/// A finished Bulk job.
#[derive(Debug, Clone, Serialize)]
pub struct BulkJobSummary {
    /// Job id.
    pub id: String,
    /// Final state (`JobComplete`, `Failed`, `Aborted`).
    pub state: String,
    /// `numberRecordsProcessed`.
    pub processed: u64,
    /// `numberRecordsFailed`.
    pub failed: u64,
    /// `errorMessage` of a failed job.
    pub error_message: Option<String>,
}

/// The outcome of a Bulk load: one result per input row, and the jobs that ran.
#[derive(Debug, Clone, Serialize)]
pub struct BulkOutcome {
    /// One per input row, in input order.
    pub results: Vec<RecordResult>,
    /// Every job, in order.
    pub jobs: Vec<BulkJobSummary>,
}

#[derive(Deserialize)]
pub(crate) struct JobInfo {
    pub(crate) id: String,
    pub(crate) state: String,
    #[serde(rename = "numberRecordsProcessed", default)]
    pub(crate) processed: u64,
    #[serde(rename = "numberRecordsFailed", default)]
    failed: u64,
    #[serde(rename = "errorMessage")]
    pub(crate) error_message: Option<String>,
}

struct JobSpec<'a> {
    object: &'a str,
    operation: &'a str,
    external_id_field: Option<&'a str>,
}

/// The leading status code of an `sf__Error` text (`UNABLE_TO_LOCK_ROW:unable to obtain…`).
pub(crate) fn parse_bulk_error(text: &str) -> RecordError {
    let (code, rest) = text.split_once(':').unwrap_or((text, ""));
    let (message, fields) = match rest.rsplit_once(':') {
        Some((m, f)) if !f.contains(' ') && f != "--" => (m, f),
        _ => (rest.trim_end_matches(":--"), ""),
    };
    RecordError {
        status_code: code.trim().to_string(),
        message: message.trim().to_string(),
        fields: fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty() && *f != "--")
            .map(str::to_string)
            .collect(),
    }
}

fn csv_error(e: csv::Error) -> SalesforceError {
    SalesforceError::protocol(format!("Bulk result CSV: {e}"))
}

/// Writes CSV chunks of at most `max_bytes` (header included) over the rows `indices`.
fn csv_chunks(
    columns: &[String],
    rows: &[Vec<String>],
    indices: &[usize],
    max_bytes: usize,
) -> Result<Vec<(Vec<usize>, Bytes)>> {
    let encode = |fields: &[String]| -> Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        w.write_record(fields).map_err(csv_error)?;
        w.into_inner()
            .map_err(|e| SalesforceError::protocol(e.to_string()))
    };
    let header = encode(columns)?;
    let mut chunks = Vec::new();
    let mut buf = header.clone();
    let mut members: Vec<usize> = Vec::new();
    for &i in indices {
        let row = &rows[i];
        if row.len() != columns.len() {
            return Err(SalesforceError::Local(format!(
                "row {i} has {} values for {} columns",
                row.len(),
                columns.len()
            )));
        }
        let line = encode(row)?;
        if header.len() + line.len() > max_bytes {
            return Err(SalesforceError::Local(format!(
                "row {i} alone is larger than the Bulk upload limit"
            )));
        }
        if buf.len() + line.len() > max_bytes && !members.is_empty() {
            chunks.push((
                std::mem::take(&mut members),
                Bytes::from(std::mem::replace(&mut buf, header.clone())),
            ));
        }
        buf.extend_from_slice(&line);
        members.push(i);
    }
    if !members.is_empty() {
        chunks.push((members, Bytes::from(buf)));
    }
    Ok(chunks)
}

impl SalesforceClient {
    /// Upserts `rows` (values in `columns` order; one column must be `external_id_field`, and
    /// parents may be referenced as `Rel__r.ExtId__c`) into `object` through Bulk API 2.0.
    pub async fn bulk_upsert(
        &self,
        object: &str,
        external_id_field: &str,
        columns: &[String],
        rows: &[Vec<String>],
    ) -> Result<BulkOutcome> {
        check_name("object", object)?;
        check_name("field", external_id_field)?;
        for c in columns {
            check_name("field", c)?;
        }
        let key = columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(external_id_field))
            .ok_or_else(|| {
                SalesforceError::Local(format!(
                    "the external id field {external_id_field} must be one of the columns"
                ))
            })?;
        let spec = JobSpec {
            object,
            operation: "upsert",
            external_id_field: Some(external_id_field),
        };
        self.bulk_load(&spec, columns, rows, key).await
    }

    /// Deletes the records of `object` whose `external_id_field` is in `values`: the ids are
    /// looked up, then deleted by a Bulk delete job. One result per input value.
    pub async fn bulk_delete(
        &self,
        object: &str,
        external_id_field: &str,
        values: &[String],
    ) -> Result<BulkOutcome> {
        check_name("object", object)?;
        check_name("field", external_id_field)?;
        let auth = self.begin_batch().await?;
        let ids = self
            .lookup_ids_with(&auth, object, external_id_field, values)
            .await?;
        let mut owners: Vec<usize> = Vec::new();
        let mut rows: Vec<Vec<String>> = Vec::new();
        for (i, value) in values.iter().enumerate() {
            for id in ids.get(value).into_iter().flatten() {
                owners.push(i);
                rows.push(vec![id.clone()]);
            }
        }
        let spec = JobSpec {
            object,
            operation: "delete",
            external_id_field: None,
        };
        let loaded = self.bulk_load(&spec, &["Id".to_string()], &rows, 0).await?;
        let mut per_value: HashMap<usize, RecordOutcome> = HashMap::new();
        for r in loaded.results {
            let owner = owners[r.index];
            let outcome = match r.outcome {
                RecordOutcome::Updated { id } | RecordOutcome::Created { id } => {
                    RecordOutcome::Deleted { id }
                }
                RecordOutcome::Failed { errors }
                    if errors.iter().any(|e| e.status_code == "ENTITY_IS_DELETED") =>
                {
                    RecordOutcome::Deleted {
                        id: r.external_id.clone(),
                    }
                }
                other => other,
            };
            match per_value.get(&owner) {
                Some(existing) if !existing.is_success() => {}
                _ => {
                    per_value.insert(owner, outcome);
                }
            }
        }
        Ok(BulkOutcome {
            results: values
                .iter()
                .enumerate()
                .map(|(index, v)| RecordResult {
                    index,
                    external_id: v.clone(),
                    outcome: per_value
                        .remove(&index)
                        .unwrap_or(RecordOutcome::AlreadyAbsent),
                })
                .collect(),
            jobs: loaded.jobs,
        })
    }

    async fn bulk_load(
        &self,
        spec: &JobSpec<'_>,
        columns: &[String],
        rows: &[Vec<String>],
        key: usize,
    ) -> Result<BulkOutcome> {
        let mut outcomes: HashMap<usize, RecordOutcome> = HashMap::new();
        let mut jobs = Vec::new();
        let mut pending: Vec<usize> = (0..rows.len()).collect();
        let mut round = 0;
        while !pending.is_empty() {
            let retry_allowed = round < self.options().max_retries;
            let mut again = Vec::new();
            for (members, csv) in csv_chunks(
                columns,
                rows,
                &pending,
                self.options().bulk_max_upload_bytes,
            )? {
                let auth = self.begin_batch().await?;
                let (summary, found) = self
                    .run_job(&auth, spec, csv, columns, rows, key, &members)
                    .await?;
                jobs.push(summary);
                for (index, outcome) in found {
                    match &outcome {
                        RecordOutcome::Failed { errors }
                            if retry_allowed && errors.iter().all(RecordError::is_transient) =>
                        {
                            again.push(index)
                        }
                        _ => {
                            outcomes.insert(index, outcome);
                        }
                    }
                }
            }
            if !again.is_empty() {
                tracing::debug!(
                    rows = again.len(),
                    round,
                    "retrying locked rows in a new Bulk job"
                );
                tokio::time::sleep(self.options().retry_base * (round + 1)).await;
            }
            pending = again;
            round += 1;
        }
        Ok(BulkOutcome {
            results: (0..rows.len())
                .map(|index| RecordResult {
                    index,
                    external_id: rows[index][key].clone(),
                    outcome: outcomes
                        .remove(&index)
                        .unwrap_or(RecordOutcome::Unprocessed),
                })
                .collect(),
            jobs,
        })
    }

    /// Creates one job, uploads once, closes it, polls it to the end and reads its results.
    #[allow(clippy::too_many_arguments)]
    async fn run_job(
        &self,
        auth: &Authenticator,
        spec: &JobSpec<'_>,
        csv: Bytes,
        columns: &[String],
        rows: &[Vec<String>],
        key: usize,
        members: &[usize],
    ) -> Result<(BulkJobSummary, Vec<(usize, RecordOutcome)>)> {
        let mut create = serde_json::json!({
            "object": spec.object,
            "operation": spec.operation,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        });
        if let Some(field) = spec.external_id_field {
            create["externalIdFieldName"] = field.into();
        }
        // Creating a job twice only leaves an empty job that Salesforce discards, so a create
        // is retried; the upload is not (a second PUT breaks the job).
        let job: JobInfo = self
            .call(
                auth,
                &ApiRequest::json(Method::POST, "jobs/ingest", &create),
            )
            .await?
            .json()?;
        tracing::info!(job = %job.id, object = spec.object, operation = spec.operation, rows = members.len(), "Bulk job created");
        let upload = ApiRequest {
            method: Method::PUT,
            path: format!("jobs/ingest/{}/batches", job.id),
            body: Some(("text/csv", csv)),
            idempotent: false,
        };
        self.call(auth, &upload).await?;
        let close = ApiRequest::json(
            Method::PATCH,
            format!("jobs/ingest/{}", job.id),
            &serde_json::json!({"state": "UploadComplete"}),
        );
        self.call(auth, &close).await?;
        let info = self.poll_job(auth, &job.id).await?;
        let summary = BulkJobSummary {
            id: info.id.clone(),
            state: info.state.clone(),
            processed: info.processed,
            failed: info.failed,
            error_message: info.error_message.clone(),
        };
        if info.state != "JobComplete" {
            tracing::warn!(job = %info.id, state = %info.state, "Bulk job did not complete");
        }
        let key_name = &columns[key];
        let mut by_key: HashMap<&str, VecDeque<usize>> = HashMap::new();
        for &i in members {
            by_key
                .entry(rows[i][key].as_str())
                .or_default()
                .push_back(i);
        }
        let mut found = Vec::with_capacity(members.len());
        for (path, kind) in [
            ("successfulResults", ResultKind::Success),
            ("failedResults", ResultKind::Failed),
            ("unprocessedrecords", ResultKind::Unprocessed),
        ] {
            let body = self
                .call(
                    auth,
                    &ApiRequest::get(format!("jobs/ingest/{}/{path}", info.id)),
                )
                .await?
                .body;
            read_results(&body, key_name, kind, &mut by_key, &mut found)?;
        }
        Ok((summary, found))
    }

    async fn poll_job(&self, auth: &Authenticator, id: &str) -> Result<JobInfo> {
        self.poll_bulk_job(auth, "jobs/ingest", id).await
    }

    /// Polls a Bulk job (`jobs/ingest` or `jobs/query`) with backoff until it ends.
    pub(crate) async fn poll_bulk_job(
        &self,
        auth: &Authenticator,
        kind: &str,
        id: &str,
    ) -> Result<JobInfo> {
        let started = tokio::time::Instant::now();
        let mut pause = self.options().bulk_poll_initial;
        loop {
            let info: JobInfo = self
                .call(auth, &ApiRequest::get(format!("{kind}/{id}")))
                .await?
                .json()?;
            match info.state.as_str() {
                "JobComplete" | "Failed" | "Aborted" => return Ok(info),
                _ => {}
            }
            if started.elapsed() >= self.options().bulk_poll_timeout {
                return Err(SalesforceError::BulkJob {
                    job_id: id.to_string(),
                    state: info.state,
                    message: "still running when polling gave up; it keeps running at Salesforce, resume polling it rather than loading again".into(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = pause
                .mul_f64(1.5)
                .min(self.options().bulk_poll_max)
                .max(Duration::from_millis(1));
        }
    }
}

#[derive(Clone, Copy)]
enum ResultKind {
    Success,
    Failed,
    Unprocessed,
}

/// Reads one result file and assigns each row to the input row with the same key.
fn read_results(
    body: &[u8],
    key_name: &str,
    kind: ResultKind,
    by_key: &mut HashMap<&str, VecDeque<usize>>,
    found: &mut Vec<(usize, RecordOutcome)>,
) -> Result<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let key_col = col(key_name).ok_or_else(|| {
        SalesforceError::protocol(format!("Bulk result file lacks the {key_name} column"))
    })?;
    let id_col = col("sf__Id");
    let created_col = col("sf__Created");
    let error_col = col("sf__Error");
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let key = record.get(key_col).unwrap_or_default();
        let Some(index) = by_key.get_mut(key).and_then(VecDeque::pop_front) else {
            tracing::warn!("a Bulk result row matches no input row");
            continue;
        };
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .unwrap_or_default()
                .to_string()
        };
        let outcome = match kind {
            ResultKind::Success if get(created_col).eq_ignore_ascii_case("true") => {
                RecordOutcome::Created { id: get(id_col) }
            }
            ResultKind::Success => RecordOutcome::Updated { id: get(id_col) },
            ResultKind::Failed => RecordOutcome::Failed {
                errors: vec![parse_bulk_error(&get(error_col))],
            },
            ResultKind::Unprocessed => RecordOutcome::Unprocessed,
        };
        found.push((index, outcome));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_errors_keep_code_message_and_fields() {
        let e = parse_bulk_error(
            "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--",
        );
        assert_eq!(e.status_code, "UNABLE_TO_LOCK_ROW");
        assert_eq!(
            e.message,
            "unable to obtain exclusive access to this record"
        );
        assert!(e.fields.is_empty());
        let e = parse_bulk_error("STRING_TOO_LONG:Name: data value too large:Name");
        assert_eq!(e.status_code, "STRING_TOO_LONG");
        assert_eq!(e.fields, vec!["Name".to_string()]);
        assert_eq!(
            parse_bulk_error("DUPLICATE_VALUE").status_code,
            "DUPLICATE_VALUE"
        );
    }

    #[test]
    fn csv_is_split_under_the_limit_with_a_header_each() {
        let columns = vec!["Ext__c".to_string(), "Name".to_string()];
        let rows: Vec<Vec<String>> = (0..10)
            .map(|i| vec![format!("k{i}"), format!("name, \"{i}\"")])
            .collect();
        let all: Vec<usize> = (0..10).collect();
        let chunks = csv_chunks(&columns, &rows, &all, 60).unwrap();
        assert!(chunks.len() > 1);
        let mut seen = Vec::new();
        for (members, bytes) in &chunks {
            assert!(bytes.len() <= 60, "{}", bytes.len());
            assert!(bytes.starts_with(b"Ext__c,Name\n"));
            let mut r = csv::Reader::from_reader(&bytes[..]);
            let keys: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
            assert_eq!(keys.len(), members.len());
            seen.extend(members.iter().copied());
        }
        assert_eq!(seen, all);
        assert!(csv_chunks(&columns, &rows, &all, 15).is_err());
    }
}
