//! `sync verify`: drift between Zuora and the org, made visible, and repairable.
//!
//! Each mapped object is read from both sides. Zuora's rows are mapped exactly as a full run
//! maps them (scope rules, joins, conversion: the engine's own `plan_batch`), except that a
//! child's scope follows Zuora alone, its parent being in scope, never the key index, so that
//! drift in the index shows too. The org's records are read by SOQL a page at a time. Each
//! expected record is kept as one small digest per mapped field, by external id; the org's
//! records stream past those digests. Memory is one object's digests (a few hundred bytes a
//! record), never both sides whole.
//!
//! A record is **missing** (in scope, not in the org), **extra** (in the org, not in scope),
//! **duplicated** (an external id held by more than one org record) or **stale** (a mapped
//! field differs). A repair sends the missing and stale records through the normal load path
//! and deletes the extra ones children first, as a run of its own (trigger `repair`). Each
//! verify is kept in the store as the profile's latest (`sync_verifications`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::PathBuf;

use serde_json::Value as Json;
use std::sync::Arc;

use zbridge_store::{KeyInfo, SyncKey, csv_field};

use super::{Engine, ObjectRun, RawRow, SpoolSink, last_per_id};
use crate::SyncError;
use crate::catalog::{Catalog, FieldType, ObjectMap, Scope};
use crate::options::SyncOptions;

/// Zuora rows planned per batch (joined rows are read per batch).
const VERIFY_BATCH: usize = 2_000;

/// Objects with at least this many records in scope are read from the org through a Bulk API
/// 2.0 query job (a few calls a million records); smaller ones through SOQL pages of 2,000.
const BULK_QUERY_FROM: u64 = 10_000;

/// Rows per page of a Bulk query's results.
const BULK_QUERY_PAGE: u64 = 50_000;

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// The sync profile's name.
    pub profile: String,
    /// Only these catalog objects (the profile's selection when empty).
    pub objects: Vec<String>,
    /// Writes `<object>.csv` there: one line per drifted record.
    pub csv_dir: Option<PathBuf>,
    /// Records in scope from which an object is read through a Bulk API 2.0 query job
    /// (10,000 when `None`).
    pub bulk_query_from: Option<u64>,
}

/// How many records of one object differ in one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldDrift {
    /// The Salesforce field.
    pub field: String,
    /// Records where it differs.
    pub records: u64,
}

/// One object's drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObjectDrift {
    /// The catalog object.
    pub object: String,
    /// Its Salesforce object.
    pub target: String,
    /// Records Zuora's scope puts in the org.
    pub in_scope: u64,
    /// Records the org holds (with an external id).
    pub in_org: u64,
    /// In scope, not in the org.
    pub missing: u64,
    /// In the org, not in scope.
    pub extra: u64,
    /// Org records beyond the first with the same external id.
    pub duplicated: u64,
    /// Present, with a mapped field that differs.
    pub stale: u64,
    /// The fields that differ, most often first.
    pub stale_fields: Vec<FieldDrift>,
    /// Zuora rows that a run would record as failed (they are not expected in the org).
    pub failing: u64,
    /// Ids to send again (missing and stale), by Zuora id; not serialised.
    #[serde(skip)]
    pub resend: Vec<String>,
    /// External ids to delete (extra); not serialised.
    #[serde(skip)]
    pub remove: Vec<String>,
}

impl ObjectDrift {
    /// Whether anything differs.
    pub fn drifted(&self) -> bool {
        self.missing + self.extra + self.duplicated + self.stale > 0
    }
}

/// What a verify found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// The profile.
    pub profile: String,
    /// Per object, in catalog order.
    pub objects: Vec<ObjectDrift>,
}

impl VerifyReport {
    /// Whether any object drifted.
    pub fn drifted(&self) -> bool {
        self.objects.iter().any(ObjectDrift::drifted)
    }
}

/// What a repair sends again and deletes, by catalog object.
#[derive(Debug, Clone, Default)]
pub struct Repair {
    /// Zuora ids to read and send again through the normal load path (missing and stale).
    pub resend: BTreeMap<String, Vec<String>>,
    /// External ids to delete from the org, children first (extra records).
    pub remove: BTreeMap<String, Vec<String>>,
}

impl VerifyReport {
    /// The repair of what drifted.
    pub fn repair(&self) -> Repair {
        let mut repair = Repair::default();
        for o in self.objects.iter().filter(|o| o.drifted()) {
            if !o.resend.is_empty() {
                repair.resend.insert(o.object.clone(), o.resend.clone());
            }
            if !o.remove.is_empty() {
                repair.remove.insert(o.object.clone(), o.remove.clone());
            }
        }
        repair
    }
}

/// Where a parent record in scope sits, compactly: children need it for their own scope and
/// for `$crm_id` / `$parent_parent` fields.
struct ScopeKey {
    account: Option<Arc<str>>,
    crm: Option<Arc<str>>,
    parent: Option<Box<str>>,
}

/// The records in scope of the parent objects verified so far. Billing account ids and CrmIds
/// are shared by many records, so they are interned, and a parent object's records are
/// dropped as soon as no object left to verify needs them.
#[derive(Default)]
struct Scopes {
    by_object: HashMap<String, HashMap<Box<str>, ScopeKey>>,
    interned: HashSet<Arc<str>>,
}

impl Scopes {
    fn intern(&mut self, text: Option<&str>) -> Option<Arc<str>> {
        let text = text?;
        if let Some(shared) = self.interned.get(text) {
            return Some(shared.clone());
        }
        let shared: Arc<str> = Arc::from(text);
        self.interned.insert(shared.clone());
        Some(shared)
    }

    fn insert(&mut self, object: &str, id: &str, key: &SyncKey) {
        let entry = ScopeKey {
            account: self.intern(key.account_id.as_deref()),
            crm: self.intern(key.crm_id.as_deref()),
            parent: key.parent.as_ref().map(|(_, p)| p.as_str().into()),
        };
        self.by_object
            .entry(object.to_string())
            .or_default()
            .insert(id.into(), entry);
    }

    /// The scope of these records of `object` (a batch's parents), as the planner takes it.
    fn lookup(&self, object: &str, ids: impl Iterator<Item = String>) -> HashMap<String, KeyInfo> {
        let Some(records) = self.by_object.get(object) else {
            return HashMap::new();
        };
        ids.filter_map(|id| {
            let key = records.get(id.as_str())?;
            let info = KeyInfo {
                account_id: key.account.as_deref().map(str::to_string),
                crm_id: key.crm.as_deref().map(str::to_string),
                parent_id: key.parent.as_deref().map(str::to_string),
            };
            Some((id, info))
        })
        .collect()
    }

    /// Drops the records of objects that none of `remaining` has as its parent.
    fn keep_only_parents_of(&mut self, remaining: &[&ObjectMap]) {
        self.by_object.retain(|object, _| {
            remaining
                .iter()
                .any(|o| o.parent.as_ref().is_some_and(|l| &l.object == object))
        });
        self.interned.retain(|shared| Arc::strong_count(shared) > 1);
    }
}

/// One expected record: a digest per mapped field, and whether the org showed it yet.
struct Expected {
    digest: RecordDigest,
    seen: bool,
}

/// A record reduced to what comparing it needs: a 64-bit digest of all its mapped values (a
/// stale record escapes only by a 1-in-2⁶⁴ collision) and a 16-bit one per field (to name the
/// fields that differ). About 60 bytes for 22 fields.
#[derive(PartialEq, Eq)]
struct RecordDigest {
    whole: u64,
    fields: Box<[u16]>,
}

impl RecordDigest {
    fn of<'a>(fields: &[(String, FieldType)], value: impl Fn(&str) -> &'a Json) -> RecordDigest {
        let mut whole = std::collections::hash_map::DefaultHasher::new();
        let fields = fields
            .iter()
            .map(|(name, kind)| {
                let text = canonical(*kind, value(name));
                text.hash(&mut whole);
                let mut one = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut one);
                one.finish() as u16
            })
            .collect();
        RecordDigest {
            whole: whole.finish(),
            fields,
        }
    }

    /// The names of the fields whose digests differ from `other`'s.
    fn differing<'f>(
        &self,
        other: &RecordDigest,
        fields: &'f [(String, FieldType)],
    ) -> Vec<&'f str> {
        fields
            .iter()
            .zip(self.fields.iter().zip(other.fields.iter()))
            .filter(|(_, (a, b))| a != b)
            .map(|((name, _), _)| name.as_str())
            .collect()
    }
}

/// The text a value compares as, or `None` for no value. Salesforce keeps an empty text as
/// null and an unset checkbox as false; numbers compare by value, instants in UTC.
fn canonical(kind: FieldType, value: &Json) -> Option<String> {
    let empty = matches!(value, Json::Null) || value.as_str().is_some_and(str::is_empty);
    match (kind, value) {
        (FieldType::Bool, _) if empty => Some("false".into()),
        _ if empty => None,
        (_, Json::Bool(b)) => Some(b.to_string()),
        (_, Json::Number(n)) => n.as_f64().map(|f| f.to_string()),
        (FieldType::Number | FieldType::Integer, Json::String(s)) => {
            s.trim().parse::<f64>().ok().map(|f| f.to_string())
        }
        (FieldType::Datetime, Json::String(s)) => Some(
            zbridge_core::time::parse_datetime(s.trim(), None)
                .map(|t| t.timestamp_millis().to_string())
                .unwrap_or_else(|_| s.clone()),
        ),
        (_, Json::String(s)) => Some(s.clone()),
        (_, other) => Some(other.to_string()),
    }
}

/// A field of an org record by its path: `Rel__r.Ext__c` is a nested object in REST query
/// records, a flat column in Bulk query results.
fn field_at<'a>(record: &'a Json, path: &str) -> &'a Json {
    if let Some(flat) = record.get(path) {
        return flat;
    }
    path.split('.')
        .try_fold(record, |v, part| v.get(part))
        .unwrap_or(&Json::Null)
}

/// The Salesforce fields of an object, with their types, in digest order.
fn compared_fields(object: &ObjectMap) -> Vec<(String, FieldType)> {
    let mut fields: Vec<(String, FieldType)> = object
        .fields
        .iter()
        .map(|f| (f.to.clone(), f.kind))
        .collect();
    if let Some(flag) = &object.deleted_flag {
        fields.push((flag.clone(), FieldType::Bool));
    }
    fields
}

/// Writes one object's drifted records, as `external_id,drift,fields`.
struct DriftCsv {
    out: Option<BufWriter<std::fs::File>>,
}

impl DriftCsv {
    fn open(dir: Option<&PathBuf>, object: &str) -> Result<DriftCsv, SyncError> {
        let Some(dir) = dir else {
            return Ok(DriftCsv { out: None });
        };
        std::fs::create_dir_all(dir)?;
        let mut out = BufWriter::new(std::fs::File::create(dir.join(format!("{object}.csv")))?);
        writeln!(out, "external_id,drift,fields")?;
        Ok(DriftCsv { out: Some(out) })
    }

    fn line(&mut self, id: &str, drift: &str, fields: &[&str]) -> Result<(), SyncError> {
        if let Some(out) = &mut self.out {
            let (id, fields) = (csv_field(id), csv_field(&fields.join(";")));
            writeln!(out, "{id},{drift},{fields}")?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SyncError> {
        if let Some(mut out) = self.out {
            out.flush()?;
        }
        Ok(())
    }
}

impl Engine {
    /// Compares each mapped object of the profile in Zuora and in the org.
    pub async fn verify(&self, request: &VerifyRequest) -> Result<VerifyReport, SyncError> {
        let profile = self.store.load_sync_profile(&request.profile).await?;
        let options = SyncOptions::from_json(&profile.options)?;
        let catalog = Catalog::with_overrides(&options.mapping_overrides)?;
        let wanted = if request.objects.is_empty() {
            &options.objects
        } else {
            &request.objects
        };
        // Parents are verified first, always, because their scope decides their children's.
        let mut selected: Vec<&ObjectMap> = catalog.select(wanted)?;
        for object in &catalog.objects {
            let is_parent = selected
                .iter()
                .any(|s| s.parent.as_ref().is_some_and(|l| l.object == object.name));
            if is_parent && !selected.iter().any(|s| s.name == object.name) {
                selected.push(object);
            }
        }
        selected.sort_by_key(|o| catalog.objects.iter().position(|c| c.name == o.name));
        let requested: HashSet<String> = catalog
            .select(wanted)?
            .iter()
            .map(|o| o.name.clone())
            .collect();
        let mut scopes = Scopes::default();
        let mut objects = Vec::new();
        for (position, object) in selected.iter().copied().enumerate() {
            let ctx = ObjectRun {
                object,
                profile_id: profile.id.clone(),
                options: &options,
                statuses: options.subscription_statuses.clone(),
                bulk: false,
                stats: Default::default(),
                failures: 0,
                stop: Default::default(),
                owe_to: Vec::new(),
            };
            let is_parent = selected
                .iter()
                .any(|c| c.parent.as_ref().is_some_and(|l| l.object == object.name));
            let (expected, in_scope, failing) =
                self.expected_records(&ctx, &mut scopes, is_parent).await?;
            scopes.keep_only_parents_of(&selected[position + 1..]);
            let bulk = expected.len() as u64 >= request.bulk_query_from.unwrap_or(BULK_QUERY_FROM);
            let mut drift = self
                .compare_with_org(object, expected, bulk, request.csv_dir.as_ref())
                .await?;
            drift.in_scope = in_scope;
            drift.failing = failing;
            if requested.contains(&object.name) {
                objects.push(drift);
            }
        }
        let report = VerifyReport {
            profile: profile.name,
            objects,
        };
        // The latest verify of each profile is kept for the web UI, the API and /metrics.
        let counts = serde_json::to_value(&report.objects)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.store
            .save_sync_verification(&profile.id, report.drifted(), &counts)
            .await?;
        Ok(report)
    }

    /// Reads every row of the object from Zuora and maps it as a full run would; returns the
    /// expected records' digests by external id, how many there are, and how many rows a run
    /// would record as failed. In-scope records go to `scopes` when children need them
    /// (`is_parent`).
    async fn expected_records(
        &self,
        ctx: &ObjectRun<'_>,
        scopes: &mut Scopes,
        is_parent: bool,
    ) -> Result<(HashMap<Box<str>, Expected>, u64, u64), SyncError> {
        let object = ctx.object;
        let columns_wanted = object.source_columns();
        let mut writer = BufWriter::new(tempfile::tempfile()?);
        let mut sink = SpoolSink {
            out: &mut writer,
            columns: Vec::new(),
            rows: 0,
        };
        self.extract(&object.source, &columns_wanted, None, None, &mut sink)
            .await?;
        let columns = if sink.columns.is_empty() {
            columns_wanted
        } else {
            sink.columns.clone()
        };
        drop(sink);
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        let fields = compared_fields(object);
        let mut expected = HashMap::new();
        let mut failing = 0;
        let mut lines = BufReader::new(file).lines();
        let mut done = false;
        while !done {
            let mut batch = Vec::with_capacity(VERIFY_BATCH);
            while batch.len() < VERIFY_BATCH {
                let Some(line) = lines.next().transpose()? else {
                    done = true;
                    break;
                };
                let (cells, deleted): (Vec<Option<String>>, bool) = serde_json::from_str(&line)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                batch.push(RawRow { cells, deleted });
            }
            let rows = last_per_id(batch, &columns);
            let joins = self.read_joins(object, &columns, &rows).await?;
            let parents = match &object.parent {
                Some(link) => {
                    let at = columns
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(&link.column));
                    let ids = rows
                        .iter()
                        .filter_map(|r| at.and_then(|i| r.cells.get(i)).cloned().flatten());
                    scopes.lookup(&link.object, ids)
                }
                None => HashMap::new(),
            };
            let plan = self.plan_batch(ctx, &columns, &rows, &parents, &HashMap::new(), &joins);
            failing += plan.failures.len() as u64;
            for upsert in plan.upserts {
                let by_name: HashMap<&str, &Json> =
                    upsert.fields.iter().map(|(n, v)| (n.as_str(), v)).collect();
                let digest = RecordDigest::of(&fields, |name| {
                    by_name.get(name).copied().unwrap_or(&Json::Null)
                });
                if is_parent {
                    scopes.insert(&object.name, &upsert.external_id, &upsert.key);
                }
                expected.insert(
                    upsert.external_id.into_boxed_str(),
                    Expected {
                        digest,
                        seen: false,
                    },
                );
            }
        }
        let in_scope = expected.len() as u64;
        Ok((expected, in_scope, failing))
    }

    /// Streams the org's records of the object past the expected digests.
    async fn compare_with_org(
        &self,
        object: &ObjectMap,
        mut expected: HashMap<Box<str>, Expected>,
        bulk: bool,
        csv_dir: Option<&PathBuf>,
    ) -> Result<ObjectDrift, SyncError> {
        let fields = compared_fields(object);
        let mut select = vec![object.key.clone()];
        select.extend(fields.iter().map(|(name, _)| name.clone()));
        let soql = format!(
            "SELECT {} FROM {} WHERE {} != null",
            select.join(", "),
            object.target,
            object.key
        );
        let mut drift = ObjectDrift {
            object: object.name.clone(),
            target: object.target.clone(),
            ..Default::default()
        };
        let mut csv = DriftCsv::open(csv_dir, &object.name)?;
        let mut by_field: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen_extra: HashSet<String> = HashSet::new();
        let mut lines: Vec<(String, &'static str, Vec<&str>)> = Vec::new();
        let on_page = |page: Vec<Json>| {
            for record in page {
                drift.in_org += 1;
                let id = field_at(&record, &object.key)
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let Some(want) = expected.get_mut(id.as_str()) else {
                    if seen_extra.insert(id.clone()) {
                        drift.extra += 1;
                        drift.remove.push(id.clone());
                        lines.push((id, "extra", Vec::new()));
                    } else {
                        drift.duplicated += 1;
                        lines.push((id, "duplicated", Vec::new()));
                    }
                    continue;
                };
                if want.seen {
                    drift.duplicated += 1;
                    lines.push((id, "duplicated", Vec::new()));
                    continue;
                }
                want.seen = true;
                let got = RecordDigest::of(&fields, |name| field_at(&record, name));
                if got != want.digest {
                    let differing = got.differing(&want.digest, &fields);
                    drift.stale += 1;
                    for f in &differing {
                        *by_field.entry((*f).to_string()).or_default() += 1;
                    }
                    drift.resend.push(id.clone());
                    lines.push((id, "stale", differing));
                }
            }
            Ok(())
        };
        if bulk {
            self.salesforce
                .bulk_query_pages(&soql, BULK_QUERY_PAGE, on_page)
                .await?;
        } else {
            self.salesforce.query_pages(&soql, on_page).await?;
        }
        for (id, kind, differing) in &lines {
            csv.line(id, kind, differing)?;
        }
        drop(lines);
        for (id, want) in &expected {
            if !want.seen {
                drift.missing += 1;
                drift.resend.push(id.to_string());
                csv.line(id, "missing", &[])?;
            }
        }
        csv.finish()?;
        let mut stale_fields: Vec<FieldDrift> = by_field
            .into_iter()
            .map(|(field, records)| FieldDrift { field, records })
            .collect();
        stale_fields.sort_by(|a, b| b.records.cmp(&a.records).then(a.field.cmp(&b.field)));
        drift.stale_fields = stale_fields;
        if object.scope == Scope::Catalog {
            // The sync never deletes catalog records (Zuora 360 flags them): a repair leaves
            // them, and the report still counts them.
            drift.remove.clear();
        }
        Ok(drift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_compare_as_salesforce_keeps_them() {
        let same = |kind, a: Json, b: Json| canonical(kind, &a) == canonical(kind, &b);
        assert!(same(FieldType::Text, json!(""), Json::Null));
        assert!(same(FieldType::Bool, Json::Null, json!(false)));
        assert!(same(FieldType::Bool, json!(""), json!("false")));
        assert!(same(FieldType::Bool, json!(true), json!("true")));
        assert!(!same(FieldType::Bool, json!(true), json!(false)));
        assert!(same(FieldType::Number, json!(12.5), json!(12.50)));
        assert!(same(FieldType::Number, json!(100), json!("100.00")));
        assert!(!same(FieldType::Number, json!(100), json!(100.01)));
        assert!(same(
            FieldType::Datetime,
            json!("2026-11-03T07:30:00.000Z"),
            json!("2026-11-03T07:30:00.000+0000")
        ));
        assert!(!same(FieldType::Text, json!("a"), json!("A")));
    }

    #[test]
    fn a_record_digest_names_the_fields_that_differ() {
        let fields = vec![
            ("Name".to_string(), FieldType::Text),
            ("Amount__c".to_string(), FieldType::Number),
            ("Active__c".to_string(), FieldType::Bool),
        ];
        let want = json!({"Name": "A", "Amount__c": 12.5, "Active__c": null});
        let same = json!({"Name": "A", "Amount__c": "12.50", "Active__c": false});
        let other = json!({"Name": "A", "Amount__c": 13, "Active__c": false});
        let of = |r: &Json| RecordDigest::of(&fields, |name| field_at(r, name));
        assert!(of(&want) == of(&same));
        assert!(of(&want) != of(&other));
        assert_eq!(of(&other).differing(&of(&want), &fields), ["Amount__c"]);
    }

    #[test]
    fn nested_reference_fields_are_found_by_path() {
        let record =
            json!({"Zuora__Subscription__r": {"Zuora__External_Id__c": "S1"}, "Name": "x"});
        assert_eq!(
            field_at(&record, "Zuora__Subscription__r.Zuora__External_Id__c"),
            &json!("S1")
        );
        assert_eq!(field_at(&record, "Name"), &json!("x"));
        let flat = json!({"Zuora__Subscription__r.Zuora__External_Id__c": "S2"});
        assert_eq!(
            field_at(&flat, "Zuora__Subscription__r.Zuora__External_Id__c"),
            &json!("S2")
        );
        assert_eq!(field_at(&record, "Missing__r.X"), &Json::Null);
        let cleared = json!({"Zuora__Subscription__r": null});
        assert_eq!(
            field_at(&cleared, "Zuora__Subscription__r.Zuora__External_Id__c"),
            &Json::Null
        );
    }
}
