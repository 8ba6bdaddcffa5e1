//! Salesforce sync credentials, as the sync settings screen describes: Salesforce credentials
//! or OAuth credentials (one active at a time), Edit and Save, and for OAuth the setup of
//! tokens through the browser, reset, Test Access and delete. JWT bearer credentials (for
//! servers: a username, the app's consumer key and the RSA private key, sealed like every
//! secret) have the same card with Test Access.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zbridge_core::Warning;
use zbridge_salesforce::CredentialKind;
use zbridge_salesforce::service::CredentialView;

use super::connections::encode_path;
use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;
use crate::{AppState, sf};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sf-credentials", get(index).post(create_profile))
        .route("/sf-credentials/{profile}", get(profile_page))
        .route("/sf-credentials/{profile}/{kind}", post(save))
        .route("/sf-credentials/{profile}/method", post(switch))
        .route("/sf-credentials/{profile}/setup-oauth", post(setup_oauth))
        .route("/sf-credentials/{profile}/test-access", post(test_access))
        .route("/sf-credentials/{profile}/delete/{kind}", post(delete))
        .route(sf::CALLBACK_PATH, get(callback))
}

/// A profile in the list.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    name: String,
    connection: String,
}

#[derive(Template)]
#[template(path = "sf_index.html")]
struct IndexPage {
    csrf: String,
    profiles: Vec<ProfileRow>,
    connections: Vec<String>,
    error: Option<ErrorDetail>,
}

async fn index_page(
    state: &AppState,
    csrf: String,
    error: Option<ErrorDetail>,
) -> Result<IndexPage, ApiError> {
    let connections = state.store().list_connections().await?;
    let profiles = state
        .store()
        .list_sync_profiles()
        .await?
        .into_iter()
        .map(|p| ProfileRow {
            connection: connections
                .iter()
                .find(|c| c.id == p.connection_id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            name: p.name,
        })
        .collect();
    Ok(IndexPage {
        csrf,
        profiles,
        connections: connections.into_iter().map(|c| c.name).collect(),
        error,
    })
}

async fn index(State(state): State<AppState>, Csrf(csrf): Csrf) -> Result<Response, ApiError> {
    Ok(render(&index_page(&state, csrf, None).await?))
}

async fn create_profile(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    match state
        .store()
        .create_sync_profile(
            &form.text("name"),
            &form.text("connection"),
            serde_json::json!({}),
        )
        .await
    {
        Ok(p) => {
            Ok(Redirect::to(&format!("/sf-credentials/{}", encode_path(&p.name))).into_response())
        }
        Err(e) => {
            let error = ApiError::from(e);
            let page = index_page(&state, csrf, Some(error.detail())).await?;
            Ok((error.status(), render(&page)).into_response())
        }
    }
}

/// A message shown on the profile page.
#[derive(Debug, Clone)]
pub struct Message {
    ok: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "sf_profile.html")]
struct ProfilePage {
    csrf: String,
    profile: String,
    active: String,
    password: Option<CredentialView>,
    oauth: Option<CredentialView>,
    jwt: Option<CredentialView>,
    /// What the empty private-key box stands for.
    jwt_key_placeholder: String,
    editing: String,
    message: Option<Message>,
    warnings: Vec<Warning>,
    callback_url: String,
}

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    edit: Option<String>,
    done: Option<String>,
}

fn done_message(done: &str) -> Option<Message> {
    let text = match done {
        "saved" => {
            "Saved. The change takes effect at once (a sync in flight picks it up at its next batch)."
        }
        "switched" => "Switched the active method. A sync in flight picks it up at its next batch.",
        "deleted" => "Deleted the credentials.",
        _ => return None,
    };
    Some(Message {
        ok: true,
        text: text.into(),
    })
}

async fn build_page(
    state: &AppState,
    csrf: String,
    profile: &str,
    headers: &HeaderMap,
) -> Result<ProfilePage, ApiError> {
    let shown = state.sf().show(profile).await?;
    let find = |kind: CredentialKind| shown.credentials.iter().find(|c| c.kind == kind).cloned();
    let jwt = find(CredentialKind::Jwt);
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    Ok(ProfilePage {
        csrf,
        active: shown
            .active
            .map(|k| k.as_str().to_string())
            .unwrap_or_default(),
        password: find(CredentialKind::Password),
        oauth: find(CredentialKind::OAuth),
        jwt_key_placeholder: key_placeholder(jwt.as_ref()),
        jwt,
        profile: shown.profile,
        editing: String::new(),
        message: None,
        warnings: Vec::new(),
        callback_url: sf::callback_url(state.options().secure_cookies, host),
    })
}

fn key_placeholder(jwt: Option<&CredentialView>) -> String {
    match jwt {
        Some(c) if c.private_key.is_some_and(|k| k.set) => "set — leave empty to keep it".into(),
        Some(CredentialView {
            key_file: Some(file),
            ..
        }) => format!("read from {file} — paste a key to replace the file"),
        _ => "-----BEGIN PRIVATE KEY----- …".into(),
    }
}

async fn profile_page(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut page = build_page(&state, csrf, &profile, &headers).await?;
    page.editing = match q.edit.as_deref() {
        Some("password") => "password".into(),
        Some("oauth") => "oauth".into(),
        Some("jwt") => "jwt".into(),
        _ => String::new(),
    };
    page.message = q.done.as_deref().and_then(done_message);
    Ok(render(&page))
}

/// Renders the profile page with an outcome, or goes back to it with `done` on success.
async fn outcome(
    state: &AppState,
    csrf: String,
    profile: &str,
    headers: &HeaderMap,
    result: Result<Vec<Warning>, ApiError>,
    editing: &str,
) -> Result<Response, ApiError> {
    match result {
        Ok(warnings) if warnings.is_empty() => Ok(Redirect::to(&format!(
            "/sf-credentials/{}?done=saved",
            encode_path(profile)
        ))
        .into_response()),
        Ok(warnings) => {
            let mut page = build_page(state, csrf, profile, headers).await?;
            page.message = done_message("saved");
            page.warnings = warnings;
            Ok(render(&page))
        }
        Err(error) => {
            let mut page = build_page(state, csrf, profile, headers).await?;
            page.editing = editing.to_string();
            page.message = Some(Message {
                ok: false,
                text: error.to_string(),
            });
            Ok((error.status(), render(&page)).into_response())
        }
    }
}

/// Saves the form of one credential kind (`password`, `oauth` or `jwt`; the other actions
/// have their own, fixed paths, which take precedence).
async fn save(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path((profile, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind: CredentialKind = kind.parse()?;
    let form = FormData::parse(&body);
    let service = state.sf();
    let result = match kind {
        CredentialKind::Password => service
            .save_password(&profile, sf::password_fields(&form))
            .await
            .map(|_| Vec::new()),
        CredentialKind::OAuth => service
            .save_oauth(&profile, sf::oauth_fields(&form))
            .await
            .map(|(_, warnings)| warnings),
        CredentialKind::Jwt => {
            let (fields, private_key) = sf::jwt_fields(&form);
            service
                .save_jwt_with_key(&profile, fields, private_key)
                .await
                .map(|_| Vec::new())
        }
    };
    let result = result.map_err(ApiError::from);
    outcome(&state, csrf, &profile, &headers, result, kind.as_str()).await
}

async fn switch(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let result = async {
        let kind: CredentialKind = form.text("method").parse()?;
        state.sf().switch(&profile, Some(kind)).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/sf-credentials/{}?done=switched",
            encode_path(&profile)
        ))
        .into_response()),
        Err(e) => outcome(&state, csrf, &profile, &headers, Err(e), "").await,
    }
}

async fn setup_oauth(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let callback = sf::callback_url(state.options().secure_cookies, &host);
    match sf::begin_setup(&state, &profile, &callback).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => outcome(&state, csrf, &profile, &headers, Err(e), "").await,
    }
}

#[derive(Template)]
#[template(path = "sf_callback.html")]
struct CallbackPage {
    profile: String,
    message: Message,
}

async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    match sf::finish_setup(&state, &query).await {
        Ok((profile, outcome)) => render(&CallbackPage {
            message: Message {
                ok: true,
                text: format!(
                    "The OAuth token is set up: org {}, user {} ({}).",
                    outcome.org_id, outcome.user_id, outcome.username
                ),
            },
            profile,
        }),
        Err(error) => (
            error.status(),
            render(&CallbackPage {
                profile: String::new(),
                message: Message {
                    ok: false,
                    text: error.to_string(),
                },
            }),
        )
            .into_response(),
    }
}

async fn test_access(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(profile): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let result = state.sf().test_access(&profile).await;
    let mut page = build_page(&state, csrf, &profile, &headers).await?;
    page.message = Some(match result {
        Ok(report) => Message {
            ok: true,
            text: report.message,
        },
        Err(error) => Message {
            ok: false,
            text: match &error {
                zbridge_salesforce::SalesforceError::AccessTest { .. }
                    if page.active == "oauth" =>
                {
                    format!(
                        "The access test failed. Set up the OAuth token with \"Set up OAuth tokens\" ({error})."
                    )
                }
                _ => format!("The access test failed: {error}"),
            },
        },
    });
    Ok(render(&page))
}

async fn delete(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path((profile, kind)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let result = async {
        let kind: CredentialKind = kind.parse()?;
        Ok::<_, ApiError>(state.sf().delete(&profile, kind).await?)
    }
    .await;
    match result {
        Ok(warnings) if warnings.is_empty() => Ok(Redirect::to(&format!(
            "/sf-credentials/{}?done=deleted",
            encode_path(&profile)
        ))
        .into_response()),
        Ok(warnings) => {
            let mut page = build_page(&state, csrf, &profile, &headers).await?;
            page.message = done_message("deleted");
            page.warnings = warnings;
            Ok(render(&page))
        }
        Err(e) => outcome(&state, csrf, &profile, &headers, Err(e), "").await,
    }
}
