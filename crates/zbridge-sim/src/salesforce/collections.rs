//! sObject Collections (salesforce-api.md §9): create, update, upsert and delete of up to 200
//! records per call with per-record results, and retrieve (`GET` / `POST
//! …/composite/sobjects/{object}` with ids and fields).
//!
//! `allOrNone` rolls the whole call back through the org's undo journal, so a failed call leaves
//! every table (cascade deletes included) exactly as it was.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};

use super::http::{Caller, Shared, json, not_found, rest_error};
use super::ids::SfId;
use super::org::{FieldAccess, Org};
use super::rest::{external_id_field, json_columns, lock_key, object_index};
use super::soql;
use super::write::{RecordError, WriteOp, delete_records, write_record};

/// Maximum records in one create/update/upsert/delete call.
pub const COLLECTION_LIMIT: usize = 200;
/// Maximum ids in one retrieve call (documented for the `POST` form).
pub const RETRIEVE_LIMIT: usize = 2000;

/// Collections routes.
pub fn routes() -> Router<Shared> {
    let v = "/services/data/{version}";
    Router::new()
        .route(
            &format!("{v}/composite/sobjects"),
            post(collection_create)
                .patch(collection_update)
                .delete(collection_delete),
        )
        .route(
            &format!("{v}/composite/sobjects/{{object}}"),
            get(retrieve_get).post(retrieve_post),
        )
        .route(
            &format!("{v}/composite/sobjects/{{object}}/{{field}}"),
            patch(collection_upsert),
        )
}

#[derive(serde::Deserialize)]
struct CollectionBody {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    #[serde(default)]
    records: Vec<serde_json::Value>,
}

fn too_many(limit: usize) -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        "EXCEEDED_ID_LIMIT",
        &format!("record limit reached. cannot submit more than {limit} records into this call"),
    )
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
        return Err(too_many(COLLECTION_LIMIT));
    }
    Ok(parsed)
}

fn rolled_back() -> serde_json::Value {
    serde_json::json!({"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": []})
}

/// What a create/update/upsert call does with each record.
pub enum CollectionOp {
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
    match op {
        CollectionOp::Create => create_item(org, user, object, rec),
        CollectionOp::Update => update_item(org, user, object, rec),
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
            upsert_item(org, user, object, (*field, field_name), rec)
        }
    }
}

type JsonRecord = serde_json::Map<String, serde_json::Value>;

fn create_item(
    org: &mut Org,
    user: usize,
    object: usize,
    rec: &JsonRecord,
) -> Result<(SfId, bool), RecordError> {
    if rec.keys().any(|k| k.eq_ignore_ascii_case("id")) {
        return Err(RecordError::new(
            "INVALID_FIELD",
            "cannot specify Id in an insert call",
            &["Id"],
        ));
    }
    let cols = json_columns(org, object, user, rec, &[])?;
    write_record(org, object, user, WriteOp::Insert, &cols, &lock_key(rec))
}

fn update_item(
    org: &mut Org,
    user: usize,
    object: usize,
    rec: &JsonRecord,
) -> Result<(SfId, bool), RecordError> {
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

fn upsert_item(
    org: &mut Org,
    user: usize,
    object: usize,
    (field, field_name): (usize, &str),
    rec: &JsonRecord,
) -> Result<(SfId, bool), RecordError> {
    let value = rec
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field_name))
        .map(|(_, v)| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let cols = json_columns(org, object, user, rec, &[field_name])?;
    let op = WriteOp::Upsert {
        field,
        value: value.clone(),
    };
    write_record(org, object, user, op, &cols, &value)
}

/// Runs a create/update/upsert call on a locked org. With `allOrNone` (or `force_all_or_none`,
/// set by an all-or-none Composite request) every write is undone when any record fails.
pub fn collection_call_in(
    org: &mut Org,
    user: usize,
    body: &str,
    force_all_or_none: bool,
    op: impl FnOnce(&Org) -> Result<CollectionOp, Response>,
) -> Response {
    let mut parsed = match parse_collection(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    parsed.all_or_none |= force_all_or_none;
    let op = match op(org) {
        Ok(op) => op,
        Err(r) => return r,
    };
    let mark = org.tx_begin();
    let results = run_collection(org, user, &parsed, op);
    if parsed.all_or_none && results.iter().any(|r| r["success"] == false) {
        org.tx_rollback(&mark);
    }
    org.tx_end(mark);
    json(StatusCode::OK, serde_json::Value::Array(results))
}

async fn collection_create(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    collection_call_in(&mut state.lock(), c.user, &body, false, |_| {
        Ok(CollectionOp::Create)
    })
}

async fn collection_update(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    collection_call_in(&mut state.lock(), c.user, &body, false, |_| {
        Ok(CollectionOp::Update)
    })
}

/// The op of `PATCH …/composite/sobjects/{object}/{field}` (upsert by external id).
pub fn upsert_op(
    org: &Org,
    user: usize,
    object: &str,
    field: &str,
) -> Result<CollectionOp, Response> {
    let o = object_index(org, object)?;
    let f = external_id_field(org, user, o, field).ok_or_else(not_found)?;
    let field_name = org.schema.objects[o].fields[f].name.clone();
    Ok(CollectionOp::Upsert {
        object: o,
        field: f,
        field_name,
    })
}

async fn collection_upsert(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object, field)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let user = c.user;
    collection_call_in(&mut state.lock(), user, &body, false, move |org| {
        upsert_op(org, user, &object, &field)
    })
}

async fn collection_delete(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    collection_delete_in(&mut state.lock(), &query.unwrap_or_default(), false)
}

fn query_params(query: &str) -> HashMap<String, String> {
    super::auth::url_pairs(query).into_iter().collect()
}

fn resolve_delete_id(org: &Org, raw: &str) -> Result<(usize, SfId), RecordError> {
    SfId::parse(raw)
        .and_then(|id| {
            org.schema
                .object_by_prefix(id.key_prefix())
                .map(|o| (o, id))
        })
        .ok_or_else(|| RecordError::new("MALFORMED_ID", format!("malformed id {raw}"), &[]))
}

/// `DELETE …/composite/sobjects?ids=…&allOrNone=…` on a locked org.
pub fn collection_delete_in(org: &mut Org, query: &str, force_all_or_none: bool) -> Response {
    let params = query_params(query);
    let ids: Vec<&str> = params
        .get("ids")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if ids.len() > COLLECTION_LIMIT {
        return too_many(COLLECTION_LIMIT);
    }
    let all_or_none = force_all_or_none || params.get("allOrNone").is_some_and(|v| v == "true");
    let resolved: Vec<Result<(usize, SfId), RecordError>> =
        ids.iter().map(|raw| resolve_delete_id(org, raw)).collect();
    let any_bad = resolved.iter().any(|r| match r {
        Ok((o, id)) => org.tables[*o].get(id).is_none(),
        Err(_) => true,
    });
    let mut items = Vec::with_capacity(ids.len());
    for (raw, r) in ids.iter().zip(resolved) {
        let outcome = match r {
            Err(e) => Err(e),
            Ok(_) if all_or_none && any_bad => {
                items.push(
                    serde_json::json!({"id": raw, "success": false, "errors": [rolled_back()]}),
                );
                continue;
            }
            Ok((o, id)) => delete_records(org, o, &[id]).remove(0),
        };
        items.push(match outcome {
            Ok(id) => serde_json::json!({"id": id.to_string(), "success": true, "errors": []}),
            Err(e) => serde_json::json!({"id": raw, "success": false, "errors": [e.to_json()]}),
        });
    }
    json(StatusCode::OK, serde_json::Value::Array(items))
}

// ---------------------------------------------------------------------------------------------
// Retrieve

#[derive(serde::Deserialize)]
struct RetrieveBody {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

async fn retrieve_get(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    retrieve_get_in(&state.lock(), c, &object, &query.unwrap_or_default())
}

fn split_list(s: Option<&String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// `GET …/composite/sobjects/{object}?ids=…&fields=…` on a locked org.
pub fn retrieve_get_in(org: &Org, c: Caller, object: &str, query: &str) -> Response {
    let params = query_params(query);
    let ids = split_list(params.get("ids"));
    let fields = split_list(params.get("fields"));
    retrieve_in(org, c, object, &ids, &fields)
}

async fn retrieve_post(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
    body: String,
) -> Response {
    retrieve_post_in(&state.lock(), c, &object, &body)
}

/// `POST …/composite/sobjects/{object}` with `{"ids": […], "fields": […]}` on a locked org.
pub fn retrieve_post_in(org: &Org, c: Caller, object: &str, body: &str) -> Response {
    match serde_json::from_str::<RetrieveBody>(body) {
        Ok(b) => retrieve_in(org, c, object, &b.ids, &b.fields),
        Err(e) => rest_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Cannot parse the request body: {e}"),
        ),
    }
}

fn missing(name: &str) -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        "MISSING_ARGUMENT",
        &format!("Missing required parameter: {name}"),
    )
}

/// Resolves the requested fields (API names, visible to the user) in request order.
fn retrieve_fields(
    org: &Org,
    user: usize,
    object: usize,
    fields: &[String],
) -> Result<Vec<usize>, Response> {
    let def = &org.schema.objects[object];
    fields
        .iter()
        .map(|name| {
            def.field(name)
                .filter(|&f| org.field_access(user, object, f) != FieldAccess::Hidden)
                .ok_or_else(|| {
                    let e = soql::invalid_field(name, &def.name);
                    rest_error(StatusCode::BAD_REQUEST, e.code, &e.message)
                })
        })
        .collect()
}

fn retrieve_in(org: &Org, c: Caller, object: &str, ids: &[String], fields: &[String]) -> Response {
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if ids.is_empty() {
        return missing("ids");
    }
    if fields.is_empty() {
        return missing("fields");
    }
    if ids.len() > RETRIEVE_LIMIT {
        return too_many(RETRIEVE_LIMIT);
    }
    let fields = match retrieve_fields(org, c.user, o, fields) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let prefix = &org.schema.objects[o].key_prefix;
    let rows: Vec<serde_json::Value> = ids
        .iter()
        .map(|raw| {
            SfId::parse(raw)
                .filter(|id| id.key_prefix() == prefix)
                .and_then(|id| org.tables[o].get(&id))
                .map(|r| retrieved(org, o, r, &fields, c.version))
                .unwrap_or(serde_json::Value::Null)
        })
        .collect();
    json(StatusCode::OK, serde_json::Value::Array(rows))
}

fn retrieved(
    org: &Org,
    object: usize,
    record: &super::store::Record,
    fields: &[usize],
    version: u32,
) -> serde_json::Value {
    let def = &org.schema.objects[object];
    let mut row = serde_json::Map::new();
    row.insert(
        "attributes".into(),
        soql::attributes(&def.name, &record.id, version),
    );
    for &f in fields {
        let v = soql::field_value(org, object, record, f)
            .map(|v| v.to_json())
            .unwrap_or(serde_json::Value::Null);
        row.insert(def.fields[f].name.clone(), v);
    }
    serde_json::Value::Object(row)
}
