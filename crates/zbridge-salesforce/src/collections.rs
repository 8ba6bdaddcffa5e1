//! Per-record writes through sObject Collections (salesforce-api.md §9): upsert by external
//! id, at most 200 records per call, and delete by external id (look up the ids, then delete).
//!
//! Every item of a response is inspected (the call is HTTP 200 even when items failed) and
//! mapped back to the caller's input row. Items that failed only with `UNABLE_TO_LOCK_ROW` are
//! sent again, alone, after a pause.

use std::collections::HashMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{ApiRequest, SalesforceClient, check_name};
use crate::error::{Result, SalesforceError};
use crate::session::Authenticator;

/// Most records per Collections call.
pub const COLLECTION_LIMIT: usize = 200;
/// External ids per lookup query (keeps the SOQL URL short).
const LOOKUP_CHUNK: usize = 100;

/// One per-record error (`statusCode`, `message`, `fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// E.g. `DUPLICATE_VALUE`, `UNABLE_TO_LOCK_ROW`.
    #[serde(rename = "statusCode")]
    pub status_code: String,
    /// Salesforce's message.
    #[serde(default)]
    pub message: String,
    /// Fields involved.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl RecordError {
    /// Whether retrying the same record later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.status_code.as_str(),
            "UNABLE_TO_LOCK_ROW" | "SERVER_UNAVAILABLE" | "REQUEST_RUNNING_TOO_LONG"
        )
    }
}

/// What happened to one input row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RecordOutcome {
    /// A new record.
    Created {
        /// Salesforce id.
        id: String,
    },
    /// An existing record, changed.
    Updated {
        /// Salesforce id.
        id: String,
    },
    /// Deleted (or already deleted: `ENTITY_IS_DELETED`).
    Deleted {
        /// Salesforce id.
        id: String,
    },
    /// Nothing had that external id: there was nothing to delete.
    AlreadyAbsent,
    /// Refused.
    Failed {
        /// Why.
        errors: Vec<RecordError>,
    },
    /// Never processed (the Bulk job failed or was aborted); neither success nor failure.
    Unprocessed,
}

impl RecordOutcome {
    /// Whether the row reached the wanted state.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            RecordOutcome::Created { .. }
                | RecordOutcome::Updated { .. }
                | RecordOutcome::Deleted { .. }
                | RecordOutcome::AlreadyAbsent
        )
    }
}

/// The result for one input row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordResult {
    /// Position of the row in the caller's input.
    pub index: usize,
    /// Its external id.
    pub external_id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: RecordOutcome,
}

#[derive(Deserialize)]
struct ItemResult {
    id: Option<String>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    created: Option<bool>,
    #[serde(default)]
    errors: Vec<RecordError>,
}

/// A field value as text, for external ids given as numbers.
pub(crate) fn value_text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Escapes a SOQL string literal.
fn soql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl SalesforceClient {
    /// Upserts `records` into `object` by `external_id_field` through sObject Collections, in
    /// calls of at most 200. Returns one result per input row, in input order.
    pub async fn upsert_collection(
        &self,
        object: &str,
        external_id_field: &str,
        records: &[serde_json::Map<String, serde_json::Value>],
    ) -> Result<Vec<RecordResult>> {
        check_name("object", object)?;
        check_name("field", external_id_field)?;
        let mut results = Vec::with_capacity(records.len());
        for (chunk_no, chunk) in records.chunks(COLLECTION_LIMIT).enumerate() {
            let auth = self.begin_batch().await?;
            let base = chunk_no * COLLECTION_LIMIT;
            let mut pending: Vec<usize> = (base..base + chunk.len()).collect();
            let mut outcomes: HashMap<usize, RecordOutcome> = HashMap::new();
            let mut round = 0;
            while !pending.is_empty() {
                let body = serde_json::json!({
                    "allOrNone": false,
                    "records": pending.iter().map(|&i| {
                        let mut r = records[i].clone();
                        r.insert("attributes".into(), serde_json::json!({"type": object}));
                        serde_json::Value::Object(r)
                    }).collect::<Vec<_>>(),
                });
                let request = ApiRequest::json(
                    Method::PATCH,
                    format!("composite/sobjects/{object}/{external_id_field}"),
                    &body,
                );
                let items: Vec<ItemResult> = self.call(&auth, &request).await?.json()?;
                if items.len() != pending.len() {
                    return Err(SalesforceError::protocol(format!(
                        "Collections answered {} results for {} records",
                        items.len(),
                        pending.len()
                    )));
                }
                let retry_allowed = round < self.options().max_retries;
                let mut again = Vec::new();
                for (&index, item) in pending.iter().zip(items) {
                    let outcome = item_outcome(item, false);
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
                if !again.is_empty() {
                    tracing::debug!(records = again.len(), round, "retrying locked records");
                    tokio::time::sleep(self.options().retry_base * (round + 1)).await;
                }
                pending = again;
                round += 1;
            }
            for (index, record) in chunk.iter().enumerate().map(|(i, r)| (base + i, r)) {
                results.push(RecordResult {
                    index,
                    external_id: value_text(record.get(external_id_field)),
                    outcome: outcomes
                        .remove(&index)
                        .unwrap_or(RecordOutcome::Unprocessed),
                });
            }
        }
        Ok(results)
    }

    /// The Salesforce ids of the records whose `external_id_field` is one of `values`.
    pub async fn lookup_ids(
        &self,
        object: &str,
        external_id_field: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<String>>> {
        check_name("object", object)?;
        check_name("field", external_id_field)?;
        let auth = self.begin_batch().await?;
        self.lookup_ids_with(&auth, object, external_id_field, values)
            .await
    }

    pub(crate) async fn lookup_ids_with(
        &self,
        auth: &Authenticator,
        object: &str,
        external_id_field: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in values.chunks(LOOKUP_CHUNK) {
            let list: Vec<String> = chunk.iter().map(|v| soql_literal(v)).collect();
            let soql = format!(
                "SELECT Id, {external_id_field} FROM {object} WHERE {external_id_field} IN ({})",
                list.join(", ")
            );
            for record in self.query_with(auth, &soql).await? {
                let id = value_text(record.get("Id"));
                let key = record
                    .as_object()
                    .and_then(|o| {
                        o.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(external_id_field))
                            .map(|(_, v)| value_text(Some(v)))
                    })
                    .unwrap_or_default();
                out.entry(key).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// Deletes the records of `object` whose `external_id_field` is in `values`: the ids are
    /// looked up, then deleted through Collections. One result per input value.
    pub async fn delete_collection(
        &self,
        object: &str,
        external_id_field: &str,
        values: &[String],
    ) -> Result<Vec<RecordResult>> {
        check_name("object", object)?;
        check_name("field", external_id_field)?;
        let auth = self.begin_batch().await?;
        let ids = self
            .lookup_ids_with(&auth, object, external_id_field, values)
            .await?;
        let targets: Vec<(usize, String)> = values
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                ids.get(v)
                    .into_iter()
                    .flatten()
                    .map(move |id| (i, id.clone()))
            })
            .collect();
        let mut outcomes: HashMap<usize, RecordOutcome> = HashMap::new();
        for chunk in targets.chunks(COLLECTION_LIMIT) {
            let auth = self.begin_batch().await?;
            let list: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
            let request = ApiRequest {
                method: Method::DELETE,
                path: format!("composite/sobjects?ids={}&allOrNone=false", list.join(",")),
                body: None,
                idempotent: true,
            };
            let items: Vec<ItemResult> = self.call(&auth, &request).await?.json()?;
            if items.len() != chunk.len() {
                return Err(SalesforceError::protocol(
                    "Collections delete answered a different number of results",
                ));
            }
            for ((index, id), item) in chunk.iter().zip(items) {
                let mut outcome = item_outcome(item, true);
                if let RecordOutcome::Deleted { id: got } = &mut outcome
                    && got.is_empty()
                {
                    *got = id.clone();
                }
                // A value matching several records is a success only if every delete is.
                match outcomes.get(index) {
                    Some(RecordOutcome::Failed { .. }) => {}
                    _ => {
                        outcomes.insert(*index, outcome);
                    }
                }
            }
        }
        Ok(values
            .iter()
            .enumerate()
            .map(|(index, value)| RecordResult {
                index,
                external_id: value.clone(),
                outcome: outcomes
                    .remove(&index)
                    .unwrap_or(RecordOutcome::AlreadyAbsent),
            })
            .collect())
    }
}

fn item_outcome(item: ItemResult, delete: bool) -> RecordOutcome {
    let id = item.id.unwrap_or_default();
    if item.success {
        return if delete {
            RecordOutcome::Deleted { id }
        } else if item.created == Some(true) {
            RecordOutcome::Created { id }
        } else {
            RecordOutcome::Updated { id }
        };
    }
    if delete
        && item
            .errors
            .iter()
            .any(|e| e.status_code == "ENTITY_IS_DELETED")
    {
        return RecordOutcome::Deleted { id };
    }
    RecordOutcome::Failed {
        errors: item.errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soql_literals_are_escaped() {
        assert_eq!(soql_literal("a'b\\c"), r"'a\'b\\c'");
    }

    #[test]
    fn item_results_map_to_outcomes() {
        let item: ItemResult = serde_json::from_str(
            r#"{"success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED","message":"gone","fields":[]}]}"#,
        )
        .unwrap();
        assert!(matches!(
            item_outcome(item, true),
            RecordOutcome::Deleted { .. }
        ));
        let item: ItemResult =
            serde_json::from_str(r#"{"id":"a01","success":true,"created":true,"errors":[]}"#)
                .unwrap();
        assert_eq!(
            item_outcome(item, false),
            RecordOutcome::Created { id: "a01".into() }
        );
    }
}
