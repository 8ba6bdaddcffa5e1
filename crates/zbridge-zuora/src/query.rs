//! The Query activity: plan a read of one table, run it through Data Query or AQuA, and stream
//! typed records to a sink.
//!
//! Planning ([`plan`]) resolves columns against describe, parses the filter once, adds the
//! half-open window `[since, until)` on the cursor field, and splits the filter into what the
//! service evaluates and what zbridge evaluates locally. Running ([`run`]) submits jobs, streams
//! their files, re-downloads a damaged file (skipping the rows already written), and splits an
//! export that passes the Data Query output cap or the AQuA file cap into Id ranges, so that
//! every row arrives exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use zbridge_core::ZuoraService;
use zbridge_core::filter::{self, CmpOp, Column, Dialect, Expr, Record};
use zbridge_core::schema::{Field, TableSchema, ValueKind};
use zbridge_core::time;
use zbridge_core::value::{RawOptions, Value};

use crate::client::ZuoraClient;
use crate::error::ZuoraError;
use crate::jobs::{self, AquaJob, AquaQuery, DataQueryJob, Finished, JobStatus};
use crate::reader;

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct QuerySpec {
    /// The table (Zuora object).
    pub table: String,
    /// Output columns; `None` means every exportable field.
    pub columns: Option<Vec<String>>,
    /// A filter expression (see `zbridge_core::filter`).
    pub filter: Option<String>,
    /// Start of the window, inclusive.
    pub since: Option<DateTime<Utc>>,
    /// End of the window, exclusive.
    pub until: Option<DateTime<Utc>>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Also return deleted rows, with a `deleted` column.
    pub include_deleted: bool,
    /// The field the window applies to; `UpdatedDate` by default.
    pub cursor: Option<String>,
}

/// One output column.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    /// The API name written as the header (`Name`, `BillToContact.FirstName`, `deleted`).
    pub name: String,
    /// Its type.
    pub kind: ValueKind,
    /// The describe entry (absent for the `deleted` flag).
    pub field: Option<Field>,
}

/// A planned read.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The service the read goes through.
    pub service: ZuoraService,
    /// The table as describe names it.
    pub table: String,
    /// Output columns, in order.
    pub columns: Vec<OutputColumn>,
    /// Columns fetched only for the local filter, after the output columns.
    pub extra: Vec<OutputColumn>,
    /// The WHERE text the service evaluates.
    pub pushed: Option<String>,
    /// What zbridge evaluates on each row.
    pub local: Option<Expr>,
    /// The cursor field of the window, when there is a window.
    pub cursor: Option<String>,
    /// Row limit.
    pub limit: Option<u64>,
    /// Deleted rows are included.
    pub include_deleted: bool,
    /// Notes for the user (e.g. what is evaluated locally).
    pub notes: Vec<String>,
    /// Query text given by the user (`--sql`, `--zoql`), run as is; its columns come from the
    /// result file's header, as text.
    pub raw: Option<String>,
}

/// A plan that runs the user's own SQL (Data Query) or Export ZOQL (AQuA) unchanged. Its
/// columns are the result's header, and its values are text.
pub fn plan_raw(text: &str, service: ZuoraService) -> Plan {
    Plan {
        service,
        table: String::new(),
        columns: Vec::new(),
        extra: Vec::new(),
        pushed: None,
        local: None,
        cursor: None,
        limit: None,
        include_deleted: false,
        notes: Vec::new(),
        raw: Some(text.to_string()),
    }
}

/// Plans a read of `spec` against `schema` for `service`.
pub fn plan(
    spec: &QuerySpec,
    schema: &TableSchema,
    service: ZuoraService,
) -> Result<Plan, ZuoraError> {
    let dialect = match service {
        ZuoraService::DataQuery => Dialect::DataQuery,
        ZuoraService::AQuADataExport => Dialect::ExportZoql,
    };
    let columns = output_columns(spec, schema, service)?;
    let mut conditions = Vec::new();
    if let Some(text) = &spec.filter {
        conditions.push(filter::parse(text).map_err(|e| invalid("--where", e.to_string()))?);
    }
    let cursor = window_cursor(spec, schema)?;
    if let Some(cursor) = &cursor {
        let column = Column::new(cursor.clone());
        if let Some(since) = spec.since {
            conditions.push(Expr::compare(
                column.clone(),
                CmpOp::Ge,
                Value::datetime(time::truncate_to_second(since)),
            ));
        }
        if let Some(until) = spec.until {
            conditions.push(Expr::compare(
                column,
                CmpOp::Lt,
                Value::datetime(time::truncate_to_second(until)),
            ));
        }
    }
    let mut notes = Vec::new();
    let (pushed, local) = match Expr::and_all(conditions) {
        None => (None, None),
        Some(expr) => {
            let split = filter::split(&expr, dialect, schema)
                .map_err(|e| invalid("--where", e.to_string()))?;
            let pushed = split
                .pushed
                .as_ref()
                .map(|p| match dialect {
                    Dialect::DataQuery => filter::to_trino_sql(p, schema),
                    _ => filter::to_export_zoql(p, schema),
                })
                .transpose()
                .map_err(|e| invalid("--where", e.to_string()))?;
            if let Some(local) = &split.local {
                notes.push(format!("evaluated by zbridge after the download: {local}"));
            }
            (pushed, split.local)
        }
    };
    let extra = local_only_columns(local.as_ref(), &columns, schema)?;
    if spec.include_deleted && service == ZuoraService::AQuADataExport {
        return Err(invalid(
            "--include-deleted",
            "AQuA exports deleted rows only in stateful mode, which needs a partner id from Zuora; use --service dataquery".into(),
        ));
    }
    Ok(Plan {
        service,
        table: schema.name.clone(),
        columns,
        extra,
        pushed,
        local,
        cursor,
        limit: spec.limit,
        include_deleted: spec.include_deleted,
        notes,
        raw: None,
    })
}

fn invalid(field: &str, rule: String) -> ZuoraError {
    ZuoraError::Config(zbridge_core::ValidationError::new(field, rule))
}

fn output_columns(
    spec: &QuerySpec,
    schema: &TableSchema,
    service: ZuoraService,
) -> Result<Vec<OutputColumn>, ZuoraError> {
    let mut columns: Vec<OutputColumn> = match &spec.columns {
        None => schema
            .fields
            .iter()
            .filter(|f| f.exportable && f.field_type.kind().is_some())
            .map(|f| column_of(f, None))
            .collect(),
        Some(names) => names
            .iter()
            .map(|n| resolve_column(n, schema))
            .collect::<Result<_, _>>()?,
    };
    if columns.iter().any(|c| c.name.contains('.')) && service == ZuoraService::DataQuery {
        return Err(invalid("--columns", "columns of joined objects need --service aqua (Data Query reads one table; use --sql for joins)".into()));
    }
    if spec.include_deleted {
        columns.push(OutputColumn {
            name: "deleted".into(),
            kind: ValueKind::Boolean,
            field: None,
        });
    }
    Ok(columns)
}

fn column_of(field: &Field, relation: Option<&str>) -> OutputColumn {
    OutputColumn {
        name: match relation {
            Some(r) => format!("{r}.{}", field.name),
            None => field.name.clone(),
        },
        kind: field.field_type.kind().unwrap_or(ValueKind::Text),
        field: Some(field.clone()),
    }
}

fn resolve_column(name: &str, schema: &TableSchema) -> Result<OutputColumn, ZuoraError> {
    let name = name.trim();
    let (relation, field_name) = match name.split_once('.') {
        Some((r, f)) if r.eq_ignore_ascii_case(&schema.name) => (None, f),
        Some((r, f)) => (Some(r), f),
        None => (None, name),
    };
    if let Some(relation) = relation {
        let related = schema.related_object(relation).ok_or_else(|| {
            invalid(
                "--columns",
                format!("'{relation}' is not an object joined to {}", schema.name),
            )
        })?;
        // The joined object's fields are not described here; the service checks the name.
        let mut field = Field::new(
            field_name.to_string(),
            zbridge_core::schema::FieldType::parse("text"),
        );
        field.exportable = true;
        return Ok(column_of(&field, Some(&related.name)));
    }
    let field = schema.field(field_name).ok_or_else(|| {
        let closest =
            zbridge_core::closest(field_name, schema.fields.iter().map(|f| f.name.as_str()))
                .map(|name| format!("; did you mean {name}?"))
                .unwrap_or_default();
        invalid(
            "--columns",
            format!("{} has no field '{field_name}'{closest}", schema.name),
        )
    })?;
    if !field.exportable {
        return Err(invalid(
            "--columns",
            format!(
                "{}.{} cannot be exported (describe lists no export context)",
                schema.name, field.name
            ),
        ));
    }
    if field.field_type.kind().is_none() {
        return Err(invalid(
            "--columns",
            format!(
                "{}.{} has the unknown type '{}'",
                schema.name,
                field.name,
                field.field_type.name()
            ),
        ));
    }
    Ok(column_of(field, None))
}

fn window_cursor(spec: &QuerySpec, schema: &TableSchema) -> Result<Option<String>, ZuoraError> {
    if spec.since.is_none() && spec.until.is_none() {
        return Ok(None);
    }
    let wanted = spec.cursor.as_deref().unwrap_or("UpdatedDate");
    let field = schema.field(wanted).ok_or_else(|| {
        invalid(
            "--since",
            format!(
                "{} has no {wanted} field to window on; choose one with --cursor",
                schema.name
            ),
        )
    })?;
    Ok(Some(field.name.clone()))
}

fn local_only_columns(
    local: Option<&Expr>,
    columns: &[OutputColumn],
    schema: &TableSchema,
) -> Result<Vec<OutputColumn>, ZuoraError> {
    let mut extra: Vec<OutputColumn> = Vec::new();
    let Some(local) = local else {
        return Ok(extra);
    };
    for column in local.columns() {
        let name = column.to_string();
        let present =
            |list: &[OutputColumn]| list.iter().any(|c| c.name.eq_ignore_ascii_case(&name));
        if !present(columns) && !present(&extra) {
            extra.push(resolve_column(&name, schema)?);
        }
    }
    Ok(extra)
}

/// A half-open range of 32-hex Zuora ids, used to split an export that is too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// Inclusive lower bound.
    pub low: u128,
    /// Exclusive upper bound; `None` means no upper bound.
    pub high: Option<u128>,
}

impl IdRange {
    /// Every id.
    pub const ALL: IdRange = IdRange { low: 0, high: None };

    /// The two halves, or `None` when the range cannot be split further.
    pub fn halves(self) -> Option<(IdRange, IdRange)> {
        // Without an upper bound the range ends at 2^128, one past u128::MAX.
        let mid = match self.high {
            Some(high) if high.checked_sub(self.low)? < 2 => return None,
            Some(high) => self.low + (high - self.low) / 2,
            None if self.low == u128::MAX => return None,
            None => self.low / 2 + (1u128 << 127) + (self.low & 1),
        };
        Some((
            IdRange {
                low: self.low,
                high: Some(mid),
            },
            IdRange {
                low: mid,
                high: self.high,
            },
        ))
    }

    fn condition(self, id_column: &str) -> Option<String> {
        let mut parts = Vec::new();
        if self.low > 0 {
            parts.push(format!("{id_column} >= '{:032x}'", self.low));
        }
        if let Some(high) = self.high {
            parts.push(format!("{id_column} < '{high:032x}'"));
        }
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }
}

/// The query text for one part of a plan.
pub fn render(plan: &Plan, range: IdRange) -> String {
    if let Some(raw) = &plan.raw {
        return raw.clone();
    }
    let fetched: Vec<&OutputColumn> = plan.columns.iter().chain(&plan.extra).collect();
    match plan.service {
        ZuoraService::DataQuery => {
            let projection: Vec<String> = fetched
                .iter()
                .map(|c| crate::discovery::quote_identifier(&c.name))
                .collect();
            let mut sql = format!(
                "SELECT {} FROM {}",
                projection.join(", "),
                crate::discovery::quote_identifier(&plan.table)
            );
            let conditions: Vec<String> = plan
                .pushed
                .iter()
                .cloned()
                .chain(range.condition("id"))
                .collect();
            if !conditions.is_empty() {
                sql.push_str(&format!(
                    " WHERE {}",
                    conditions
                        .iter()
                        .map(|c| format!("({c})"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                ));
            }
            sql.push_str(&order_by(plan, "id", "ORDER BY"));
            if let (Some(limit), None) = (plan.limit, &plan.local) {
                sql.push_str(&format!(" LIMIT {limit}"));
            }
            sql
        }
        ZuoraService::AQuADataExport => {
            let projection: Vec<String> = fetched.iter().map(|c| c.name.clone()).collect();
            let mut zoql = format!("select {} from {}", projection.join(", "), plan.table);
            let conditions: Vec<String> = plan
                .pushed
                .iter()
                .cloned()
                .chain(range.condition("Id"))
                .collect();
            if !conditions.is_empty() {
                zoql.push_str(&format!(
                    " where {}",
                    conditions
                        .iter()
                        .map(|c| format!("({c})"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
            }
            zoql.push_str(&order_by(plan, "Id", "order by"));
            if let (Some(limit), None) = (plan.limit, &plan.local) {
                zoql.push_str(&format!(" limit {limit}"));
            }
            zoql
        }
    }
}

fn order_by(plan: &Plan, id: &str, keyword: &str) -> String {
    match &plan.cursor {
        Some(cursor) => format!(" {keyword} {cursor}, {id}"),
        None => String::new(),
    }
}

/// Receives the rows of a query.
pub trait RecordSink: Send {
    /// Called once, before any row, with the output columns.
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()>;
    /// One row, values in column order.
    fn write(&mut self, row: &[Value]) -> std::io::Result<()>;
    /// Called once after the last row; the sink flushes everything it buffered.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// Counters a progress display reads while a query runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows written to the sink.
    pub rows: AtomicU64,
    /// Jobs submitted.
    pub jobs: AtomicU64,
    /// The latest job status.
    pub status: std::sync::Mutex<String>,
}

impl Progress {
    fn set_status(&self, status: &JobStatus) {
        if let Ok(mut s) = self.status.lock() {
            *s = format!("job {}: {}", short(&status.job_id), status.status);
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// What a finished run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Rows written.
    pub rows: u64,
    /// Rows the local filter dropped.
    pub filtered_out: u64,
    /// Jobs run (more than one when the export was split).
    pub jobs: u64,
    /// Damaged downloads that were fetched again.
    pub redownloads: u64,
}

/// Runs a plan, streaming rows into `sink`.
pub async fn run(
    client: &ZuoraClient,
    plan: &Plan,
    sink: &mut dyn RecordSink,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<Summary, ZuoraError> {
    let mut runner = Runner {
        client,
        plan,
        sink,
        progress,
        cancel,
        summary: Summary::default(),
        started: false,
        raw_columns: Vec::new(),
    };
    let mut pending = vec![(IdRange::ALL, 0)];
    while let Some((range, depth)) = pending.pop() {
        if runner.limit_reached() {
            break;
        }
        match runner.run_part(range).await {
            Ok(()) => {}
            Err(error) if is_over_cap(&error) && plan.raw.is_none() && depth < MAX_SPLIT_DEPTH => {
                // Ids share long prefixes, so halving the whole id space would take dozens of
                // rounds before it separates any rows: the first split narrows the range to the
                // ids that exist.
                let range = match depth {
                    0 => match id_bounds(client, plan).await? {
                        Some(bounds) => bounds,
                        None => continue,
                    },
                    _ => range,
                };
                let (low, high) = range.halves().ok_or(error)?;
                tracing::info!(
                    depth,
                    "result over the service's cap; splitting the Id range in two"
                );
                pending.push((high, depth + 1));
                pending.push((low, depth + 1));
            }
            Err(error) => return Err(error),
        }
    }
    runner.start_sink(&[])?;
    runner.sink.finish().map_err(sink_error)?;
    Ok(runner.summary)
}

/// The smallest and largest Id the plan's filter selects, as a range; `None` when no row
/// matches. Two one-row queries, ordered by Id.
async fn id_bounds(client: &ZuoraClient, plan: &Plan) -> Result<Option<IdRange>, ZuoraError> {
    let mut bounds = Vec::new();
    for descending in [false, true] {
        let text = bound_query(plan, descending);
        let raw = plan_raw(&text, plan.service);
        let mut first = FirstValue::default();
        Box::pin(run(
            client,
            &raw,
            &mut first,
            Arc::new(Progress::default()),
            CancellationToken::new(),
        ))
        .await?;
        let Some(id) = first.value else {
            return Ok(None);
        };
        let id = u128::from_str_radix(id.trim(), 16).map_err(|_| ZuoraError::Protocol {
            path: "id bounds".into(),
            detail: format!("'{id}' is not a 32-hex Zuora id; the export cannot be split by Id"),
        })?;
        bounds.push(id);
    }
    Ok(Some(IdRange {
        low: bounds[0],
        high: bounds[1].checked_add(1),
    }))
}

fn bound_query(plan: &Plan, descending: bool) -> String {
    match plan.service {
        ZuoraService::DataQuery => {
            let filter = plan
                .pushed
                .as_ref()
                .map(|p| format!(" WHERE ({p})"))
                .unwrap_or_default();
            let order = if descending { "DESC" } else { "ASC" };
            format!(
                "SELECT id FROM {}{filter} ORDER BY id {order} LIMIT 1",
                crate::discovery::quote_identifier(&plan.table)
            )
        }
        ZuoraService::AQuADataExport => {
            let filter = plan
                .pushed
                .as_ref()
                .map(|p| format!(" where ({p})"))
                .unwrap_or_default();
            let order = if descending { "desc" } else { "asc" };
            format!(
                "select Id from {}{filter} order by Id {order} limit 1",
                plan.table
            )
        }
    }
}

/// Keeps the first value of the first row.
#[derive(Default)]
struct FirstValue {
    value: Option<String>,
}

impl RecordSink for FirstValue {
    fn start(&mut self, _: &[OutputColumn]) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        if self.value.is_none() {
            self.value = row.first().map(ToString::to_string);
        }
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many times an export is halved before the cap is reported instead (2^20 parts).
const MAX_SPLIT_DEPTH: u32 = 20;

/// Whether a part failed for being too big: over the Data Query output cap, over the AQuA
/// download cap, or over a service's time limit (lessons L2: bisect what times out).
fn is_over_cap(error: &ZuoraError) -> bool {
    const MARKERS: [&str; 5] = [
        "maximum number of output rows",
        "maximum time limit",
        "90027",
        "90029",
        "too long in processing",
    ];
    match error {
        ZuoraError::FileTooLarge { .. } => true,
        ZuoraError::JobFailed { message, .. } => {
            let message = message.to_lowercase();
            MARKERS.iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

fn sink_error(error: std::io::Error) -> ZuoraError {
    ZuoraError::Protocol {
        path: "output".into(),
        detail: error.to_string(),
    }
}

struct Runner<'a> {
    client: &'a ZuoraClient,
    plan: &'a Plan,
    sink: &'a mut dyn RecordSink,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    summary: Summary,
    /// Whether the sink has been given its columns.
    started: bool,
    /// The columns of a raw query, from the first result header.
    raw_columns: Vec<OutputColumn>,
}

/// How often one part's job is submitted again after a transient failure or a purged file.
const JOB_RESUBMITS: u32 = 2;

/// Broken downloads of one file in a row that brought no new row, before giving up (with the
/// client's retry policy's waits in between; a download that made progress resets the count).
const DOWNLOAD_ATTEMPTS: u32 = 8;

impl Runner<'_> {
    /// Gives the sink its columns once: the plan's, or a raw query's header.
    fn start_sink(&mut self, header: &[String]) -> Result<(), ZuoraError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        if self.plan.raw.is_some() {
            self.raw_columns = header
                .iter()
                .map(|h| OutputColumn {
                    name: h.trim_start_matches('\u{feff}').to_string(),
                    kind: ValueKind::Text,
                    field: None,
                })
                .collect();
            return self.sink.start(&self.raw_columns).map_err(sink_error);
        }
        self.sink.start(&self.plan.columns).map_err(sink_error)
    }

    fn output_width(&self) -> usize {
        if self.plan.raw.is_some() {
            self.raw_columns.len()
        } else {
            self.plan.columns.len()
        }
    }

    fn limit_reached(&self) -> bool {
        self.plan.limit.is_some_and(|l| self.summary.rows >= l)
    }

    /// Runs one Id range: one job, its files streamed. A transient job failure, or a purged
    /// file before any row of the part was written, submits the job again (twice at most).
    async fn run_part(&mut self, range: IdRange) -> Result<(), ZuoraError> {
        let text = render(self.plan, range);
        tracing::debug!(query = %text, "submitting");
        let mut resubmits = 0;
        loop {
            let finished = match self.submit_and_wait(&text).await {
                Err(error) if error.is_transient_job_failure() && resubmits < JOB_RESUBMITS => {
                    resubmits += 1;
                    tracing::info!(%error, "the job failed transiently; submitting it again");
                    continue;
                }
                other => other?,
            };
            let before = self.summary.rows;
            match self.stream_files(&finished).await {
                Err(ZuoraError::FilePurged { .. })
                    if self.summary.rows == before && resubmits < JOB_RESUBMITS =>
                {
                    resubmits += 1;
                }
                other => return other,
            }
        }
    }

    async fn submit_and_wait(&mut self, text: &str) -> Result<Finished, ZuoraError> {
        self.summary.jobs += 1;
        self.progress.jobs.fetch_add(1, Ordering::Relaxed);
        let progress = self.progress.clone();
        let on_status = move |status: JobStatus| progress.set_status(&status);
        // Held until the job ends: a finished job no longer counts against the tenant's limit.
        let _slot = jobs::job_slot(self.client).await?;
        match self.plan.service {
            ZuoraService::DataQuery => {
                let mut job = DataQueryJob::new(text);
                job.read_deleted = false;
                let id = jobs::submit_data_query(self.client, &job).await?;
                tracing::debug!(job = %id, "Data Query job submitted");
                let finished =
                    jobs::wait_data_query(self.client, &id, &self.cancel, &on_status).await?;
                tracing::debug!(job = %id, rows = ?finished.rows, "Data Query job completed");
                Ok(finished)
            }
            ZuoraService::AQuADataExport => {
                let job = AquaJob {
                    name: format!("zbridge {}", self.plan.table),
                    queries: vec![AquaQuery {
                        name: self.plan.table.clone(),
                        zoql: text.to_string(),
                        deleted_column: None,
                    }],
                    null_replacement: Some(null_marker(self.client)),
                    ..AquaJob::default()
                };
                let id = jobs::submit_aqua(self.client, &job).await?;
                tracing::debug!(job = %id, "AQuA job submitted");
                let mut batches =
                    jobs::wait_aqua(self.client, &id, &self.cancel, &on_status).await?;
                tracing::debug!(job = %id, "AQuA job completed");
                batches.pop().ok_or_else(|| ZuoraError::Protocol {
                    path: format!("AQuA job {id}"),
                    detail: "no batch".into(),
                })
            }
        }
    }

    /// Streams every file of a finished job; the total is checked against Zuora's count.
    async fn stream_files(&mut self, finished: &Finished) -> Result<(), ZuoraError> {
        let mut read_in_job = 0u64;
        let last = finished.files.len().saturating_sub(1);
        for (index, file) in finished.files.iter().enumerate() {
            let expected_total = if index == last { finished.rows } else { None };
            read_in_job += self.stream_file(file, read_in_job, expected_total).await?;
            if self.limit_reached() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Streams one file, fetching it again (and skipping rows already written) when the
    /// download breaks or comes back short. Returns the rows the file held.
    async fn stream_file(
        &mut self,
        file: &jobs::ResultFile,
        before: u64,
        expected_total: Option<u64>,
    ) -> Result<u64, ZuoraError> {
        let mut written_from_file = 0u64;
        let mut fruitless = 0u32;
        let started = std::time::Instant::now();
        loop {
            match self
                .try_stream_file(file, written_from_file, before, expected_total)
                .await
            {
                Ok(rows) => return Ok(rows),
                Err(Partial { written, error }) => {
                    fruitless = if written > written_from_file {
                        0
                    } else {
                        fruitless + 1
                    };
                    written_from_file = written;
                    let retryable = matches!(error, ZuoraError::BadDownload { .. })
                        || crate::transport::is_transient(&error);
                    if !retryable || fruitless >= DOWNLOAD_ATTEMPTS || self.limit_reached() {
                        return Err(error);
                    }
                    // Jittered, so that readers broken together do not come back together.
                    let wait = self
                        .client
                        .retry_policy()
                        .backoff(fruitless, &mut rand::rng());
                    if started.elapsed() + wait > self.client.retry_policy().max_elapsed {
                        return Err(error);
                    }
                    self.summary.redownloads += 1;
                    tracing::info!(%error, written, "download broke; fetching the file again");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn try_stream_file(
        &mut self,
        file: &jobs::ResultFile,
        skip: u64,
        before: u64,
        expected_total: Option<u64>,
    ) -> Result<u64, Partial> {
        let fail = |written: u64| move |error: ZuoraError| Partial { written, error };
        let csv = reader::open_rows(self.client, file)
            .await
            .map_err(fail(skip))?;
        self.start_sink(csv.header()).map_err(fail(skip))?;
        if csv.header().is_empty() {
            // An empty JSON Lines file has no header either: no rows.
            return match expected_total.filter(|&n| n != before) {
                Some(expected) => Err(fail(skip)(ZuoraError::BadDownload {
                    file: "the result".into(),
                    detail: format!("an empty file, Zuora reported {expected} rows"),
                })),
                None => Ok(0),
            };
        }
        let layout = match self.plan.raw {
            Some(_) => Layout::all_text(csv.header().len()),
            None => Layout::new(self.plan, csv.header()).map_err(fail(skip))?,
        };
        let options = RawOptions {
            null_sentinel: (self.plan.service == ZuoraService::AQuADataExport)
                .then(|| null_marker(self.client)),
            naive_offset: Some(chrono::Offset::fix(&Utc)),
        };
        // Reading (download, gunzip, parse, typing) runs in its own task, so that it overlaps
        // with writing on another core; batches through a small bounded channel keep memory
        // flat.
        let (sender, mut batches) = tokio::sync::mpsc::channel(READ_AHEAD_BATCHES);
        let mut read_task = AbortOnDrop(tokio::spawn(read_rows(csv, layout, options, sender)));
        // The last row is held back until the file ends cleanly, so a row cut short by a
        // broken download is never written.
        let mut held: Option<Vec<Value>> = None;
        let mut index = 0u64;
        let mut written = skip;
        loop {
            if self.cancel.is_cancelled() {
                return Err(fail(written)(ZuoraError::Protocol {
                    path: "query".into(),
                    detail: "cancelled".into(),
                }));
            }
            let batch = match batches.recv().await {
                Some(ReadAhead::Rows(batch)) => batch,
                Some(ReadAhead::End) => break,
                Some(ReadAhead::Failed(error)) => return Err(fail(written)(error)),
                None => {
                    let detail = match (&mut read_task.0).await {
                        Err(join) if join.is_panic() => "the reader panicked".to_string(),
                        _ => "the reader stopped before the end of the file".to_string(),
                    };
                    return Err(fail(written)(ZuoraError::Protocol {
                        path: "query".into(),
                        detail,
                    }));
                }
            };
            for record in batch {
                if let Some(row) = held.replace(record) {
                    if index >= skip {
                        self.emit(row).map_err(fail(written))?;
                        written += 1;
                        if self.limit_reached() {
                            return Ok(index + 1);
                        }
                    }
                    index += 1;
                }
            }
        }
        let rows = index + u64::from(held.is_some());
        if let Some(expected) = expected_total
            && before + rows != expected
        {
            return Err(fail(written)(ZuoraError::BadDownload {
                file: "the result".into(),
                detail: format!("{} rows arrived, Zuora reported {expected}", before + rows),
            }));
        }
        if let Some(row) = held
            && index >= skip
        {
            self.emit(row).map_err(fail(written))?;
        }
        Ok(rows)
    }

    fn emit(&mut self, row: Vec<Value>) -> Result<(), ZuoraError> {
        if let Some(local) = &self.plan.local {
            let record = RowRecord {
                plan: self.plan,
                row: &row,
            };
            if !filter::eval(local, &record).map_err(|e| invalid("--where", e.to_string()))? {
                self.summary.filtered_out += 1;
                return Ok(());
            }
        }
        if self.limit_reached() {
            return Ok(());
        }
        let width = self.output_width().min(row.len());
        self.sink.write(&row[..width]).map_err(sink_error)?;
        self.summary.rows += 1;
        self.progress.rows.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Rows per batch handed from the reading task to the writer, and batches read ahead.
const READ_AHEAD_ROWS: usize = 256;
const READ_AHEAD_BATCHES: usize = 4;

/// What the reading task hands to the writer.
enum ReadAhead {
    /// Typed rows, in file order.
    Rows(Vec<Vec<Value>>),
    /// The file ended cleanly after the rows sent.
    End,
    /// The download or a row failed after the rows sent.
    Failed(ZuoraError),
}

/// Aborts the reading task when the writer stops early (limit, cancel, error), which also
/// drops its download.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads a result file to the end, typing each row, and sends the rows in batches; stops when
/// the writer goes away.
async fn read_rows(
    mut rows: reader::ResultRows,
    layout: Layout,
    options: RawOptions,
    sender: tokio::sync::mpsc::Sender<ReadAhead>,
) {
    let mut batch = Vec::with_capacity(READ_AHEAD_ROWS);
    let last = loop {
        let typed = match rows.next_row().await {
            Ok(Some(row)) => layout.values(row, &options),
            Ok(None) => break ReadAhead::End,
            Err(error) => break ReadAhead::Failed(error),
        };
        match typed {
            Ok(values) => batch.push(values),
            Err(error) => break ReadAhead::Failed(error),
        }
        if batch.len() == READ_AHEAD_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_AHEAD_ROWS));
            if sender.send(ReadAhead::Rows(full)).await.is_err() {
                return;
            }
        }
    };
    if !batch.is_empty() && sender.send(ReadAhead::Rows(batch)).await.is_err() {
        return;
    }
    let _ = sender.send(last).await;
}

/// AQuA writes nulls as empty text unless told otherwise, which makes a null and an empty
/// string look alike (lessons L36); zbridge always asks for a marker, the user's `NullReplacement`
/// or its own.
fn null_marker(client: &ZuoraClient) -> String {
    client
        .connection()
        .settings
        .null_replacement
        .clone()
        .unwrap_or_else(|| "\u{2400}zbridge-null\u{2400}".to_string())
}

/// A failure part-way through a file, with the rows of that file already written.
struct Partial {
    written: u64,
    error: ZuoraError,
}

/// Where each fetched column sits in a file's header.
struct Layout {
    positions: Vec<(usize, ValueKind)>,
}

impl Layout {
    /// Maps the plan's columns to header positions. AQuA headers carry the object prefix
    /// (`Account.Name`) and Data Query's are lower case; both are matched case-insensitively.
    fn new(plan: &Plan, header: &[String]) -> Result<Layout, ZuoraError> {
        let find = |name: &str| {
            header.iter().position(|h| {
                let h = h.trim_start_matches('\u{feff}');
                h.eq_ignore_ascii_case(name)
                    || h.strip_prefix(&format!("{}.", plan.table))
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(name))
                    || h.split_once('.').is_some_and(|(table, rest)| {
                        table.eq_ignore_ascii_case(&plan.table) && rest.eq_ignore_ascii_case(name)
                    })
            })
        };
        let positions = plan
            .columns
            .iter()
            .chain(&plan.extra)
            .map(|c| {
                find(&c.name)
                    .map(|p| (p, c.kind))
                    .ok_or_else(|| ZuoraError::BadDownload {
                        file: "the result".into(),
                        detail: format!("column {} is missing from the header {header:?}", c.name),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Layout { positions })
    }

    /// Every column of the file, as text (raw queries).
    fn all_text(width: usize) -> Layout {
        Layout {
            positions: (0..width).map(|i| (i, ValueKind::Text)).collect(),
        }
    }

    /// Types one row's cells; a missing cell (JSON null) is a null whatever the type.
    fn values(&self, row: reader::Row<'_>, options: &RawOptions) -> Result<Vec<Value>, ZuoraError> {
        self.positions
            .iter()
            .map(|&(position, kind)| {
                let Some(raw) = row.cell(position) else {
                    return Ok(Value::Null);
                };
                if let Some(value) = fast_value(raw, kind, options) {
                    return Ok(value);
                }
                Value::parse_raw(raw, kind, options).map_err(|e| ZuoraError::BadDownload {
                    file: "the result".into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }
}

/// The dates and datetimes of a result file through [`crate::fast`]; `None` leaves the cell to
/// [`Value::parse_raw`] (other types, nulls, empty cells and anything unusual).
fn fast_value(raw: &str, kind: ValueKind, options: &RawOptions) -> Option<Value> {
    if raw.is_empty() || options.null_sentinel.as_deref() == Some(raw) {
        return None;
    }
    match kind {
        ValueKind::DateTime => {
            crate::fast::parse_datetime(raw.trim(), options.naive_offset).map(Value::DateTime)
        }
        ValueKind::Date => crate::fast::parse_date(raw.trim()).map(Value::Date),
        _ => None,
    }
}

/// A fetched row seen by the local filter.
struct RowRecord<'a> {
    plan: &'a Plan,
    row: &'a [Value],
}

impl Record for RowRecord<'_> {
    fn value(&self, column: &Column) -> Option<&Value> {
        let wanted = column.to_string();
        self.plan
            .columns
            .iter()
            .chain(&self.plan.extra)
            .position(|c| c.name.eq_ignore_ascii_case(&wanted))
            .and_then(|i| self.row.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_ranges_halve_until_they_cannot() {
        let (low, high) = IdRange::ALL.halves().unwrap();
        assert_eq!(low.low, 0);
        assert_eq!(low.high, Some(1u128 << 127));
        assert_eq!(high.low, 1u128 << 127);
        assert_eq!(high.high, None);
        assert_eq!(
            low.condition("id").unwrap(),
            "id < '80000000000000000000000000000000'"
        );
        assert_eq!(
            high.condition("Id").unwrap(),
            "Id >= '80000000000000000000000000000000'"
        );
        assert!(
            IdRange {
                low: 5,
                high: Some(6)
            }
            .halves()
            .is_none()
        );
        assert!(IdRange::ALL.condition("id").is_none());
    }

    proptest::proptest! {
        /// Halving never loses or repeats an id.
        #[test]
        fn halves_partition_the_range(low in 0u128..u128::MAX / 2, width in 2u128..1_000_000, id in proptest::prelude::any::<u128>()) {
            let range = IdRange { low, high: Some(low + width) };
            let (a, b) = range.halves().unwrap();
            let inside = |r: IdRange, id: u128| id >= r.low && r.high.is_none_or(|h| id < h);
            proptest::prop_assert_eq!(inside(range, id), inside(a, id) || inside(b, id));
            proptest::prop_assert!(!(inside(a, id) && inside(b, id)));
        }
    }
}
