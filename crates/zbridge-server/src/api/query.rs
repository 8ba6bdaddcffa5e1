//! `/api/connections/{name}/tables` and `/api/query`: discovery and the Query activity.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use zbridge_core::schema::TableSchema;

use super::ApiJson;
use crate::error::ApiError;
use crate::query::{self, Preview, QueryRequest};
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections/{name}/tables", get(tables))
        .route("/connections/{name}/tables/{table}", get(describe))
        .route("/query/preview", post(preview))
        .route("/query", post(download))
}

async fn tables(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    let client = zuora::saved_client(state.store(), &name).await?;
    Ok(Json(zbridge_zuora::discovery::list_tables(&client).await?))
}

async fn describe(
    State(state): State<AppState>,
    Path((name, table)): Path<(String, String)>,
) -> Result<Json<TableSchema>, ApiError> {
    let client = zuora::saved_client(state.store(), &name).await?;
    Ok(Json(
        zbridge_zuora::discovery::describe(&client, &table).await?,
    ))
}

async fn preview(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<QueryRequest>,
) -> Result<Json<Preview>, ApiError> {
    let client = zuora::saved_client(state.store(), &request.connection).await?;
    Ok(Json(query::preview(&client, &request).await?))
}

/// A download: the query's fields and its format. Spelled out rather than flattened:
/// serde ignores `deny_unknown_fields` through `flatten`, and an unknown field must be refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    connection: String,
    table: String,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    conditions: Vec<query::Condition>,
    #[serde(default, rename = "where")]
    filter: String,
    /// `csv` (default) or `jsonl`.
    #[serde(default)]
    format: Option<String>,
}

impl DownloadRequest {
    fn query(&self) -> QueryRequest {
        QueryRequest {
            connection: self.connection.clone(),
            table: self.table.clone(),
            columns: self.columns.clone(),
            conditions: self.conditions.clone(),
            filter: self.filter.clone(),
        }
    }
}

async fn download(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DownloadRequest>,
) -> Result<Response, ApiError> {
    let format = query::format_of(body.format.as_deref().unwrap_or("csv"))?;
    let request = body.query();
    let client = zuora::saved_client(state.store(), &request.connection).await?;
    let plan = request.plan(&client, None).await?;
    let table = plan.table.clone();
    Ok(query::download(client, plan, format, &table))
}
