//! The simulator-only control API under `/sim/` (no authentication; the simulator binds to
//! loopback): read every record of an object, reset the org, read per-endpoint API counters,
//! switch fault profiles, change org settings, expire sessions, read and advance the org clock.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::faults::FaultProfile;
use super::http::{Shared, json};
use super::org::Org;
use super::soql::field_value;

/// Control routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/sim/info", get(info))
        .route("/sim/records/{object}", get(records))
        .route("/sim/reset", post(reset))
        .route("/sim/counters", get(counters))
        .route(
            "/sim/faults",
            get(get_faults).put(set_faults).post(set_faults),
        )
        .route(
            "/sim/settings",
            get(get_settings).put(set_settings).post(set_settings),
        )
        .route("/sim/expire-sessions", post(expire_sessions))
        .route("/sim/clock", get(clock))
        .route("/sim/clock/advance", post(advance_clock))
}

fn clock_json(org: &Org) -> serde_json::Value {
    let now = org.clock_ms();
    serde_json::json!({
        "now": chrono::DateTime::from_timestamp_millis(now).map(|d| d.to_rfc3339()),
        "nowMs": now,
        "advancedSeconds": org.clock_offset_ms / 1000,
    })
}

async fn clock(State(state): State<Shared>) -> Response {
    json(StatusCode::OK, clock_json(&state.lock()))
}

/// Body: `{"seconds": N}` (N > 0; the clock never goes back).
async fn advance_clock(State(state): State<Shared>, body: String) -> Response {
    let seconds = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("seconds").and_then(serde_json::Value::as_i64))
        .filter(|s| *s > 0);
    let Some(seconds) = seconds else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {\"seconds\": N} with N > 0"}),
        );
    };
    let mut org = state.lock();
    org.advance_clock(seconds.saturating_mul(1000));
    org.purge_recycle_bin();
    json(StatusCode::OK, clock_json(&org))
}

/// Every record of an object as JSON objects with every field (no field-level security).
pub fn all_records(org: &Org, object: &str) -> Option<Vec<serde_json::Value>> {
    let o = org.schema.object(object)?;
    let def = &org.schema.objects[o];
    Some(
        org.tables[o]
            .iter()
            .map(|r| {
                let mut row = serde_json::Map::new();
                for (i, f) in def.fields.iter().enumerate() {
                    if let Some(v) = field_value(org, o, r, i) {
                        row.insert(f.name.clone(), v.to_json());
                    }
                }
                serde_json::Value::Object(row)
            })
            .collect(),
    )
}

/// The counters as JSON: API usage and calls per endpoint.
pub fn counters_json(org: &Org) -> serde_json::Value {
    serde_json::json!({
        "apiUsed": org.api_used,
        "apiMax": org.settings.api_daily_max,
        "endpoints": org.counters,
    })
}

fn settings_json(org: &Org) -> serde_json::Value {
    let s = &org.settings;
    serde_json::json!({
        "soapLoginEnabled": s.soap_login_enabled,
        "trustedIp": s.trusted_ip,
        "sessionTimeoutSeconds": s.session_timeout.as_secs_f64(),
        "apiDailyMax": s.api_daily_max,
        "refreshTokenRotation": s.refresh_token_rotation,
        "storageMaxRecords": s.storage_max_records,
    })
}

async fn info(State(state): State<Shared>) -> Response {
    let org = state.lock();
    json(StatusCode::OK, super::org_info(&org).to_json())
}

async fn records(State(state): State<Shared>, Path(object): Path<String>) -> Response {
    let org = state.lock();
    match all_records(&org, &object) {
        Some(rows) => json(StatusCode::OK, serde_json::Value::Array(rows)),
        None => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": format!("no object {object}")}),
        ),
    }
}

async fn reset(State(state): State<Shared>) -> Response {
    state.lock().reset();
    json(StatusCode::OK, serde_json::json!({"reset": true}))
}

async fn counters(State(state): State<Shared>) -> Response {
    json(StatusCode::OK, counters_json(&state.lock()))
}

async fn get_faults(State(state): State<Shared>) -> Response {
    json(
        StatusCode::OK,
        serde_json::json!({"profile": state.lock().faults.to_string()}),
    )
}

/// Body: `{"profile": "row-lock,slow-jobs"}` or the bare profile text.
async fn set_faults(State(state): State<Shared>, body: String) -> Response {
    let text = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("profile")
                .and_then(|p| p.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().to_string());
    match text.parse::<FaultProfile>() {
        Ok(p) => {
            let mut org = state.lock();
            org.faults = p;
            json(
                StatusCode::OK,
                serde_json::json!({"profile": org.faults.to_string()}),
            )
        }
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": e.to_string()}),
        ),
    }
}

async fn get_settings(State(state): State<Shared>) -> Response {
    json(StatusCode::OK, settings_json(&state.lock()))
}

/// Body: any subset of the keys `GET /sim/settings` returns.
async fn set_settings(State(state): State<Shared>, body: String) -> Response {
    let Ok(serde_json::Value::Object(changes)) = serde_json::from_str::<serde_json::Value>(&body)
    else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected a JSON object"}),
        );
    };
    let mut org = state.lock();
    for (k, v) in &changes {
        let s = &mut org.settings;
        let ok = match (k.as_str(), v) {
            ("soapLoginEnabled", serde_json::Value::Bool(b)) => {
                s.soap_login_enabled = *b;
                true
            }
            ("trustedIp", serde_json::Value::Bool(b)) => {
                s.trusted_ip = *b;
                true
            }
            ("refreshTokenRotation", serde_json::Value::Bool(b)) => {
                s.refresh_token_rotation = *b;
                true
            }
            ("sessionTimeoutSeconds", v) if v.as_f64().is_some_and(|f| f > 0.0) => {
                s.session_timeout =
                    std::time::Duration::from_secs_f64(v.as_f64().unwrap_or(7200.0));
                true
            }
            ("apiDailyMax", v) if v.as_u64().is_some() => {
                s.api_daily_max = v.as_u64().unwrap_or_default();
                true
            }
            ("storageMaxRecords", v) if v.as_u64().is_some() => {
                s.storage_max_records = v.as_u64().unwrap_or_default();
                true
            }
            _ => false,
        };
        if !ok {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": format!("bad setting {k}")}),
            );
        }
    }
    json(StatusCode::OK, settings_json(&org))
}

async fn expire_sessions(State(state): State<Shared>) -> Response {
    state.lock().expire_sessions();
    json(StatusCode::OK, serde_json::json!({"expired": true}))
}
