//! The Query activity for the UI and the API: a preview of the first rows, and a download of
//! everything, streamed to the client as the rows arrive (CSV or JSON Lines).

use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zbridge_core::value::Value;
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::query::{self, OutputColumn, Plan, QuerySpec, RecordSink};
use zbridge_zuora::saved::{SavedQuery, SavedQuerySpec};
use zbridge_zuora::sink::{self, Format};

use crate::error::ApiError;
use crate::form::FormData;

/// Rows a preview shows.
pub const PREVIEW_ROWS: u64 = 100;
/// Bytes gathered before a chunk is handed to the response.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the query and a slow client; the query waits beyond that.
const CHUNKS_IN_FLIGHT: usize = 8;

/// One condition row of the query form: `field op value`, the value written as a literal of
/// the filter language (`'text'`, `42`, `DATE '2026-08-01'`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The field.
    pub field: String,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `IS NULL`, `IS NOT NULL`.
    pub op: String,
    /// The literal (unused for the NULL tests).
    #[serde(default)]
    pub value: String,
}

/// The operators the form offers.
pub const OPERATORS: &[&str] = &[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "IS NULL",
    "IS NOT NULL",
];

/// What the user asked to read. A field it does not know is refused, never ignored (a typo or
/// `filter` for `where` would otherwise run the query unfiltered).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// Connection name.
    pub connection: String,
    /// Table.
    pub table: String,
    /// Columns; empty means every column the service can export.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Condition rows, joined with AND.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// A free filter expression, joined with AND.
    #[serde(default, rename = "where")]
    pub filter: String,
}

impl QueryRequest {
    /// Reads the query form (a GET query string: repeated `columns`, and parallel
    /// `cond_field` / `cond_op` / `cond_value`).
    pub fn from_form(form: &FormData) -> Self {
        let fields = form.all("cond_field");
        let ops = form.all("cond_op");
        let values = form.all("cond_value");
        let conditions = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.trim().is_empty())
            .map(|(i, f)| Condition {
                field: f.to_string(),
                op: ops.get(i).copied().unwrap_or("=").to_string(),
                value: values.get(i).copied().unwrap_or_default().to_string(),
            })
            .collect();
        QueryRequest {
            connection: form.text("connection"),
            table: form.text("table"),
            columns: form
                .all("columns")
                .into_iter()
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            conditions,
            filter: form.text("where"),
        }
    }

    /// The filter expression: every condition and the free expression, joined with AND.
    pub fn filter_text(&self) -> Result<Option<String>, ApiError> {
        let mut parts = Vec::new();
        for c in &self.conditions {
            let op = c.op.trim().to_ascii_uppercase();
            if !OPERATORS.contains(&op.as_str()) {
                return Err(ApiError::bad_request(
                    "Conditions",
                    format!(
                        "'{}' is not an operator; use one of {}",
                        c.op,
                        OPERATORS.join(", ")
                    ),
                ));
            }
            if op.starts_with("IS ") {
                parts.push(format!("{} {op}", c.field.trim()));
            } else if c.value.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "Conditions",
                    format!("the condition on {} needs a value", c.field.trim()),
                ));
            } else {
                parts.push(format!("{} {op} {}", c.field.trim(), c.value.trim()));
            }
        }
        if !self.filter.trim().is_empty() {
            parts.push(format!("({})", self.filter.trim()));
        }
        Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
    }

    fn spec(&self, limit: Option<u64>) -> Result<QuerySpec, ApiError> {
        if self.table.trim().is_empty() {
            return Err(ApiError::bad_request("Table", "pick a table"));
        }
        Ok(QuerySpec {
            table: self.table.trim().to_string(),
            columns: (!self.columns.is_empty()).then(|| self.columns.clone()),
            filter: self.filter_text()?,
            limit,
            ..QuerySpec::default()
        })
    }

    /// The query as a saved query stores it: the conditions and the free expression become
    /// one filter.
    pub fn to_saved(&self) -> Result<SavedQuerySpec, ApiError> {
        Ok(SavedQuerySpec {
            table: Some(self.table.trim().to_string()).filter(|t| !t.is_empty()),
            columns: (!self.columns.is_empty()).then(|| self.columns.clone()),
            filter: self.filter_text()?,
            ..SavedQuerySpec::default()
        })
    }

    /// The form of a saved query, when the form can show everything it holds (a table query
    /// without a window, limit, deleted rows or another service).
    pub fn from_saved(saved: &SavedQuery) -> Option<Self> {
        let q = &saved.query;
        let plain = q.raw_text().is_none()
            && q.since.is_none()
            && q.until.is_none()
            && q.cursor.is_none()
            && q.limit.is_none()
            && !q.include_deleted
            && q.service.is_none();
        Some(QueryRequest {
            connection: saved.connection.clone()?,
            table: q.table.clone().filter(|_| plain)?,
            columns: q.columns.clone().unwrap_or_default(),
            conditions: Vec::new(),
            filter: q.filter.clone().unwrap_or_default(),
        })
    }

    /// The query string of the Query page showing this query.
    pub fn to_query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        out.append_pair("connection", &self.connection);
        out.append_pair("table", &self.table);
        for c in &self.columns {
            out.append_pair("columns", c);
        }
        for c in &self.conditions {
            out.append_pair("cond_field", &c.field);
            out.append_pair("cond_op", &c.op);
            out.append_pair("cond_value", &c.value);
        }
        if !self.filter.is_empty() {
            out.append_pair("where", &self.filter);
        }
        out.finish()
    }

    /// Describes the table and plans the read; every input error surfaces here, before any
    /// job is submitted or byte is sent.
    pub async fn plan(&self, client: &ZuoraClient, limit: Option<u64>) -> Result<Plan, ApiError> {
        let spec = self.spec(limit)?;
        let schema = zbridge_zuora::discovery::describe(client, &spec.table).await?;
        Ok(query::plan(&spec, &schema, client.connection().service)?)
    }
}

/// The first rows of a query, as text.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Preview {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, values as written to CSV.
    pub rows: Vec<Vec<String>>,
    /// Notes of the planner (e.g. what is filtered locally).
    pub notes: Vec<String>,
}

impl RecordSink for Preview {
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        Ok(())
    }

    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        self.rows
            .push(row.iter().map(ToString::to_string).collect());
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a preview of the first [`PREVIEW_ROWS`] rows.
pub async fn preview(client: &ZuoraClient, request: &QueryRequest) -> Result<Preview, ApiError> {
    let plan = request.plan(client, Some(PREVIEW_ROWS)).await?;
    let mut preview = Preview {
        notes: plan.notes.clone(),
        ..Preview::default()
    };
    query::run(
        client,
        &plan,
        &mut preview,
        Arc::default(),
        CancellationToken::new(),
    )
    .await?;
    Ok(preview)
}

/// Hands the sink's bytes to the response body in chunks. The sink is synchronous, so a full
/// channel is waited for with `block_in_place`: the query then runs at the client's pace and
/// memory stays flat.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away");
        match self.tx.try_send(Ok(chunk)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
            Err(mpsc::error::TrySendError::Full(item)) => {
                let multi = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                if !multi {
                    return Err(std::io::Error::other(
                        "streaming a download needs the multi-threaded runtime",
                    ));
                }
                tokio::task::block_in_place(|| self.tx.blocking_send(item)).map_err(|_| gone())
            }
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Streams every row of `plan` as `format`, as a file named after `name` (a table or a saved
/// query). Errors after the first byte end the body abruptly, so a client never mistakes a
/// cut-off file for a complete one.
pub fn download(client: ZuoraClient, plan: Plan, format: Format, name: &str) -> Response {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHUNKS_IN_FLIGHT);
    let errors = tx.clone();
    tokio::spawn(async move {
        let writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let mut out = sink::sink(format, Box::new(writer), &plan.table, None);
        let result = query::run(
            &client,
            &plan,
            out.as_mut(),
            Arc::default(),
            CancellationToken::new(),
        )
        .await;
        drop(out);
        if let Err(e) = result {
            tracing::warn!(error = %e, "download stopped");
            let _ = errors.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
        Format::Json => ("application/json", "json"),
        Format::Singer => ("application/x-ndjson", "singer.jsonl"),
    };
    let file: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = if file.is_empty() {
        "query".into()
    } else {
        file
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Reads a format name of the download.
pub fn format_of(text: &str) -> Result<Format, ApiError> {
    match text.parse::<Format>() {
        Ok(f @ (Format::Csv | Format::JsonLines)) => Ok(f),
        _ => Err(ApiError::bad_request("Format", "use csv or jsonl")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_the_free_expression_join_with_and() {
        let form = FormData::parse(
            b"connection=c&table=Account&columns=Id&columns=Name&cond_field=Status&cond_op=%3D&cond_value=%27Active%27&cond_field=Balance&cond_op=IS+NOT+NULL&cond_value=&cond_field=&cond_op=%3D&cond_value=&where=Balance+%3E+1",
        );
        let request = QueryRequest::from_form(&form);
        assert_eq!(request.columns, ["Id", "Name"]);
        assert_eq!(
            request.filter_text().unwrap().unwrap(),
            "Status = 'Active' AND Balance IS NOT NULL AND (Balance > 1)"
        );
        let bad = QueryRequest {
            conditions: vec![Condition {
                field: "A".into(),
                op: "~".into(),
                value: "1".into(),
            }],
            ..QueryRequest::default()
        };
        assert_eq!(
            bad.filter_text().unwrap_err().detail().field.as_deref(),
            Some("Conditions")
        );
    }
}
