//! A sync run: plan the objects parents first; for each, extract the Zuora rows changed in
//! `[watermark, now − lag)` into a spool file, then read the spool back in batches: decide the
//! scope of each row, convert it through the mapping catalog, load it through Collections or
//! Bulk, read every per-record result, record failures, and commit the object's watermark with
//! its checkpoint. Deletes found on the way are queued durably and carried out at the end of
//! the run, children first, explicitly, record by record.
//!
//! Memory stays flat: no step holds more than one batch of one object; the key index that
//! deletes and scope decisions need lives in the store.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use futures::future::{Either, LocalBoxFuture};
use futures::stream::FuturesOrdered;
use serde_json::{Map, Value as Json};
use tokio_util::sync::CancellationToken;
use zbridge_core::ZuoraService;
use zbridge_core::schema::TableSchema;
use zbridge_core::value::Value;
use zbridge_salesforce::{RecordOutcome, RecordResult, SalesforceClient};
use zbridge_store::{KeyInfo, ObjectStats, Store, SyncFailure, SyncKey, SyncRun};
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::query::{self, OutputColumn, Progress, QuerySpec, RecordSink};

use crate::catalog::{Catalog, ObjectMap, Scope};
use crate::classify::{NEEDS_FIX, RETRYABLE, classify};
use crate::convert::{self, FieldError};
use crate::error::SyncError;
use crate::options::SyncOptions;

/// Run statuses (Zuora's three).
pub const FINISHED: &str = "Finished";
/// Some records failed.
pub const FINISHED_WITH_ERRORS: &str = "Finished with Errors";
/// The run stopped.
pub const FAILURE: &str = "Failure";

mod reconcile;
mod verify;

pub use verify::{FieldDrift, ObjectDrift, Repair, VerifyReport, VerifyRequest};

/// Batches of one object loading at Salesforce at once: while Salesforce works on a Bulk job,
/// the next batches are read, planned and uploaded, so its processing time is not idle time.
const LOADS_IN_FLIGHT: usize = 3;

/// Objects whose windows are read from Zuora ahead of the one being loaded.
const EXTRACT_AHEAD: usize = 4;

/// Ids per `Id IN (…)` read through Data Query: its query text may reach 1,000,000 characters
/// (zuora-api.md §6.6), so one read covers a whole batch.
const DATA_QUERY_ID_CHUNK: usize = 5_000;

/// Ids per read through AQuA: ZOQL has no `IN`, so the list becomes `Id = '…' or …` (about 45
/// characters an id) and an export query may hold 20,000 characters (zuora-api.md §7.8).
const AQUA_ID_CHUNK: usize = 350;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The sync profile's name.
    pub profile: String,
    /// Read everything ("updated since 2000-01-01").
    pub full: bool,
    /// Only these catalog objects (the profile's selection when empty).
    pub objects: Vec<String>,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// The tenant's "now" (tests); when `None`, Zuora is asked for its time (the `Date` of
    /// its answers), never the machine's clock, which may run ahead of Zuora's.
    pub now: Option<DateTime<Utc>>,
    /// Cancelled to stop the run at the next batch boundary (a worker shutting down): the
    /// batch in flight is finished, the run ends as Failure, and the object's watermark stays
    /// where it was, so the next run reads that window again.
    pub stop: CancellationToken,
    /// A repair after `sync verify`: only these records are read and sent, these extra ones
    /// deleted, and no watermark moves.
    pub repair: Option<Repair>,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// The run as stored.
    pub run: SyncRun,
    /// Per object, in plan order.
    pub objects: Vec<ObjectStats>,
    /// Records that failed.
    pub failed: i64,
}

/// The engine: a store, a Zuora client and a Salesforce client.
pub struct Engine {
    store: Store,
    zuora: ZuoraClient,
    salesforce: SalesforceClient,
    schemas: Mutex<HashMap<String, TableSchema>>,
    /// Set when Salesforce refused a Bulk job for the user or org: loads go through
    /// Collections for the rest of the run.
    bulk_unavailable: std::sync::atomic::AtomicBool,
}

/// The first instant of a full sync.
pub fn full_sync_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// An object's window, spooled.
struct Extracted {
    file: std::fs::File,
    columns: Vec<String>,
    rows: u64,
    window_rows: u64,
    retry: Vec<String>,
    watermark: Option<DateTime<Utc>>,
    full: bool,
    /// Read for a repair: by id, outside any window, so the watermark must not move.
    repair: bool,
    millis: i64,
}

/// One spooled Zuora row: cells as text, and whether Zuora reports it deleted.
struct RawRow {
    cells: Vec<Option<String>>,
    deleted: bool,
}

/// Writes extracted rows to a spool file as JSON lines.
struct SpoolSink<'a> {
    out: &'a mut BufWriter<std::fs::File>,
    columns: Vec<String>,
    rows: u64,
}

/// A spooled cell: text as written out, except that a datetime keeps the offset Zuora wrote
/// it in (the tenant's time zone), so a date field mapped from it gets the tenant's day.
fn cell(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::DateTime(t) => Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        other => Some(other.to_string()),
    }
}

impl RecordSink for SpoolSink<'_> {
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        Ok(())
    }

    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        let deleted = self
            .columns
            .iter()
            .position(|c| c == "deleted")
            .and_then(|i| row.get(i))
            .is_some_and(|v| matches!(v, Value::Bool(true)));
        let cells: Vec<Option<String>> = row.iter().map(cell).collect();
        serde_json::to_writer(&mut *self.out, &(cells, deleted))?;
        self.out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Collects a few rows in memory (joins: at most one chunk of ids).
#[derive(Default)]
struct CollectSink {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl RecordSink for CollectSink {
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        Ok(())
    }
    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        self.rows.push(row.iter().map(cell).collect());
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rows of a batch with one row per Id, the last read: a record read twice (its window and
/// a retry, or a joined row's change) must not be written twice in one Bulk job.
fn last_per_id(rows: Vec<RawRow>, columns: &[String]) -> Vec<RawRow> {
    let Some(id) = index_of(columns, "Id") else {
        return rows;
    };
    let mut seen = HashSet::new();
    let mut kept: Vec<RawRow> = rows
        .into_iter()
        .rev()
        .filter(|r| match r.cells.get(id).cloned().flatten() {
            Some(key) => seen.insert(key),
            None => true,
        })
        .collect();
    kept.reverse();
    kept
}

fn index_of(columns: &[String], name: &str) -> Option<usize> {
    columns.iter().position(|c| c.eq_ignore_ascii_case(name))
}

fn quote(id: &str) -> String {
    format!("'{}'", id.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn id_filter(ids: &[String]) -> String {
    format!(
        "Id IN ({})",
        ids.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", ")
    )
}

/// A record ready for Salesforce.
struct Upsert {
    external_id: String,
    fields: Vec<(String, Json)>,
    key: SyncKey,
    known: bool,
    crm_changed: bool,
}

/// The decisions for one batch.
#[derive(Default)]
struct BatchPlan {
    upserts: Vec<Upsert>,
    deletes: Vec<(String, String, String)>,
    failures: Vec<SyncFailure>,
    resolved: Vec<String>,
    skipped: i64,
}

/// What Salesforce answered for a batch: one result per upsert, and the Bulk jobs it took.
#[derive(Default)]
struct Loaded {
    results: Vec<RecordResult>,
    bulk_jobs: i64,
}

type LoadedBatch = (BatchPlan, Result<Loaded, SyncError>);

/// The loads of one object in flight, in batch order, and those that ended while the next
/// batch was being prepared.
#[derive(Default)]
struct Loads<'a> {
    running: FuturesOrdered<LocalBoxFuture<'a, LoadedBatch>>,
    ended: VecDeque<LoadedBatch>,
}

impl<'a> Loads<'a> {
    fn start(&mut self, load: impl Future<Output = LoadedBatch> + 'a) {
        self.running.push_back(Box::pin(load));
    }

    /// Runs `work` while the loads in flight go on; loads that end meanwhile are kept.
    async fn alongside<T>(&mut self, work: impl Future<Output = T>) -> T {
        let mut work = pin!(work);
        while !self.running.is_empty() {
            match futures::future::select(work.as_mut(), self.running.next()).await {
                Either::Left((out, _)) => return out,
                Either::Right((Some(done), _)) => self.ended.push_back(done),
                Either::Right((None, _)) => break,
            }
        }
        work.await
    }

    /// Waits until at most `left` loads are in flight; returns those that ended, in order.
    async fn settle(&mut self, left: usize) -> Vec<LoadedBatch> {
        while self.running.len() > left {
            match self.running.next().await {
                Some(done) => self.ended.push_back(done),
                None => break,
            }
        }
        self.ended.drain(..).collect()
    }
}

/// Per-object context while a run goes.
struct ObjectRun<'a> {
    object: &'a ObjectMap,
    profile_id: String,
    options: &'a SyncOptions,
    statuses: Vec<String>,
    bulk: bool,
    stats: ObjectStats,
    failures: i64,
    stop: CancellationToken,
    /// Child objects that must be told, durably, to read the children of a record this object
    /// adds to the index: those whose next read may be incremental (they have a watermark).
    owe_to: Vec<String>,
}

/// A Collections record body from (field, value) pairs: `Rel__r.Ext__c` becomes a nested
/// reference, or clears the lookup `Rel__c` when the value is null.
fn collections_record(fields: &[(String, Json)]) -> Map<String, Json> {
    let mut out = Map::new();
    for (name, value) in fields {
        match name.split_once('.') {
            Some((rel, ext)) => {
                if value.is_null() {
                    out.insert(format!("{}__c", rel.trim_end_matches("__r")), Json::Null);
                } else {
                    let mut nested = Map::new();
                    nested.insert(ext.to_string(), value.clone());
                    out.insert(rel.to_string(), Json::Object(nested));
                }
            }
            None => {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    out
}

/// Why a record failed.
struct Why<'a> {
    code: &'a str,
    class: &'a str,
    status: &'a str,
    message: &'a str,
    fields: &'a [String],
}

fn failure(object: &str, external_id: &str, operation: &str, why: Why<'_>) -> SyncFailure {
    SyncFailure {
        object: object.to_string(),
        external_id: external_id.to_string(),
        operation: operation.to_string(),
        code: why.code.to_string(),
        retry_class: why.class.to_string(),
        status_code: why.status.to_string(),
        message: why.message.to_string(),
        fields: why.fields.join(","),
    }
}

fn failure_of(object: &str, result: &RecordResult, operation: &str) -> Option<SyncFailure> {
    match &result.outcome {
        RecordOutcome::Failed { errors } => {
            let first = errors.first();
            let (code, class) = first.map(classify).unwrap_or(("DACO-99", RETRYABLE));
            let message = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let fields: Vec<String> = errors.iter().flat_map(|e| e.fields.clone()).collect();
            Some(failure(
                object,
                &result.external_id,
                operation,
                Why {
                    code,
                    class,
                    status: first.map(|e| e.status_code.as_str()).unwrap_or("UNKNOWN"),
                    message: &message,
                    fields: &fields,
                },
            ))
        }
        RecordOutcome::Unprocessed => Some(failure(
            object,
            &result.external_id,
            operation,
            Why {
                code: "DACO-07",
                class: RETRYABLE,
                status: "UNPROCESSED",
                message: "the Bulk job did not process this record",
                fields: &[],
            },
        )),
        _ => None,
    }
}

/// DACO-02 for a billing account without a CrmId: a fix in Zuora is needed, and the account is
/// read again only when it changes (zuora360-sync.md §5, §9).
fn missing_crm_id(object: &str, id: &str) -> SyncFailure {
    failure(
        object,
        id,
        "upsert",
        Why {
            code: "DACO-02",
            class: NEEDS_FIX,
            status: "MISSING_CRM_ID",
            message: "Missing CRM ID: the billing account has no CRM Account ID; set its CrmId in Zuora to the Salesforce Account's id to sync it",
            fields: &[],
        },
    )
}

impl Engine {
    /// An engine over a store and the two clients.
    pub fn new(store: Store, zuora: ZuoraClient, salesforce: SalesforceClient) -> Engine {
        Engine {
            store,
            zuora,
            salesforce,
            schemas: Mutex::new(HashMap::new()),
            bulk_unavailable: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many ids one `Id IN (…)` read may name through the connection's service.
    fn id_chunk(&self) -> usize {
        match self.zuora.connection().service {
            ZuoraService::DataQuery => DATA_QUERY_ID_CHUNK,
            ZuoraService::AQuADataExport => AQUA_ID_CHUNK,
        }
    }

    fn table_name(&self, table: &str) -> String {
        match self.zuora.connection().service {
            ZuoraService::DataQuery => table.to_ascii_lowercase(),
            ZuoraService::AQuADataExport => table.to_string(),
        }
    }

    async fn schema(&self, table: &str) -> Result<TableSchema, SyncError> {
        if let Some(s) = self.schemas.lock().ok().and_then(|m| m.get(table).cloned()) {
            return Ok(s);
        }
        let schema = zbridge_zuora::discovery::describe(&self.zuora, table).await?;
        if let Ok(mut m) = self.schemas.lock() {
            m.insert(table.to_string(), schema.clone());
        }
        Ok(schema)
    }

    /// Reads `columns` of `table` (with a filter and a window) into `sink`.
    async fn extract(
        &self,
        table: &str,
        columns: &[String],
        filter: Option<String>,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        sink: &mut dyn RecordSink,
    ) -> Result<(), SyncError> {
        let table = self.table_name(table);
        let schema = self.schema(&table).await?;
        let service = self.zuora.connection().service;
        let spec = QuerySpec {
            table: table.clone(),
            columns: Some(columns.to_vec()),
            filter,
            since: window.map(|w| w.0),
            until: window.map(|w| w.1),
            include_deleted: service == ZuoraService::DataQuery,
            ..Default::default()
        };
        let plan = query::plan(&spec, &schema, service)?;
        query::run(
            &self.zuora,
            &plan,
            sink,
            Arc::new(Progress::default()),
            CancellationToken::new(),
        )
        .await?;
        Ok(())
    }

    fn api_used(&self) -> i64 {
        self.salesforce
            .api_usage()
            .map(|u| i64::try_from(u.used).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    /// Runs a sync. A run that stops (Zuora or Salesforce unavailable, limits) ends as
    /// `Failure` with the reason; the watermarks of unfinished objects do not move.
    pub async fn run(&self, request: &RunRequest) -> Result<RunReport, SyncError> {
        let profile = self.store.load_sync_profile(&request.profile).await?;
        let options = SyncOptions::from_json(&profile.options)?;
        let catalog = Catalog::with_overrides(&options.mapping_overrides)?;
        let wanted = if request.objects.is_empty() {
            &options.objects
        } else {
            &request.objects
        };
        let mut selected = catalog.select(wanted)?;
        if let Some(repair) = &request.repair {
            selected = catalog
                .objects
                .iter()
                .filter(|o| repair.resend.contains_key(&o.name))
                .collect();
        }
        let trigger = match (&request.repair, request.trigger.as_str()) {
            (Some(_), _) => "repair",
            (None, "") => "manual",
            (None, trigger) => trigger,
        };
        self.store.interrupt_sync_runs(&profile.id).await?;
        let watermarked = self.watermarked(&profile.id, &catalog).await?;
        let synced = catalog.select(&options.objects)?;
        // A profile's first run (no selected object was ever committed) reads everything.
        let full = request.repair.is_none()
            && (request.full || selected.iter().all(|o| !watermarked.contains(&o.name)));
        let run = self
            .store
            .create_sync_run(&profile.id, full, trigger)
            .await?;
        let until = match self.window_end(&run, request.now, options.lag_secs).await {
            Ok(until) => until,
            Err(e) => {
                self.store
                    .finish_sync_run(&run.id, FAILURE, Some(&e.to_string()))
                    .await?;
                let (run, objects) = self.store.load_sync_run(&run.id).await?;
                return Ok(RunReport {
                    run,
                    objects,
                    failed: 0,
                });
            }
        };
        self.bulk_unavailable.store(false, Ordering::Relaxed);
        let mut done: Vec<ObjectStats> = Vec::new();
        let mut failed = 0;
        let mut outcome: Result<(), SyncError> = Ok(());
        // Windows are read from Zuora a few objects at a time, ahead of the loads.
        let mut extracts = futures::stream::iter(selected.iter().map(|o| {
            let only = request
                .repair
                .as_ref()
                .and_then(|r| r.resend.get(&o.name))
                .map(Vec::as_slice);
            self.extract_object(&profile.id, o, request.full, until, only)
        }))
        .buffered(EXTRACT_AHEAD);
        for (position, object) in selected.iter().enumerate() {
            let mut ctx = ObjectRun {
                object,
                profile_id: profile.id.clone(),
                options: &options,
                statuses: options.subscription_statuses.clone(),
                bulk: false,
                stats: ObjectStats {
                    object: object.name.clone(),
                    position: i64::try_from(position).unwrap_or(0),
                    ..Default::default()
                },
                failures: 0,
                stop: request.stop.clone(),
                // The profile's objects (not only this run's): a run limited with --objects
                // leaves the debt to the run that reads the children.
                owe_to: synced
                    .iter()
                    .filter(|c| c.parent.as_ref().is_some_and(|l| l.object == object.name))
                    .filter(|c| watermarked.contains(&c.name))
                    .map(|c| c.name.clone())
                    .collect(),
            };
            let result = match extracts.next().await {
                _ if request.stop.is_cancelled() => Err(SyncError::Stopped),
                Some(Ok(extracted)) => self.process_object(&run, &mut ctx, extracted, until).await,
                Some(Err(e)) => Err(e),
                None => Ok(()),
            };
            failed += ctx.failures;
            match result {
                Ok(()) => done.push(ctx.stats),
                Err(e) => {
                    ctx.stats.watermark_after = ctx.stats.watermark_before;
                    self.store
                        .commit_sync_object(&run.id, &profile.id, &ctx.stats, false)
                        .await?;
                    done.push(ctx.stats);
                    outcome = Err(e);
                    break;
                }
            }
        }
        drop(extracts);
        if outcome.is_ok() && request.stop.is_cancelled() {
            outcome = Err(SyncError::Stopped);
        }
        if outcome.is_ok() {
            let calls_before = self.api_used();
            // A repair's extra records first, then the queued subtrees.
            let deletes = async {
                let (mut deleted, mut failed) = (0, 0);
                if let Some(repair) = &request.repair {
                    let extra = repair.remove.clone().into_iter().collect();
                    (deleted, failed) = self
                        .delete_records(&run, &profile.id, &catalog, &options, extra)
                        .await?;
                }
                let (d, f) = self
                    .apply_deletes(&run, &profile.id, &catalog, &options)
                    .await?;
                Ok::<_, SyncError>((deleted + d, failed + f))
            };
            match deletes.await {
                Ok((deleted, delete_failures)) => {
                    let calls = self.api_used() - calls_before;
                    failed += delete_failures;
                    if deleted > 0 || delete_failures > 0 {
                        let stats = ObjectStats {
                            object: "(deletes)".into(),
                            position: i64::try_from(done.len()).unwrap_or(0),
                            deleted,
                            failed: delete_failures,
                            api_calls: calls,
                            ..Default::default()
                        };
                        self.store
                            .commit_sync_object(&run.id, &profile.id, &stats, false)
                            .await?;
                        done.push(stats);
                    }
                }
                Err(e) => outcome = Err(e),
            }
        }
        if self.bulk_unavailable.load(Ordering::Relaxed) {
            self.store
                .add_sync_run_warning(
                    &run.id,
                    "Salesforce refused Bulk API jobs for this user or org (not enabled, or the daily allocation is spent); records were loaded through sObject Collections instead",
                )
                .await?;
        }
        let (status, message) = match &outcome {
            Err(e) => (FAILURE, Some(e.to_string())),
            Ok(()) if failed > 0 => (FINISHED_WITH_ERRORS, None),
            Ok(()) => (FINISHED, None),
        };
        self.store
            .finish_sync_run(&run.id, status, message.as_deref())
            .await?;
        let (run, objects) = self.store.load_sync_run(&run.id).await?;
        debug_assert_eq!(objects.len(), done.len());
        Ok(RunReport {
            run,
            objects,
            failed,
        })
    }

    /// Where this run's windows end: Zuora's time less the lag, on a whole second (lessons
    /// L31). A clock skew worth knowing is noted in the run's history.
    async fn window_end(
        &self,
        run: &SyncRun,
        now: Option<DateTime<Utc>>,
        lag_secs: i64,
    ) -> Result<DateTime<Utc>, SyncError> {
        let now = match now {
            Some(now) => now,
            None => {
                let time = zbridge_zuora::clock::zuora_time(&self.zuora).await?;
                if let Some(warning) = time.warning() {
                    tracing::warn!("{warning}");
                    self.store.add_sync_run_warning(&run.id, &warning).await?;
                }
                time.now
            }
        };
        Ok(zbridge_core::time::truncate_to_second(
            now - chrono::Duration::seconds(lag_secs),
        ))
    }

    /// The catalog objects of the profile that have a watermark (were committed once).
    async fn watermarked(
        &self,
        profile_id: &str,
        catalog: &Catalog,
    ) -> Result<HashSet<String>, SyncError> {
        let mut out = HashSet::new();
        for object in &catalog.objects {
            if self
                .store
                .sync_watermark(profile_id, &object.name)
                .await?
                .is_some()
            {
                out.insert(object.name.clone());
            }
        }
        Ok(out)
    }

    /// Extracts an object's window (and its retryable failures) into a spool file.
    async fn extract_object(
        &self,
        profile_id: &str,
        object: &ObjectMap,
        full: bool,
        until: DateTime<Utc>,
        only: Option<&[String]>,
    ) -> Result<Extracted, SyncError> {
        let started = Instant::now();
        let watermark = self.store.sync_watermark(profile_id, &object.name).await?;
        if let Some(ids) = only {
            return self.extract_ids(object, ids, watermark, started).await;
        }
        // Catalog objects too: a product changed or deleted in Zuora is stamped like any
        // record, so only what changed is sent (deleted ones flagged, AQuA's found by Id).
        let full = full || watermark.is_none();
        let since = if full {
            full_sync_start()
        } else {
            watermark.unwrap_or_else(full_sync_start)
        };
        let columns = object.source_columns();
        let mut writer = BufWriter::new(tempfile::tempfile()?);
        let mut sink = SpoolSink {
            out: &mut writer,
            columns: Vec::new(),
            rows: 0,
        };
        if since < until {
            self.extract(
                &object.source,
                &columns,
                None,
                Some((since, until)),
                &mut sink,
            )
            .await?;
        }
        let window_rows = sink.rows;
        // Retryable failures of earlier runs are read again by id (deleted ones come back
        // flagged through Data Query; ones that vanished are dropped after processing).
        let retry = self
            .store
            .open_sync_failures(profile_id, &object.name, RETRYABLE)
            .await?;
        for chunk in retry.chunks(self.id_chunk()) {
            self.extract(
                &object.source,
                &columns,
                Some(id_filter(chunk)),
                None,
                &mut sink,
            )
            .await?;
        }
        if !full && since < until {
            self.extract_join_changes(object, &columns, (since, until), &mut sink)
                .await?;
        }
        let spooled = if sink.columns.is_empty() {
            columns
        } else {
            sink.columns.clone()
        };
        let rows = sink.rows;
        drop(sink);
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        Ok(Extracted {
            file,
            columns: spooled,
            rows,
            window_rows,
            retry,
            watermark,
            full,
            repair: false,
            millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        })
    }

    /// Extracts the rows of `object` with these ids (a repair), outside any window.
    async fn extract_ids(
        &self,
        object: &ObjectMap,
        ids: &[String],
        watermark: Option<DateTime<Utc>>,
        started: Instant,
    ) -> Result<Extracted, SyncError> {
        let columns = object.source_columns();
        let mut writer = BufWriter::new(tempfile::tempfile()?);
        let mut sink = SpoolSink {
            out: &mut writer,
            columns: Vec::new(),
            rows: 0,
        };
        for chunk in ids.chunks(self.id_chunk()) {
            self.extract(
                &object.source,
                &columns,
                Some(id_filter(chunk)),
                None,
                &mut sink,
            )
            .await?;
        }
        let spooled = if sink.columns.is_empty() {
            columns
        } else {
            sink.columns.clone()
        };
        let rows = sink.rows;
        drop(sink);
        Ok(Extracted {
            file: writer.into_inner().map_err(|e| e.into_error())?,
            columns: spooled,
            rows,
            window_rows: rows,
            retry: Vec::new(),
            watermark,
            full: false,
            repair: true,
            millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        })
    }

    /// A change to a joined row (a bill-to contact's address) leaves the record's own
    /// UpdatedDate alone, so the records that join a row changed in the window are read again.
    async fn extract_join_changes(
        &self,
        object: &ObjectMap,
        columns: &[String],
        window: (DateTime<Utc>, DateTime<Utc>),
        sink: &mut SpoolSink<'_>,
    ) -> Result<(), SyncError> {
        let mut by_table: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for join in &object.joins {
            by_table.entry(&join.table).or_default().push(&join.on);
        }
        for (table, ons) in by_table {
            let mut changed = CollectSink::default();
            self.extract(table, &["Id".to_string()], None, Some(window), &mut changed)
                .await?;
            let ids: Vec<String> = changed
                .rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect();
            // Each id is named once per joining column, within the service's query length.
            for chunk in ids.chunks((self.id_chunk() / ons.len()).max(1)) {
                let list = chunk
                    .iter()
                    .map(|i| quote(i))
                    .collect::<Vec<_>>()
                    .join(", ");
                let filter = ons
                    .iter()
                    .map(|on| format!("{on} IN ({list})"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                self.extract(&object.source, columns, Some(filter), None, sink)
                    .await?;
            }
        }
        Ok(())
    }

    /// Loads one extracted object, then commits its checkpoint and watermark together.
    async fn process_object(
        &self,
        run: &SyncRun,
        ctx: &mut ObjectRun<'_>,
        extracted: Extracted,
        until: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let started = Instant::now();
        let calls_before = self.api_used();
        let object = ctx.object;
        let Extracted {
            file,
            columns,
            mut rows,
            window_rows,
            retry,
            watermark,
            full,
            repair,
            millis,
        } = extracted;
        ctx.stats.watermark_before = watermark;
        let mut writer = BufWriter::new(file);
        writer.seek(std::io::SeekFrom::End(0))?;
        // Records that entered the scope (a CrmId added, a subscription back to a synced
        // status), in this run or one that stopped, are owed their children whatever their
        // UpdatedDate. A full read covers them anyway.
        let owed = if full || repair {
            Vec::new()
        } else {
            self.extract_owed_children(&ctx.profile_id, object, &mut writer, &mut rows)
                .await?
        };
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        ctx.stats.read = i64::try_from(rows).unwrap_or(i64::MAX);
        ctx.bulk = window_rows as usize >= ctx.options.bulk_threshold;
        let batch_size = if ctx.bulk {
            ctx.options.bulk_batch_size
        } else {
            ctx.options.batch_size
        };
        let mut seen_retry: HashSet<String> = HashSet::new();
        let id_col = index_of(&columns, "Id").unwrap_or(0);
        let mut batch: Vec<RawRow> = Vec::with_capacity(batch_size.min(10_000));
        let mut loads = Loads::default();
        let mut lines = BufReader::new(file).lines();
        loop {
            let line = lines.next().transpose()?;
            if let Some(line) = &line {
                let (cells, deleted): (Vec<Option<String>>, bool) =
                    serde_json::from_str(line).map_err(|e| std::io::Error::other(e.to_string()))?;
                if !retry.is_empty()
                    && let Some(Some(id)) = cells.get(id_col)
                {
                    seen_retry.insert(id.clone());
                }
                batch.push(RawRow { cells, deleted });
                if ctx.stop.is_cancelled() {
                    // The batches already at Salesforce are finished and booked first.
                    for (plan, loaded) in loads.settle(0).await {
                        self.finish_batch(run, ctx, plan, loaded?).await?;
                    }
                    return Err(SyncError::Stopped);
                }
            }
            let full_batch = batch.len() >= batch_size || (line.is_none() && !batch.is_empty());
            if full_batch {
                let rows = std::mem::take(&mut batch);
                let plan = loads
                    .alongside(self.prepare_batch(ctx, &columns, rows))
                    .await?;
                loads.start(self.load_planned(ctx.object, ctx.bulk, plan));
            }
            let wanted = if line.is_none() {
                0
            } else {
                LOADS_IN_FLIGHT - 1
            };
            for (plan, loaded) in loads.settle(wanted).await {
                self.finish_batch(run, ctx, plan, loaded?).await?;
            }
            if line.is_none() {
                break;
            }
        }
        let vanished: Vec<String> = retry
            .into_iter()
            .filter(|id| !seen_retry.contains(id))
            .collect();
        self.store
            .resolve_sync_failures(&ctx.profile_id, &object.name, &vanished)
            .await?;
        let deletes_unreported = match object.scope {
            Scope::Account => true,
            Scope::Catalog => object.deleted_flag.is_some(),
        };
        if deletes_unreported && self.zuora.connection().service == ZuoraService::AQuADataExport {
            self.reconcile_deletes(&ctx.profile_id, object).await?;
        }
        ctx.stats.api_calls = self.api_used() - calls_before;
        ctx.stats.duration_ms = millis + i64::try_from(started.elapsed().as_millis()).unwrap_or(0);
        ctx.stats.watermark_after = if repair {
            watermark
        } else {
            Some(until.max(watermark.unwrap_or(until)))
        };
        self.store
            .commit_sync_object(&run.id, &ctx.profile_id, &ctx.stats, !repair)
            .await?;
        if repair {
            return Ok(());
        }
        // Only now, after the checkpoint: a debt settled before it could be lost to a kill.
        if full {
            self.store
                .settle_all_owed_children(&ctx.profile_id, &object.name)
                .await?;
        } else {
            self.store
                .settle_owed_children(&ctx.profile_id, &object.name, &owed)
                .await?;
        }
        Ok(())
    }

    /// Appends to the spool the rows of `object` whose parents are owed their children (see
    /// `sync_owed_children`); returns those parents, to settle after the checkpoint.
    async fn extract_owed_children(
        &self,
        profile_id: &str,
        object: &ObjectMap,
        writer: &mut BufWriter<std::fs::File>,
        rows: &mut u64,
    ) -> Result<Vec<String>, SyncError> {
        let Some(link) = &object.parent else {
            return Ok(Vec::new());
        };
        let mut sink = SpoolSink {
            out: writer,
            columns: Vec::new(),
            rows: 0,
        };
        let chunk = self.id_chunk();
        let mut owed: Vec<String> = Vec::new();
        loop {
            let after = owed.last().cloned().unwrap_or_default();
            let page = self
                .store
                .owed_children_page(
                    profile_id,
                    &object.name,
                    &after,
                    i64::try_from(chunk).unwrap_or(i64::MAX),
                )
                .await?;
            if page.is_empty() {
                break;
            }
            let filter = format!(
                "{} IN ({})",
                link.column,
                page.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", ")
            );
            self.extract(
                &object.source,
                &object.source_columns(),
                Some(filter),
                None,
                &mut sink,
            )
            .await?;
            owed.extend(page);
        }
        *rows += sink.rows;
        Ok(owed)
    }

    /// Reads the joined rows of a batch: join name → (columns, rows by Id). Joins on the same
    /// table (bill-to and sold-to contacts) share one read.
    async fn read_joins(
        &self,
        object: &ObjectMap,
        columns: &[String],
        rows: &[RawRow],
    ) -> Result<HashMap<String, JoinedRows>, SyncError> {
        let mut by_table: BTreeMap<String, TableJoin> = BTreeMap::new();
        for join in &object.joins {
            let Some(on) = index_of(columns, &join.on) else {
                continue;
            };
            let TableJoin { names, wanted, ids } = by_table.entry(join.table.clone()).or_default();
            names.push(join.name.to_ascii_lowercase());
            for column in object.join_columns(join) {
                if !wanted.iter().any(|w| w.eq_ignore_ascii_case(&column)) {
                    wanted.push(column);
                }
            }
            ids.extend(
                rows.iter()
                    .filter_map(|r| r.cells.get(on).cloned().flatten()),
            );
        }
        let mut out = HashMap::new();
        for (
            table,
            TableJoin {
                names,
                wanted,
                mut ids,
            },
        ) in by_table
        {
            ids.sort();
            ids.dedup();
            let mut joined = JoinedRows::default();
            for chunk in ids.chunks(self.id_chunk()) {
                let mut sink = CollectSink::default();
                self.extract(&table, &wanted, Some(id_filter(chunk)), None, &mut sink)
                    .await?;
                let id = index_of(&sink.columns, "Id").unwrap_or(0);
                joined.columns = sink.columns.clone();
                for row in sink.rows {
                    if let Some(Some(key)) = row.get(id) {
                        joined.rows.insert(key.clone(), row);
                    }
                }
            }
            for name in names {
                out.insert(name, joined.clone());
            }
        }
        Ok(out)
    }

    fn plan_batch(
        &self,
        ctx: &ObjectRun<'_>,
        columns: &[String],
        rows: &[RawRow],
        parents: &HashMap<String, KeyInfo>,
        known: &HashMap<String, KeyInfo>,
        joins: &HashMap<String, JoinedRows>,
    ) -> BatchPlan {
        let object = ctx.object;
        let mut plan = BatchPlan::default();
        let col = |row: &RawRow, name: &str| -> Option<String> {
            index_of(columns, name)
                .and_then(|i| row.cells.get(i).cloned().flatten())
                .filter(|s| !s.is_empty())
        };
        for row in rows {
            let Some(id) = col(row, "Id") else {
                plan.skipped += 1;
                continue;
            };
            let is_known = known.contains_key(&id);
            let out_of_scope = |plan: &mut BatchPlan, reason: &str| {
                if is_known {
                    plan.deletes
                        .push((object.name.clone(), id.clone(), reason.to_string()));
                } else {
                    plan.skipped += 1;
                }
                plan.resolved.push(id.clone());
            };
            if row.deleted && object.scope == Scope::Account {
                out_of_scope(&mut plan, "deleted in Zuora");
                continue;
            }
            // Where the record sits: its billing account, CrmId and parent.
            let (account_id, crm_id, parent_id, grandparent) = if object.is_account() {
                let status = object.status.as_deref().and_then(|s| col(row, s));
                if status.is_some_and(|s| object.excluded_statuses.contains(&s)) {
                    out_of_scope(&mut plan, "account cancelled");
                    continue;
                }
                let Some(raw_crm) = object.crm_id.as_deref().and_then(|c| col(row, c)) else {
                    if is_known || ctx.options.skip_accounts_without_crm_id {
                        // Zuora 360: removing the CrmId removes the account's subtree.
                        out_of_scope(&mut plan, "CrmId removed");
                    } else {
                        plan.failures.push(missing_crm_id(&object.name, &id));
                    }
                    continue;
                };
                match convert::crm_id(&raw_crm) {
                    Ok(crm) => (Some(id.clone()), Some(crm), None, None),
                    Err(why) => {
                        plan.failures.push(failure(
                            &object.name,
                            &id,
                            "upsert",
                            Why {
                                code: "DACO-02",
                                class: NEEDS_FIX,
                                status: "INVALID_CRM_ID",
                                message: &format!(
                                    "Missing CRM ID: '{raw_crm}' is not a valid CRM Account ID ({why})"
                                ),
                                fields: &[],
                            },
                        ));
                        continue;
                    }
                }
            } else if let Some(link) = &object.parent {
                let parent = col(row, &link.column);
                match parent.as_ref().and_then(|p| parents.get(p)) {
                    Some(info) => (
                        info.account_id.clone(),
                        info.crm_id.clone(),
                        parent,
                        info.parent_id.clone(),
                    ),
                    None => {
                        out_of_scope(&mut plan, "parent not synced");
                        continue;
                    }
                }
            } else {
                (None, None, None, None)
            };
            if let Some(req) = &object.require {
                let value = col(row, &req.column).unwrap_or_default();
                let allowed = req.values.iter().any(|v| {
                    if v == "$subscription_statuses" {
                        ctx.statuses.contains(&value)
                    } else {
                        *v == value
                    }
                });
                if !allowed {
                    out_of_scope(&mut plan, "status not synced");
                    continue;
                }
            }
            let mut fields = Vec::with_capacity(object.fields.len() + 1);
            let mut error: Option<FieldError> = None;
            for f in &object.fields {
                let raw = match f.from.as_str() {
                    "$crm_id" => crm_id.clone(),
                    "$parent_parent" => grandparent.clone(),
                    from => match object.join_of(from) {
                        Some((join, field)) => {
                            let on = col(row, &join.on);
                            joins
                                .get(&join.name.to_ascii_lowercase())
                                .and_then(|j| j.get(on.as_deref(), field))
                        }
                        None => index_of(columns, from)
                            .and_then(|i| row.cells.get(i).cloned().flatten()),
                    },
                };
                if f.from == "$crm_id" && raw.is_none() {
                    error = Some(FieldError {
                        code: "DACO-02",
                        status_code: "MISSING_CRM_ID",
                        message: "Missing CRM ID: the billing account has no CRM Account ID".into(),
                        field: f.to.clone(),
                    });
                    break;
                }
                match convert::convert(f, raw.as_deref()) {
                    Ok(v) => fields.push((f.to.clone(), v)),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            if let Some(flag) = &object.deleted_flag {
                fields.push((flag.clone(), Json::Bool(row.deleted)));
            }
            if let Some(e) = error {
                let class = if e.code == "DACO-02" || e.code == "DACO-12" || e.code == "DACO-01" {
                    NEEDS_FIX
                } else {
                    RETRYABLE
                };
                plan.failures.push(failure(
                    &object.name,
                    &id,
                    "upsert",
                    Why {
                        code: e.code,
                        class,
                        status: e.status_code,
                        message: &e.message,
                        fields: std::slice::from_ref(&e.field),
                    },
                ));
                continue;
            }
            let crm_changed = object.is_account()
                && known
                    .get(&id)
                    .is_some_and(|k| k.crm_id.is_some() && k.crm_id != crm_id);
            plan.upserts.push(Upsert {
                external_id: id.clone(),
                fields,
                key: SyncKey {
                    object: object.name.clone(),
                    external_id: id.clone(),
                    parent: object
                        .parent
                        .as_ref()
                        .zip(parent_id)
                        .map(|(l, p)| (l.object.clone(), p)),
                    account_id,
                    crm_id,
                },
                known: is_known,
                crm_changed,
            });
        }
        plan
    }

    /// Reads what a batch needs (known keys, parents, joined rows), plans it, and records the
    /// keys of its upserts before anything is written.
    async fn prepare_batch(
        &self,
        ctx: &ObjectRun<'_>,
        columns: &[String],
        rows: Vec<RawRow>,
    ) -> Result<BatchPlan, SyncError> {
        let object = ctx.object;
        let rows = last_per_id(rows, columns);
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| index_of(columns, "Id").and_then(|i| r.cells.get(i).cloned().flatten()))
            .collect();
        let known = self
            .store
            .lookup_sync_keys(&ctx.profile_id, &object.name, &ids)
            .await?;
        let parents = match &object.parent {
            Some(link) => {
                let mut parent_ids: Vec<String> = rows
                    .iter()
                    .filter_map(|r| {
                        index_of(columns, &link.column)
                            .and_then(|i| r.cells.get(i).cloned().flatten())
                    })
                    .collect();
                parent_ids.sort();
                parent_ids.dedup();
                self.store
                    .lookup_sync_keys(&ctx.profile_id, &link.object, &parent_ids)
                    .await?
            }
            None => HashMap::new(),
        };
        let joins = self.read_joins(object, columns, &rows).await?;
        let plan = self.plan_batch(ctx, columns, &rows, &parents, &known, &joins);
        drop(rows);
        // Keys first: a crash after the write but before the result leaves a key for a record
        // that may exist, never a record the index does not know. A record new to the index
        // is owed its children in the same transaction, so it is never known without them.
        let keys: Vec<SyncKey> = plan.upserts.iter().map(|u| u.key.clone()).collect();
        let owed: Vec<(String, String)> = plan
            .upserts
            .iter()
            .filter(|u| !u.known)
            .flat_map(|u| {
                ctx.owe_to
                    .iter()
                    .map(|child| (child.clone(), u.external_id.clone()))
            })
            .collect();
        self.store
            .put_sync_keys_owing(&ctx.profile_id, &keys, &owed)
            .await?;
        Ok(plan)
    }

    /// Books a loaded batch: counts, keys of records that could not be created, failures,
    /// resolved failures, queued deletes, CrmId changes.
    async fn finish_batch(
        &self,
        run: &SyncRun,
        ctx: &mut ObjectRun<'_>,
        plan: BatchPlan,
        loaded: Loaded,
    ) -> Result<(), SyncError> {
        let object = ctx.object;
        ctx.stats.skipped += plan.skipped;
        ctx.stats.bulk_jobs += loaded.bulk_jobs;
        let mut failures = plan.failures;
        let mut written = plan.resolved;
        let mut unknown_failed = Vec::new();
        let mut repoint = Vec::new();
        for (result, upsert) in loaded.results.iter().zip(&plan.upserts) {
            match failure_of(&object.name, result, "upsert") {
                Some(f) => {
                    if !upsert.known {
                        unknown_failed.push(upsert.external_id.clone());
                    }
                    failures.push(f);
                }
                None => {
                    ctx.stats.upserted += 1;
                    written.push(upsert.external_id.clone());
                    if upsert.crm_changed {
                        repoint.push(upsert.key.clone());
                    }
                }
            }
        }
        self.store
            .remove_sync_keys(&ctx.profile_id, &object.name, &unknown_failed)
            .await?;
        self.store
            .resolve_sync_failures(&ctx.profile_id, &object.name, &written)
            .await?;
        ctx.stats.failed += i64::try_from(failures.len()).unwrap_or(0);
        ctx.failures += i64::try_from(failures.len()).unwrap_or(0);
        self.store
            .record_sync_failures(&run.id, &ctx.profile_id, &failures)
            .await?;
        self.store
            .add_pending_deletes(&ctx.profile_id, &plan.deletes)
            .await?;
        for key in repoint {
            self.repoint_children(run, ctx, &key).await?;
        }
        Ok(())
    }

    /// Loads a planned batch and hands the plan back with Salesforce's answer.
    async fn load_planned(
        &self,
        object: &ObjectMap,
        bulk: bool,
        plan: BatchPlan,
    ) -> (BatchPlan, Result<Loaded, SyncError>) {
        let loaded = self.load_upserts(object, bulk, &plan.upserts).await;
        (plan, loaded)
    }

    /// Writes upserts through Bulk (large objects) or Collections; one result per upsert.
    async fn load_upserts(
        &self,
        object: &ObjectMap,
        bulk: bool,
        upserts: &[Upsert],
    ) -> Result<Loaded, SyncError> {
        if upserts.is_empty() {
            return Ok(Loaded::default());
        }
        if bulk && !self.bulk_unavailable.load(Ordering::Relaxed) {
            match self.load_bulk(object, upserts).await {
                Err(SyncError::Salesforce(e)) if e.is_bulk_unavailable() => {
                    tracing::warn!(error = %e, "Bulk API unavailable; loading through sObject Collections");
                    self.bulk_unavailable.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        let records: Vec<Map<String, Json>> = upserts
            .iter()
            .map(|u| collections_record(&u.fields))
            .collect();
        Ok(Loaded {
            results: self
                .salesforce
                .upsert_collection(&object.target, &object.key, &records)
                .await?,
            bulk_jobs: 0,
        })
    }

    /// Writes upserts through one Bulk API 2.0 load.
    async fn load_bulk(&self, object: &ObjectMap, upserts: &[Upsert]) -> Result<Loaded, SyncError> {
        let mut columns: Vec<String> = object.fields.iter().map(|f| f.to.clone()).collect();
        if let Some(flag) = &object.deleted_flag {
            columns.push(flag.clone());
        }
        let rows: Vec<Vec<String>> = upserts
            .iter()
            .map(|u| {
                columns
                    .iter()
                    .map(|c| {
                        u.fields
                            .iter()
                            .find(|(n, _)| n == c)
                            .map(|(_, v)| convert::csv_text(v))
                            .unwrap_or_else(|| "#N/A".into())
                    })
                    .collect()
            })
            .collect();
        let outcome = self
            .salesforce
            .bulk_upsert(&object.target, &object.key, &columns, &rows)
            .await?;
        Ok(Loaded {
            results: outcome.results,
            bulk_jobs: i64::try_from(outcome.jobs.len()).unwrap_or(0),
        })
    }

    /// After a billing account's CrmId changed: writes the new `Zuora__Account__c` on every
    /// record of that account that carries it (Zuora 360's CrmId change processing).
    async fn repoint_children(
        &self,
        run: &SyncRun,
        ctx: &mut ObjectRun<'_>,
        account: &SyncKey,
    ) -> Result<(), SyncError> {
        let Some(crm) = &account.crm_id else {
            return Ok(());
        };
        let changed = self
            .store
            .repoint_sync_account(&ctx.profile_id, &account.external_id, crm)
            .await?;
        let catalog = Catalog::with_overrides(&ctx.options.mapping_overrides)?;
        let mut failures = Vec::new();
        for object in &catalog.objects {
            if object.is_account() {
                continue;
            }
            let Some(field) = object.fields.iter().find(|f| f.from == "$crm_id") else {
                continue;
            };
            let records: Vec<Map<String, Json>> = changed
                .iter()
                .filter(|(o, _)| *o == object.name)
                .map(|(_, id)| {
                    let mut m = Map::new();
                    m.insert(object.key.clone(), Json::String(id.clone()));
                    m.insert(field.to.clone(), Json::String(crm.clone()));
                    m
                })
                .collect();
            if records.is_empty() {
                continue;
            }
            let results = self
                .salesforce
                .upsert_collection(&object.target, &object.key, &records)
                .await?;
            failures.extend(
                results
                    .iter()
                    .filter_map(|r| failure_of(&object.name, r, "upsert")),
            );
        }
        ctx.failures += i64::try_from(failures.len()).unwrap_or(0);
        self.store
            .record_sync_failures(&run.id, &ctx.profile_id, &failures)
            .await?;
        Ok(())
    }

    /// Deletes the subtrees of the queued roots, children first. Returns (records deleted,
    /// failures).
    async fn apply_deletes(
        &self,
        run: &SyncRun,
        profile_id: &str,
        catalog: &Catalog,
        options: &SyncOptions,
    ) -> Result<(i64, i64), SyncError> {
        let mut deleted = 0;
        let mut failed = 0;
        loop {
            let roots = self.store.pending_deletes(profile_id, 500).await?;
            if roots.is_empty() {
                break;
            }
            let mut by_object: HashMap<String, Vec<String>> = HashMap::new();
            for (object, id, _) in &roots {
                let is_account = catalog.object(object).is_some_and(ObjectMap::is_account);
                for (o, i) in self
                    .store
                    .sync_subtree(profile_id, object, id, is_account)
                    .await?
                {
                    by_object.entry(o).or_default().push(i);
                }
            }
            let (d, f) = self
                .delete_records(run, profile_id, catalog, options, by_object)
                .await?;
            deleted += d;
            failed += f;
            let mut complete = Vec::new();
            for (object, id, _) in &roots {
                let is_account = catalog.object(object).is_some_and(ObjectMap::is_account);
                if self
                    .store
                    .sync_subtree(profile_id, object, id, is_account)
                    .await?
                    .is_empty()
                {
                    complete.push((object.clone(), id.clone()));
                }
            }
            self.store
                .remove_pending_deletes(profile_id, &complete)
                .await?;
            if complete.len() < roots.len() {
                // The rest failed; they stay queued for the next run.
                break;
            }
        }
        Ok((deleted, failed))
    }

    /// Deletes records by external id, children first (reverse catalog order), never relying
    /// on cascade. Returns (deleted, failed).
    async fn delete_records(
        &self,
        run: &SyncRun,
        profile_id: &str,
        catalog: &Catalog,
        options: &SyncOptions,
        mut by_object: HashMap<String, Vec<String>>,
    ) -> Result<(i64, i64), SyncError> {
        let mut deleted = 0;
        let mut failed = 0;
        for object in catalog.objects.iter().rev() {
            let Some(mut ids) = by_object.remove(&object.name) else {
                continue;
            };
            ids.sort();
            ids.dedup();
            for chunk in ids.chunks(options.bulk_batch_size) {
                let results = self
                    .delete_chunk(object, chunk, chunk.len() >= options.bulk_threshold)
                    .await?;
                let mut gone = Vec::new();
                let mut failures = Vec::new();
                for r in &results {
                    match failure_of(&object.name, r, "delete") {
                        Some(f) => failures.push(f),
                        None => {
                            if matches!(r.outcome, RecordOutcome::Deleted { .. }) {
                                deleted += 1;
                            }
                            gone.push(r.external_id.clone());
                        }
                    }
                }
                failed += i64::try_from(failures.len()).unwrap_or(0);
                self.store
                    .remove_sync_keys(profile_id, &object.name, &gone)
                    .await?;
                self.store
                    .resolve_sync_failures(profile_id, &object.name, &gone)
                    .await?;
                self.store
                    .record_sync_failures(&run.id, profile_id, &failures)
                    .await?;
            }
        }
        Ok((deleted, failed))
    }

    /// Deletes records by external id through Bulk (large chunks, unless Salesforce refused
    /// Bulk jobs in this run) or Collections.
    async fn delete_chunk(
        &self,
        object: &ObjectMap,
        ids: &[String],
        bulk: bool,
    ) -> Result<Vec<RecordResult>, SyncError> {
        if bulk && !self.bulk_unavailable.load(Ordering::Relaxed) {
            match self
                .salesforce
                .bulk_delete(&object.target, &object.key, ids)
                .await
            {
                Ok(outcome) => return Ok(outcome.results),
                Err(e) if e.is_bulk_unavailable() => {
                    tracing::warn!(error = %e, "Bulk API unavailable; deleting through sObject Collections");
                    self.bulk_unavailable.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self
            .salesforce
            .delete_collection(&object.target, &object.key, ids)
            .await?)
    }

    /// Deletes everything the profile synced from the org (children first), forgets its
    /// watermarks so the next run is full, and records the cleanup as a run.
    pub async fn cleanup(&self, profile: &str) -> Result<RunReport, SyncError> {
        let profile = self.store.load_sync_profile(profile).await?;
        let options = SyncOptions::from_json(&profile.options)?;
        let catalog = Catalog::with_overrides(&options.mapping_overrides)?;
        let run = self
            .store
            .create_sync_run(&profile.id, false, "cleanup")
            .await?;
        let calls_before = self.api_used();
        let mut deleted = 0;
        let mut failed = 0;
        let mut result = Ok(());
        'objects: for object in catalog.objects.iter().rev() {
            let mut after = String::new();
            loop {
                let page = self
                    .store
                    .sync_keys_page(&profile.id, &object.name, &after, 2_000)
                    .await?;
                let Some(last) = page.last().cloned() else {
                    break;
                };
                let mut one = HashMap::new();
                one.insert(object.name.clone(), page);
                match self
                    .delete_records(&run, &profile.id, &catalog, &options, one)
                    .await
                {
                    Ok((d, f)) => {
                        deleted += d;
                        failed += f;
                    }
                    Err(e) => {
                        result = Err(e);
                        break 'objects;
                    }
                }
                after = last;
            }
        }
        let stats = ObjectStats {
            object: "(cleanup)".into(),
            deleted,
            failed,
            api_calls: self.api_used() - calls_before,
            ..Default::default()
        };
        self.store
            .commit_sync_object(&run.id, &profile.id, &stats, false)
            .await?;
        let (status, message) = match &result {
            Err(e) => (FAILURE, Some(e.to_string())),
            Ok(()) if failed > 0 => (FINISHED_WITH_ERRORS, None),
            Ok(()) => {
                self.store.reset_sync_state(&profile.id).await?;
                (FINISHED, None)
            }
        };
        self.store
            .finish_sync_run(&run.id, status, message.as_deref())
            .await?;
        let (run, objects) = self.store.load_sync_run(&run.id).await?;
        Ok(RunReport {
            run,
            objects,
            failed,
        })
    }
}

/// What a batch reads from one joined table: for which joins, which columns, which ids.
#[derive(Default)]
struct TableJoin {
    names: Vec<String>,
    wanted: Vec<String>,
    ids: Vec<String>,
}

/// Rows of a joined object by Id.
#[derive(Default, Clone)]
struct JoinedRows {
    columns: Vec<String>,
    rows: HashMap<String, Vec<Option<String>>>,
}

impl JoinedRows {
    fn get(&self, id: Option<&str>, field: &str) -> Option<String> {
        let row = self.rows.get(id?)?;
        let i = index_of(&self.columns, field)?;
        row.get(i).cloned().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_nest_and_null_references_clear_the_lookup() {
        let r = collections_record(&[
            ("Name".into(), Json::String("a".into())),
            (
                "Zuora__Subscription__r.Zuora__External_Id__c".into(),
                Json::String("S1".into()),
            ),
            ("Zuora__Parent__r.Zuora__External_Id__c".into(), Json::Null),
        ]);
        assert_eq!(r["Zuora__Subscription__r"]["Zuora__External_Id__c"], "S1");
        assert_eq!(r["Zuora__Parent__c"], Json::Null);
    }

    #[test]
    fn spooled_datetimes_keep_the_offset_zuora_wrote() {
        let written =
            zbridge_core::time::parse_datetime_as_written("2026-11-02T23:30:00-0800", None)
                .unwrap();
        assert_eq!(
            cell(&Value::DateTime(written)).as_deref(),
            Some("2026-11-02T23:30:00-08:00")
        );
        assert_eq!(cell(&Value::Null), None);
    }

    #[test]
    fn id_filters_quote_values() {
        assert_eq!(
            id_filter(&["a".into(), "b'c".into()]),
            r"Id IN ('a', 'b\'c')"
        );
    }
}
