//! Composite (`POST …/composite`): up to 25 subrequests run in order in one org lock, with
//! `@{referenceId.path}` references between them, per-subrequest results and `allOrNone`
//! rollback; and sObject Tree (`POST …/composite/tree/{object}`): nested records created
//! parents first, all or nothing.
//!
//! Subrequests call the same `…_in` functions as the REST handlers, so every behaviour and
//! error of a resource is the same inside a composite request. Both calls count as one API call.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use futures::FutureExt;

use super::collections::{
    CollectionOp, collection_call_in, collection_delete_in, retrieve_get_in, retrieve_post_in,
    upsert_op,
};
use super::http::{Caller, Shared, json, not_found, parse_version, rest_error};
use super::org::Org;
use super::replication::{deleted_in, updated_in};
use super::rest::{self, ExternalKey, object_index};
use super::soql::Scope;
use super::write::{Column, Raw, RecordError, WriteOp, write_record};

/// Most subrequests in one composite request.
pub const MAX_SUBREQUESTS: usize = 25;
/// Most query and sObject Collections subrequests in one composite request.
pub const MAX_QUERY_SUBREQUESTS: usize = 5;
/// Most records in one sObject Tree request.
pub const TREE_MAX_RECORDS: usize = 200;
/// Most levels in one sObject tree.
pub const TREE_MAX_DEPTH: usize = 5;
/// Most record types in one sObject Tree request.
pub const TREE_MAX_TYPES: usize = 5;

/// Composite routes.
pub fn routes() -> Router<Shared> {
    let v = "/services/data/{version}/composite";
    Router::new()
        .route(v, post(composite))
        .route(&format!("{v}/tree/{{object}}"), post(tree))
}

fn bad_request(code: &str, message: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, code, message)
}

/// One parsed subrequest.
struct Sub {
    method: String,
    url: String,
    reference_id: String,
    body: Option<serde_json::Value>,
    headers: HashMap<String, String>,
}

/// One subrequest's result.
struct SubResult {
    status: u16,
    headers: serde_json::Map<String, serde_json::Value>,
    body: serde_json::Value,
}

fn required<'a>(item: &'a serde_json::Value, key: &str) -> Result<&'a str, Response> {
    item.get(key).and_then(|v| v.as_str()).ok_or_else(|| {
        bad_request(
            "JSON_PARSER_ERROR",
            &format!("'{key}' is a required field."),
        )
    })
}

const FORBIDDEN_HEADERS: [&str; 3] = ["accept", "authorization", "content-type"];

fn sub_headers(item: &serde_json::Value) -> Result<HashMap<String, String>, Response> {
    let mut out = HashMap::new();
    let Some(map) = item.get("httpHeaders").and_then(|h| h.as_object()) else {
        return Ok(out);
    };
    for (k, v) in map {
        if FORBIDDEN_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            return Err(bad_request(
                "JSON_PARSER_ERROR",
                &format!(
                    "The {k} header can't be set on a subrequest; it is inherited from the composite request."
                ),
            ));
        }
        out.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
    }
    Ok(out)
}

fn parse_sub(item: &serde_json::Value) -> Result<Sub, Response> {
    let method = required(item, "method")?.to_string();
    let url = required(item, "url")?.to_string();
    let reference_id = required(item, "referenceId")?.to_string();
    if !["GET", "POST", "PATCH", "PUT", "DELETE"].contains(&method.as_str()) {
        return Err(bad_request(
            "JSON_PARSER_ERROR",
            &format!("Invalid method '{method}': use GET, POST, PATCH, PUT or DELETE"),
        ));
    }
    let valid_ref = !reference_id.is_empty()
        && reference_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_ref {
        return Err(bad_request(
            "JSON_PARSER_ERROR",
            &format!(
                "Invalid referenceId '{reference_id}': it can contain only letters, numbers and underscores"
            ),
        ));
    }
    Ok(Sub {
        method,
        url,
        reference_id,
        body: item.get("body").cloned(),
        headers: sub_headers(item)?,
    })
}

/// The path segments after `/services/data/vXX.X/`, the version and the raw query string.
struct Target {
    version: u32,
    segments: Vec<String>,
    query: String,
}

fn path_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn target(url: &str) -> Option<Target> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let rest = path.strip_prefix("/services/data/")?;
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let version = parse_version(parts.next()?)?;
    Some(Target {
        version,
        segments: parts.map(path_decode).collect(),
        query: query.to_string(),
    })
}

fn is_query_or_collection(sub: &Sub) -> bool {
    target(&sub.url).is_some_and(|t| {
        matches!(
            t.segments.first().map(String::as_str),
            Some("query" | "queryAll")
        ) || (t.segments.first().map(String::as_str) == Some("composite")
            && t.segments.get(1).map(String::as_str) == Some("sobjects"))
    })
}

#[derive(serde::Deserialize)]
struct CompositeBody {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    #[serde(rename = "compositeRequest")]
    requests: Option<Vec<serde_json::Value>>,
}

fn parse_composite(body: &str) -> Result<(bool, Vec<Sub>), Response> {
    let parsed: CompositeBody = serde_json::from_str(body).map_err(|e| {
        bad_request(
            "JSON_PARSER_ERROR",
            &format!("Cannot parse the request body: {e}"),
        )
    })?;
    let items = parsed.requests.ok_or_else(|| {
        bad_request(
            "JSON_PARSER_ERROR",
            "'compositeRequest' is a required field.",
        )
    })?;
    if items.len() > MAX_SUBREQUESTS {
        return Err(bad_request(
            "LIMIT_EXCEEDED",
            &format!("A composite request can contain up to {MAX_SUBREQUESTS} subrequests"),
        ));
    }
    let subs = items.iter().map(parse_sub).collect::<Result<Vec<_>, _>>()?;
    if subs.iter().filter(|s| is_query_or_collection(s)).count() > MAX_QUERY_SUBREQUESTS {
        return Err(bad_request(
            "LIMIT_EXCEEDED",
            &format!(
                "A composite request can contain up to {MAX_QUERY_SUBREQUESTS} query or sObject Collections subrequests"
            ),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = subs.iter().find(|s| !seen.insert(s.reference_id.as_str())) {
        return Err(bad_request(
            "JSON_PARSER_ERROR",
            &format!("Duplicate referenceId '{}'", dup.reference_id),
        ));
    }
    Ok((parsed.all_or_none, subs))
}

async fn composite(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    body: String,
) -> Response {
    let (all_or_none, subs) = match parse_composite(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut org = state.lock();
    let results = run_composite(&mut org, c, &subs, all_or_none);
    let items: Vec<serde_json::Value> = subs
        .iter()
        .zip(results)
        .map(|(sub, r)| {
            serde_json::json!({
                "body": r.body,
                "httpHeaders": r.headers,
                "httpStatusCode": r.status,
                "referenceId": sub.reference_id,
            })
        })
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({"compositeResponse": items}),
    )
}

fn halted(message: &str) -> SubResult {
    SubResult {
        status: 400,
        headers: serde_json::Map::new(),
        body: serde_json::json!([{"errorCode": "PROCESSING_HALTED", "message": message}]),
    }
}

const ROLLED_BACK: &str =
    "The transaction was rolled back since another operation in the same transaction failed.";

/// Whether a subrequest failed: an error status, or (when the whole request is all-or-none) a
/// Collections result with a failed record.
fn failed(r: &SubResult, all_or_none: bool) -> bool {
    r.status >= 400
        || (all_or_none
            && r.body
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["success"] == false)))
}

fn run_composite(org: &mut Org, c: Caller, subs: &[Sub], all_or_none: bool) -> Vec<SubResult> {
    let mark = org.tx_begin();
    let mut outputs: HashMap<&str, Option<serde_json::Value>> = HashMap::new();
    let mut results: Vec<SubResult> = Vec::with_capacity(subs.len());
    let mut first_failure: Option<usize> = None;
    for (i, sub) in subs.iter().enumerate() {
        if all_or_none && first_failure.is_some() {
            break;
        }
        let result = match resolve(sub, &outputs) {
            Ok((url, body)) => dispatch(org, c, sub, &url, body.as_ref(), all_or_none),
            Err(message) => halted(&message),
        };
        let bad = failed(&result, all_or_none);
        if bad {
            first_failure.get_or_insert(i);
        }
        outputs.insert(&sub.reference_id, (!bad).then(|| result.body.clone()));
        results.push(result);
    }
    if let (true, Some(failure)) = (all_or_none, first_failure) {
        org.tx_rollback(&mark);
        let mut failed_result = results.into_iter().nth(failure);
        results = (0..subs.len())
            .map(|i| match failed_result.take() {
                Some(r) if i == failure => r,
                other => {
                    failed_result = other;
                    halted(ROLLED_BACK)
                }
            })
            .collect();
    }
    org.tx_end(mark);
    results
}

// ---------------------------------------------------------------------------------------------
// References

/// Resolves `@{ref.path}` in the url and body of a subrequest.
fn resolve(
    sub: &Sub,
    outputs: &HashMap<&str, Option<serde_json::Value>>,
) -> Result<(String, Option<serde_json::Value>), String> {
    let url = substitute_text(&sub.url, outputs)?;
    let body = match &sub.body {
        Some(b) => Some(substitute_json(b, outputs)?),
        None => None,
    };
    Ok((url, body))
}

/// The value of one reference expression (`refAccount.id`, `q.records[0].Id`).
fn lookup(
    expr: &str,
    outputs: &HashMap<&str, Option<serde_json::Value>>,
) -> Result<serde_json::Value, String> {
    let invalid = || {
        let reference = expr.split(['.', '[']).next().unwrap_or(expr);
        format!("Invalid reference specified. No value for {expr} found in {reference}.")
    };
    let mut parts = expr.split('.');
    let first = parts.next().unwrap_or_default();
    let (name, first_index) = split_index(first).ok_or_else(invalid)?;
    let mut value = outputs
        .get(name)
        .and_then(Option::as_ref)
        .ok_or_else(invalid)?;
    value = index_into(value, &first_index).ok_or_else(invalid)?;
    for part in parts {
        let (key, indexes) = split_index(part).ok_or_else(invalid)?;
        value = value.get(key).ok_or_else(invalid)?;
        value = index_into(value, &indexes).ok_or_else(invalid)?;
    }
    Ok(value.clone())
}

/// `records[0][1]` → (`records`, [0, 1]).
fn split_index(part: &str) -> Option<(&str, Vec<usize>)> {
    let (name, rest) = part.split_once('[').unwrap_or((part, ""));
    let mut indexes = Vec::new();
    if !rest.is_empty() {
        for piece in format!("[{rest}").split('[').skip(1) {
            indexes.push(piece.strip_suffix(']')?.parse().ok()?);
        }
    }
    Some((name, indexes))
}

fn index_into<'a>(
    value: &'a serde_json::Value,
    indexes: &[usize],
) -> Option<&'a serde_json::Value> {
    indexes.iter().try_fold(value, |v, &i| v.get(i))
}

fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn substitute_text(
    text: &str,
    outputs: &HashMap<&str, Option<serde_json::Value>>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&as_text(&lookup(&rest[start + 2..start + len], outputs)?));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(
    value: &serde_json::Value,
    outputs: &HashMap<&str, Option<serde_json::Value>>,
) -> Result<serde_json::Value, String> {
    Ok(match value {
        serde_json::Value::String(s) => {
            let whole = s
                .strip_prefix("@{")
                .and_then(|r| r.strip_suffix('}'))
                .filter(|inner| !inner.contains('}'));
            match whole {
                Some(expr) => lookup(expr, outputs)?,
                None => serde_json::Value::String(substitute_text(s, outputs)?),
            }
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| substitute_json(i, outputs))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_json(v, outputs)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Dispatch

fn query_params(query: &str) -> HashMap<String, String> {
    super::auth::url_pairs(query).into_iter().collect()
}

fn batch_size(headers: &HashMap<String, String>) -> usize {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            map.insert(k, v);
        }
    }
    rest::batch_size(&map)
}

/// Runs one subrequest against the locked org and reads its response.
fn dispatch(
    org: &mut Org,
    c: Caller,
    sub: &Sub,
    url: &str,
    body: Option<&serde_json::Value>,
    all_or_none: bool,
) -> SubResult {
    let Some(t) = target(url) else {
        return into_result(not_found(), None);
    };
    let caller = Caller {
        user: c.user,
        version: t.version,
    };
    let body_text = body.map(|b| b.to_string()).unwrap_or_default();
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    let location = match (sub.method.as_str(), segs.as_slice()) {
        ("POST", ["sobjects", object]) => Some((*object).to_string()),
        ("PATCH", ["sobjects", object, _, _]) => Some((*object).to_string()),
        _ => None,
    };
    let req = Req {
        caller,
        method: &sub.method,
        segs: &segs,
        query: &t.query,
        body: &body_text,
        headers: &sub.headers,
        all_or_none,
    };
    let resp = route(org, &req);
    into_result(resp, location.map(|o| (o, t.version)))
}

/// A subrequest ready to route.
struct Req<'a> {
    caller: Caller,
    method: &'a str,
    segs: &'a [&'a str],
    query: &'a str,
    body: &'a str,
    headers: &'a HashMap<String, String>,
    all_or_none: bool,
}

fn route(org: &mut Org, r: &Req<'_>) -> Response {
    match r.segs.first() {
        Some(&"sobjects") => route_sobjects(org, r),
        Some(&"query" | &"queryAll") => route_query(org, r),
        Some(&"composite") if r.segs.get(1) == Some(&"sobjects") => route_collections(org, r),
        _ => not_found(),
    }
}

fn route_sobjects(org: &mut Org, r: &Req<'_>) -> Response {
    let c = r.caller;
    let params = query_params(r.query);
    let fields = params.get("fields").map(String::as_str);
    match (r.method, r.segs) {
        ("GET", ["sobjects", o]) => rest::basic_info_in(org, c, o),
        ("POST", ["sobjects", o]) => rest::create_in(org, c, o, r.body),
        ("GET", ["sobjects", o, "describe"]) => rest::describe_in(org, c, o),
        ("GET", ["sobjects", o, "updated"]) => updated_in(org, o, r.query),
        ("GET", ["sobjects", o, "deleted"]) => deleted_in(org, o, r.query),
        ("GET", ["sobjects", o, id]) => rest::read_in(org, c, o, id, fields),
        ("PATCH", ["sobjects", o, id]) => rest::update_in(org, c, o, id, r.body),
        ("DELETE", ["sobjects", o, id]) => rest::delete_one_in(org, o, id),
        (method, ["sobjects", object, field, value]) => {
            let key = ExternalKey {
                object,
                field,
                value,
            };
            match method {
                "GET" => rest::read_by_external_id_in(org, c, key, fields),
                "PATCH" => {
                    let update_only = params.get("updateOnly").is_some_and(|v| v == "true");
                    rest::upsert_one_in(org, c, key, update_only, r.body)
                }
                "DELETE" => rest::delete_by_external_id_in(org, c, key),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn route_query(org: &mut Org, r: &Req<'_>) -> Response {
    let c = r.caller;
    let params = query_params(r.query);
    let q = params.get("q").map(String::as_str);
    match (r.method, r.segs) {
        ("GET", ["query"]) => rest::query_in(org, c, q, batch_size(r.headers), Scope::Live),
        ("GET", ["queryAll"]) => rest::query_in(org, c, q, batch_size(r.headers), Scope::All),
        ("GET", ["query" | "queryAll", locator]) => rest::query_more_in(org, c, locator),
        _ => not_found(),
    }
}

fn route_collections(org: &mut Org, r: &Req<'_>) -> Response {
    let c = r.caller;
    let force = r.all_or_none;
    match (r.method, r.segs) {
        ("POST", [_, _]) => {
            collection_call_in(org, c.user, r.body, force, |_| Ok(CollectionOp::Create))
        }
        ("PATCH", [_, _]) => {
            collection_call_in(org, c.user, r.body, force, |_| Ok(CollectionOp::Update))
        }
        ("DELETE", [_, _]) => collection_delete_in(org, r.query, force),
        ("GET", [_, _, o]) => retrieve_get_in(org, c, o, r.query),
        ("POST", [_, _, o]) => retrieve_post_in(org, c, o, r.body),
        ("PATCH", [_, _, o, f]) => collection_call_in(org, c.user, r.body, force, |org| {
            upsert_op(org, c.user, o, f)
        }),
        _ => not_found(),
    }
}

/// Reads a finished response (JSON bodies are complete buffers) into a subrequest result.
/// A `201` from a create or upsert gets the `Location` header of the new record.
fn into_result(resp: Response, location: Option<(String, u32)>) -> SubResult {
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .now_or_never()
        .and_then(Result::ok)
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    let mut headers = serde_json::Map::new();
    if let (201, Some((object, version)), Some(id)) = (status, location, body["id"].as_str()) {
        headers.insert(
            "Location".into(),
            format!("/services/data/v{version}.0/sobjects/{object}/{id}").into(),
        );
    }
    SubResult {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// sObject Tree

/// One record of a tree, flattened in creation order (parents before children).
struct Node<'a> {
    record: &'a serde_json::Map<String, serde_json::Value>,
    object: usize,
    reference_id: Option<String>,
    /// The parent node and the child's reference field that points at it.
    parent: Option<(usize, usize)>,
    depth: usize,
}

#[derive(serde::Deserialize)]
struct TreeBody {
    records: Option<Vec<serde_json::Value>>,
}

fn tree_error(reference_id: &str, e: &RecordError) -> serde_json::Value {
    serde_json::json!({"referenceId": reference_id, "errors": [e.to_json()]})
}

fn tree_failure(results: Vec<serde_json::Value>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"hasErrors": true, "results": results}),
    )
}

fn reference_of(rec: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    rec.get("attributes")?
        .get("referenceId")?
        .as_str()
        .map(str::to_string)
}

fn type_of(rec: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    rec.get("attributes")?.get("type")?.as_str()
}

/// The child-record lists of a tree record: keys whose value is `{"records": [...]}`.
fn child_lists(
    rec: &serde_json::Map<String, serde_json::Value>,
) -> impl Iterator<Item = (&String, &Vec<serde_json::Value>)> {
    rec.iter().filter_map(|(k, v)| {
        v.as_object()
            .and_then(|o| o.get("records"))
            .and_then(|r| r.as_array())
            .map(|r| (k, r))
    })
}

/// A record waiting to be flattened: its JSON, object, parent link and depth.
type Pending<'a> = (&'a serde_json::Value, usize, Option<(usize, usize)>, usize);

/// Flattens the trees breadth first, checking types and child relationships.
fn flatten<'a>(
    org: &Org,
    root: usize,
    roots: &'a [serde_json::Value],
) -> Result<Vec<Node<'a>>, Response> {
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut pending: Vec<Pending<'a>> = roots.iter().map(|r| (r, root, None, 1)).collect();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for item in pending {
            visit(org, item, &mut nodes, &mut next)?;
        }
        pending = next;
    }
    Ok(nodes)
}

/// Adds one record to `nodes` and queues its children.
fn visit<'a>(
    org: &Org,
    (value, object, parent, depth): Pending<'a>,
    nodes: &mut Vec<Node<'a>>,
    next: &mut Vec<Pending<'a>>,
) -> Result<(), Response> {
    let Some(record) = value.as_object() else {
        return Err(bad_request(
            "JSON_PARSER_ERROR",
            "Each record must be a JSON object",
        ));
    };
    let reference_id = reference_of(record);
    check_type(org, record, object, reference_id.as_deref())?;
    let index = nodes.len();
    for (key, children) in child_lists(record) {
        let (child, field) = super::rest::child_relationship(org, object, key)
            .ok_or_else(|| unknown_relationship(org, object, key, &reference_id))?;
        next.extend(
            children
                .iter()
                .map(|c| (c, child, Some((index, field)), depth + 1)),
        );
    }
    nodes.push(Node {
        record,
        object,
        reference_id,
        parent,
        depth,
    });
    Ok(())
}

fn check_type(
    org: &Org,
    record: &serde_json::Map<String, serde_json::Value>,
    object: usize,
    reference_id: Option<&str>,
) -> Result<(), Response> {
    let expected = &org.schema.objects[object].name;
    match type_of(record) {
        Some(t) if t.eq_ignore_ascii_case(expected) => Ok(()),
        other => Err(tree_failure(vec![tree_error(
            reference_id.unwrap_or_default(),
            &RecordError::new(
                "INVALID_TYPE",
                format!(
                    "The record type {} doesn't match {expected}, the type this position of the tree requires",
                    other.unwrap_or("(missing)")
                ),
                &[],
            ),
        )])),
    }
}

fn unknown_relationship(
    org: &Org,
    object: usize,
    key: &str,
    reference_id: &Option<String>,
) -> Response {
    tree_failure(vec![tree_error(
        reference_id.as_deref().unwrap_or_default(),
        &RecordError::new(
            "INVALID_FIELD",
            format!(
                "No such column '{key}' on sobject of type {}",
                org.schema.objects[object].name
            ),
            &[key],
        ),
    )])
}

/// Request-level limits and reference-id checks, before anything is written.
fn check_tree(nodes: &[Node<'_>]) -> Result<(), Response> {
    if nodes.len() > TREE_MAX_RECORDS {
        return Err(bad_request(
            "LIMIT_EXCEEDED",
            &format!("An sObject Tree request can contain up to {TREE_MAX_RECORDS} records"),
        ));
    }
    if nodes.iter().any(|n| n.depth > TREE_MAX_DEPTH) {
        return Err(bad_request(
            "LIMIT_EXCEEDED",
            &format!("An sObject tree can be up to {TREE_MAX_DEPTH} levels deep"),
        ));
    }
    let types: HashSet<usize> = nodes.iter().map(|n| n.object).collect();
    if types.len() > TREE_MAX_TYPES {
        return Err(bad_request(
            "LIMIT_EXCEEDED",
            &format!("An sObject Tree request can contain up to {TREE_MAX_TYPES} record types"),
        ));
    }
    reference_errors(nodes)
}

fn reference_errors(nodes: &[Node<'_>]) -> Result<(), Response> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for n in nodes {
        *counts
            .entry(n.reference_id.as_deref().unwrap_or_default())
            .or_default() += 1;
    }
    let errors: Vec<serde_json::Value> = nodes
        .iter()
        .filter_map(|n| {
            let r = n.reference_id.as_deref().unwrap_or_default();
            let e = if r.is_empty() {
                RecordError::new(
                    "INVALID_INPUT",
                    "Include a reference ID for each record in the request.",
                    &[],
                )
            } else if counts.get(r).copied().unwrap_or(0) > 1 {
                RecordError::new(
                    "INVALID_INPUT",
                    "Duplicate ReferenceId provided in the request.",
                    &[],
                )
            } else {
                return None;
            };
            Some(tree_error(r, &e))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(tree_failure(errors))
    }
}

/// Creates one node's record, pointing it at its parent's new id.
fn create_node(
    org: &mut Org,
    user: usize,
    node: &Node<'_>,
    ids: &[super::ids::SfId],
) -> Result<super::ids::SfId, RecordError> {
    let children: Vec<&str> = child_lists(node.record).map(|(k, _)| k.as_str()).collect();
    let mut fields = node.record.clone();
    fields.retain(|k, _| !children.contains(&k.as_str()));
    let mut cols = rest::json_columns(org, node.object, user, &fields, &["Id"])?;
    let parent_id = node
        .parent
        .and_then(|(p, f)| ids.get(p).map(|id| (id.to_string(), f)));
    if let Some((id, field)) = &parent_id {
        cols.push((Column::Field(*field), Raw::Text(id.clone().into())));
    }
    let key = rest::lock_key(&fields);
    write_record(org, node.object, user, WriteOp::Insert, &cols, &key).map(|(id, _)| id)
}

async fn tree(
    State(state): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((_, object)): Path<(String, String)>,
    body: String,
) -> Response {
    let roots = match serde_json::from_str::<TreeBody>(&body).map(|b| b.records) {
        Ok(Some(r)) => r,
        Ok(None) => return bad_request("JSON_PARSER_ERROR", "'records' is a required field."),
        Err(e) => {
            return bad_request(
                "JSON_PARSER_ERROR",
                &format!("Cannot parse the request body: {e}"),
            );
        }
    };
    let mut org = state.lock();
    let root = match object_index(&org, &object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let nodes = match flatten(&org, root, &roots).and_then(|n| check_tree(&n).map(|()| n)) {
        Ok(n) => n,
        Err(r) => return r,
    };
    create_tree(&mut org, c.user, &nodes)
}

fn create_tree(org: &mut Org, user: usize, nodes: &[Node<'_>]) -> Response {
    let mark = org.tx_begin();
    let mut ids = Vec::with_capacity(nodes.len());
    for node in nodes {
        match create_node(org, user, node, &ids) {
            Ok(id) => ids.push(id),
            Err(e) => {
                org.tx_rollback(&mark);
                org.tx_end(mark);
                let r = node.reference_id.as_deref().unwrap_or_default();
                return tree_failure(vec![tree_error(r, &e)]);
            }
        }
    }
    org.tx_end(mark);
    let results: Vec<serde_json::Value> = nodes
        .iter()
        .zip(&ids)
        .map(|(n, id)| serde_json::json!({"referenceId": n.reference_id, "id": id.to_string()}))
        .collect();
    json(
        StatusCode::CREATED,
        serde_json::json!({"hasErrors": false, "results": results}),
    )
}
