//! The Actions API: `/v1/action/{query, queryMore, create, update, delete, generate, execute,
//! subscribe, amend}`. Writes change the data and stamp `UpdatedDate`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};

use super::format::iso_at;
use super::http::AuthCtx;
use super::query::exec::{DeletedMode, Plan, Prepared, QueryOptions, ResultRows, prepare};
use super::query::parse::Dialect;
use super::schema::{FieldType, Kind, catalog};
use super::state::{Sim, lock};
use super::store::{DEC_SCALE, Row, Store, Value, format_date};

/// Records per `query` page at most.
const MAX_PAGE: usize = 2000;
/// Objects per create/update/delete call at most.
const MAX_OBJECTS: usize = 50;
/// A query locator expires after this much inactivity (tenant time).
const LOCATOR_IDLE_MS: i64 = 15 * 60_000;

/// A `queryMore` cursor.
#[derive(Debug)]
pub struct Locator {
    entity: usize,
    plan: Box<Plan>,
    rows: ResultRows,
    page: usize,
    last_used_ms: i64,
}

fn bad_request(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"Success": false, "Errors": [{"Code": code, "Message": message}]})),
    )
        .into_response()
}

fn save_error(code: &str, message: &str) -> Json {
    json!({"Success": false, "Errors": [{"Code": code, "Message": message}]})
}

/// Routes `/v1/action/{operation}`.
pub(crate) async fn dispatch(
    State(sim): State<Arc<Sim>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(operation): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let body: Json = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request("MALFORMED_QUERY", &format!("Malformed JSON: {e}")),
    };
    let reject_unknown = params
        .get("rejectUnknownFields")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match operation.as_str() {
        "query" => query(&sim, ctx.entity, &body),
        "queryMore" => query_more(&sim, ctx.entity, &body),
        "create" => write(&sim, ctx.entity, &body, reject_unknown, false),
        "update" => write(&sim, ctx.entity, &body, reject_unknown, true),
        "delete" => delete(&sim, ctx.entity, &body),
        "generate" => generate(&sim, ctx.entity, &body),
        "execute" => execute(&sim, ctx.entity, &body),
        "subscribe" => subscribe(&sim, ctx.entity, &body),
        "amend" => amend(&sim, ctx.entity, &body),
        other => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": format!("no action named {other}")})),
        )
            .into_response(),
    }
}

/// A record as the Actions API returns it: API names, NULL fields omitted.
fn record(sim: &Sim, plan: &Plan, store: &Store, tuple: &[Row]) -> Json {
    let mut m = Map::new();
    for (i, out) in plan.outputs.iter().enumerate() {
        let v = plan.output_value(i, store, tuple);
        if !v.is_null() {
            m.insert(out.field_name.clone(), to_json(sim, store, &v));
        }
    }
    Json::Object(m)
}

fn to_json(sim: &Sim, store: &Store, v: &Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Dec(d) => json!(*d as f64 / DEC_SCALE as f64),
        Value::Str(s) => json!(s),
        Value::Date(d) => json!(format_date(*d)),
        Value::Ts(ms) => json!(iso_at(*ms, sim.cfg.tenant_offset_minutes, true)),
        Value::Id(k, r) => json!(store.codec.encode(*k, *r)),
    }
}

fn page_answer(sim: &Sim, entity: usize, loc_id: Option<&str>, loc: &Locator) -> Json {
    let store = sim.entities[entity]
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let total = loc.rows.len();
    let start = loc.page * MAX_PAGE;
    let end = (start + MAX_PAGE).min(total);
    let records: Vec<Json> = (start..end)
        .map(|i| record(sim, &loc.plan, &store, loc.rows.tuple(i)))
        .collect();
    let done = end >= total;
    let mut j = json!({"size": total, "records": records, "done": done});
    if let (false, Some(id)) = (done, loc_id) {
        j["queryLocator"] = json!(format!("{id}-{end}"));
    }
    j
}

fn query(sim: &Sim, entity: usize, body: &Json) -> Response {
    let Some(q) = body.get("queryString").and_then(Json::as_str) else {
        return bad_request("MALFORMED_QUERY", "queryString is required");
    };
    let batch = body
        .get("conf")
        .and_then(|c| c.get("batchSize"))
        .and_then(Json::as_u64)
        .unwrap_or(MAX_PAGE as u64);
    if !(1..=MAX_PAGE as u64).contains(&batch) {
        return bad_request("INVALID_VALUE", "conf.batchSize must be between 1 and 2000");
    }
    let opts = QueryOptions {
        dialect: Dialect::Zoql,
        deleted: DeletedMode::Exclude,
        since: None,
        deleted_column: None,
        tenant_offset_minutes: sim.cfg.tenant_offset_minutes,
        now_ms: sim.now_ms(),
    };
    let (plan, rows) = {
        let store = sim.entities[entity]
            .store
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let plan = match prepare(q, &opts, &store) {
            Ok(Prepared::Select(p)) => p,
            Ok(Prepared::Fixed { .. }) => {
                return bad_request("MALFORMED_QUERY", "You must specify a select.");
            }
            Err(e) => {
                return bad_request(
                    if e.to_string().contains("field") {
                        "INVALID_FIELD"
                    } else {
                        "MALFORMED_QUERY"
                    },
                    &e.to_string(),
                );
            }
        };
        let rows = plan.run(&store, &|| false);
        (plan, rows)
    };
    // Pages use batchSize for the first page and 2000 after, as Zuora's locators carry offsets.
    let mut loc = Locator {
        entity,
        plan,
        rows,
        page: 0,
        last_used_ms: sim.now_ms(),
    };
    let first_page = usize::try_from(batch).unwrap_or(MAX_PAGE);
    if first_page < MAX_PAGE {
        let total = loc.rows.len();
        let store = sim.entities[entity]
            .store
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let end = first_page.min(total);
        let records: Vec<Json> = (0..end)
            .map(|i| record(sim, &loc.plan, &store, loc.rows.tuple(i)))
            .collect();
        drop(store);
        let done = end >= total;
        let mut j = json!({"size": total, "records": records, "done": done});
        if !done {
            let id = sim.new_hex_id();
            j["queryLocator"] = json!(format!("{id}-{end}"));
            loc.page = usize::MAX;
            lock(&sim.locators).insert(id, loc);
        }
        return axum::Json(j).into_response();
    }
    let id = sim.new_hex_id();
    let answer = page_answer(sim, entity, Some(&id), &loc);
    if answer.get("queryLocator").is_some() {
        lock(&sim.locators).insert(id, loc);
    }
    axum::Json(answer).into_response()
}

fn query_more(sim: &Sim, entity: usize, body: &Json) -> Response {
    let Some(locator) = body.get("queryLocator").and_then(Json::as_str) else {
        return bad_request("INVALID_QUERY_LOCATOR", "queryLocator is required");
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    };
    let now = sim.now_ms();
    let mut locators = lock(&sim.locators);
    locators.retain(|_, l| now - l.last_used_ms < LOCATOR_IDLE_MS);
    let Some(loc) = locators.get_mut(id).filter(|l| l.entity == entity) else {
        return bad_request("INVALID_QUERY_LOCATOR", "invalid or expired query locator");
    };
    loc.last_used_ms = now;
    let total = loc.rows.len();
    let end = (offset + MAX_PAGE).min(total);
    let store = sim.entities[entity]
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let records: Vec<Json> = (offset.min(total)..end)
        .map(|i| record(sim, &loc.plan, &store, loc.rows.tuple(i)))
        .collect();
    drop(store);
    let done = end >= total;
    let mut j = json!({"size": total, "records": records, "done": done});
    if done {
        locators.remove(id);
    } else {
        j["queryLocator"] = json!(format!("{id}-{end}"));
    }
    axum::Json(j).into_response()
}

#[allow(clippy::result_large_err)]
fn object_kind(sim: &Sim, body: &Json) -> Result<Kind, Response> {
    let t = body.get("type").and_then(Json::as_str).unwrap_or_default();
    catalog()
        .object(t)
        .map(|o| o.kind)
        .filter(|&k| sim.object_enabled(k))
        .ok_or_else(|| bad_request("INVALID_TYPE", &format!("invalid type: {t}")))
}

fn json_to_value(v: &Json) -> Value<'static> {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Dec(((n.as_f64().unwrap_or(0.0)) * DEC_SCALE as f64).round() as i64),
        },
        Json::String(s) => Value::Str(s.clone().into()),
        other => Value::Str(other.to_string().into()),
    }
}

/// Applies `fields` to a row; returns the first error message.
fn apply(
    store: &mut Store,
    kind: Kind,
    row: Row,
    fields: &Map<String, Json>,
    skip_id: bool,
) -> Result<(), String> {
    let def = kind.def();
    let codec = store.codec;
    for (name, v) in fields {
        if name.eq_ignore_ascii_case("Id") && skip_id {
            continue;
        }
        let Some(fi) = def.field_index(name) else {
            continue;
        };
        if !def.fields[fi].writable {
            continue;
        }
        store
            .table_mut(kind)
            .set_value(row, fi, &json_to_value(v), &codec)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn unknown_fields(kind: Kind, objects: &[Json]) -> bool {
    let def = kind.def();
    objects
        .iter()
        .filter_map(Json::as_object)
        .flat_map(|o| o.keys())
        .any(|k| def.field_index(k).is_none())
}

fn write(sim: &Sim, entity: usize, body: &Json, reject_unknown: bool, update: bool) -> Response {
    let kind = match object_kind(sim, body) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(objects) = body.get("objects").and_then(Json::as_array) else {
        return bad_request("MISSING_REQUIRED_VALUE", "objects is required");
    };
    if objects.len() > MAX_OBJECTS {
        return bad_request(
            "LIMIT_EXCEEDED",
            "You can create or update at most 50 objects in one call",
        );
    }
    if reject_unknown && unknown_fields(kind, objects) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "Error - unrecognised fields"})),
        )
            .into_response();
    }
    let now = sim.now_ms();
    let mut store = sim.entities[entity]
        .store
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = objects
        .iter()
        .map(|o| {
            let Some(fields) = o.as_object() else {
                return save_error("INVALID_VALUE", "each object must be a JSON object");
            };
            if update {
                let id = fields.get("Id").and_then(Json::as_str).unwrap_or_default();
                let Some(row) = store
                    .resolve(kind, id)
                    .filter(|&r| !store.table(kind).is_deleted(r))
                else {
                    return save_error("INVALID_ID", &format!("invalid id: {id}"));
                };
                match apply(&mut store, kind, row, fields, true) {
                    Ok(()) => {
                        store.table_mut(kind).touch(row, now);
                        json!({"Id": id, "Success": true})
                    }
                    Err(m) => save_error("INVALID_VALUE", &m),
                }
            } else {
                if fields.contains_key("Id") {
                    return save_error("INVALID_FIELD", "Id cannot be set on create");
                }
                if kind == Kind::Account && !fields.contains_key("Name") {
                    return save_error("MISSING_REQUIRED_VALUE", "Name is required");
                }
                let row = store.table_mut(kind).push(now, now);
                match apply(&mut store, kind, row, fields, false) {
                    Ok(()) => json!({"Id": store.codec.encode(kind, row), "Success": true}),
                    Err(m) => {
                        store.table_mut(kind).delete(row, i64::MIN + 1);
                        save_error("INVALID_VALUE", &m)
                    }
                }
            }
        })
        .collect();
    axum::Json(Json::Array(results)).into_response()
}

fn delete(sim: &Sim, entity: usize, body: &Json) -> Response {
    let kind = match object_kind(sim, body) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(ids) = body.get("ids").and_then(Json::as_array) else {
        return bad_request("MISSING_REQUIRED_VALUE", "ids is required");
    };
    if ids.len() > MAX_OBJECTS {
        return bad_request(
            "LIMIT_EXCEEDED",
            "You can delete at most 50 objects in one call",
        );
    }
    let now = sim.now_ms();
    let mut store = sim.entities[entity]
        .store
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = ids
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap_or_default();
            match store.resolve(kind, id).filter(|&r| !store.table(kind).is_deleted(r)) {
                Some(row) => {
                    store.table_mut(kind).delete(row, now);
                    json!({"id": id, "success": true})
                }
                None => json!({"id": id, "success": false, "errors": [{"Code": "INVALID_ID", "Message": format!("invalid id: {id}")}]}),
            }
        })
        .collect();
    axum::Json(Json::Array(results)).into_response()
}

/// Rows of `kind` whose reference field `field` points at `target`.
fn children(store: &Store, kind: Kind, field: &str, target: Row) -> Vec<Row> {
    let t = store.table(kind);
    let fi = kind.def().idx(field);
    (0..t.len() as Row)
        .filter(|&r| !t.is_deleted(r) && t.get_ref(r, fi) == Some(target))
        .collect()
}

fn generate(sim: &Sim, entity: usize, body: &Json) -> Response {
    if body.get("type").and_then(Json::as_str) != Some("Invoice") {
        return bad_request("INVALID_TYPE", "generate supports type Invoice only");
    }
    let Some(objects) = body.get("objects").and_then(Json::as_array) else {
        return bad_request("MISSING_REQUIRED_VALUE", "objects is required");
    };
    if objects.len() > MAX_OBJECTS {
        return bad_request(
            "LIMIT_EXCEEDED",
            "You can generate at most 50 invoices in one call",
        );
    }
    let now = sim.now_ms();
    let mut store = sim.entities[entity]
        .store
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = objects
        .iter()
        .map(|o| {
            let account_id = o
                .get("AccountId")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let Some(acc) = store.resolve(Kind::Account, account_id) else {
                return save_error("INVALID_VALUE", &format!("invalid AccountId: {account_id}"));
            };
            let day = |f: &str| {
                o.get(f)
                    .and_then(Json::as_str)
                    .and_then(super::store::parse_date)
            };
            let Some(invoice_day) = day("InvoiceDate") else {
                return save_error(
                    "MISSING_REQUIRED_VALUE",
                    "InvoiceDate (yyyy-mm-dd) is required",
                );
            };
            let target_day = day("TargetDate").unwrap_or(invoice_day);
            match invoice_for(&mut store, acc, invoice_day, target_day, now) {
                Some(inv) => json!({"Success": true, "Id": store.codec.encode(Kind::Invoice, inv)}),
                None => save_error(
                    "INVALID_VALUE",
                    "There are no charges to bill for this account.",
                ),
            }
        })
        .collect();
    axum::Json(Json::Array(results)).into_response()
}

/// Bills the account's active subscriptions' recurring charges into a new Draft invoice.
fn invoice_for(
    store: &mut Store,
    acc: Row,
    invoice_day: i32,
    target_day: i32,
    now: i64,
) -> Option<Row> {
    let sdef = Kind::Subscription.def();
    let active = Value::Str("Active".into());
    let subs: Vec<Row> = children(store, Kind::Subscription, "AccountId", acc)
        .into_iter()
        .filter(|&s| store.table(Kind::Subscription).get(s, sdef.idx("Status")) == active)
        .collect();
    let cdef = Kind::RatePlanCharge.def();
    let mut items = Vec::new();
    for s in subs {
        for rp in children(store, Kind::RatePlan, "SubscriptionId", s) {
            for c in children(store, Kind::RatePlanCharge, "RatePlanId", rp) {
                let t = store.table(Kind::RatePlanCharge);
                if let Value::Dec(mrr) = t.get(c, cdef.idx("MRR"))
                    && mrr > 0
                {
                    let name = super::store::value_text(&t.get(c, cdef.idx("Name")), &store.codec);
                    items.push((s, c, mrr, name));
                }
            }
        }
    }
    if items.is_empty() {
        return None;
    }
    let idef = Kind::Invoice.def();
    let count = store.table(Kind::Invoice).len();
    let inv = store.table_mut(Kind::Invoice).push(now, now);
    let amount: i64 = items.iter().map(|i| i.2).sum();
    {
        let t = store.table_mut(Kind::Invoice);
        t.set_ref(inv, idef.idx("AccountId"), Some(acc));
        t.set_text(
            inv,
            idef.idx("InvoiceNumber"),
            Arc::from(format!("INV9{count:07}").as_str()),
        );
        t.set_date(inv, idef.idx("InvoiceDate"), invoice_day);
        t.set_date(inv, idef.idx("DueDate"), invoice_day + 30);
        t.set_date(inv, idef.idx("TargetDate"), target_day);
        t.set_pick(inv, idef.idx("Status"), 0);
        t.set_pick(inv, idef.idx("Source"), 1);
        t.set_i64(inv, idef.idx("Amount"), amount);
        t.set_i64(inv, idef.idx("AmountWithoutTax"), amount);
        t.set_i64(inv, idef.idx("TaxAmount"), 0);
        t.set_i64(inv, idef.idx("Balance"), amount);
    }
    let tdef = Kind::InvoiceItem.def();
    for (s, c, mrr, name) in items {
        let t = store.table_mut(Kind::InvoiceItem);
        let it = t.push(now, now);
        t.set_ref(it, tdef.idx("InvoiceId"), Some(inv));
        t.set_ref(it, tdef.idx("RatePlanChargeId"), Some(c));
        t.set_ref(it, tdef.idx("SubscriptionId"), Some(s));
        t.set_i64(it, tdef.idx("ChargeAmount"), mrr);
        t.set_i64(it, tdef.idx("ChargeDate"), now);
        t.set_text(it, tdef.idx("ChargeName"), Arc::from(name.as_str()));
        t.set_i64(it, tdef.idx("Quantity"), DEC_SCALE);
        t.set_i64(it, tdef.idx("UnitPrice"), mrr);
        t.set_date(it, tdef.idx("ServiceStartDate"), invoice_day);
        t.set_date(it, tdef.idx("ServiceEndDate"), invoice_day + 29);
        t.set_pick(it, tdef.idx("ProcessingType"), 0);
        t.set_i64(it, tdef.idx("TaxAmount"), 0);
    }
    store.table_mut(Kind::Account).touch(acc, now);
    Some(inv)
}

fn execute(sim: &Sim, entity: usize, body: &Json) -> Response {
    if body.get("type").and_then(Json::as_str) != Some("InvoiceSplit") {
        return bad_request("INVALID_TYPE", "execute supports type InvoiceSplit only");
    }
    let Some(ids) = body.get("ids").and_then(Json::as_array) else {
        return bad_request("MISSING_REQUIRED_VALUE", "ids is required");
    };
    let store = sim.entities[entity]
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = ids
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap_or_default();
            // InvoiceSplit objects are not modelled; a well-formed 32-hex id is accepted.
            if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                json!({"Success": true, "Id": id})
            } else {
                save_error("INVALID_ID", &format!("invalid InvoiceSplit id: {id}"))
            }
        })
        .collect();
    drop(store);
    axum::Json(Json::Array(results)).into_response()
}

fn subscribe(sim: &Sim, entity: usize, body: &Json) -> Response {
    let requests = match body {
        Json::Array(a) => a.clone(),
        other => other
            .get("subscribes")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    if requests.is_empty() {
        return bad_request("MISSING_REQUIRED_VALUE", "subscribes is required");
    }
    if requests.len() > MAX_OBJECTS {
        return bad_request(
            "LIMIT_EXCEEDED",
            "You can subscribe at most 50 subscriptions in one call",
        );
    }
    let now = sim.now_ms();
    let mut store = sim.entities[entity]
        .store
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = requests
        .iter()
        .map(|r| {
            subscribe_one(&mut store, r, now).unwrap_or_else(|m| save_error("INVALID_VALUE", &m))
        })
        .collect();
    axum::Json(Json::Array(results)).into_response()
}

fn subscribe_one(store: &mut Store, r: &Json, now: i64) -> Result<Json, String> {
    let empty = Map::new();
    let account = r
        .get("Account")
        .and_then(Json::as_object)
        .ok_or("Account is required")?;
    if !account.contains_key("Name") {
        return Err("Account.Name is required".into());
    }
    let acc = store.table_mut(Kind::Account).push(now, now);
    let number = format!("A9{acc:07}");
    store.table_mut(Kind::Account).set_text(
        acc,
        Kind::Account.def().idx("AccountNumber"),
        Arc::from(number.as_str()),
    );
    store
        .table_mut(Kind::Account)
        .set_pick(acc, Kind::Account.def().idx("Status"), 1);
    apply(store, Kind::Account, acc, account, true)?;
    let adef = Kind::Account.def();
    for (key, field) in [("BillToContact", "BillToId"), ("SoldToContact", "SoldToId")] {
        if let Some(c) = r.get(key).and_then(Json::as_object) {
            let row = store.table_mut(Kind::Contact).push(now, now);
            store.table_mut(Kind::Contact).set_ref(
                row,
                Kind::Contact.def().idx("AccountId"),
                Some(acc),
            );
            apply(store, Kind::Contact, row, c, true)?;
            store
                .table_mut(Kind::Account)
                .set_ref(acc, adef.idx(field), Some(row));
        }
    }
    if let Some(pm) = r.get("PaymentMethod").and_then(Json::as_object) {
        let row = store.table_mut(Kind::PaymentMethod).push(now, now);
        store.table_mut(Kind::PaymentMethod).set_ref(
            row,
            Kind::PaymentMethod.def().idx("AccountId"),
            Some(acc),
        );
        apply(store, Kind::PaymentMethod, row, pm, true)?;
        store
            .table_mut(Kind::Account)
            .set_ref(acc, adef.idx("DefaultPaymentMethodId"), Some(row));
    }
    let data = r
        .get("SubscriptionData")
        .and_then(Json::as_object)
        .ok_or("SubscriptionData is required")?;
    let sub_fields = data
        .get("Subscription")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let sdef = Kind::Subscription.def();
    let s = store.table_mut(Kind::Subscription).push(now, now);
    let sub_number = format!("A-S9{s:07}");
    {
        let t = store.table_mut(Kind::Subscription);
        t.set_ref(s, sdef.idx("AccountId"), Some(acc));
        t.set_text(s, sdef.idx("Name"), Arc::from(sub_number.as_str()));
        t.set_i64(s, sdef.idx("Version"), 1);
        t.set_ref(s, sdef.idx("OriginalId"), Some(s));
        t.set_pick(s, sdef.idx("Status"), 3);
        t.set_pick(s, sdef.idx("TermType"), 0);
        let day = (now / 86_400_000) as i32;
        for f in [
            "TermStartDate",
            "SubscriptionStartDate",
            "ContractEffectiveDate",
            "ServiceActivationDate",
            "ContractAcceptanceDate",
        ] {
            t.set_date(s, sdef.idx(f), day);
        }
    }
    apply(store, Kind::Subscription, s, sub_fields, true)?;
    let plans = data
        .get("RatePlanData")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for p in plans {
        let prp_id = p
            .get("RatePlan")
            .and_then(|x| x.get("ProductRatePlanId"))
            .and_then(Json::as_str)
            .unwrap_or_default();
        let prp = store
            .resolve(Kind::ProductRatePlan, prp_id)
            .ok_or_else(|| format!("invalid ProductRatePlanId: {prp_id}"))?;
        add_rate_plan(store, s, prp, now);
    }
    Ok(json!({
        "Success": true,
        "AccountId": store.codec.encode(Kind::Account, acc),
        "AccountNumber": number,
        "SubscriptionId": store.codec.encode(Kind::Subscription, s),
        "SubscriptionNumber": sub_number,
    }))
}

/// Copies a product rate plan and its charges into a subscription.
fn add_rate_plan(store: &mut Store, sub: Row, prp: Row, now: i64) {
    let rdef = Kind::RatePlan.def();
    let name = store
        .table(Kind::ProductRatePlan)
        .get(prp, Kind::ProductRatePlan.def().idx("Name"))
        .into_owned();
    let rp = store.table_mut(Kind::RatePlan).push(now, now);
    let codec = store.codec;
    let t = store.table_mut(Kind::RatePlan);
    t.set_ref(rp, rdef.idx("SubscriptionId"), Some(sub));
    t.set_ref(rp, rdef.idx("ProductRatePlanId"), Some(prp));
    let _ = t.set_value(rp, rdef.idx("Name"), &name, &codec);
    let pdef = Kind::ProductRatePlanCharge.def();
    let cdef = Kind::RatePlanCharge.def();
    for prpc in children(store, Kind::ProductRatePlanCharge, "ProductRatePlanId", prp) {
        let copied: Vec<(usize, Value<'static>)> =
            ["Name", "ChargeType", "ChargeModel", "BillingPeriod", "UOM"]
                .iter()
                .map(|f| {
                    (
                        cdef.idx(f),
                        store
                            .table(Kind::ProductRatePlanCharge)
                            .get(prpc, pdef.idx(f))
                            .into_owned(),
                    )
                })
                .collect();
        let c = store.table_mut(Kind::RatePlanCharge).push(now, now);
        let t = store.table_mut(Kind::RatePlanCharge);
        t.set_ref(c, cdef.idx("RatePlanId"), Some(rp));
        t.set_ref(c, cdef.idx("ProductRatePlanChargeId"), Some(prpc));
        for (fi, v) in copied {
            let _ = t.set_value(c, fi, &v, &codec);
        }
        t.set_i64(c, cdef.idx("Quantity"), DEC_SCALE);
        t.set_i64(c, cdef.idx("Version"), 1);
    }
}

fn amend(sim: &Sim, entity: usize, body: &Json) -> Response {
    let Some(requests) = body.get("requests").and_then(Json::as_array) else {
        return bad_request("MISSING_REQUIRED_VALUE", "requests is required");
    };
    let now = sim.now_ms();
    let mut store = sim.entities[entity]
        .store
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let results: Vec<Json> = requests
        .iter()
        .map(|r| {
            let amendments = r
                .get("Amendments")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            if amendments.is_empty() || amendments.len() > 10 {
                return save_error("INVALID_VALUE", "an amend request holds 1 to 10 Amendments");
            }
            let mut ids = Vec::new();
            let mut latest = None;
            for a in &amendments {
                match amend_one(&mut store, a, now) {
                    Ok((amendment, sub)) => {
                        ids.push(store.codec.encode(Kind::Amendment, amendment));
                        latest = Some(sub);
                    }
                    Err(m) => return save_error("INVALID_VALUE", &m),
                }
            }
            json!({
                "Success": true,
                "AmendmentIds": ids,
                "SubscriptionId": latest.map(|s| store.codec.encode(Kind::Subscription, s)),
                "TotalDeltaMrr": 0,
                "TotalDeltaTcv": 0,
            })
        })
        .collect();
    axum::Json(json!({"results": results})).into_response()
}

/// Creates a new subscription version and the Amendment that made it.
fn amend_one(store: &mut Store, a: &Json, now: i64) -> Result<(Row, Row), String> {
    for required in ["ContractEffectiveDate", "Name", "SubscriptionId", "Type"] {
        if a.get(required).is_none() {
            return Err(format!("{required} is required"));
        }
    }
    let sub_id = a
        .get("SubscriptionId")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let old = store
        .resolve(Kind::Subscription, sub_id)
        .filter(|&s| !store.table(Kind::Subscription).is_deleted(s))
        .ok_or_else(|| format!("invalid SubscriptionId: {sub_id}"))?;
    let sdef = Kind::Subscription.def();
    let ty = a
        .get("Type")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let amendment_types = match Kind::Amendment.def().fields[Kind::Amendment.def().idx("Type")].ty {
        FieldType::Picklist(o) => o,
        _ => &[],
    };
    if !amendment_types.contains(&ty.as_str()) {
        return Err(format!(
            "'Type' value should be one of: {}",
            amendment_types.join(", ")
        ));
    }
    let codec = store.codec;
    let values: Vec<Value<'static>> = (0..sdef.fields.len())
        .map(|fi| store.table(Kind::Subscription).get(old, fi).into_owned())
        .collect();
    let new = store.table_mut(Kind::Subscription).push(now, now);
    let t = store.table_mut(Kind::Subscription);
    for (fi, v) in values.iter().enumerate() {
        if sdef.fields[fi].writable {
            let _ = t.set_value(new, fi, v, &codec);
        }
    }
    let version = match values[sdef.idx("Version")] {
        Value::Int(v) => v,
        _ => 1,
    };
    t.set_i64(new, sdef.idx("Version"), version + 1);
    t.set_ref(new, sdef.idx("PreviousSubscriptionId"), Some(old));
    let status = if ty == "Cancellation" {
        "Cancelled"
    } else {
        "Active"
    };
    t.set_text(new, sdef.idx("Status"), Arc::from(status));
    t.set_text(old, sdef.idx("Status"), Arc::from("Expired"));
    t.touch(old, now);
    for rp in children(store, Kind::RatePlan, "SubscriptionId", old) {
        let prp = store
            .table(Kind::RatePlan)
            .get_ref(rp, Kind::RatePlan.def().idx("ProductRatePlanId"));
        if let Some(prp) = prp {
            add_rate_plan(store, new, prp, now);
        }
    }
    let adef = Kind::Amendment.def();
    let am = store.table_mut(Kind::Amendment).push(now, now);
    let t = store.table_mut(Kind::Amendment);
    t.set_ref(am, adef.idx("SubscriptionId"), Some(new));
    t.set_pick(am, adef.idx("Status"), 3);
    let fields = a.as_object().cloned().unwrap_or_default();
    let fields: Map<String, Json> = fields
        .into_iter()
        .filter(|(k, _)| k != "SubscriptionId")
        .collect();
    apply(store, Kind::Amendment, am, &fields, true)?;
    let count = store.table(Kind::Amendment).len();
    store.table_mut(Kind::Amendment).set_text(
        am,
        adef.idx("Code"),
        Arc::from(format!("A-AM9{count:07}").as_str()),
    );
    Ok((am, new))
}
