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
use zbridge_core::{ConnectionName, ProjectName, Tenant, ValidationError, Warning, ZuoraService};
use zbridge_store::{ComponentRef, ConnectionRecord, ConnectionSummary};

use super::{ApiJson, Patch, SecretState};
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

/// A connection as the API shows it.
#[derive(Debug, Serialize)]
pub struct ConnectionView {
    id: String,
    name: String,
    project: Option<String>,
    tenant: String,
    service: String,
    client_id: String,
    client_secret: SecretState,
    refresh_token: SecretState,
    proxy: ProxyView,
    advanced: Vec<AdvancedView>,
    used_by: Vec<ComponentRef>,
    version: i64,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
}

#[derive(Debug, Serialize)]
struct ProxyView {
    enabled: bool,
    url: String,
    user: String,
    password: SecretState,
}

/// A row of the advanced table; secret rows show only `secret: {set}`.
#[derive(Debug, Serialize)]
struct AdvancedView {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretState>,
}

impl ConnectionView {
    fn new(record: &ConnectionRecord, used_by: Vec<ComponentRef>, warnings: Vec<Warning>) -> Self {
        let def = &record.def;
        let state = |s: &Option<SecretString>| SecretState { set: s.is_some() };
        ConnectionView {
            id: record.id.clone(),
            name: def.name.to_string(),
            project: def.project.as_ref().map(ToString::to_string),
            tenant: def.tenant.clone(),
            service: def.service.clone(),
            client_id: def.client_id.clone(),
            client_secret: state(&def.client_secret),
            refresh_token: state(&def.refresh_token),
            proxy: ProxyView {
                enabled: def.proxy.enabled,
                url: def.proxy.url.clone(),
                user: def.proxy.user.clone(),
                password: state(&def.proxy.password),
            },
            advanced: def
                .advanced
                .rows()
                .iter()
                .map(|row| {
                    let secret = def.advanced_secrets.contains_key(&row.key);
                    AdvancedView {
                        key: row.key.clone(),
                        value: (!secret).then(|| row.value.clone()),
                        secret: secret.then_some(SecretState { set: true }),
                    }
                })
                .collect(),
            used_by,
            version: record.version,
            created_at: record.created_at.to_rfc3339(),
            updated_at: record.updated_at.to_rfc3339(),
            warnings,
        }
    }
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
    let view = ConnectionView::new(&saved.value, Vec::new(), saved.warnings);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let used_by = state.store().components_using(&record.id).await?;
    Ok(Json(ConnectionView::new(&record, used_by, Vec::new())))
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
    Ok(Json(ConnectionView::new(
        &saved.value,
        used_by,
        saved.warnings,
    )))
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
