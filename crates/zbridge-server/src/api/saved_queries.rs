//! `/api/saved-queries`: the queries saved with `zbridge query --save` or from the Query page:
//! list, show, save, run (streamed like `/api/query`) and delete.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use zbridge_zuora::saved::{self, SavedQuery, SavedQuerySpec};
use zbridge_zuora::sink::Format;

use super::ApiJson;
use crate::AppState;
use crate::error::ApiError;
use crate::form::FormData;
use crate::query::{self, Condition, QueryRequest};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/saved-queries", get(list))
        .route("/saved-queries/{name}", get(show).put(save).delete(delete))
        .route("/saved-queries/{name}/run", post(run))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<SavedQuery>>, ApiError> {
    Ok(Json(saved::list(state.store()).await?))
}

async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<SavedQuery>, ApiError> {
    Ok(Json(saved::load(state.store(), &name).await?))
}

/// A query to save: the fields of `/api/query`, and what the CLI's `--save` can store besides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQueryInput {
    connection: String,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    conditions: Vec<Condition>,
    #[serde(default, rename = "where")]
    filter: String,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    include_deleted: bool,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    zoql: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

impl SavedQueryInput {
    fn spec(self) -> Result<SavedQuerySpec, ApiError> {
        let request = QueryRequest {
            connection: self.connection,
            table: self.table.unwrap_or_default(),
            columns: self.columns,
            conditions: self.conditions,
            filter: self.filter,
        };
        let format = match self.format {
            Some(text) => match text.parse::<Format>() {
                Ok(_) => text,
                Err(_) => {
                    return Err(ApiError::bad_request(
                        "Format",
                        "use csv, jsonl, json or singer",
                    ));
                }
            },
            None => "csv".into(),
        };
        Ok(SavedQuerySpec {
            since: self.since,
            until: self.until,
            cursor: self.cursor,
            limit: self.limit,
            include_deleted: self.include_deleted,
            service: self.service,
            sql: self.sql,
            zoql: self.zoql,
            format,
            ..request.to_saved()?
        })
    }
}

async fn save(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<SavedQueryInput>,
) -> Result<Json<SavedQuery>, ApiError> {
    let connection = state.store().load_connection(&input.connection).await?;
    let spec = input.spec()?;
    Ok(Json(
        saved::save(state.store(), &name, &connection, spec).await?,
    ))
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    saved::delete(state.store(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a saved query. `?format=csv|jsonl` picks the output; without it, the saved query's own
/// format when it is one of those, else CSV. (The query string is read by hand so that a bad
/// one is a JSON error like every other.)
async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    let saved = saved::load(state.store(), &name).await?;
    let format = match params.get("format") {
        Some(text) => query::format_of(text)?,
        None => query::format_of(&saved.query.format).unwrap_or(Format::Csv),
    };
    let prepared = saved::prepare(state.store(), &saved).await?;
    Ok(query::download(
        prepared.client,
        prepared.plan,
        format,
        &saved.name,
    ))
}
