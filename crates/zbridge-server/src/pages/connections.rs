//! Connections: the list, and the Zuora connection editor with every element of the connector
//! screen (Test, Save Changes, Discard Changes, Delete with its dependency list).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use zbridge_core::advanced::{self, KNOWN_KEYS};
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::{ConnectionName, ProjectName, Tenant, ValidationError, Warning, ZuoraService};
use zbridge_store::{ComponentRef, ConnectionRecord, ConnectionSummary, Store};

use super::{Opt, VarChoice, is_htmx, options, var_choices};
use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list))
        .route("/connections/{name}", get(edit))
        .route(
            "/connections/{name}/delete",
            get(confirm_delete).post(delete),
        )
        .route("/connection-editor/new", get(new))
        .route("/connection-editor/save", post(save))
        .route("/connection-editor/test", post(test))
        .route("/connection-editor/check-name", post(check_name))
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ListPage {
    csrf: String,
    connections: Vec<ConnectionSummary>,
    notice: String,
}

#[derive(serde::Deserialize, Default)]
struct Notice {
    saved: Option<String>,
    deleted: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Query(q): Query<Notice>,
) -> Result<Response, ApiError> {
    let connections = state.store().list_connections().await?;
    let notice = q
        .deleted
        .map(|n| format!("Deleted connection '{n}'."))
        .unwrap_or_default();
    Ok(render(&ListPage {
        csrf,
        connections,
        notice,
    }))
}

/// One row of the Advanced Configurations table.
#[derive(Debug, Clone)]
pub struct RowView {
    key: String,
    value: String,
    secret: bool,
    set: bool,
}

/// A documented key, for the key list under the table.
#[derive(Debug, Clone)]
pub struct KeyView {
    name: &'static str,
    default: &'static str,
    secret: bool,
    doc: &'static str,
}

/// Everything the editor shows. Secrets appear only as set / not set.
#[derive(Template)]
#[template(path = "connection_edit.html")]
struct EditorPage {
    csrf: String,
    original: String,
    version: i64,
    name: String,
    project: String,
    tenants: Vec<Opt>,
    services: Vec<Opt>,
    client_id: String,
    client_secret_set: bool,
    refresh_token_set: bool,
    proxy_enabled: bool,
    proxy_url: String,
    proxy_user: String,
    proxy_password_set: bool,
    rows: Vec<RowView>,
    keys: Vec<KeyView>,
    variables: Vec<VarChoice>,
    error: Option<ErrorDetail>,
    warnings: Vec<Warning>,
    notice: String,
    test: Option<TestOutcome>,
}

fn tenant_names() -> Vec<&'static str> {
    Tenant::ALL.iter().map(|t| t.as_str()).collect()
}

fn service_names() -> Vec<&'static str> {
    ZuoraService::ALL.iter().map(|s| s.as_str()).collect()
}

fn key_views() -> Vec<KeyView> {
    KNOWN_KEYS
        .iter()
        .map(|k| KeyView {
            name: k.name,
            default: k.default.unwrap_or(""),
            secret: k.secret,
            doc: k.doc,
        })
        .collect()
}

fn rows_of(def: &ZuoraConnectionDef) -> Vec<RowView> {
    def.advanced
        .rows()
        .iter()
        .map(|row| match def.advanced_secrets.get(&row.key) {
            Some(_) => RowView {
                key: row.key.clone(),
                value: String::new(),
                secret: true,
                set: true,
            },
            None => RowView {
                key: row.key.clone(),
                value: row.value.clone(),
                secret: false,
                set: false,
            },
        })
        .collect()
}

impl EditorPage {
    fn blank(csrf: String, variables: Vec<VarChoice>) -> Self {
        let def = ZuoraConnectionDef::new(
            ConnectionName::parse("new")
                .unwrap_or_else(|_| unreachable!("'new' is a valid connection name")),
        );
        let mut page = Self::from_def(csrf, "", 0, &def, variables);
        page.name = String::new();
        page
    }

    fn from_def(
        csrf: String,
        original: &str,
        version: i64,
        def: &ZuoraConnectionDef,
        variables: Vec<VarChoice>,
    ) -> Self {
        EditorPage {
            csrf,
            original: original.to_string(),
            version,
            name: def.name.to_string(),
            project: def
                .project
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            tenants: options(&tenant_names(), &def.tenant),
            services: options(&service_names(), &def.service),
            client_id: def.client_id.clone(),
            client_secret_set: def.client_secret.is_some(),
            refresh_token_set: def.refresh_token.is_some(),
            proxy_enabled: def.proxy.enabled,
            proxy_url: def.proxy.url.clone(),
            proxy_user: def.proxy.user.clone(),
            proxy_password_set: def.proxy.password.is_some(),
            rows: rows_of(def),
            keys: key_views(),
            variables,
            error: None,
            warnings: Vec::new(),
            notice: String::new(),
            test: None,
        }
    }

    fn from_record(csrf: String, record: &ConnectionRecord, variables: Vec<VarChoice>) -> Self {
        Self::from_def(
            csrf,
            record.def.name.as_str(),
            record.version,
            &record.def,
            variables,
        )
    }

    /// The page as the user submitted it (after an error), secrets not echoed.
    fn from_form(
        csrf: String,
        form: &FormData,
        saved: Option<&ConnectionRecord>,
        variables: Vec<VarChoice>,
    ) -> Self {
        let saved_def = saved.map(|r| &r.def);
        let secret_kept = |field: &str, present: bool| {
            !form.checked(&format!("clear_{field}"))
                && (present || form.get(field).is_some_and(|v| !v.is_empty()))
        };
        let rows = form
            .all("adv_key")
            .into_iter()
            .zip(form.all("adv_value"))
            .filter(|(k, v)| !(k.trim().is_empty() && v.is_empty()))
            .map(|(key, value)| {
                let secret = advanced::known_key(key).is_some_and(|k| k.secret);
                RowView {
                    key: key.to_string(),
                    value: if secret {
                        String::new()
                    } else {
                        value.to_string()
                    },
                    secret,
                    set: secret
                        && (!value.is_empty()
                            || saved_def.is_some_and(|d| {
                                advanced::known_key(key)
                                    .is_some_and(|k| d.advanced_secrets.contains_key(k.name))
                            })),
                }
            })
            .collect();
        EditorPage {
            csrf,
            original: form.text("original"),
            version: form
                .get("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            name: form.text("name"),
            project: form.text("project"),
            tenants: options(&tenant_names(), &form.text("tenant")),
            services: options(&service_names(), &form.text("service")),
            client_id: form.text("client_id"),
            client_secret_set: secret_kept(
                "client_secret",
                saved_def.is_some_and(|d| d.client_secret.is_some()),
            ),
            refresh_token_set: secret_kept(
                "refresh_token",
                saved_def.is_some_and(|d| d.refresh_token.is_some()),
            ),
            proxy_enabled: form.checked("use_proxy"),
            proxy_url: form.text("proxy_url"),
            proxy_user: form.text("proxy_user"),
            proxy_password_set: secret_kept(
                "proxy_password",
                saved_def.is_some_and(|d| d.proxy.password.is_some()),
            ),
            rows,
            keys: key_views(),
            variables,
            error: None,
            warnings: Vec::new(),
            notice: String::new(),
            test: None,
        }
    }
}

async fn new(State(state): State<AppState>, Csrf(csrf): Csrf) -> Result<Response, ApiError> {
    let variables = var_choices(state.store()).await?;
    Ok(render(&EditorPage::blank(csrf, variables)))
}

async fn edit(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(name): Path<String>,
    Query(q): Query<Notice>,
) -> Result<Response, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let variables = var_choices(state.store()).await?;
    let mut page = EditorPage::from_record(csrf, &record, variables);
    if q.saved.is_some() {
        page.notice = format!("Saved connection '{}'.", record.def.name);
    }
    Ok(render(&page))
}

/// Applies a submitted editor form to a definition: the saved one when editing, a new one
/// otherwise. Empty secret fields keep the saved secret; the "clear" boxes remove it.
pub(crate) fn apply_form(
    saved: Option<&ConnectionRecord>,
    form: &FormData,
) -> Result<ZuoraConnectionDef, ValidationError> {
    let name = ConnectionName::parse(&form.text("name"))?;
    let mut def = match saved {
        Some(record) => record.def.clone(),
        None => ZuoraConnectionDef::new(name.clone()),
    };
    def.name = name;
    let project = form.text("project");
    def.project = if project.trim().is_empty() {
        None
    } else {
        Some(ProjectName::parse(&project)?)
    };
    def.tenant = form.text("tenant");
    def.service = form.text("service");
    def.client_id = form.text("client_id");
    apply_secret(form, "client_secret", &mut def.client_secret);
    apply_secret(form, "refresh_token", &mut def.refresh_token);
    def.proxy.enabled = form.checked("use_proxy");
    def.proxy.url = form.text("proxy_url");
    def.proxy.user = form.text("proxy_user");
    apply_secret(form, "proxy_password", &mut def.proxy.password);
    if form.checked("adv_clear") {
        def.clear_advanced();
    } else {
        apply_rows(&mut def, &form.all("adv_key"), &form.all("adv_value"))?;
    }
    Ok(def)
}

fn apply_secret(form: &FormData, field: &str, target: &mut Option<SecretString>) {
    if form.checked(&format!("clear_{field}")) {
        *target = None;
    }
    if let Some(value) = form.get(field).filter(|v| !v.is_empty()) {
        *target = Some(SecretString::from(value.to_string()));
    }
}

/// Replaces the Advanced Configurations table with the submitted rows, in order. A secret row
/// left empty keeps its saved value.
pub(crate) fn apply_rows(
    def: &mut ZuoraConnectionDef,
    keys: &[&str],
    values: &[&str],
) -> Result<(), ValidationError> {
    advanced::check_distinct_keys(keys.iter().copied().filter(|k| !k.trim().is_empty()))?;
    let saved_secrets = std::mem::take(&mut def.advanced_secrets);
    def.clear_advanced();
    for (key, value) in keys.iter().zip(values) {
        let key = key.trim();
        if key.is_empty() {
            if value.trim().is_empty() {
                continue;
            }
            return Err(ValidationError::new(
                advanced::FIELD,
                "a row has a value but no key",
            ));
        }
        let known = advanced::lookup_key(key)?;
        if def.advanced.get(known.name).is_some() {
            def.advanced.add(known.name, value)?; // names the duplicate row
        }
        let value = match saved_secrets.get(known.name) {
            Some(saved) if known.secret && value.is_empty() => saved.clone(),
            _ => SecretString::from(value.to_string()),
        };
        def.set_advanced(known.name, value)?;
    }
    Ok(())
}

async fn load_original(
    store: &Store,
    form: &FormData,
) -> Result<Option<ConnectionRecord>, ApiError> {
    let original = form.text("original");
    if original.is_empty() {
        return Ok(None);
    }
    Ok(Some(store.load_connection(&original).await?))
}

async fn save(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let saved = load_original(state.store(), &form).await?;
    let result = match apply_form(saved.as_ref(), &form) {
        Err(e) => Err(ApiError::from(e)),
        Ok(def) => match &saved {
            None => state
                .store()
                .create_connection(&def)
                .await
                .map_err(Into::into),
            Some(record) => {
                let version = form
                    .get("version")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(record.version);
                state
                    .store()
                    .update_connection(&record.id, version, &def)
                    .await
                    .map_err(Into::into)
            }
        },
    };
    match result {
        Ok(done) => {
            let target = format!(
                "/connections/{}?saved=1",
                encode_path(done.value.def.name.as_str())
            );
            if is_htmx(&headers) {
                let mut response = StatusCode::NO_CONTENT.into_response();
                if let Ok(v) = HeaderValue::from_str(&target) {
                    response.headers_mut().insert("hx-redirect", v);
                }
                return Ok(response);
            }
            Ok(Redirect::to(&target).into_response())
        }
        Err(error) => {
            if is_htmx(&headers) {
                return Ok(render(&MessageFragment {
                    error: Some(error.detail()),
                }));
            }
            let variables = var_choices(state.store()).await?;
            let mut page = EditorPage::from_form(csrf, &form, saved.as_ref(), variables);
            let status = error.status();
            page.error = Some(error.detail());
            Ok((status, render(&page)).into_response())
        }
    }
}

/// Percent-encodes a name for a URL path segment.
pub(crate) fn encode_path(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[derive(Template)]
#[template(path = "message_fragment.html")]
struct MessageFragment {
    error: Option<ErrorDetail>,
}

/// The result of Test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    ok: bool,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "test_fragment.html")]
struct TestFragment {
    test: TestOutcome,
}

async fn test(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let saved = load_original(state.store(), &form).await?;
    let outcome = match apply_form(saved.as_ref(), &form) {
        Err(e) => Err(ApiError::from(e)),
        Ok(def) => zuora::test_def(state.store(), &def).await,
    };
    let test = match outcome {
        Ok(checks) => TestOutcome {
            ok: true,
            lines: checks
                .iter()
                .map(|c| format!("{}: {}", c.what, c.detail))
                .collect(),
        },
        Err(e) => TestOutcome {
            ok: false,
            lines: vec![e.to_string()],
        },
    };
    if is_htmx(&headers) {
        return Ok(render(&TestFragment { test }));
    }
    let variables = var_choices(state.store()).await?;
    let mut page = EditorPage::from_form(csrf, &form, saved.as_ref(), variables);
    page.test = Some(test);
    Ok(render(&page))
}

async fn check_name(body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let error = ConnectionName::parse(&form.text("name"))
        .err()
        .map(|e| ApiError::from(e).detail());
    render(&MessageFragment { error })
}

#[derive(Template)]
#[template(path = "connection_delete.html")]
struct DeletePage {
    csrf: String,
    name: String,
    used_by: Vec<ComponentRef>,
    error: Option<ErrorDetail>,
}

async fn confirm_delete(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.store().load_connection(&name).await?;
    let used_by = state.store().components_using(&record.id).await?;
    Ok(render(&DeletePage {
        csrf,
        name: record.def.name.to_string(),
        used_by,
        error: None,
    }))
}

async fn delete(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    match state.store().delete_connection(&name).await {
        Ok(()) => Ok(
            Redirect::to(&format!("/connections?deleted={}", encode_path(&name))).into_response(),
        ),
        Err(e) => {
            let error = ApiError::from(e);
            let used_by = error.detail().used_by;
            let page = DeletePage {
                csrf,
                name,
                used_by,
                error: Some(error.detail()),
            };
            Ok((error.status(), render(&page)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_builds_a_definition_and_keeps_saved_secret_rows() {
        let form = FormData::parse(
            b"name=Prod&tenant=EUSandbox&service=DataQuery&client_id=abc&client_secret=s&adv_key=URL&adv_value=http%3A%2F%2F127.0.0.1%3A1&adv_key=&adv_value=",
        );
        let def = apply_form(None, &form).unwrap();
        assert_eq!(def.tenant, "EUSandbox");
        assert_eq!(def.advanced.rows().len(), 1);
        assert!(def.client_secret.is_some());

        let mut saved = def.clone();
        saved
            .set_advanced("OAuthAccessToken", SecretString::from("tok".to_string()))
            .unwrap();
        apply_rows(
            &mut saved,
            &["OAuthAccessToken", "PollInterval"],
            &["", "5"],
        )
        .unwrap();
        assert!(saved.advanced_secrets.contains_key("OAuthAccessToken"));
        assert_eq!(saved.advanced.get("PollInterval"), Some("5"));

        let err =
            apply_rows(&mut saved, &["PollInterval", "pollinterval"], &["5", "6"]).unwrap_err();
        assert!(
            err.rule
                .contains("is given twice, as 'PollInterval' and 'pollinterval'"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_name_names_the_field() {
        let form = FormData::parse(b"name=a%2Fb");
        let err = apply_form(None, &form).unwrap_err();
        assert_eq!(err.field, "Connection Name");
    }
}
