//! The simulator-only control API under `/sim/` (never part of Zuora): the virtual clock,
//! random mutations, fault profiles, request counters and token revocation. The same operations
//! are available in-process on [`super::RunningZuoraSim`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::json;

use super::faults::{FaultProfile, FaultRule};
use super::format::iso_utc;
use super::schema::{FieldType, Kind, catalog};
use super::state::{Sim, lock};
use super::store::Row;

/// What `/sim/mutate` does to the rows it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mutation {
    /// Change a field and stamp `UpdatedDate`.
    Update,
    /// Cancel (Account, Subscription, Invoice, Payment, Refund).
    Cancel,
    /// Soft-delete (kept 30 days for deleted-record reads).
    Delete,
}

/// A control operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ControlError(pub String);

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/sim/info", get(info))
        .route("/sim/clock", get(clock))
        .route("/sim/clock/advance", post(advance))
        .route("/sim/mutate", post(mutate_route))
        .route("/sim/faults", get(get_faults).put(put_faults))
        .route("/sim/counters", get(counters))
        .route("/sim/tokens/revoke", post(revoke))
}

async fn info(State(sim): State<Arc<Sim>>) -> Response {
    let entities: Vec<_> = sim
        .entities
        .iter()
        .map(|e| {
            let store = e.store.read().unwrap_or_else(|p| p.into_inner());
            let counts: BTreeMap<&str, usize> = store.counts().into_iter().collect();
            let live: BTreeMap<&str, usize> = store
                .tables
                .iter()
                .map(|t| {
                    (
                        t.kind.def().name,
                        (0..t.len() as Row).filter(|&r| !t.is_deleted(r)).count(),
                    )
                })
                .collect();
            let cutoff = sim.now_ms() - super::query::exec::DELETED_RETENTION_MS;
            let deleted: BTreeMap<&str, usize> = store
                .tables
                .iter()
                .map(|t| {
                    (
                        t.kind.def().name,
                        t.deleted_at
                            .iter()
                            .filter(|&&d| d != i64::MIN && d >= cutoff)
                            .count(),
                    )
                })
                .collect();
            json!({"id": e.uuid, "rows": counts, "liveRows": live, "retainedDeletedRows": deleted})
        })
        .collect();
    Json(json!({
        "simulator": "zbridge Zuora simulator (simulator-only endpoint)",
        "baseUrl": sim.base_url,
        "clientId": sim.client_id,
        "now": iso_utc(sim.now_ms()),
        "entities": entities,
    }))
    .into_response()
}

fn clock_json(sim: &Sim) -> serde_json::Value {
    json!({"now": iso_utc(sim.now_ms()), "nowMs": sim.now_ms()})
}

async fn clock(State(sim): State<Arc<Sim>>) -> Response {
    Json(clock_json(&sim)).into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(State(sim): State<Arc<Sim>>, Json(a): Json<Advance>) -> Response {
    sim.clock.advance(a.seconds);
    Json(clock_json(&sim)).into_response()
}

#[derive(Deserialize)]
struct MutateRequest {
    object: String,
    #[serde(default = "one")]
    count: usize,
    action: Mutation,
    #[serde(default)]
    entity: usize,
}

fn one() -> usize {
    1
}

async fn mutate_route(State(sim): State<Arc<Sim>>, Json(m): Json<MutateRequest>) -> Response {
    match mutate(&sim, m.entity, &m.object, m.count, m.action) {
        Ok(ids) => Json(json!({"ids": ids})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"message": e.0}))).into_response(),
    }
}

/// Applies `action` to `count` random live rows of `object`; returns their ids.
pub(crate) fn mutate(
    sim: &Sim,
    entity: usize,
    object: &str,
    count: usize,
    action: Mutation,
) -> Result<Vec<String>, ControlError> {
    let kind = catalog()
        .object(object)
        .map(|o| o.kind)
        .ok_or_else(|| ControlError(format!("unknown object {object}")))?;
    let e = sim
        .entities
        .get(entity)
        .ok_or_else(|| ControlError(format!("no entity {entity}")))?;
    let now = sim.now_ms();
    let seq = sim.mutation_seq.fetch_add(1, Ordering::SeqCst);
    let mut rng = ChaCha8Rng::seed_from_u64(sim.cfg.seed ^ 0x5EED ^ seq.wrapping_mul(0x9E37_79B9));
    let mut store = e.store.write().unwrap_or_else(|p| p.into_inner());
    let t = store.table(kind);
    let live: Vec<Row> = (0..t.len() as Row).filter(|&r| !t.is_deleted(r)).collect();
    let mut picked = Vec::new();
    let mut pool = live;
    while picked.len() < count && !pool.is_empty() {
        let i = rng.random_range(0..pool.len());
        picked.push(pool.swap_remove(i));
    }
    let def = kind.def();
    let cancel_status = match kind {
        Kind::Account => Some("Canceled"),
        Kind::Subscription => Some("Cancelled"),
        Kind::Invoice | Kind::Payment | Kind::Refund => Some("Canceled"),
        _ => None,
    };
    if action == Mutation::Cancel && cancel_status.is_none() {
        return Err(ControlError(format!("{} cannot be cancelled", def.name)));
    }
    let note_field = ["Notes", "Description", "Comments", "Comment", "Name"]
        .iter()
        .find_map(|f| {
            def.field_index(f)
                .filter(|&i| def.fields[i].ty == FieldType::Text)
        });
    let t = store.table_mut(kind);
    for &r in &picked {
        match action {
            Mutation::Delete => t.delete(r, now),
            Mutation::Cancel => {
                if let (Some(status), Some(fi)) = (cancel_status, def.field_index("Status")) {
                    t.set_text(r, fi, std::sync::Arc::from(status));
                }
                if let Some(fi) = def.field_index("CancelledDate") {
                    t.set_date(r, fi, (now / 86_400_000) as i32);
                }
                t.touch(r, now);
            }
            Mutation::Update => {
                if let Some(fi) = note_field {
                    t.set_text(
                        r,
                        fi,
                        std::sync::Arc::from(
                            format!("Updated by the simulator at {}", iso_utc(now)).as_str(),
                        ),
                    );
                }
                t.touch(r, now);
            }
        }
    }
    Ok(picked
        .into_iter()
        .map(|r| store.codec.encode(kind, r))
        .collect())
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!(lock(&sim.faults).profile())).into_response()
}

#[derive(Deserialize)]
struct PutFaults {
    profile: Option<String>,
    rules: Option<Vec<FaultRule>>,
}

async fn put_faults(State(sim): State<Arc<Sim>>, Json(p): Json<PutFaults>) -> Response {
    let profile = match (p.profile, p.rules) {
        (_, Some(rules)) => FaultProfile {
            name: "custom".into(),
            rules,
        },
        (Some(name), None) => match name.parse::<FaultProfile>() {
            Ok(f) => f,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"message": e.to_string()})),
                )
                    .into_response();
            }
        },
        (None, None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "give a profile name or rules"})),
            )
                .into_response();
        }
    };
    lock(&sim.faults).set(profile);
    Json(json!(lock(&sim.faults).profile())).into_response()
}

async fn counters(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!(lock(&sim.counters).clone())).into_response()
}

async fn revoke(State(sim): State<Arc<Sim>>) -> Response {
    let n = {
        let mut tokens = lock(&sim.tokens);
        let n = tokens.len();
        tokens.clear();
        n
    };
    Json(json!({"revoked": n})).into_response()
}
