//! The 360 sync's state: runs and their per-object counts, watermarks, failed records, the
//! index of every record a profile wrote to the org, and schedules.
//!
//! The store does not interpret objects or codes (zbridge-sync does). Its one rule is the
//! cursor rule of lessons.md L46: an object's watermark is written only together with that
//! object's run checkpoint, in one transaction ([`Store::commit_sync_object`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::db::on_pool;
use crate::{SYNC_PROFILE_KIND, Store, StoreError, SyncProfile, from_millis, now_millis};

/// Rows per multi-row statement: one round trip to the database for many records, and few
/// enough binds for SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 200;

/// How a statement numbers its parameters. SQLite gets anonymous `?`: for numbered ones it
/// looks each name up in a list, so binding n of them costs n² (it showed in profiles).
#[derive(Clone, Copy)]
enum Params {
    Anonymous,
    Numbered,
}

impl Params {
    fn of(store: &Store) -> Params {
        match store.db {
            crate::db::Db::Sqlite(_) => Params::Anonymous,
            crate::db::Db::Postgres(_) => Params::Numbered,
        }
    }

    fn one(self, n: usize) -> String {
        match self {
            Params::Anonymous => "?".into(),
            Params::Numbered => format!("${n}"),
        }
    }

    /// `($f, $f+1, …), (…)`: placeholders for `rows` rows of `width` values, from `$first`.
    fn values(self, rows: usize, width: usize, first: usize) -> String {
        (0..rows)
            .map(|r| {
                let row: Vec<String> = (0..width)
                    .map(|c| self.one(first + r * width + c))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `$first, $first+1, …` for an `IN (…)` list of `n` values.
    fn list(self, n: usize, first: usize) -> String {
        (first..first + n)
            .map(|i| self.one(i))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The last of the items that share a key, in the order of those last ones: one statement may not
/// update the same row twice (PostgreSQL refuses `ON CONFLICT DO UPDATE` on a repeated key).
fn last_per_key<T, K: std::hash::Hash + Eq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut seen = HashSet::new();
    let mut out: Vec<&T> = items.iter().rev().filter(|i| seen.insert(key(i))).collect();
    out.reverse();
    out
}

/// One run of a sync profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncRun {
    /// Run id (a UUID).
    pub id: String,
    /// The profile's id.
    pub profile_id: String,
    /// Whether it read everything ("updated since 2000-01-01").
    pub full: bool,
    /// `manual`, `schedule`, `cleanup`.
    pub trigger: String,
    /// `Running`, `Finished`, `Finished with Errors`, `Failure`.
    pub status: String,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// Notes besides the status (a clock skew between this machine and Zuora).
    pub warnings: Vec<String>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, once finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// What one run did to one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObjectStats {
    /// The catalog name of the object.
    pub object: String,
    /// Its place in the run's plan.
    pub position: i64,
    /// Rows read from Zuora.
    pub read: i64,
    /// Records upserted.
    pub upserted: i64,
    /// Records deleted.
    pub deleted: i64,
    /// Records that failed.
    pub failed: i64,
    /// Rows out of scope (no CrmId, not a synced status).
    pub skipped: i64,
    /// Salesforce API calls spent.
    pub api_calls: i64,
    /// Bulk jobs run.
    pub bulk_jobs: i64,
    /// Time spent.
    pub duration_ms: i64,
    /// The watermark before the run.
    pub watermark_before: Option<DateTime<Utc>>,
    /// The watermark after the run (unchanged when the object did not finish).
    pub watermark_after: Option<DateTime<Utc>>,
}

/// One failed record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncFailure {
    /// The catalog name of the object.
    pub object: String,
    /// The record's external id (the Zuora id).
    pub external_id: String,
    /// `upsert` or `delete`.
    pub operation: String,
    /// DACO-style code.
    pub code: String,
    /// `retryable` or `needs_fix`.
    pub retry_class: String,
    /// Salesforce's status code (or zbridge's, for checks made before sending).
    pub status_code: String,
    /// The message.
    pub message: String,
    /// Fields involved, comma-separated.
    pub fields: String,
}

impl SyncRun {
    /// The first 8 characters of the id: enough to name a run (`sync errors` takes a prefix).
    pub fn short_id(&self) -> &str {
        self.id
            .char_indices()
            .nth(8)
            .map_or(self.id.as_str(), |(end, _)| &self.id[..end])
    }

    /// How long the run took, as `12.3s`, or `running` while it runs.
    pub fn duration_text(&self) -> String {
        match self.finished_at {
            Some(end) => format!(
                "{:.1}s",
                (end - self.started_at).num_milliseconds() as f64 / 1000.0
            ),
            None => "running".into(),
        }
    }
}

impl SyncFailure {
    /// The header row of [`SyncFailure::write_csv`].
    pub const CSV_HEADER: &'static str =
        "object,external_id,operation,code,retry_class,status_code,message,fields";

    /// Writes `failures` as CSV, header first; a field is quoted only when it holds a comma, a
    /// quote or a line break (the CLI's `sync errors --csv` and the web UI's error CSV).
    pub fn write_csv(
        failures: &[SyncFailure],
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        writeln!(out, "{}", Self::CSV_HEADER)?;
        for f in failures {
            let row = [
                &f.object,
                &f.external_id,
                &f.operation,
                &f.code,
                &f.retry_class,
                &f.status_code,
                &f.message,
                &f.fields,
            ];
            let line: Vec<String> = row.iter().map(|field| csv_field(field)).collect();
            writeln!(out, "{}", line.join(","))?;
        }
        Ok(())
    }
}

/// A CSV field: quoted (quotes doubled) only when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A record the profile wrote to the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncKey {
    /// Catalog name of its object.
    pub object: String,
    /// Its external id.
    pub external_id: String,
    /// Its parent (catalog object, external id), when it has one that owns it.
    pub parent: Option<(String, String)>,
    /// The Zuora billing account it belongs to.
    pub account_id: Option<String>,
    /// The CrmId written for that account.
    pub crm_id: Option<String>,
}

/// What the key index knows of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The billing account it belongs to.
    pub account_id: Option<String>,
    /// The CrmId last written for that account.
    pub crm_id: Option<String>,
    /// Its parent's external id.
    pub parent_id: Option<String>,
}

/// The last `sync verify` of a profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncVerification {
    /// The profile's id.
    pub profile_id: String,
    /// When it ran.
    pub verified_at: DateTime<Utc>,
    /// Whether anything drifted.
    pub drifted: bool,
    /// The report as zbridge-sync wrote it (per object counts).
    pub report: serde_json::Value,
}

/// A profile's schedule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncSchedule {
    /// The profile's id.
    pub profile_id: String,
    /// Interval.
    pub every_secs: i64,
    /// When it is due next.
    pub next_due: DateTime<Utc>,
}

type RunRow = (
    String,
    String,
    bool,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

fn run_from_row(r: RunRow) -> SyncRun {
    SyncRun {
        id: r.0,
        profile_id: r.1,
        full: r.2,
        trigger: r.3,
        status: r.4,
        message: r.5,
        started_at: from_millis(r.6),
        finished_at: r.7.map(from_millis),
        warnings: r
            .8
            .map(|w| w.lines().map(str::to_string).collect())
            .unwrap_or_default(),
    }
}

const RUN_COLUMNS: &str =
    "id, profile_id, full_sync, trigger_kind, status, message, started_at, finished_at, warnings";

type StatsRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// Replaces the options of a sync profile, keeping its name and connection.
    pub async fn update_sync_profile_options(
        &self,
        name: &str,
        options: serde_json::Value,
    ) -> Result<SyncProfile, StoreError> {
        let profile = self.load_sync_profile(name).await?;
        let definition =
            serde_json::json!({"connection_id": profile.connection_id, "options": options});
        self.save_component(
            SYNC_PROFILE_KIND,
            &profile.name,
            &definition,
            std::slice::from_ref(&profile.connection_id),
        )
        .await?;
        self.load_sync_profile(&profile.name).await
    }

    /// Starts a run (status `Running`).
    pub async fn create_sync_run(
        &self,
        profile_id: &str,
        full: bool,
        trigger: &str,
    ) -> Result<SyncRun, StoreError> {
        let run = SyncRun {
            id: uuid::Uuid::new_v4().to_string(),
            profile_id: profile_id.to_string(),
            full,
            trigger: trigger.to_string(),
            status: "Running".into(),
            message: None,
            warnings: Vec::new(),
            started_at: from_millis(now_millis()),
            finished_at: None,
        };
        const SQL: &str = "INSERT INTO sync_runs (id, profile_id, full_sync, trigger_kind, status, message, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL)";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(&run.id).bind(&run.profile_id).bind(full)
            .bind(trigger).bind(&run.status).bind(run.started_at.timestamp_millis()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(run)
    }

    /// Marks the profile's runs still `Running` as `Failure` (their process stopped without
    /// finishing them); returns how many. Called when a new run of the profile starts.
    pub async fn interrupt_sync_runs(&self, profile_id: &str) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE sync_runs SET status = 'Failure', message = 'interrupted: the process stopped before the run finished; the next run continued from the last committed watermarks', finished_at = $1 WHERE profile_id = $2 AND status = 'Running'";
        Ok(
            on_pool!(&self.db, pool => sqlx::query(SQL).bind(now_millis()).bind(profile_id)
            .execute(pool).await.map(|r| r.rows_affected()))?,
        )
    }

    /// Adds a note to a run's history (one line; line breaks become spaces).
    pub async fn add_sync_run_warning(&self, run_id: &str, text: &str) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE sync_runs SET warnings = COALESCE(warnings || $1, $2) WHERE id = $3";
        let line = text.replace(['\n', '\r'], " ");
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(format!("\n{line}")).bind(&line)
            .bind(run_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Ends a run with its status and message.
    pub async fn finish_sync_run(
        &self,
        run_id: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE sync_runs SET status = $1, message = $2, finished_at = $3 WHERE id = $4";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(status).bind(message).bind(now_millis())
            .bind(run_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records what a run did to one object and, when `advance` is true, moves the object's
    /// watermark to `stats.watermark_after`, in one transaction.
    pub async fn commit_sync_object(
        &self,
        run_id: &str,
        profile_id: &str,
        stats: &ObjectStats,
        advance: bool,
    ) -> Result<(), StoreError> {
        const STATS: &str = "INSERT INTO sync_run_objects (run_id, object, position, records_read, upserted, deleted, failed, skipped, api_calls, bulk_jobs, duration_ms, watermark_before, watermark_after) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
            ON CONFLICT (run_id, object) DO UPDATE SET records_read = excluded.records_read, upserted = excluded.upserted, deleted = excluded.deleted, failed = excluded.failed, skipped = excluded.skipped, api_calls = excluded.api_calls, bulk_jobs = excluded.bulk_jobs, duration_ms = excluded.duration_ms, watermark_after = excluded.watermark_after";
        const MARK: &str = "INSERT INTO sync_watermarks (profile_id, object, watermark) VALUES ($1, $2, $3) \
            ON CONFLICT (profile_id, object) DO UPDATE SET watermark = excluded.watermark";
        let before = stats.watermark_before.map(|t| t.timestamp_millis());
        let after = stats.watermark_after.map(|t| t.timestamp_millis());
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(STATS).bind(run_id).bind(&stats.object).bind(stats.position)
                .bind(stats.read).bind(stats.upserted).bind(stats.deleted).bind(stats.failed)
                .bind(stats.skipped).bind(stats.api_calls).bind(stats.bulk_jobs)
                .bind(stats.duration_ms).bind(before).bind(after).execute(&mut *tx).await?;
            if let (true, Some(after)) = (advance, after) {
                sqlx::query(MARK).bind(profile_id).bind(&stats.object).bind(after)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// The watermark of one object of a profile.
    pub async fn sync_watermark(
        &self,
        profile_id: &str,
        object: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str =
            "SELECT watermark FROM sync_watermarks WHERE profile_id = $1 AND object = $2";
        let row: Option<(i64,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(object).fetch_optional(pool).await)?;
        Ok(row.map(|(ms,)| from_millis(ms)))
    }

    /// Keeps a profile's latest `sync verify` (replacing the one before).
    pub async fn save_sync_verification(
        &self,
        profile_id: &str,
        drifted: bool,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO sync_verifications (profile_id, verified_at, drifted, report) VALUES ($1, $2, $3, $4) \
            ON CONFLICT (profile_id) DO UPDATE SET verified_at = excluded.verified_at, drifted = excluded.drifted, report = excluded.report";
        let text = report.to_string();
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(profile_id).bind(now_millis())
            .bind(drifted).bind(&text).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The latest `sync verify` of each profile that has one (of one profile when given).
    pub async fn sync_verifications(
        &self,
        profile_id: Option<&str>,
    ) -> Result<Vec<SyncVerification>, StoreError> {
        const SQL: &str = "SELECT profile_id, verified_at, drifted, report FROM sync_verifications WHERE ($1 IS NULL OR profile_id = $1) ORDER BY profile_id";
        let rows: Vec<(String, i64, bool, String)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(profile_id, at, drifted, report)| SyncVerification {
                profile_id,
                verified_at: from_millis(at),
                drifted,
                report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// Forgets a profile's watermarks, keys and open failures (after a cleanup), so the next
    /// run is full.
    pub async fn reset_sync_state(&self, profile_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for table in ["sync_watermarks", "sync_keys", "sync_open_failures", "sync_pending_deletes", "sync_owed_children"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE profile_id = $1")))
                    .bind(profile_id).execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Runs of a profile (or of every profile), newest first.
    pub async fn list_sync_runs(
        &self,
        profile_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE ($1 IS NULL OR profile_id = $1) ORDER BY started_at DESC, id LIMIT $2"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<RunRow> = on_pool!(&self.db, pool =>
            sqlx::query_as(sql).bind(profile_id).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(run_from_row).collect())
    }

    /// One run (an id or a unique id prefix) and its per-object counts in plan order.
    pub async fn load_sync_run(&self, id: &str) -> Result<(SyncRun, Vec<ObjectStats>), StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE id LIKE $1 ORDER BY started_at LIMIT 2"
        ));
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let rows: Vec<RunRow> = on_pool!(&self.db, pool =>
            sqlx::query_as(sql).bind(&pattern).fetch_all(pool).await)?;
        if rows.len() != 1 || id.trim().is_empty() {
            return Err(StoreError::NotFound {
                kind: "sync run",
                name: id.to_string(),
                list_command: "sync history",
            });
        }
        let run = rows
            .into_iter()
            .next()
            .map(run_from_row)
            .ok_or_else(|| StoreError::Corrupt("a run vanished while it was read".into()))?;
        const STATS: &str = "SELECT object, position, records_read, upserted, deleted, failed, skipped, api_calls, bulk_jobs, duration_ms, watermark_before, watermark_after FROM sync_run_objects WHERE run_id = $1 ORDER BY position";
        let rows: Vec<StatsRow> = on_pool!(&self.db, pool =>
            sqlx::query_as(STATS).bind(&run.id).fetch_all(pool).await)?;
        let stats = rows
            .into_iter()
            .map(|r| ObjectStats {
                object: r.0,
                position: r.1,
                read: r.2,
                upserted: r.3,
                deleted: r.4,
                failed: r.5,
                skipped: r.6,
                api_calls: r.7,
                bulk_jobs: r.8,
                duration_ms: r.9,
                watermark_before: r.10.map(from_millis),
                watermark_after: r.11.map(from_millis),
            })
            .collect();
        Ok((run, stats))
    }

    /// Records failed records of a run: in the run's list, and as the profile's open failures.
    pub async fn record_sync_failures(
        &self,
        run_id: &str,
        profile_id: &str,
        failures: &[SyncFailure],
    ) -> Result<(), StoreError> {
        if failures.is_empty() {
            return Ok(());
        }
        let per_run = last_per_key(failures, |f| {
            (f.object.clone(), f.external_id.clone(), f.operation.clone())
        });
        let open = last_per_key(failures, |f| (f.object.clone(), f.external_id.clone()));
        let params = Params::of(self);
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in per_run.chunks(ROWS_PER_STATEMENT) {
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO sync_run_failures (run_id, object, external_id, operation, code, retry_class, status_code, message, fields) VALUES {} \
                     ON CONFLICT (run_id, object, external_id, operation) DO UPDATE SET code = excluded.code, retry_class = excluded.retry_class, status_code = excluded.status_code, message = excluded.message, fields = excluded.fields",
                    params.values(chunk.len(), 9, 1)
                ));
                let mut q = sqlx::query(sql);
                for f in chunk {
                    q = q.bind(run_id).bind(&f.object).bind(&f.external_id).bind(&f.operation)
                        .bind(&f.code).bind(&f.retry_class).bind(&f.status_code).bind(&f.message)
                        .bind(&f.fields);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in open.chunks(ROWS_PER_STATEMENT) {
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO sync_open_failures (profile_id, object, external_id, operation, retry_class, run_id) VALUES {} \
                     ON CONFLICT (profile_id, object, external_id) DO UPDATE SET operation = excluded.operation, retry_class = excluded.retry_class, run_id = excluded.run_id",
                    params.values(chunk.len(), 6, 1)
                ));
                let mut q = sqlx::query(sql);
                for f in chunk {
                    q = q.bind(profile_id).bind(&f.object).bind(&f.external_id)
                        .bind(&f.operation).bind(&f.retry_class).bind(run_id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Closes the open failures of these records (they were written, deleted, or left scope).
    pub async fn resolve_sync_failures(
        &self,
        profile_id: &str,
        object: &str,
        external_ids: &[String],
    ) -> Result<(), StoreError> {
        self.delete_by_ids(
            ("sync_open_failures", "external_id"),
            profile_id,
            object,
            external_ids,
        )
        .await
    }

    /// External ids of the open failures of one object in one retry class.
    pub async fn open_sync_failures(
        &self,
        profile_id: &str,
        object: &str,
        retry_class: &str,
    ) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT external_id FROM sync_open_failures WHERE profile_id = $1 AND object = $2 AND retry_class = $3 ORDER BY external_id";
        let rows: Vec<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(object).bind(retry_class).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// The failed records of a run.
    pub async fn sync_run_failures(&self, run_id: &str) -> Result<Vec<SyncFailure>, StoreError> {
        const SQL: &str = "SELECT object, external_id, operation, code, retry_class, status_code, message, fields FROM sync_run_failures WHERE run_id = $1 ORDER BY object, external_id";
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        let rows: Vec<Row> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(run_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|r| SyncFailure {
                object: r.0,
                external_id: r.1,
                operation: r.2,
                code: r.3,
                retry_class: r.4,
                status_code: r.5,
                message: r.6,
                fields: r.7,
            })
            .collect())
    }

    /// Adds (or re-parents) records in the profile's key index.
    pub async fn put_sync_keys(
        &self,
        profile_id: &str,
        keys: &[SyncKey],
    ) -> Result<(), StoreError> {
        self.put_sync_keys_owing(profile_id, keys, &[]).await
    }

    /// Adds records to the key index and, in the same transaction, the children they are owed
    /// (child object, parent's external id): a record that enters the index this way can
    /// never be known without its debt.
    pub async fn put_sync_keys_owing(
        &self,
        profile_id: &str,
        keys: &[SyncKey],
        owed: &[(String, String)],
    ) -> Result<(), StoreError> {
        if keys.is_empty() && owed.is_empty() {
            return Ok(());
        }
        let keys = last_per_key(keys, |k| (k.object.clone(), k.external_id.clone()));
        let params = Params::of(self);
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in owed.chunks(ROWS_PER_STATEMENT) {
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO sync_owed_children (profile_id, object, parent_id) VALUES {} ON CONFLICT DO NOTHING",
                    params.values(chunk.len(), 3, 1)
                ));
                let mut q = sqlx::query(sql);
                for (object, parent) in chunk {
                    q = q.bind(profile_id).bind(object).bind(parent);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO sync_keys (profile_id, object, external_id, parent_object, parent_id, account_id, crm_id) VALUES {} \
                     ON CONFLICT (profile_id, object, external_id) DO UPDATE SET parent_object = excluded.parent_object, parent_id = excluded.parent_id, account_id = excluded.account_id, crm_id = excluded.crm_id",
                    params.values(chunk.len(), 7, 1)
                ));
                let mut q = sqlx::query(sql);
                for k in chunk {
                    let (po, pid) = match &k.parent {
                        Some((o, i)) => (Some(o.as_str()), Some(i.as_str())),
                        None => (None, None),
                    };
                    q = q.bind(profile_id).bind(&k.object).bind(&k.external_id)
                        .bind(po).bind(pid).bind(&k.account_id).bind(&k.crm_id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// A page of the parents whose children `object` still owes, in id order after `after`.
    pub async fn owed_children_page(
        &self,
        profile_id: &str,
        object: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT parent_id FROM sync_owed_children WHERE profile_id = $1 AND object = $2 AND parent_id > $3 ORDER BY parent_id LIMIT $4";
        let rows: Vec<(String,)> = on_pool!(&self.db, pool => sqlx::query_as(SQL)
            .bind(profile_id).bind(object).bind(after).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Settles the debts of `object` to these parents: their children were read and booked.
    pub async fn settle_owed_children(
        &self,
        profile_id: &str,
        object: &str,
        parent_ids: &[String],
    ) -> Result<(), StoreError> {
        self.delete_by_ids(
            ("sync_owed_children", "parent_id"),
            profile_id,
            object,
            parent_ids,
        )
        .await
    }

    /// Settles every debt of `object` (a full read of it was booked).
    pub async fn settle_all_owed_children(
        &self,
        profile_id: &str,
        object: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM sync_owed_children WHERE profile_id = $1 AND object = $2";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(profile_id).bind(object)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes records from the key index (they were deleted from the org).
    pub async fn remove_sync_keys(
        &self,
        profile_id: &str,
        object: &str,
        external_ids: &[String],
    ) -> Result<(), StoreError> {
        self.delete_by_ids(
            ("sync_keys", "external_id"),
            profile_id,
            object,
            external_ids,
        )
        .await
    }

    /// Deletes the rows of `table` (keyed by profile, object and `column`) for `ids`, a few
    /// hundred per statement, in one transaction.
    async fn delete_by_ids(
        &self,
        (table, column): (&'static str, &'static str),
        profile_id: &str,
        object: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let params = Params::of(self);
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in ids.chunks(ROWS_PER_STATEMENT * 2) {
                let sql = sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE profile_id = {} AND object = {} AND {column} IN ({})",
                    params.one(1),
                    params.one(2),
                    params.list(chunk.len(), 3)
                ));
                let mut q = sqlx::query(sql).bind(profile_id).bind(object);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// What the key index holds for those of `external_ids` of `object` that it knows.
    pub async fn lookup_sync_keys(
        &self,
        profile_id: &str,
        object: &str,
        external_ids: &[String],
    ) -> Result<HashMap<String, KeyInfo>, StoreError> {
        let mut out = HashMap::new();
        let params = Params::of(self);
        for chunk in external_ids.chunks(ROWS_PER_STATEMENT * 2) {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT external_id, account_id, crm_id, parent_id FROM sync_keys WHERE profile_id = {} AND object = {} AND external_id IN ({})",
                params.one(1),
                params.one(2),
                params.list(chunk.len(), 3)
            ));
            type Row = (String, Option<String>, Option<String>, Option<String>);
            let rows: Vec<Row> = on_pool!(&self.db, pool => {
                let mut q = sqlx::query_as(sql).bind(profile_id).bind(object);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool).await
            })?;
            for (id, account_id, crm_id, parent_id) in rows {
                out.insert(
                    id,
                    KeyInfo {
                        account_id,
                        crm_id,
                        parent_id,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Which of `external_ids` of `object` are in the key index.
    pub async fn known_sync_keys(
        &self,
        profile_id: &str,
        object: &str,
        external_ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .lookup_sync_keys(profile_id, object, external_ids)
            .await?
            .into_keys()
            .collect())
    }

    /// Records the CrmId now written for `account_id` on every key of that account; returns
    /// the keys (object, external id) whose CrmId changed.
    pub async fn repoint_sync_account(
        &self,
        profile_id: &str,
        account_id: &str,
        crm_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        const FIND: &str = "SELECT object, external_id FROM sync_keys WHERE profile_id = $1 AND account_id = $2 AND (crm_id IS NULL OR crm_id <> $3)";
        const SET: &str =
            "UPDATE sync_keys SET crm_id = $3 WHERE profile_id = $1 AND account_id = $2";
        let rows: Vec<(String, String)> = on_pool!(&self.db, pool =>
            sqlx::query_as(FIND).bind(profile_id).bind(account_id).bind(crm_id).fetch_all(pool).await)?;
        on_pool!(&self.db, pool => sqlx::query(SET).bind(profile_id).bind(account_id).bind(crm_id)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(rows)
    }

    /// Queues records whose subtrees must be deleted from the org.
    pub async fn add_pending_deletes(
        &self,
        profile_id: &str,
        roots: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO sync_pending_deletes (profile_id, object, external_id, reason) VALUES ($1, $2, $3, $4) \
            ON CONFLICT (profile_id, object, external_id) DO NOTHING";
        if roots.is_empty() {
            return Ok(());
        }
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for (object, id, reason) in roots {
                sqlx::query(SQL).bind(profile_id).bind(object).bind(id).bind(reason)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// A page of queued deletes: (object, external id, reason).
    pub async fn pending_deletes(
        &self,
        profile_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        const SQL: &str = "SELECT object, external_id, reason FROM sync_pending_deletes WHERE profile_id = $1 ORDER BY object, external_id LIMIT $2";
        Ok(on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(limit).fetch_all(pool).await)?)
    }

    /// Removes queued deletes that were carried out.
    pub async fn remove_pending_deletes(
        &self,
        profile_id: &str,
        roots: &[(String, String)],
    ) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM sync_pending_deletes WHERE profile_id = $1 AND object = $2 AND external_id = $3";
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            for (object, id) in roots {
                sqlx::query(SQL).bind(profile_id).bind(object).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Every record under `object`/`external_id` in the key index (children, grandchildren,
    /// …), the record itself included; for a billing account also every record of that
    /// account. Each as (object, external id).
    pub async fn sync_subtree(
        &self,
        profile_id: &str,
        object: &str,
        external_id: &str,
        is_account: bool,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // Walked level by level on the parent index: one indexed lookup per record, where a
        // recursive CTE made SQLite scan the whole index at every level.
        const ROOT: &str = "SELECT object, external_id FROM sync_keys WHERE profile_id = $1 AND object = $2 AND external_id = $3";
        const CHILDREN: &str = "SELECT object, external_id FROM sync_keys WHERE profile_id = $1 AND parent_object = $2 AND parent_id = $3";
        const ACCOUNT: &str =
            "SELECT object, external_id FROM sync_keys WHERE profile_id = $1 AND account_id = $2";
        let mut rows: Vec<(String, String)> = on_pool!(&self.db, pool =>
            sqlx::query_as(ROOT).bind(profile_id).bind(object).bind(external_id).fetch_all(pool).await)?;
        let mut seen: HashSet<(String, String)> = rows.iter().cloned().collect();
        let mut frontier = vec![(object.to_string(), external_id.to_string())];
        while let Some((o, id)) = frontier.pop() {
            let children: Vec<(String, String)> = on_pool!(&self.db, pool =>
                sqlx::query_as(CHILDREN).bind(profile_id).bind(&o).bind(&id).fetch_all(pool).await)?;
            for child in children {
                if seen.insert(child.clone()) {
                    frontier.push(child.clone());
                    rows.push(child);
                }
            }
        }
        if is_account {
            let more: Vec<(String, String)> = on_pool!(&self.db, pool =>
                sqlx::query_as(ACCOUNT).bind(profile_id).bind(external_id).fetch_all(pool).await)?;
            rows.extend(more.into_iter().filter(|r| seen.insert(r.clone())));
        }
        Ok(rows)
    }

    /// A page of the key index of one object, by external id after `after`.
    pub async fn sync_keys_page(
        &self,
        profile_id: &str,
        object: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT external_id FROM sync_keys WHERE profile_id = $1 AND object = $2 AND external_id > $3 ORDER BY external_id LIMIT $4";
        let rows: Vec<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(object).bind(after).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Sets (or replaces) a profile's schedule; the first run is due at `next_due`.
    pub async fn set_sync_schedule(
        &self,
        profile_id: &str,
        every_secs: i64,
        next_due: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO sync_schedules (profile_id, every_secs, next_due) VALUES ($1, $2, $3) \
            ON CONFLICT (profile_id) DO UPDATE SET every_secs = excluded.every_secs, next_due = excluded.next_due";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(profile_id).bind(every_secs)
            .bind(next_due.timestamp_millis()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes a profile's schedule.
    pub async fn remove_sync_schedule(&self, profile_id: &str) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM sync_schedules WHERE profile_id = $1";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(profile_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every schedule.
    pub async fn sync_schedules(&self) -> Result<Vec<SyncSchedule>, StoreError> {
        const SQL: &str =
            "SELECT profile_id, every_secs, next_due FROM sync_schedules ORDER BY next_due";
        let rows: Vec<(String, i64, i64)> =
            on_pool!(&self.db, pool => sqlx::query_as(SQL).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(profile_id, every_secs, due)| SyncSchedule {
                profile_id,
                every_secs,
                next_due: from_millis(due),
            })
            .collect())
    }

    /// Claims a due schedule: moves its next run one interval past `now` only if it is still
    /// due at `due` (so two workers cannot both claim it). True when this caller claimed it.
    pub async fn claim_sync_schedule(
        &self,
        schedule: &SyncSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE sync_schedules SET next_due = $1 WHERE profile_id = $2 AND next_due = $3";
        let next = now.timestamp_millis() + schedule.every_secs * 1000;
        let affected = on_pool!(&self.db, pool => sqlx::query(SQL).bind(next).bind(&schedule.profile_id)
            .bind(schedule.next_due.timestamp_millis()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_and_lists() {
        assert_eq!(
            Params::Numbered.values(2, 3, 1),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(Params::Numbered.list(3, 3), "$3, $4, $5");
        assert_eq!(Params::Anonymous.values(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(Params::Anonymous.list(2, 3), "?, ?");
    }

    #[test]
    fn the_last_item_per_key_wins_in_first_order() {
        let items = [("a", 1), ("b", 2), ("a", 3)];
        let kept: Vec<_> = last_per_key(&items, |i| i.0).into_iter().copied().collect();
        assert_eq!(kept, [("b", 2), ("a", 3)]);
    }

    #[test]
    fn failures_are_written_as_csv_quoted_only_where_needed() {
        let failure = SyncFailure {
            object: "Account".into(),
            external_id: "2c9".into(),
            operation: "upsert".into(),
            code: "DACO-1".into(),
            retry_class: "needs_fix".into(),
            status_code: "FIELD_INTEGRITY".into(),
            message: "bad \"value\", here\nand there".into(),
            fields: "A,B".into(),
        };
        let mut out = Vec::new();
        SyncFailure::write_csv(&[failure], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "object,external_id,operation,code,retry_class,status_code,message,fields\n\
             Account,2c9,upsert,DACO-1,needs_fix,FIELD_INTEGRITY,\"bad \"\"value\"\", here\nand there\",\"A,B\"\n"
        );
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn runs_are_named_by_a_short_id_and_timed() {
        let started_at = from_millis(1_000_000);
        let mut run = SyncRun {
            id: "0123abcd-4567-89ef-0123-456789abcdef".into(),
            profile_id: "p".into(),
            full: false,
            trigger: "manual".into(),
            status: "Running".into(),
            message: None,
            warnings: Vec::new(),
            started_at,
            finished_at: None,
        };
        assert_eq!(run.short_id(), "0123abcd");
        assert_eq!(run.duration_text(), "running");
        run.finished_at = Some(from_millis(1_012_345));
        assert_eq!(run.duration_text(), "12.3s");
        run.id = "ab".into();
        assert_eq!(run.short_id(), "ab");
    }
}
