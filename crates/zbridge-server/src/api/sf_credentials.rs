//! `/api/sync-profiles`: sync profiles and their Salesforce sync credentials, over the same
//! service as `zbridge sf-credentials`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zbridge_core::Warning;
use zbridge_salesforce::CredentialKind;
use zbridge_salesforce::credentials::{JwtFields, OAuthFields, PasswordFields};
use zbridge_salesforce::service::{AccessReport, ProfileCredentials};
use zbridge_store::SyncProfile;

use super::{ApiJson, Patch};
use crate::error::ApiError;
use crate::{AppState, sf};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync-profiles", get(list).post(create))
        .route("/sync-profiles/{profile}", delete(delete_profile))
        .route("/sync-profiles/{profile}/sf-credentials", get(show))
        // The kinds with their own routes take DELETE there too: a static segment wins over
        // `{kind}`, so the generic route below would never see them.
        .route(
            "/sync-profiles/{profile}/sf-credentials/password",
            put(save_password).delete(remove_password),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/oauth",
            put(save_oauth).delete(remove_oauth),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/jwt",
            put(save_jwt).delete(remove_jwt),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/{kind}",
            delete(remove),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/switch",
            post(switch),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/test-access",
            post(test_access),
        )
        .route(
            "/sync-profiles/{profile}/sf-credentials/setup-oauth",
            post(setup_oauth),
        )
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<SyncProfile>>, ApiError> {
    Ok(Json(state.store().list_sync_profiles().await?))
}

/// A new sync profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    name: String,
    connection: String,
}

async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Response, ApiError> {
    let profile = state
        .store()
        .create_sync_profile(&input.name, &input.connection, serde_json::json!({}))
        .await?;
    Ok((StatusCode::CREATED, Json(profile)).into_response())
}

async fn delete_profile(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store().delete_sync_profile(&profile).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn show(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<ProfileCredentials>, ApiError> {
    Ok(Json(state.sf().show(&profile).await?))
}

/// Where to log in; absent fields keep their value.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    sandbox: Option<bool>,
    #[serde(default)]
    login_url: Patch<String>,
}

impl EndpointInput {
    fn fields(self) -> zbridge_salesforce::credentials::EndpointFields {
        zbridge_salesforce::credentials::EndpointFields {
            sandbox: self.sandbox,
            login_url: match self.login_url {
                Patch::Keep => None,
                Patch::Clear => Some(None),
                Patch::Set(url) => Some(Some(url)),
            },
        }
    }
}

/// Salesforce credentials (username, password, security token); absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    security_token: Patch<String>,
    #[serde(flatten)]
    endpoint: EndpointInput,
}

async fn save_password(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<Json<ProfileCredentials>, ApiError> {
    let fields = PasswordFields {
        username: input.username,
        password: input.password.as_deref().and_then(sf::secret),
        security_token: match input.security_token {
            Patch::Keep => None,
            Patch::Clear => Some(secrecy::SecretString::from(String::new())),
            Patch::Set(t) => Some(secrecy::SecretString::from(t)),
        },
        endpoint: input.endpoint.fields(),
    };
    Ok(Json(state.sf().save_password(&profile, fields).await?))
}

/// OAuth credentials; absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthInput {
    org_id: Option<String>,
    user_id: Option<String>,
    consumer_key: Option<String>,
    consumer_secret: Option<String>,
    #[serde(flatten)]
    endpoint: EndpointInput,
}

/// Saved credentials with the warnings of the save.
#[derive(Debug, Serialize)]
struct SavedCredentials {
    #[serde(flatten)]
    credentials: ProfileCredentials,
    warnings: Vec<Warning>,
}

async fn save_oauth(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<OAuthInput>,
) -> Result<Json<SavedCredentials>, ApiError> {
    let fields = OAuthFields {
        org_id: input.org_id,
        user_id: input.user_id,
        consumer_key: input.consumer_key,
        consumer_secret: input.consumer_secret.as_deref().and_then(sf::secret),
        endpoint: input.endpoint.fields(),
    };
    let (credentials, warnings) = state.sf().save_oauth(&profile, fields).await?;
    Ok(Json(SavedCredentials {
        credentials,
        warnings,
    }))
}

async fn remove(
    State(state): State<AppState>,
    Path((profile, kind)): Path<(String, String)>,
) -> Result<Json<Vec<Warning>>, ApiError> {
    let kind: CredentialKind = kind.parse()?;
    Ok(Json(state.sf().delete(&profile, kind).await?))
}

async fn remove_password(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<Vec<Warning>>, ApiError> {
    Ok(Json(
        state
            .sf()
            .delete(&profile, CredentialKind::Password)
            .await?,
    ))
}

/// JWT bearer credentials; absent fields keep their value. The key is given as PEM text
/// (`private_key`, write-only, sealed in the store) or as a file on the server (`key_file`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtInput {
    username: Option<String>,
    consumer_key: Option<String>,
    private_key: Option<String>,
    key_file: Option<String>,
    #[serde(flatten)]
    endpoint: EndpointInput,
}

async fn save_jwt(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<JwtInput>,
) -> Result<Json<ProfileCredentials>, ApiError> {
    let fields = JwtFields {
        username: input.username,
        consumer_key: input.consumer_key,
        key_file: input.key_file.map(std::path::PathBuf::from),
        endpoint: input.endpoint.fields(),
    };
    let private_key = input.private_key.as_deref().and_then(sf::secret);
    Ok(Json(
        state
            .sf()
            .save_jwt_with_key(&profile, fields, private_key)
            .await?,
    ))
}

async fn remove_jwt(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<Vec<Warning>>, ApiError> {
    Ok(Json(
        state.sf().delete(&profile, CredentialKind::Jwt).await?,
    ))
}

async fn remove_oauth(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<Vec<Warning>>, ApiError> {
    Ok(Json(
        state.sf().delete(&profile, CredentialKind::OAuth).await?,
    ))
}

/// Which kind to make active.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchInput {
    kind: CredentialKind,
}

#[derive(Debug, Serialize)]
struct Active {
    active: CredentialKind,
}

async fn switch(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    ApiJson(input): ApiJson<SwitchInput>,
) -> Result<Json<Active>, ApiError> {
    let active = state.sf().switch(&profile, Some(input.kind)).await?;
    Ok(Json(Active { active }))
}

async fn test_access(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Json<AccessReport>, ApiError> {
    Ok(Json(state.sf().test_access(&profile).await?))
}

#[derive(Debug, Serialize)]
struct SetupStarted {
    authorize_url: String,
    redirect_uri: String,
}

async fn setup_oauth(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SetupStarted>, ApiError> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let redirect_uri = sf::callback_url(state.options().secure_cookies, host);
    let authorize_url = sf::begin_setup(&state, &profile, &redirect_uri).await?;
    Ok(Json(SetupStarted {
        authorize_url,
        redirect_uri,
    }))
}
