//! The REST API: versions, resources, global and per-object describe (with field-level
//! security), sObject create/read/update/delete, upsert by external id, sObject Collections,
//! SOQL queries with paging, and `/limits` (salesforce-api.md §7–§9, §11, §12).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Extension, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};

use super::http::{
    Caller, MAX_VERSION, MIN_VERSION, Shared, json, not_found, rest_error, rest_error_fields,
};
use super::ids::SfId;
use super::org::{Cursor, FieldAccess, Org};
use super::schema::FieldType;
use super::soql;
use super::write::{
    Column, Raw, RecordError, WriteOp, delete_records, resolve_column, write_record,
};

/// Maximum records in one sObject Collections call.
pub const COLLECTION_LIMIT: usize = 200;
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
        .route(&format!("{v}/queryAll"), get(query))
        .route(&format!("{v}/query/{{locator}}"), get(query_more))
        .route(&format!("{v}/queryAll/{{locator}}"), get(query_more))
        .route(
            &format!("{v}/composite/sobjects"),
            post(collection_create)
                .patch(collection_update)
                .delete(collection_delete),
        )
        .route(
            &format!("{v}/composite/sobjects/{{object}}/{{field}}"),
            patch(collection_upsert),
        )
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
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": mb(storage_max), "Remaining": mb(storage_max - stored)},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }),
    )
}

fn object_index(org: &Org, name: &str) -> Result<usize, Response> {
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
    let org = state.lock();
    match object_index(&org, &object) {
        Ok(o) => json(
            StatusCode::OK,
            serde_json::json!({"objectDescribe": object_summary(&org, o, c.version), "recentItems": []}),
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
                    let stem = child.name.strip_suffix("__c").unwrap_or(&child.name);
                    serde_json::json!({
                        "childSObject": child.name,
                        "field": f.name,
                        "relationshipName": format!("{stem}s__r"),
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

async fn describe(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
) -> Response {
    let org = state.lock();
    match object_index(&org, &object) {
        Ok(o) => json(StatusCode::OK, describe_json(&org, c.user, o, c.version)),
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
fn json_columns<'a>(
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
    let record = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let result = json_columns(&org, o, c.user, &record, &["Id"]).and_then(|cols| {
        let key = lock_key(&record);
        write_record(&mut org, o, c.user, WriteOp::Insert, &cols, &key)
    });
    match result {
        Ok((id, _)) => json(
            StatusCode::CREATED,
            serde_json::json!({"id": id.to_string(), "success": true, "errors": []}),
        ),
        Err(e) => record_error_response(&e),
    }
}

fn lock_key(record: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

fn parse_record_id(org: &Org, object: usize, id: &str) -> Option<SfId> {
    SfId::parse(id).filter(|i| i.key_prefix() == org.schema.objects[object].key_prefix)
}

fn render_record(
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
    let org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    parse_record_id(&org, o, &id)
        .and_then(|id| {
            render_record(
                &org,
                c.user,
                o,
                &id,
                q.get("fields").map(String::as_str),
                c.version,
            )
        })
        .map(|v| json(StatusCode::OK, v))
        .unwrap_or_else(not_found)
}

async fn update(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, id)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let record = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(id) = parse_record_id(&org, o, &id) else {
        return not_found();
    };
    if org.tables[o].get(&id).is_none() {
        return not_found();
    }
    let result = json_columns(&org, o, c.user, &record, &["Id"]).and_then(|cols| {
        write_record(&mut org, o, c.user, WriteOp::Update(id), &cols, id.as_str())
    });
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
    let mut org = state.lock();
    let o = match object_index(&org, &object) {
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
    let Some(id) = parse_record_id(&org, o, &id) else {
        return not_found();
    };
    let result = delete_records(&mut org, o, &[id]).remove(0);
    delete_response(result)
}

/// Resolves the `{field}` of an external-id URL: it must be an External ID field visible to the
/// user (or `Id`).
fn external_id_field(org: &Org, user: usize, object: usize, field: &str) -> Option<usize> {
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
    let org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(&org, c.user, o, &field) else {
        return not_found();
    };
    let ids = org.tables[o].find_by_external_id(f, &value);
    match ids.as_slice() {
        [] => not_found(),
        [id] => render_record(
            &org,
            c.user,
            o,
            id,
            q.get("fields").map(String::as_str),
            c.version,
        )
        .map(|v| json(StatusCode::OK, v))
        .unwrap_or_else(not_found),
        many => multiple_choices(&org, o, many, c.version),
    }
}

async fn upsert_one(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field, value)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let record = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(&org, c.user, o, &field) else {
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
        return multiple_choices(&org, o, &matches, c.version);
    }
    if matches.is_empty() && q.get("updateOnly").is_some_and(|v| v == "true") {
        return not_found();
    }
    let op = WriteOp::Upsert {
        field: f,
        value: value.clone(),
    };
    let result = json_columns(&org, o, c.user, &record, &["Id", &field_name])
        .and_then(|cols| write_record(&mut org, o, c.user, op, &cols, &value));
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
    let mut org = state.lock();
    let o = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(f) = external_id_field(&org, c.user, o, &field) else {
        return not_found();
    };
    let ids = org.tables[o].find_by_external_id(f, &value);
    match ids.as_slice() {
        [] => not_found(),
        [id] => {
            let id = *id;
            delete_response(delete_records(&mut org, o, &[id]).remove(0))
        }
        many => multiple_choices(&org, o, many, c.version),
    }
}

// ---------------------------------------------------------------------------------------------
// sObject Collections

#[derive(serde::Deserialize)]
struct CollectionBody {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    #[serde(default)]
    records: Vec<serde_json::Value>,
}

fn parse_collection(body: &str) -> Result<CollectionBody, Response> {
    let parsed: CollectionBody = serde_json::from_str(body).map_err(|e| {
        rest_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Cannot parse the request body: {e}"),
        )
    })?;
    if parsed.records.len() > COLLECTION_LIMIT {
        return Err(rest_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok(parsed)
}

fn rolled_back() -> serde_json::Value {
    serde_json::json!({"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": []})
}

enum CollectionOp {
    Create,
    Update,
    Upsert {
        object: usize,
        field: usize,
        field_name: String,
    },
}

fn run_collection(
    org: &mut Org,
    user: usize,
    body: &CollectionBody,
    op: CollectionOp,
) -> Vec<serde_json::Value> {
    let outcomes: Vec<Result<(SfId, bool), RecordError>> = body
        .records
        .iter()
        .map(|rec| collection_item(org, user, rec, &op))
        .collect();
    let failed = outcomes.iter().any(Result::is_err);
    let is_upsert = matches!(op, CollectionOp::Upsert { .. });
    outcomes
        .into_iter()
        .map(|o| match o {
            Ok((id, _)) if body.all_or_none && failed => {
                serde_json::json!({"id": id.to_string(), "success": false, "errors": [rolled_back()]})
            }
            Ok((id, created)) => {
                let mut item = serde_json::json!({"id": id.to_string(), "success": true, "errors": []});
                if is_upsert {
                    item["created"] = serde_json::Value::Bool(created);
                }
                item
            }
            Err(e) => serde_json::json!({"success": false, "errors": [e.to_json()]}),
        })
        .collect()
}

fn record_type(rec: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    rec.get("attributes")?.get("type")?.as_str()
}

fn collection_item(
    org: &mut Org,
    user: usize,
    rec: &serde_json::Value,
    op: &CollectionOp,
) -> Result<(SfId, bool), RecordError> {
    let serde_json::Value::Object(rec) = rec else {
        return Err(RecordError::new(
            "JSON_PARSER_ERROR",
            "each record must be an object",
            &[],
        ));
    };
    let type_name = record_type(rec).ok_or_else(|| {
        RecordError::new("INVALID_TYPE", "Must send a concrete entity type.", &[])
    })?;
    let object = org.schema.object(type_name).ok_or_else(|| {
        RecordError::new(
            "INVALID_TYPE",
            format!("sObject type '{type_name}' is not supported."),
            &[],
        )
    })?;
    let key = lock_key(rec);
    match op {
        CollectionOp::Create => {
            if rec.keys().any(|k| k.eq_ignore_ascii_case("id")) {
                return Err(RecordError::new(
                    "INVALID_FIELD",
                    "cannot specify Id in an insert call",
                    &["Id"],
                ));
            }
            let cols = json_columns(org, object, user, rec, &[])?;
            write_record(org, object, user, WriteOp::Insert, &cols, &key)
        }
        CollectionOp::Update => {
            let id_text = rec
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("id"))
                .and_then(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    RecordError::new(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        &["Id"],
                    )
                })?;
            let id = SfId::parse(id_text).ok_or_else(|| {
                RecordError::new("MALFORMED_ID", format!("malformed id {id_text}"), &["Id"])
            })?;
            let cols = json_columns(org, object, user, rec, &["Id"])?;
            write_record(org, object, user, WriteOp::Update(id), &cols, id.as_str())
        }
        CollectionOp::Upsert {
            object: expected,
            field,
            field_name,
        } => {
            if object != *expected {
                return Err(RecordError::new(
                    "INVALID_TYPE",
                    "All records of an upsert must be of the type in the URL",
                    &[],
                ));
            }
            let value = rec
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field_name.as_str()))
                .map(|(_, v)| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let cols = json_columns(org, object, user, rec, &[field_name.as_str()])?;
            write_record(
                org,
                object,
                user,
                WriteOp::Upsert {
                    field: *field,
                    value: value.clone(),
                },
                &cols,
                &value,
            )
        }
    }
}

/// Runs a Collections call; with `allOrNone` the org is restored when any record fails.
fn collection_call(
    state: &Shared,
    user: usize,
    body: &str,
    op: impl FnOnce(&Org) -> Result<CollectionOp, Response>,
) -> Response {
    let parsed = match parse_collection(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut org = state.lock();
    let op = match op(&org) {
        Ok(op) => op,
        Err(r) => return r,
    };
    let snapshot = parsed.all_or_none.then(|| snapshot_for(&org, &parsed));
    let results = run_collection(&mut org, user, &parsed, op);
    if let Some(snapshot) = snapshot
        && results.iter().any(|r| r["success"] == false)
    {
        restore(&mut org, snapshot);
    }
    json(StatusCode::OK, serde_json::Value::Array(results))
}

type Snapshot = Vec<(usize, super::store::Table)>;

/// Copies the tables a Collections call can touch, so `allOrNone` can restore them. Calls are at
/// most 200 records, but tables can be large; only the named object types are copied.
fn snapshot_for(org: &Org, body: &CollectionBody) -> Snapshot {
    let mut objects: Vec<usize> = body
        .records
        .iter()
        .filter_map(|r| {
            r.as_object()
                .and_then(record_type)
                .and_then(|t| org.schema.object(t))
        })
        .collect();
    objects.sort_unstable();
    objects.dedup();
    objects
        .into_iter()
        .map(|o| (o, org.tables[o].clone()))
        .collect()
}

fn restore(org: &mut Org, snapshot: Snapshot) {
    for (o, table) in snapshot {
        org.tables[o] = table;
    }
}

async fn collection_create(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    collection_call(&state, c.user, &body, |_| Ok(CollectionOp::Create))
}

async fn collection_update(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    collection_call(&state, c.user, &body, |_| Ok(CollectionOp::Update))
}

async fn collection_upsert(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let user = c.user;
    collection_call(&state, user, &body, move |org| {
        let o = object_index(org, &object)?;
        let f = external_id_field(org, user, o, &field).ok_or_else(not_found)?;
        let field_name = org.schema.objects[o].fields[f].name.clone();
        Ok(CollectionOp::Upsert {
            object: o,
            field: f,
            field_name,
        })
    })
}

async fn collection_delete(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> = super::auth::url_pairs(&query.unwrap_or_default())
        .into_iter()
        .collect();
    let ids: Vec<&str> = params
        .get("ids")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if ids.len() > COLLECTION_LIMIT {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }
    let all_or_none = params.get("allOrNone").is_some_and(|v| v == "true");
    let mut org = state.lock();
    let mut items = Vec::with_capacity(ids.len());
    let mut resolved: Vec<Result<(usize, SfId), RecordError>> = Vec::with_capacity(ids.len());
    for raw in &ids {
        resolved.push(
            SfId::parse(raw)
                .and_then(|id| {
                    org.schema
                        .object_by_prefix(id.key_prefix())
                        .map(|o| (o, id))
                })
                .ok_or_else(|| {
                    RecordError::new("MALFORMED_ID", format!("malformed id {raw}"), &[])
                }),
        );
    }
    let any_bad = resolved.iter().any(|r| match r {
        Ok((o, id)) => org.tables[*o].get(id).is_none(),
        Err(_) => true,
    });
    for (raw, r) in ids.iter().zip(resolved) {
        let outcome = match r {
            Err(e) => Err(e),
            Ok(_) if all_or_none && any_bad => {
                items.push(
                    serde_json::json!({"id": raw, "success": false, "errors": [rolled_back()]}),
                );
                continue;
            }
            Ok((o, id)) => delete_records(&mut org, o, &[id]).remove(0),
        };
        items.push(match outcome {
            Ok(id) => serde_json::json!({"id": id.to_string(), "success": true, "errors": []}),
            Err(e) => serde_json::json!({"id": raw, "success": false, "errors": [e.to_json()]}),
        });
    }
    json(StatusCode::OK, serde_json::Value::Array(items))
}

// ---------------------------------------------------------------------------------------------
// Query

fn batch_size(headers: &HeaderMap) -> usize {
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
    let Some(q) = params.get("q") else {
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
    let mut org = state.lock();
    let result = match soql::run(&org, c.user, &parsed, c.version) {
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
        &mut org,
        c.user,
        locator,
        result.rows,
        0,
        batch_size(&headers),
        result.total,
        c.version,
    )
}

async fn query_more(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, locator)): Path<(String, String)>,
) -> Response {
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
    let mut org = state.lock();
    let Some(cursor) = org.cursors.remove(cursor_id) else {
        return invalid();
    };
    if cursor.user != c.user {
        org.cursors.insert(cursor_id.to_string(), cursor);
        return invalid();
    }
    let total = cursor.rows.len();
    page(
        &mut org,
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
