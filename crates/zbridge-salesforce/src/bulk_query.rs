//! Bulk API 2.0 query jobs: a SOQL query run at Salesforce as a job, its results read back as
//! CSV pages of at most `maxRecords` rows, one after another, following `Sforce-Locator`
//! until it says `null` (Bulk API 2.0 Developer Guide, "Get Results for a Query Job").
//!
//! For reading whole objects (`sync verify`): a page at a time, so memory holds one page; far
//! fewer API calls than REST query pages of 2,000 records.

use reqwest::Method;

use crate::client::{ApiRequest, SalesforceClient};
use crate::error::{Result, SalesforceError};

/// Records handed over at once: a results page may hold 50,000 rows, and a row as a JSON map
/// takes a few kilobytes, so they go out in slices of a REST query page's size.
const RECORDS_PER_SLICE: usize = 2_000;

fn csv_error(e: csv::Error) -> SalesforceError {
    SalesforceError::protocol(format!("Bulk query result CSV: {e}"))
}

/// One page of results as records: column name (`Rel__r.Field__c` for a parent's field) →
/// text, or null for an empty cell (Bulk CSV writes null as nothing), handed to `page` a slice
/// at a time. Returns the rows read.
fn read_page(
    csv_body: &[u8],
    page: &mut impl FnMut(Vec<serde_json::Value>) -> Result<()>,
) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_body);
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut read = 0;
    let mut out = Vec::with_capacity(RECORDS_PER_SLICE);
    for row in reader.records() {
        let row = row.map_err(csv_error)?;
        let record: serde_json::Map<String, serde_json::Value> = header
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| {
                let value = match cell {
                    "" => serde_json::Value::Null,
                    text => serde_json::Value::String(text.to_string()),
                };
                (name.clone(), value)
            })
            .collect();
        out.push(serde_json::Value::Object(record));
        read += 1;
        if out.len() == RECORDS_PER_SLICE {
            page(std::mem::take(&mut out))?;
        }
    }
    if !out.is_empty() {
        page(out)?;
    }
    Ok(read)
}

/// The next page's locator, or `None` after the last page.
fn next_locator(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("sforce-locator")
        .and_then(|v| v.to_str().ok())
        .filter(|l| !l.is_empty() && *l != "null")
        .map(str::to_string)
}

impl SalesforceClient {
    /// Runs `soql` as a Bulk API 2.0 query job and hands each page of results (at most
    /// `max_records` rows) to `page`; returns the rows read. The job is deleted afterwards.
    pub async fn bulk_query_pages(
        &self,
        soql: &str,
        max_records: u64,
        mut page: impl FnMut(Vec<serde_json::Value>) -> Result<()>,
    ) -> Result<u64> {
        let auth = self.begin_batch().await?;
        let mut create = ApiRequest::json(
            Method::POST,
            "jobs/query",
            &serde_json::json!({"operation": "query", "query": soql}),
        );
        // A second create would start a second job.
        create.idempotent = false;
        let job: crate::bulk::JobInfo = self.call(&auth, &create).await?.json()?;
        let info = self.poll_bulk_job(&auth, "jobs/query", &job.id).await?;
        if info.state != "JobComplete" {
            return Err(SalesforceError::BulkJob {
                job_id: info.id,
                state: info.state,
                message: info.error_message.unwrap_or_default(),
            });
        }
        let mut read = 0;
        let mut locator: Option<String> = None;
        loop {
            let mut path = format!("jobs/query/{}/results?maxRecords={max_records}", job.id);
            if let Some(l) = &locator {
                path.push_str(&format!("&locator={l}"));
            }
            let response = self.call(&auth, &ApiRequest::get(path)).await?;
            read += read_page(&response.body, &mut page)?;
            locator = next_locator(&response.headers);
            if locator.is_none() {
                break;
            }
        }
        let delete = ApiRequest {
            method: Method::DELETE,
            path: format!("jobs/query/{}", job.id),
            body: None,
            idempotent: true,
        };
        if let Err(e) = self.call(&auth, &delete).await {
            tracing::debug!(error = %e, job = %job.id, "the finished query job was not deleted");
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records_of(body: &[u8]) -> Result<Vec<serde_json::Value>> {
        let mut all = Vec::new();
        let read = read_page(body, &mut |slice| {
            assert!(slice.len() <= RECORDS_PER_SLICE);
            all.extend(slice);
            Ok(())
        })?;
        assert_eq!(read as usize, all.len());
        Ok(all)
    }

    #[test]
    fn result_pages_read_as_records_with_nulls() {
        let body = b"Id,Name,Parent__r.Ext__c\n001A,\"Acme, Inc\",\n001B,,P1\n";
        let records = records_of(body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["Name"], "Acme, Inc");
        assert_eq!(records[0]["Parent__r.Ext__c"], serde_json::Value::Null);
        assert_eq!(records[1]["Parent__r.Ext__c"], "P1");
        assert!(records_of(b"").unwrap().is_empty());
        let mut big = String::from("Id\n");
        for i in 0..(RECORDS_PER_SLICE * 2 + 5) {
            big.push_str(&format!("{i}\n"));
        }
        let all = records_of(big.as_bytes()).unwrap();
        assert_eq!(all.len(), RECORDS_PER_SLICE * 2 + 5);
    }

    #[test]
    fn the_locator_null_ends_the_pages() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(next_locator(&headers), None);
        headers.insert("Sforce-Locator", "null".parse().unwrap());
        assert_eq!(next_locator(&headers), None);
        headers.insert("Sforce-Locator", "MTAwMDA".parse().unwrap());
        assert_eq!(next_locator(&headers).as_deref(), Some("MTAwMDA"));
    }
}
