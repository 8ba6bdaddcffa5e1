//! `/api/variables`: global and project variables; secret values are never returned.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use zbridge_core::{ProjectName, VariableName};
use zbridge_store::VariableInfo;

use super::ApiJson;
use crate::AppState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/variables", get(list))
        .route("/variables/{name}", axum::routing::put(set).delete(delete))
}

/// Which scope a request is about: a project, or the global scope when absent.
#[derive(Debug, Deserialize)]
pub struct ScopeParam {
    project: Option<String>,
}

/// Parses an optional project name; empty means global.
pub(crate) fn project_of(project: Option<&str>) -> Result<Option<ProjectName>, ApiError> {
    match project.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Ok(Some(ProjectName::parse(p)?)),
        None => Ok(None),
    }
}

async fn list(
    State(state): State<AppState>,
    Query(scope): Query<ScopeParam>,
) -> Result<Json<Vec<VariableInfo>>, ApiError> {
    let project = project_of(scope.project.as_deref())?;
    Ok(Json(state.store().list_variables(project.as_ref()).await?))
}

/// A variable's new value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableInput {
    value: String,
    #[serde(default)]
    secret: bool,
    project: Option<String>,
}

async fn set(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<VariableInput>,
) -> Result<StatusCode, ApiError> {
    let name = VariableName::parse(&name)?;
    let project = project_of(input.project.as_deref())?;
    state
        .store()
        .set_variable(
            &name,
            project.as_ref(),
            &SecretString::from(input.value),
            input.secret,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(scope): Query<ScopeParam>,
) -> Result<StatusCode, ApiError> {
    let name = VariableName::parse(&name)?;
    let project = project_of(scope.project.as_deref())?;
    state
        .store()
        .delete_variable(&name, project.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
