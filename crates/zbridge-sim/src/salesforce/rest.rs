//! The REST API: versions, resources, global and per-object describe (with field-level
//! security), sObject create/read/update/delete, upsert by external id, SOQL `query` and
//! `queryAll` with paging, and `/limits` (salesforce-api.md §7–§8, §11, §12).
//!
//! Each handler is a thin async wrapper around a `…_in` function that works on a locked org, so
//! Composite subrequests run the very same code inside one lock (and one undo journal).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::http::{
    Caller, MAX_VERSION, MIN_VERSION, Shared, json, not_found, rest_error, rest_error_fields,
};
use super::ids::SfId;
use super::org::{Cursor, FieldAccess, Org};
use super::schema::FieldType;
use super::soql::{self, Scope};
use super::write::{
    Column, Raw, RecordError, WriteOp, delete_records, resolve_column, write_record,
};

const DEFAULT_BATCH_SIZE: usize = 2000;

/// Versioned REST routes (mounted under the guard in `http.rs`).
pub fn routes() -> Router<Shared> {
    let v = "/services/data/{version}";
    Router::new()
        .route(v, get(resources))
        .route(&format!("{v}/limits"), get(limits))
        .route(&format!("{v}/sobjects"), get(global_describe))
        .route(
            &format!("{v}/sobjects/{{object}}"),
            get(basic_info).post(create),
        )
        .route(&format!("{v}/sobjects/{{object}}/describe"), get(describe))
        .route(
            &format!("{v}/sobjects/{{object}}/{{id}}"),
            get(read).patch(update).delete(delete_one),
        )
        .route(
            &format!("{v}/sobjects/{{object}}/{{field}}/{{value}}"),
            get(read_by_external_id)
                .patch(upsert_one)
                .delete(delete_by_external_id),
        )
        .route(&format!("{v}/query"), get(query))
        .route(&format!("{v}/queryAll"), get(query_all))
        .route(&format!("{v}/query/{{locator}}"), get(query_more))
        .route(&format!("{v}/queryAll/{{locator}}"), get(query_more))
}

/// `GET /services/data/`: the versions list (no authentication needed).
pub async fn versions(State(state): State<Shared>) -> Response {
    let _ = state;
    let list: Vec<serde_json::Value> = (MIN_VERSION..=MAX_VERSION)
        .map(|v| {
            serde_json::json!({"label": release_name(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
        })
        .collect();
    json(StatusCode::OK, serde_json::Value::Array(list))
}

fn release_name(v: u32) -> String {
    // v31 = Summer '14; then Winter, Spring, Summer each year (Winter carries the next year).
    const SEASONS: [&str; 3] = ["Summer", "Winter", "Spring"];
    let n = v.saturating_sub(31);
    let season = SEASONS[(n % 3) as usize];
    let year = 14 + n.div_ceil(3);
    format!("{season} '{year:02}")
}

async fn resources(Extension(c): Extension<Caller>) -> Response {
    let v = format!("/services/data/v{}.0", c.version);
    json(
        StatusCode::OK,
        serde_json::json!({
            "sobjects": format!("{v}/sobjects"),
            "query": format!("{v}/query"),
            "queryAll": format!("{v}/queryAll"),
            "limits": format!("{v}/limits"),
            "composite": format!("{v}/composite"),
            "jobs": format!("{v}/jobs"),
        }),
    )
}

async fn limits(State(state): State<Shared>, Extension(c): Extension<Caller>) -> Response {
    let org = state.lock();
    if !org.perms(c.user).view_setup {
        return rest_error(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_ACCESS",
            "The user needs View Setup and Configuration to read limits.",
        );
    }
    let max = org.settings.api_daily_max;
    let used = if org.faults.request_limit {
        max
    } else {
        org.api_used.min(max)
    };
    let storage_max = org.settings.storage_max_records;
    let stored = if org.faults.storage_limit {
        storage_max
    } else {
        org.stored_records().min(storage_max)
    };
    // 2 KB per record is how Salesforce counts most records against data storage.
    let mb = |records: u64| records * 2 / 1024;
    json(
        StatusCode::OK,
        serde_json::json!({
            "DailyApiRequests": {"Max": max, "Remaining": max - used},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000u64.saturating_sub(org.query_jobs_created)},
            "DataStorageMB": {"Max": mb(storage_max), "Remaining": mb(storage_max - stored)},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }),
    )
}

/// The index of a named object, or the REST 404.
pub fn object_index(org: &Org, name: &str) -> Result<usize, Response> {
    org.schema.object(name).ok_or_else(|| {
        rest_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    })
}

fn object_summary(org: &Org, object: usize, version: u32) -> serde_json::Value {
    let o = &org.schema.objects[object];
    let base = format!("/services/data/v{version}.0/sobjects/{}", o.name);
    serde_json::json!({
        "name": o.name,
        "label": o.label,
        "labelPlural": format!("{}s", o.label),
        "keyPrefix": o.key_prefix,
        "custom": o.custom,
        "createable": o.writable,
        "updateable": o.writable,
        "deletable": o.writable,
        "queryable": true,
        "retrieveable": true,
        "searchable": true,
        "undeletable": o.writable,
        "layoutable": true,
        "triggerable": o.writable,
        "replicateable": true,
        "mergeable": o.name == "Account",
        "customSetting": false,
        "activateable": false,
        "feedEnabled": false,
        "urls": {
            "sobject": base,
            "describe": format!("{base}/describe"),
            "rowTemplate": format!("{base}/{{ID}}"),
        },
    })
}

async fn global_describe(State(state): State<Shared>, Extension(c): Extension<Caller>) -> Response {
    let org = state.lock();
    let sobjects: Vec<serde_json::Value> = (0..org.schema.objects.len())
        .map(|i| object_summary(&org, i, c.version))
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}),
    )
}

async fn basic_info(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
) -> Response {
    basic_info_in(&state.lock(), c, &object)
}

/// `GET …/sobjects/{object}` on a locked org.
pub fn basic_info_in(org: &Org, c: Caller, object: &str) -> Response {
    match object_index(org, object) {
        Ok(o) => json(
            StatusCode::OK,
            serde_json::json!({"objectDescribe": object_summary(org, o, c.version), "recentItems": []}),
        ),
        Err(r) => r,
    }
}

fn soap_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Id | FieldType::Reference => "tns:ID",
        FieldType::Boolean => "xsd:boolean",
        FieldType::Double | FieldType::Currency | FieldType::Percent => "xsd:double",
        FieldType::Date => "xsd:date",
        FieldType::DateTime => "xsd:dateTime",
        _ => "xsd:string",
    }
}

fn describe_json(org: &Org, user: usize, object: usize, version: u32) -> serde_json::Value {
    let o = &org.schema.objects[object];
    let mut out = object_summary(org, object, version);
    let fields: Vec<serde_json::Value> = o
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let access = org.field_access(user, object, i);
            if access == FieldAccess::Hidden {
                return None;
            }
            let editable = f.writable && access == FieldAccess::Edit;
            Some(serde_json::json!({
                "name": f.name,
                "label": f.label,
                "type": f.ftype.describe_name(),
                "soapType": soap_type(f.ftype),
                "length": if f.ftype.is_text() || matches!(f.ftype, FieldType::Id | FieldType::Reference) { f.length } else { 0 },
                "byteLength": if f.ftype.is_text() || matches!(f.ftype, FieldType::Id | FieldType::Reference) { f.length * 3 } else { 0 },
                "precision": f.precision,
                "scale": f.scale,
                "digits": 0,
                "createable": editable,
                "updateable": editable && !f.master_detail,
                "nillable": f.nillable(),
                "defaultedOnCreate": f.defaulted_on_create || f.ftype == FieldType::Boolean || f.system != super::schema::SystemField::No,
                "unique": f.unique,
                "externalId": f.external_id,
                "idLookup": f.id_lookup() || f.name_field,
                "nameField": f.name_field,
                "custom": f.name.ends_with("__c"),
                "calculated": false,
                "autoNumber": false,
                "caseSensitive": false,
                "filterable": f.ftype != FieldType::TextArea || f.length <= 255,
                "sortable": f.ftype != FieldType::TextArea || f.length <= 255,
                "groupable": f.ftype != FieldType::TextArea,
                "referenceTo": f.reference_to.iter().collect::<Vec<_>>(),
                "relationshipName": f.relationship_name,
                "relationshipOrder": if f.master_detail { Some(0) } else { None },
                "cascadeDelete": f.master_detail,
                "writeRequiresMasterRead": f.master_detail,
                "restrictedPicklist": false,
                "picklistValues": [],
                "permissionable": !f.required && f.system == super::schema::SystemField::No && !f.name_field,
            }))
        })
        .collect();
    let children: Vec<serde_json::Value> = org
        .schema
        .objects
        .iter()
        .flat_map(|child| {
            child
                .fields
                .iter()
                .filter(|f| {
                    f.reference_to.as_deref() == Some(o.name.as_str())
                        && f.system == super::schema::SystemField::No
                })
                .map(move |f| {
                    serde_json::json!({
                        "childSObject": child.name,
                        "field": f.name,
                        "relationshipName": child_relationship_name(child),
                        "cascadeDelete": f.master_detail,
                        "restrictedDelete": false,
                    })
                })
        })
        .collect();
    out["fields"] = serde_json::Value::Array(fields);
    out["childRelationships"] = serde_json::Value::Array(children);
    out["recordTypeInfos"] = serde_json::json!([]);
    out
}

/// The child relationship name describe reports for a child object (our choice: the child's
/// name without `__c`, plus `s__r`).
pub fn child_relationship_name(child: &super::schema::ObjectDef) -> String {
    let stem = child.name.strip_suffix("__c").unwrap_or(&child.name);
    format!("{stem}s__r")
}

/// The `(child object, reference field)` behind a child relationship name of `parent`. When a
/// child has several references to the parent (the names collide), the master-detail field
/// wins, then the field named like the parent object, then the first one.
pub fn child_relationship(org: &Org, parent: usize, name: &str) -> Option<(usize, usize)> {
    let parent_name = &org.schema.objects[parent].name;
    org.schema
        .objects
        .iter()
        .enumerate()
        .find_map(|(ci, child)| {
            if !child_relationship_name(child).eq_ignore_ascii_case(name) {
                return None;
            }
            let refs: Vec<(usize, &super::schema::FieldDef)> = child
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    f.reference_to.as_deref() == Some(parent_name.as_str())
                        && f.system == super::schema::SystemField::No
                })
                .collect();
            refs.iter()
                .find(|(_, f)| f.master_detail)
                .or_else(|| refs.iter().find(|(_, f)| f.name == *parent_name))
                .or_else(|| refs.first())
                .map(|(fi, _)| (ci, *fi))
        })
}

async fn describe(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
) -> Response {
    describe_in(&state.lock(), c, &object)
}

/// `GET …/sobjects/{object}/describe` on a locked org.
pub fn describe_in(org: &Org, c: Caller, object: &str) -> Response {
    match object_index(org, object) {
        Ok(o) => json(StatusCode::OK, describe_json(org, c.user, o, c.version)),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Records

fn json_raw(value: &serde_json::Value) -> Result<Raw<'_>, RecordError> {
    match value {
        serde_json::Value::Null => Ok(Raw::Null),
        serde_json::Value::String(s) => Ok(Raw::Text(s.as_str().into())),
        serde_json::Value::Number(n) => Ok(Raw::Number(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::Bool(b) => Ok(Raw::Bool(*b)),
        _ => Err(RecordError::new(
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of a field value from an array or object",
            &[],
        )),
    }
}

/// Turns a JSON record into resolved columns. `skip` names fields handled elsewhere (`Id`, the
/// upsert key).
pub fn json_columns<'a>(
    org: &Org,
    object: usize,
    user: usize,
    record: &'a serde_json::Map<String, serde_json::Value>,
    skip: &[&str],
) -> Result<Vec<(Column, Raw<'a>)>, RecordError> {
    let mut out = Vec::with_capacity(record.len());
    for (key, value) in record {
        if key == "attributes" || skip.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            continue;
        }
        if let serde_json::Value::Object(nested) = value {
            for (nk, nv) in nested {
                if nk == "attributes" {
                    continue;
                }
                let column = resolve_column(org, object, user, &format!("{key}.{nk}"))?;
                out.push((column, json_raw(nv)?));
            }
            continue;
        }
        out.push((resolve_column(org, object, user, key)?, json_raw(value)?));
    }
    Ok(out)
}

fn record_error_response(e: &RecordError) -> Response {
    rest_error_fields(
        StatusCode::BAD_REQUEST,
        &e.status_code,
        &e.message,
        &e.fields,
    )
}

fn parse_body(body: &str) -> Result<serde_json::Map<String, serde_json::Value>, Response> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(rest_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body must be a JSON object",
        )),
    }
}

async fn create(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
    body: String,
) -> Response {
    create_in(&mut state.lock(), c, &object, &body)
}

/// `POST …/sobjects/{object}` on a locked org.
pub fn create_in(org: &mut Org, c: Caller, object: &str, body: &str) -> Response {
    let record = match parse_body(body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let result = json_columns(org, o, c.user, &record, &["Id"]).and_then(|cols| {
        let key = lock_key(&record);
        write_record(org, o, c.user, WriteOp::Insert, &cols, &key)
    });
    match result {
        Ok((id, _)) => json(
            StatusCode::CREATED,
            serde_json::json!({"id": id.to_string(), "success": true, "errors": []}),
        ),
        Err(e) => record_error_response(&e),
    }
}

/// The key the row-lock fault hashes for a JSON record.
pub fn lock_key(record: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

fn parse_record_id(org: &Org, object: usize, id: &str) -> Option<SfId> {
    SfId::parse(id).filter(|i| i.key_prefix() == org.schema.objects[object].key_prefix)
}

/// A record as REST renders it, with every visible field or only the listed ones.
pub fn render_record(
    org: &Org,
    user: usize,
    object: usize,
    id: &SfId,
    fields: Option<&str>,
    version: u32,
) -> Option<serde_json::Value> {
    let record = org.tables[object].get(id)?;
    let def = &org.schema.objects[object];
    let wanted: Option<Vec<String>> = fields.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    });
    let mut row = serde_json::Map::new();
    row.insert(
        "attributes".into(),
        soql::attributes(&def.name, id, version),
    );
    for (i, f) in def.fields.iter().enumerate() {
        if org.field_access(user, object, i) == FieldAccess::Hidden {
            continue;
        }
        if let Some(w) = &wanted
            && !w.contains(&f.name.to_ascii_lowercase())
        {
            continue;
        }
        let v = soql::field_value(org, object, record, i)
            .map(|v| v.to_json())
            .unwrap_or(serde_json::Value::Null);
        row.insert(f.name.clone(), v);
    }
    Some(serde_json::Value::Object(row))
}

async fn read(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, id)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read_in(
        &state.lock(),
        c,
        &object,
        &id,
        q.get("fields").map(String::as_str),
    )
}

/// `GET …/sobjects/{object}/{id}` on a locked org.
pub fn read_in(org: &Org, c: Caller, object: &str, id: &str, fields: Option<&str>) -> Response {
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    parse_record_id(org, o, id)
        .and_then(|id| render_record(org, c.user, o, &id, fields, c.version))
        .map(|v| json(StatusCode::OK, v))
        .unwrap_or_else(not_found)
}

async fn update(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, id)): Path<(String, String, String)>,
    body: String,
) -> Response {
    update_in(&mut state.lock(), c, &object, &id, &body)
}

/// `PATCH …/sobjects/{object}/{id}` on a locked org.
pub fn update_in(org: &mut Org, c: Caller, object: &str, id: &str, body: &str) -> Response {
    let record = match parse_body(body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(id) = parse_record_id(org, o, id) else {
        return not_found();
    };
    if org.tables[o].get(&id).is_none() {
        return not_found();
    }
    let result = json_columns(org, o, c.user, &record, &["Id"])
        .and_then(|cols| write_record(org, o, c.user, WriteOp::Update(id), &cols, id.as_str()));
    match result {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => record_error_response(&e),
    }
}

fn delete_response(result: Result<SfId, RecordError>) -> Response {
    match result {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) if e.status_code == "ENTITY_IS_DELETED" => rest_error(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
        ),
        Err(e)
            if e.status_code == "INVALID_CROSS_REFERENCE_KEY"
                || e.status_code == "MALFORMED_ID" =>
        {
            not_found()
        }
        Err(e) => record_error_response(&e),
    }
}

async fn delete_one(
    State(state): State<Shared>,
    Path((_, object, id)): Path<(String, String, String)>,
) -> Response {
    delete_one_in(&mut state.lock(), &object, &id)
}

/// `DELETE …/sobjects/{object}/{id}` on a locked org.
pub fn delete_one_in(org: &mut Org, object: &str, id: &str) -> Response {
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if !org.schema.objects[o].writable {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "entity type does not support delete",
        );
    }
    let Some(id) = parse_record_id(org, o, id) else {
        return not_found();
    };
    let result = delete_records(org, o, &[id]).remove(0);
    delete_response(result)
}

/// Resolves the `{field}` of an external-id URL: it must be an External ID field visible to the
/// user (or `Id`).
pub fn external_id_field(org: &Org, user: usize, object: usize, field: &str) -> Option<usize> {
    let def = &org.schema.objects[object];
    def.field(field)
        .filter(|&f| def.fields[f].external_id)
        .filter(|&f| org.field_access(user, object, f) != FieldAccess::Hidden)
}

fn multiple_choices(org: &Org, object: usize, ids: &[SfId], version: u32) -> Response {
    let name = &org.schema.objects[object].name;
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("/services/data/v{version}.0/sobjects/{name}/{id}"))
        .collect();
    json(StatusCode::MULTIPLE_CHOICES, serde_json::json!(urls))
}

async fn read_by_external_id(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field, value)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let key = ExternalKey {
        object: &object,
        field: &field,
        value: &value,
    };
    read_by_external_id_in(&state.lock(), c, key, q.get("fields").map(String::as_str))
}

/// The `{object}/{field}/{value}` of an external-id URL.
#[derive(Clone, Copy, Debug)]
pub struct ExternalKey<'a> {
    pub object: &'a str,
    pub field: &'a str,
    pub value: &'a str,
}

/// `GET …/sobjects/{object}/{field}/{value}` on a locked org.
pub fn read_by_external_id_in(
    org: &Org,
    c: Caller,
    key: ExternalKey<'_>,
    fields: Option<&str>,
) -> Response {
    let o = match object_index(org, key.object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(org, c.user, o, key.field) else {
        return not_found();
    };
    let ids = org.tables[o].find_by_external_id(f, key.value);
    match ids.as_slice() {
        [] => not_found(),
        [id] => render_record(org, c.user, o, id, fields, c.version)
            .map(|v| json(StatusCode::OK, v))
            .unwrap_or_else(not_found),
        many => multiple_choices(org, o, many, c.version),
    }
}

async fn upsert_one(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field, value)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let key = ExternalKey {
        object: &object,
        field: &field,
        value: &value,
    };
    let update_only = q.get("updateOnly").is_some_and(|v| v == "true");
    upsert_one_in(&mut state.lock(), c, key, update_only, &body)
}

/// `PATCH …/sobjects/{object}/{field}/{value}` on a locked org.
pub fn upsert_one_in(
    org: &mut Org,
    c: Caller,
    key: ExternalKey<'_>,
    update_only: bool,
    body: &str,
) -> Response {
    let value = key.value.to_string();
    let record = match parse_body(body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let o = match object_index(org, key.object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(org, c.user, o, key.field) else {
        return not_found();
    };
    let field_name = org.schema.objects[o].fields[f].name.clone();
    if let Some(in_body) = record
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&field_name))
        && in_body.1.as_str() != Some(value.as_str())
    {
        return rest_error_fields(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!(
                "The value of {field_name} in the request body does not match the value in the URL"
            ),
            std::slice::from_ref(&field_name),
        );
    }
    let matches = org.tables[o].find_by_external_id(f, &value);
    if matches.len() > 1 {
        return multiple_choices(org, o, &matches, c.version);
    }
    if matches.is_empty() && update_only {
        return not_found();
    }
    let op = WriteOp::Upsert {
        field: f,
        value: value.clone(),
    };
    let result = json_columns(org, o, c.user, &record, &["Id", &field_name])
        .and_then(|cols| write_record(org, o, c.user, op, &cols, &value));
    match result {
        Ok((id, true)) => json(
            StatusCode::CREATED,
            serde_json::json!({"id": id.to_string(), "success": true, "errors": [], "created": true}),
        ),
        Ok((id, false)) if c.version >= 46 => json(
            StatusCode::OK,
            serde_json::json!({"id": id.to_string(), "success": true, "errors": [], "created": false}),
        ),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => record_error_response(&e),
    }
}

async fn delete_by_external_id(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field, value)): Path<(String, String, String, String)>,
) -> Response {
    let key = ExternalKey {
        object: &object,
        field: &field,
        value: &value,
    };
    delete_by_external_id_in(&mut state.lock(), c, key)
}

/// `DELETE …/sobjects/{object}/{field}/{value}` on a locked org.
pub fn delete_by_external_id_in(org: &mut Org, c: Caller, key: ExternalKey<'_>) -> Response {
    let o = match object_index(org, key.object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(org, c.user, o, key.field) else {
        return not_found();
    };
    let ids = org.tables[o].find_by_external_id(f, key.value);
    match ids.as_slice() {
        [] => not_found(),
        [id] => {
            let id = *id;
            delete_response(delete_records(org, o, &[id]).remove(0))
        }
        many => multiple_choices(org, o, many, c.version),
    }
}

// ---------------------------------------------------------------------------------------------
// Query

/// The page size asked for in `Sforce-Query-Options: batchSize=…` (200–2000, default 2000).
pub fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
                .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(200, DEFAULT_BATCH_SIZE))
        .unwrap_or(DEFAULT_BATCH_SIZE)
}

#[allow(clippy::too_many_arguments)]
fn page(
    org: &mut Org,
    user: usize,
    locator: String,
    rows: Vec<serde_json::Value>,
    offset: usize,
    batch: usize,
    total: usize,
    version: u32,
) -> Response {
    let end = (offset + batch).min(rows.len());
    let records: Vec<serde_json::Value> = rows[offset.min(end)..end].to_vec();
    let done = end >= rows.len();
    let mut body = serde_json::json!({"totalSize": total, "done": done, "records": records});
    if done {
        org.cursors.remove(&locator);
    } else {
        body["nextRecordsUrl"] =
            serde_json::Value::String(format!("/services/data/v{version}.0/query/{locator}-{end}"));
        org.cursors.insert(
            locator,
            Cursor {
                user,
                rows,
                batch_size: batch,
            },
        );
    }
    json(StatusCode::OK, body)
}

async fn query(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let q = params.get("q").map(String::as_str);
    query_in(&mut state.lock(), c, q, batch_size(&headers), Scope::Live)
}

async fn query_all(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let q = params.get("q").map(String::as_str);
    query_in(&mut state.lock(), c, q, batch_size(&headers), Scope::All)
}

/// `GET …/query?q=` (`Scope::Live`) or `…/queryAll?q=` (`Scope::All`) on a locked org.
pub fn query_in(org: &mut Org, c: Caller, q: Option<&str>, batch: usize, scope: Scope) -> Response {
    let Some(q) = q else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string must be provided as the q parameter",
        );
    };
    let parsed = match soql::parse(q) {
        Ok(p) => p,
        Err(e) => return rest_error(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    let result = match soql::run_in(org, c.user, &parsed, c.version, scope) {
        Ok(r) => r,
        Err(e) => return rest_error(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    if parsed.count {
        return json(
            StatusCode::OK,
            serde_json::json!({"totalSize": result.total, "done": true, "records": []}),
        );
    }
    let locator = org.new_id_with_prefix("01g").id15().to_string();
    page(
        org,
        c.user,
        locator,
        result.rows,
        0,
        batch,
        result.total,
        c.version,
    )
}

async fn query_more(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, locator)): Path<(String, String)>,
) -> Response {
    query_more_in(&mut state.lock(), c, &locator)
}

/// `GET …/query/{locator}-{offset}` on a locked org.
pub fn query_more_in(org: &mut Org, c: Caller, locator: &str) -> Response {
    let invalid = || {
        rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((cursor_id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let Some(cursor) = org.cursors.remove(cursor_id) else {
        return invalid();
    };
    if cursor.user != c.user {
        org.cursors.insert(cursor_id.to_string(), cursor);
        return invalid();
    }
    let total = cursor.rows.len();
    page(
        org,
        c.user,
        cursor_id.to_string(),
        cursor.rows,
        offset,
        cursor.batch_size,
        total,
        c.version,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_the_calendar() {
        assert_eq!(release_name(31), "Summer '14");
        assert_eq!(release_name(64), "Summer '25");
        assert_eq!(release_name(59), "Winter '24");
    }
}
