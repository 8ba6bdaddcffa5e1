//! The write path shared by REST, sObject Collections and Bulk: column resolution with
//! field-level security, type and length validation, lookups by id or by the parent's external
//! id, required fields, upsert matching, the storage limit, row-lock faults, and deletes with
//! master-detail cascade.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::ids::SfId;
use super::org::{FieldAccess, Org, blank_record};
use super::schema::{FieldDef, FieldType};
use super::store::{DeleteMode, Value};

/// Master-detail cascade stops after this many children per parent, leaving the rest orphaned
/// (zuora360-sync.md §7: "avoid surpassing 10,000 child records within a master-detail
/// relationship").
pub const CASCADE_LIMIT: usize = 10_000;

/// A per-record error, as Collections (`statusCode`) and Bulk (`sf__Error`) report it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordError {
    pub status_code: String,
    pub message: String,
    pub fields: Vec<String>,
    /// Set for an upsert whose external id matched several records (REST answers 300).
    pub matches: Vec<SfId>,
}

impl RecordError {
    /// An error with a code, a message and the fields involved.
    pub fn new(code: &str, message: impl Into<String>, fields: &[&str]) -> RecordError {
        RecordError {
            status_code: code.to_string(),
            message: message.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            matches: Vec::new(),
        }
    }

    /// The JSON item of a Collections response.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"statusCode": self.status_code, "message": self.message, "fields": self.fields})
    }

    /// The `sf__Error` text of a Bulk failed-results row: `CODE:message:fields --`.
    pub fn to_bulk_text(&self) -> String {
        format!(
            "{}:{}:{} --",
            self.status_code,
            self.message,
            self.fields.join(",")
        )
    }
}

/// A value as it arrived, before it is checked against the field's type.
#[derive(Clone, Debug)]
pub enum Raw<'a> {
    Null,
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
}

/// A resolved input column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// A field of the object itself.
    Field(usize),
    /// `Rel__r.ExtField__c`: the reference `field` is set to the parent whose `target_field`
    /// equals the value.
    ByExternalId {
        field: usize,
        target: usize,
        target_field: usize,
    },
}

/// What a write does.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Insert,
    Update(SfId),
    /// Upsert on an external id field with the given value.
    Upsert {
        field: usize,
        value: String,
    },
}

fn no_such_column(name: &str, object: &str) -> RecordError {
    RecordError::new(
        "INVALID_FIELD",
        format!("No such column '{name}' on sobject of type {object}"),
        &[name],
    )
}

/// Resolves a column name (`Name`, `Zuora__Account__c`, `Zuora__CustomerAccount__r.Zuora__External_Id__c`)
/// for a user. A field hidden by field-level security does not exist for that user.
pub fn resolve_column(
    org: &Org,
    object: usize,
    user: usize,
    name: &str,
) -> Result<Column, RecordError> {
    let def = &org.schema.objects[object];
    if let Some((rel, target_name)) = name.split_once('.') {
        let field = def
            .relationship(rel)
            .ok_or_else(|| no_such_column(name, &def.name))?;
        if org.field_access(user, object, field) == FieldAccess::Hidden {
            return Err(no_such_column(name, &def.name));
        }
        let target = def.fields[field]
            .reference_to
            .as_deref()
            .and_then(|t| org.schema.object(t))
            .ok_or_else(|| no_such_column(name, &def.name))?;
        let target_def = &org.schema.objects[target];
        let target_field = target_def
            .field(target_name)
            .filter(|&tf| target_def.fields[tf].id_lookup())
            .filter(|&tf| org.field_access(user, target, tf) != FieldAccess::Hidden)
            .ok_or_else(|| {
                RecordError::new(
                    "INVALID_FIELD",
                    format!(
                        "Field name provided, {target_name} is not an External ID or indexed field for {}",
                        target_def.name
                    ),
                    &[name],
                )
            })?;
        return Ok(Column::ByExternalId {
            field,
            target,
            target_field,
        });
    }
    let field = def
        .field(name)
        .ok_or_else(|| no_such_column(name, &def.name))?;
    if org.field_access(user, object, field) == FieldAccess::Hidden {
        return Err(no_such_column(name, &def.name));
    }
    Ok(Column::Field(field))
}

/// Writes one record. Returns the record id and whether it was created.
pub fn write_record(
    org: &mut Org,
    object: usize,
    user: usize,
    op: WriteOp,
    values: &[(Column, Raw<'_>)],
    lock_key: &str,
) -> Result<(SfId, bool), RecordError> {
    if !org.schema.objects[object].writable {
        return Err(RecordError::new(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            format!(
                "entity type {} does not support this operation",
                org.schema.objects[object].name
            ),
            &[],
        ));
    }
    check_row_lock(org, lock_key)?;
    let def = &org.schema.objects[object];
    let (existing, upsert_value) = match &op {
        WriteOp::Insert => (None, None),
        WriteOp::Update(id) => (Some(find_existing(org, object, id)?), None),
        WriteOp::Upsert { field, value } => {
            if value.is_empty() {
                let name = &def.fields[*field].name;
                return Err(RecordError::new(
                    "MISSING_ARGUMENT",
                    format!("{name} not specified"),
                    &[name],
                ));
            }
            let matches = org.tables[object].find_by_external_id(*field, value);
            match matches.len() {
                0 => (None, Some((*field, value.clone()))),
                1 => (Some(matches[0]), Some((*field, value.clone()))),
                _ => {
                    let name = &def.fields[*field].name;
                    let mut e = RecordError::new(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{name}: more than one record found for external id field: [{}]",
                            matches
                                .iter()
                                .map(SfId::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        &[name],
                    );
                    e.matches = matches;
                    return Err(e);
                }
            }
        }
    };
    let mut changes: Vec<(usize, Option<Value>)> = Vec::with_capacity(values.len() + 1);
    for (column, raw) in values {
        changes.push(resolve_value(org, object, user, column, raw)?);
    }
    if let Some((field, value)) = upsert_value {
        changes.push((field, Some(Value::Text(value.into()))));
    }
    let now = org.clock_ms();
    let created = existing.is_none();
    let mut record = match existing {
        Some(id) => match org.tables[object].get(&id) {
            Some(r) => r.clone(),
            None => return Err(not_found(&id)),
        },
        None => {
            if org.storage_full() {
                return Err(RecordError::new(
                    "STORAGE_LIMIT_EXCEEDED",
                    "storage limit exceeded",
                    &[],
                ));
            }
            let name = org.schema.objects[object].name.clone();
            let mut r = blank_record(org.new_id_for(&name), now);
            r.created_by = user as u16;
            r
        }
    };
    for (field, value) in changes {
        record.set(field, value);
    }
    let def = &org.schema.objects[object];
    if created
        && let Some(name_field) = def.name_field()
        && def.fields[name_field].defaulted_on_create
        && record.get(name_field).is_none()
    {
        record.set(name_field, Some(Value::Text(record.id.as_str().into())));
    }
    let missing: Vec<&str> = def
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| f.required && record.get(*i).is_none())
        .map(|(_, f)| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(RecordError::new(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", missing.join(", ")),
            &missing,
        ));
    }
    record.modified_ms = now;
    record.modified_by = user as u16;
    let id = record.id;
    if created {
        org.tables[object].insert(record);
    } else {
        org.tables[object].replace(record);
    }
    Ok((id, created))
}

fn check_row_lock(org: &mut Org, key: &str) -> Result<(), RecordError> {
    if !org.faults.row_lock || key.is_empty() {
        return Ok(());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    if h.finish().is_multiple_of(5) && org.row_lock_seen.insert(key.to_string()) {
        return Err(RecordError::new(
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record or 1 records",
            &[],
        ));
    }
    Ok(())
}

fn not_found(id: &SfId) -> RecordError {
    RecordError::new(
        "INVALID_CROSS_REFERENCE_KEY",
        format!("invalid cross reference id: {id}"),
        &[],
    )
}

fn find_existing(org: &Org, object: usize, id: &SfId) -> Result<SfId, RecordError> {
    let table = &org.tables[object];
    if table.get(id).is_some() {
        Ok(*id)
    } else if table.was_deleted(id) {
        Err(RecordError::new(
            "ENTITY_IS_DELETED",
            "entity is deleted",
            &[],
        ))
    } else if id.key_prefix() != org.schema.objects[object].key_prefix {
        Err(RecordError::new(
            "MALFORMED_ID",
            format!("malformed id {id}"),
            &["Id"],
        ))
    } else {
        Err(not_found(id))
    }
}

fn resolve_value(
    org: &Org,
    object: usize,
    user: usize,
    column: &Column,
    raw: &Raw<'_>,
) -> Result<(usize, Option<Value>), RecordError> {
    let def = &org.schema.objects[object];
    let field = match column {
        Column::Field(f) | Column::ByExternalId { field: f, .. } => *f,
    };
    let fdef = &def.fields[field];
    if !fdef.writable || org.field_access(user, object, field) == FieldAccess::ReadOnly {
        return Err(RecordError::new(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                fdef.name
            ),
            &[&fdef.name],
        ));
    }
    if let Raw::Null = raw {
        let value = (fdef.ftype == FieldType::Boolean).then_some(Value::Bool(false));
        return Ok((field, value));
    }
    match column {
        Column::Field(_) if fdef.ftype == FieldType::Reference => {
            Ok((field, Some(Value::Ref(check_reference(org, fdef, raw)?))))
        }
        Column::Field(_) => Ok((field, Some(coerce(fdef, raw)?))),
        Column::ByExternalId {
            target,
            target_field,
            ..
        } => {
            let value = raw_text(raw);
            let tdef = &org.schema.objects[*target];
            let tfield = &tdef.fields[*target_field].name;
            let ids = if tdef.fields[*target_field].external_id {
                org.tables[*target].find_by_external_id(*target_field, &value)
            } else {
                SfId::parse(&value)
                    .filter(|id| org.tables[*target].get(id).is_some())
                    .into_iter()
                    .collect()
            };
            match ids.len() {
                1 => Ok((field, Some(Value::Ref(ids[0])))),
                0 => Err(RecordError::new(
                    "INVALID_FIELD",
                    format!(
                        "Foreign key external ID: {value} not found for field {tfield} in entity {}",
                        tdef.name
                    ),
                    &[&fdef.name],
                )),
                _ => Err(RecordError::new(
                    "DUPLICATE_EXTERNAL_ID",
                    format!(
                        "Foreign key external ID: {value} matched more than one record for field {tfield} in entity {}",
                        tdef.name
                    ),
                    &[&fdef.name],
                )),
            }
        }
    }
}

fn raw_text<'a>(raw: &'a Raw<'_>) -> Cow<'a, str> {
    match raw {
        Raw::Null => Cow::Borrowed(""),
        Raw::Text(s) => Cow::Borrowed(s.as_ref()),
        Raw::Number(n) => Cow::Owned(n.to_string()),
        Raw::Bool(b) => Cow::Owned(b.to_string()),
    }
}

fn check_reference(org: &Org, fdef: &FieldDef, raw: &Raw<'_>) -> Result<SfId, RecordError> {
    let text = raw_text(raw);
    let id = SfId::parse(text.trim()).ok_or_else(|| {
        RecordError::new(
            "MALFORMED_ID",
            format!("{}: id value of incorrect type: {text}", fdef.name),
            &[&fdef.name],
        )
    })?;
    let target = fdef
        .reference_to
        .as_deref()
        .and_then(|t| org.schema.object(t))
        .ok_or_else(|| {
            RecordError::new("INVALID_FIELD", "unknown reference target", &[&fdef.name])
        })?;
    if id.key_prefix() != org.schema.objects[target].key_prefix {
        return Err(RecordError::new(
            "FIELD_INTEGRITY_EXCEPTION",
            format!("{}: id value of incorrect type: {id}", fdef.label),
            &[&fdef.name],
        ));
    }
    if org.tables[target].get(&id).is_none() {
        return Err(RecordError::new(
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
            format!("insufficient access rights on cross-reference id: {id}"),
            &[],
        ));
    }
    Ok(id)
}

fn wrong_type(fdef: &FieldDef, text: &str) -> RecordError {
    RecordError::new(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        format!("{}: value not of required type: {text}", fdef.label),
        &[&fdef.name],
    )
}

/// Checks and converts a value for a non-reference field.
pub fn coerce(fdef: &FieldDef, raw: &Raw<'_>) -> Result<Value, RecordError> {
    let text = raw_text(raw);
    match fdef.ftype {
        t if t.is_text() => {
            let len = text.chars().count();
            if len > fdef.length as usize {
                let shown: String = text.chars().take(20).collect();
                return Err(RecordError::new(
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {shown}... (max length={})",
                        fdef.label, fdef.length
                    ),
                    &[&fdef.name],
                ));
            }
            if t == FieldType::Email && !text.is_empty() && !text.contains('@') {
                return Err(RecordError::new(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {text}", fdef.label),
                    &[&fdef.name],
                ));
            }
            Ok(Value::Text(text.as_ref().into()))
        }
        FieldType::Boolean => match raw {
            Raw::Bool(b) => Ok(Value::Bool(*b)),
            _ => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(wrong_type(fdef, &text)),
            },
        },
        t if t.is_number() => {
            let n = match raw {
                Raw::Number(n) => *n,
                _ => text
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| wrong_type(fdef, &text))?,
            };
            if !n.is_finite() {
                return Err(wrong_type(fdef, &text));
            }
            let int_digits = i32::from(fdef.precision) - i32::from(fdef.scale);
            if n.abs() >= 10f64.powi(int_digits) {
                return Err(RecordError::new(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    format!(
                        "{}: value outside of valid range on numeric field: {text}",
                        fdef.label
                    ),
                    &[&fdef.name],
                ));
            }
            let factor = 10f64.powi(i32::from(fdef.scale));
            Ok(Value::Number((n * factor).round() / factor))
        }
        FieldType::Date => {
            let day = parse_date(text.trim()).ok_or_else(|| wrong_type(fdef, &text))?;
            check_date_range(fdef, day, &text)?;
            Ok(Value::Text(day.format("%Y-%m-%d").to_string().into()))
        }
        FieldType::DateTime => {
            let at = parse_datetime(text.trim()).ok_or_else(|| wrong_type(fdef, &text))?;
            check_date_range(fdef, at.date(), &text)?;
            Ok(Value::Text(
                at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string().into(),
            ))
        }
        _ => Ok(Value::Text(text.as_ref().into())),
    }
}

fn check_date_range(fdef: &FieldDef, day: NaiveDate, text: &str) -> Result<(), RecordError> {
    let min = NaiveDate::from_ymd_opt(1700, 1, 1);
    let max = NaiveDate::from_ymd_opt(4000, 12, 31);
    if Some(day) < min || Some(day) > max {
        return Err(RecordError::new(
            "FIELD_INTEGRITY_EXCEPTION",
            format!(
                "{}: date out of the valid range 1700-01-01..4000-12-31: {text}",
                fdef.label
            ),
            &[&fdef.name],
        ));
    }
    Ok(())
}

/// Parses `YYYY-MM-DD` (or the date part of a datetime).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_datetime(s).map(|d| d.date()))
}

/// Parses the datetime forms Salesforce accepts, returning UTC.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.naive_utc());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.naive_utc());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Deletes records into the recycle bin, cascading to master-detail children and clearing
/// lookups that pointed at them. Returns one result per id, in order.
pub fn delete_records(
    org: &mut Org,
    object: usize,
    ids: &[SfId],
) -> Vec<Result<SfId, RecordError>> {
    delete_with(org, object, ids, DeleteMode::Soft)
}

/// Like [`delete_records`], but the records skip the recycle bin (Bulk `hardDelete`).
pub fn hard_delete_records(
    org: &mut Org,
    object: usize,
    ids: &[SfId],
) -> Vec<Result<SfId, RecordError>> {
    delete_with(org, object, ids, DeleteMode::Hard)
}

fn delete_with(
    org: &mut Org,
    object: usize,
    ids: &[SfId],
    mode: DeleteMode,
) -> Vec<Result<SfId, RecordError>> {
    let at = org.clock_ms();
    let mut results = Vec::with_capacity(ids.len());
    let mut removed = HashSet::new();
    for id in ids {
        let outcome = check_row_lock(org, id.as_str())
            .and_then(|()| find_existing(org, object, id))
            .inspect(|id| {
                org.tables[object].remove(id, at, mode);
                removed.insert(*id);
            });
        results.push(outcome);
    }
    if !removed.is_empty() {
        cascade(org, object, removed, at, mode);
    }
    results
}

fn cascade(org: &mut Org, object: usize, removed: HashSet<SfId>, at: i64, mode: DeleteMode) {
    let mut queue = vec![(object, removed)];
    while let Some((parent_obj, parents)) = queue.pop() {
        let parent_name = org.schema.objects[parent_obj].name.clone();
        for child_obj in 0..org.schema.objects.len() {
            let ref_fields: Vec<(usize, bool)> = org.schema.objects[child_obj]
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.reference_to.as_deref() == Some(parent_name.as_str()))
                .map(|(i, f)| (i, f.master_detail))
                .collect();
            for (field, master_detail) in ref_fields {
                let children = children_of(org, child_obj, field, &parents);
                if master_detail {
                    let doomed = limit_per_parent(children);
                    for id in &doomed {
                        org.tables[child_obj].remove(id, at, mode);
                    }
                    if !doomed.is_empty() {
                        queue.push((child_obj, doomed.into_iter().collect()));
                    }
                } else {
                    clear_lookups(org, child_obj, field, children, at);
                }
            }
        }
    }
}

/// Clears a lookup that pointed at deleted parents; the children's SystemModstamp moves.
fn clear_lookups(
    org: &mut Org,
    child_obj: usize,
    field: usize,
    children: Vec<(SfId, SfId)>,
    at: i64,
) {
    for (id, _) in children {
        if let Some(mut r) = org.tables[child_obj].get(&id).cloned() {
            r.set(field, None);
            r.modified_ms = at;
            org.tables[child_obj].replace(r);
        }
    }
}

fn children_of(
    org: &Org,
    child_obj: usize,
    field: usize,
    parents: &HashSet<SfId>,
) -> Vec<(SfId, SfId)> {
    org.tables[child_obj]
        .iter()
        .filter_map(|r| match r.get(field) {
            Some(Value::Ref(p)) if parents.contains(p) => Some((r.id, *p)),
            _ => None,
        })
        .collect()
}

fn limit_per_parent(children: Vec<(SfId, SfId)>) -> Vec<SfId> {
    let mut per_parent: HashMap<SfId, usize> = HashMap::new();
    children
        .into_iter()
        .filter(|(_, parent)| {
            let n = per_parent.entry(*parent).or_default();
            *n += 1;
            *n <= CASCADE_LIMIT
        })
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::schema::Schema;

    fn field(object: &str, name: &str) -> FieldDef {
        let s = Schema::build(1);
        let o = &s.objects[s.object(object).unwrap()];
        o.fields[o.field(name).unwrap()].clone()
    }

    #[test]
    fn coerces_and_validates_types() {
        let date = field("Zuora__Subscription__c", "Zuora__TermStartDate__c");
        assert_eq!(
            coerce(&date, &Raw::Text("2024-02-29".into())).unwrap(),
            Value::Text("2024-02-29".into())
        );
        assert_eq!(
            coerce(&date, &Raw::Text("1600-01-01".into()))
                .unwrap_err()
                .status_code,
            "FIELD_INTEGRITY_EXCEPTION"
        );
        let dt = field("Zuora__Subscription__c", "Zuora__OriginalCreated_Date__c");
        assert_eq!(
            coerce(&dt, &Raw::Text("2024-01-02T03:04:05+02:00".into())).unwrap(),
            Value::Text("2024-01-02T01:04:05.000+0000".into())
        );
        let b = field("Zuora__Subscription__c", "Zuora__AutoRenew__c");
        assert_eq!(
            coerce(&b, &Raw::Text("TRUE".into())).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            coerce(&b, &Raw::Text("maybe".into()))
                .unwrap_err()
                .status_code,
            "INVALID_TYPE_ON_FIELD_IN_RECORD"
        );
        let name = field("Zuora__Subscription__c", "Name");
        let long = "x".repeat(81);
        assert_eq!(
            coerce(&name, &Raw::Text(long.into()))
                .unwrap_err()
                .status_code,
            "STRING_TOO_LONG"
        );
        let money = field("Zuora__Subscription__c", "Zuora__MRR__c");
        assert_eq!(
            coerce(&money, &Raw::Text("12.345".into())).unwrap(),
            Value::Number(12.35)
        );
        assert_eq!(
            coerce(&money, &Raw::Number(1e17)).unwrap_err().status_code,
            "NUMBER_OUTSIDE_VALID_RANGE"
        );
    }
}
