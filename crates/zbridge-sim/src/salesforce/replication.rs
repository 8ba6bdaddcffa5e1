//! Data replication: `GET …/sobjects/{object}/updated/?start=…&end=…` (ids whose SystemModstamp
//! falls in the window, 30 days back at most) and `…/deleted/?start=…&end=…` (the delete log:
//! ids and deletion times, 15 days back at most). Seconds are ignored, as documented; every
//! time is on the org's clock.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Duration, DurationRound, Utc};

use super::http::{Shared, json, rest_error};
use super::org::{Org, stamp};
use super::rest::object_index;
use super::store::RECYCLE_BIN_MS;
use super::write::parse_datetime;

/// Most ids one call may return before `EXCEEDED_ID_LIMIT`.
pub const MAX_IDS: usize = 600_000;
/// `updated` reaches back 30 days.
const UPDATED_DAYS: i64 = 30;

/// Replication routes.
pub fn routes() -> Router<Shared> {
    let v = "/services/data/{version}/sobjects/{object}";
    Router::new()
        .route(&format!("{v}/updated"), get(updated))
        .route(&format!("{v}/deleted"), get(deleted))
}

fn invalid_date(message: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, "INVALID_REPLICATION_DATE", message)
}

/// A UTC datetime parameter, with its seconds dropped. A raw `+` in the offset arrives as a
/// space after form decoding, so a space is read back as `+`.
fn minute_param(params: &HashMap<String, String>, name: &str) -> Result<i64, Response> {
    let raw = params
        .get(name)
        .ok_or_else(|| invalid_date(&format!("Missing required parameter: {name}")))?;
    let at = parse_datetime(&raw.trim().replace(' ', "+"))
        .ok_or_else(|| invalid_date(&format!("{name}: invalid date/time: {raw}")))?;
    let at = at.and_utc().duration_trunc(Duration::minutes(1));
    at.map(|d| d.timestamp_millis())
        .map_err(|_| invalid_date(&format!("{name}: invalid date/time: {raw}")))
}

/// The validated window `[start, end)` in milliseconds, seconds dropped.
struct Window {
    start: i64,
    end: i64,
}

fn window(org: &Org, query: &str, days: i64) -> Result<Window, Response> {
    let params: HashMap<String, String> = super::auth::url_pairs(query).into_iter().collect();
    let start = minute_param(&params, "start")?;
    let end = minute_param(&params, "end")?;
    if end <= start {
        return Err(invalid_date(
            "startDate must chronologically precede endDate by more than one minute",
        ));
    }
    let today = DateTime::<Utc>::from_timestamp_millis(org.clock_ms())
        .and_then(|d| d.duration_trunc(Duration::days(1)).ok())
        .map_or(0, |d| d.timestamp_millis());
    if start < today - days * 86_400_000 {
        return Err(invalid_date(&format!(
            "startDate cannot be more than {days} days ago"
        )));
    }
    Ok(Window { start, end })
}

/// `latestDateCovered`: the window's end, or the current minute if the end is still ahead.
fn latest_covered(org: &Org, end: i64) -> String {
    let now_minute = org.clock_ms() / 60_000 * 60_000;
    stamp(end.min(now_minute))
}

fn too_many() -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        "EXCEEDED_ID_LIMIT",
        &format!("More than {MAX_IDS} ids found; choose start and end dates closer together"),
    )
}

async fn updated(
    State(state): State<Shared>,
    Path((_, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    updated_in(&state.lock(), &object, query.as_deref().unwrap_or_default())
}

/// `GET …/sobjects/{object}/updated/?start=…&end=…` on a locked org.
pub fn updated_in(org: &Org, object: &str, query: &str) -> Response {
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let w = match window(org, query, UPDATED_DAYS) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let ids: Vec<String> = org.tables[o]
        .iter()
        .filter(|r| (w.start..w.end).contains(&r.modified_ms))
        .map(|r| r.id.to_string())
        .collect();
    if ids.len() > MAX_IDS {
        return too_many();
    }
    json(
        StatusCode::OK,
        serde_json::json!({"ids": ids, "latestDateCovered": latest_covered(org, w.end)}),
    )
}

async fn deleted(
    State(state): State<Shared>,
    Path((_, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    deleted_in(&state.lock(), &object, query.as_deref().unwrap_or_default())
}

/// `GET …/sobjects/{object}/deleted/?start=…&end=…` on a locked org.
pub fn deleted_in(org: &Org, object: &str, query: &str) -> Response {
    let o = match object_index(org, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let w = match window(org, query, RECYCLE_BIN_MS / 86_400_000) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let cutoff = org.clock_ms() - RECYCLE_BIN_MS;
    let records: Vec<serde_json::Value> = org.tables[o]
        .binned()
        .filter(|b| b.deleted_ms >= cutoff && (w.start..w.end).contains(&b.deleted_ms))
        .map(|b| serde_json::json!({"id": b.id.to_string(), "deletedDate": stamp(b.deleted_ms)}))
        .collect();
    if records.len() > MAX_IDS {
        return too_many();
    }
    let earliest = org.tables[o]
        .purged_through_ms()
        .unwrap_or(org.created_ms / 60_000 * 60_000);
    json(
        StatusCode::OK,
        serde_json::json!({
            "deletedRecords": records,
            "earliestDateAvailable": stamp(earliest),
            "latestDateCovered": latest_covered(org, w.end),
        }),
    )
}
