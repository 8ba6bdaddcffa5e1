//! `/api/procedures` and `/api/execute`: the Execute activity.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zbridge_zuora::execute::{ParamSpec, Params, Procedure};

use super::ApiJson;
use crate::error::ApiError;
use crate::execute::{self, ExecuteOutcome};
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/procedures", get(procedures))
        .route("/execute", post(run))
}

#[derive(Debug, Serialize)]
struct ProcedureInfo {
    name: &'static str,
    description: &'static str,
    takes_input: bool,
    params: &'static [ParamSpec],
    input_schema: Value,
    output_schema: Value,
}

async fn procedures() -> Json<Vec<ProcedureInfo>> {
    Json(
        Procedure::ALL
            .iter()
            .map(|p| ProcedureInfo {
                name: p.name(),
                description: p.description(),
                takes_input: p.takes_input(),
                params: p.params(),
                input_schema: p.input_schema(),
                output_schema: p.output_schema(),
            })
            .collect(),
    )
}

/// One Execute call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    connection: String,
    procedure: String,
    /// Parameters by name.
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
    /// Input records, in order.
    #[serde(default)]
    records: Vec<serde_json::Map<String, Value>>,
}

async fn run(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> Result<Json<ExecuteOutcome>, ApiError> {
    let procedure = Procedure::parse(&request.procedure)?;
    let pairs: Vec<String> = request
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let params = Params::parse(procedure, &pairs)?;
    let mut input = String::new();
    for record in &request.records {
        input.push_str(&Value::Object(record.clone()).to_string());
        input.push('\n');
    }
    let client = zuora::saved_client(state.store(), &request.connection).await?;
    Ok(Json(
        execute::run(&client, procedure, &params, &input).await?,
    ))
}
