//! `/api/connections`: list, create, show, update, delete, test, dependencies; and the
//! advanced keys, tenants and services the editor offers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zbridge_core::advanced::KNOWN_KEYS;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::{ConnectionName, ProjectName, Tenant, ValidationError, ZuoraService};
use zbridge_store::{ComponentRef, ConnectionSummary, ConnectionView};

use super::{ApiJson, Patch};
use crate::error::ApiError;
use crate::pages::connections::apply_rows;
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list).post(create))
        .route("/connections/{name}", get(show).put(update).delete(delete))
        .route("/connections/{name}/test", post(test))
        .route("/connections/{name}/dependencies", get(dependencies))
        .route("/connection-options", get(connection_options))
}

/// A create or update request. On update, absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    name: Option<String>,
    #[serde(default)]
    project: Patch<String>,
    tenant: Option<String>,
    service: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Patch<String>,
    #[serde(default)]
    refresh_token: Patch<String>,
    proxy: Option<ProxyInput>,
    /// Replaces the whole table, in order; a secret row without a value keeps the saved one.
    advanced: Option<Vec<AdvancedInput>>,
    /// The version the update started from (optimistic concurrency); omitted means "latest".
    version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyInput {
    enabled: Option<bool>,
    url: Option<String>,
    user: Option<String>,
    #[serde(default)]
    password: Patch<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvancedInput {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

fn patch_secret(target: &mut Option<SecretString>, patch: Patch<String>) {
    match patch {
        Patch::Keep => {}
        Patch::Clear => *target = None,
        Patch::Set(v) => *target = Some(SecretString::from(v)),
    }
}

impl ConnectionInput {
    fn apply(self, def: &mut ZuoraConnectionDef) -> Result<(), ValidationError> {
        if let Some(name) = &self.name {
            def.name = ConnectionName::parse(name)?;
        }
        match self.project {
            Patch::Keep => {}
            Patch::Clear => def.project = None,
            Patch::Set(p) if p.trim().is_empty() => def.project = None,
            Patch::Set(p) => def.project = Some(ProjectName::parse(&p)?),
        }
        let set = |target: &mut String, value: Option<String>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut def.tenant, self.tenant);
        set(&mut def.service, self.service);
        set(&mut def.client_id, self.client_id);
        patch_secret(&mut def.client_secret, self.client_secret);
        patch_secret(&mut def.refresh_token, self.refresh_token);
        if let Some(proxy) = self.proxy {
            if let Some(enabled) = proxy.enabled {
                def.proxy.enabled = enabled;
            }
            set(&mut def.proxy.url, proxy.url);
            set(&mut def.proxy.user, proxy.user);
            patch_secret(&mut def.proxy.password, proxy.password);
        }
        if let Some(rows) = self.advanced {
            let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
            let values: Vec<&str> = rows
                .iter()
                .map(|r| r.value.as_deref().unwrap_or(""))
                .collect();
            apply_rows(def, &keys, &values)?;
        }
        Ok(())
    }
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<ConnectionSummary>>, ApiError> {
    Ok(Json(state.store().list_connections().await?))
}

async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ConnectionInput>,
) -> Result<Response, ApiError> {
    let name = input
        .name
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(ConnectionName::FIELD, "is required"))?;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse(name)?);
    input.apply(&mut def)?;
    let saved = state.store().create_connection(&def).await?;
    let view = saved.value.view(Vec::new()).with_warnings(saved.warnings);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let used_by = state.store().components_using(&record.id).await?;
    Ok(Json(record.view(used_by)))
}

async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<ConnectionInput>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let version = input.version.unwrap_or(record.version);
    let mut def = record.def.clone();
    input.apply(&mut def)?;
    let saved = state
        .store()
        .update_connection(&record.id, version, &def)
        .await?;
    let used_by = state.store().components_using(&record.id).await?;
    Ok(Json(
        saved.value.view(used_by).with_warnings(saved.warnings),
    ))
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store().delete_connection(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The result of a successful Test.
#[derive(Debug, Serialize)]
struct TestReport {
    ok: bool,
    checks: Vec<zbridge_zuora::test::Check>,
}

async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TestReport>, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let client = zuora::saved_client(state.store(), record.def.name.as_str()).await?;
    let checks = zbridge_zuora::test::test_connection(&client).await?;
    Ok(Json(TestReport { ok: true, checks }))
}

async fn dependencies(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<ComponentRef>>, ApiError> {
    let record = state.store().load_connection(&name).await?;
    Ok(Json(state.store().components_using(&record.id).await?))
}

#[derive(Debug, Serialize)]
struct KeyInfo {
    key: &'static str,
    default: Option<&'static str>,
    secret: bool,
    description: &'static str,
}

#[derive(Debug, Serialize)]
struct ConnectionOptions {
    tenants: Vec<&'static str>,
    services: Vec<&'static str>,
    advanced_keys: Vec<KeyInfo>,
}

async fn connection_options() -> Json<ConnectionOptions> {
    Json(ConnectionOptions {
        tenants: Tenant::ALL.iter().map(|t| t.as_str()).collect(),
        services: ZuoraService::ALL.iter().map(|s| s.as_str()).collect(),
        advanced_keys: KNOWN_KEYS
            .iter()
            .map(|k| KeyInfo {
                key: k.name,
                default: k.default,
                secret: k.secret,
                description: k.doc,
            })
            .collect(),
    })
}
