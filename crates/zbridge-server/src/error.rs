//! The error every API handler returns, rendered as JSON with the field and the rule that
//! failed. Messages come from the library crates, which never put secrets in them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use zbridge_core::ValidationError;
use zbridge_salesforce::SalesforceError;
use zbridge_store::{ComponentRef, StoreError};
use zbridge_zuora::ZuoraError;

/// What went wrong, with the HTTP status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input broke a rule (422).
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Nothing has that name (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (409): duplicate name, stale version, in use.
    #[error("{field}: {rule}")]
    Conflict {
        /// The field concerned.
        field: String,
        /// The rule.
        rule: String,
        /// Saved components that use the connection, for a refused delete.
        used_by: Vec<ComponentRef>,
    },
    /// Zuora or Salesforce refused or failed (502).
    #[error("{field}: {rule}")]
    Remote {
        /// What was being reached.
        field: String,
        /// What happened.
        rule: String,
    },
    /// No valid token or session (401).
    #[error("sign in with the access token")]
    Unauthorized,
    /// The request is not allowed (403), e.g. a missing CSRF token.
    #[error("{0}")]
    Forbidden(String),
    /// The path exists but not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Something on this side failed (500).
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The field and the rule that failed.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// The field as the user sees it, when the error is about one field.
    pub field: Option<String>,
    /// The rule that failed, or what happened.
    pub rule: String,
    /// Saved components that use a connection whose delete was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<ComponentRef>,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Remote { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The field and rule, as shown in JSON and on the pages.
    pub fn detail(&self) -> ErrorDetail {
        let plain = |rule: String| ErrorDetail {
            field: None,
            rule,
            used_by: Vec::new(),
        };
        match self {
            ApiError::Invalid(e) => ErrorDetail {
                field: Some(e.field.clone()),
                rule: e.rule.clone(),
                used_by: Vec::new(),
            },
            ApiError::Conflict {
                field,
                rule,
                used_by,
            } => ErrorDetail {
                field: Some(field.clone()),
                rule: rule.clone(),
                used_by: used_by.clone(),
            },
            ApiError::Remote { field, rule } => ErrorDetail {
                field: Some(field.clone()),
                rule: rule.clone(),
                used_by: Vec::new(),
            },
            other => plain(other.to_string()),
        }
    }

    /// A 400-class error about a request that could not be read.
    pub fn bad_request(field: &str, rule: impl Into<String>) -> Self {
        ApiError::Invalid(ValidationError::new(field, rule))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.detail(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(e) => ApiError::Invalid(e),
            StoreError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            StoreError::Duplicate { field, .. } => ApiError::Conflict {
                field: field.to_string(),
                rule: error.to_string(),
                used_by: Vec::new(),
            },
            StoreError::InUse { ref users, .. } => ApiError::Conflict {
                field: "Connection".into(),
                used_by: users.clone(),
                rule: error.to_string(),
            },
            StoreError::Conflict { .. } => ApiError::Conflict {
                field: "version".into(),
                rule: error.to_string(),
                used_by: Vec::new(),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ZuoraError> for ApiError {
    fn from(error: ZuoraError) -> Self {
        match error {
            ZuoraError::Config(e) => ApiError::Invalid(e),
            other => ApiError::Remote {
                field: "Zuora".into(),
                rule: other.to_string(),
            },
        }
    }
}

impl From<SalesforceError> for ApiError {
    fn from(error: SalesforceError) -> Self {
        match error {
            SalesforceError::Store(e) => e.into(),
            SalesforceError::Local(message) => {
                ApiError::Invalid(ValidationError::new("Salesforce credentials", message))
            }
            other => ApiError::Remote {
                field: "Salesforce".into(),
                rule: other.to_string(),
            },
        }
    }
}

impl From<zbridge_zuora::saved::SavedQueryError> for ApiError {
    fn from(error: zbridge_zuora::saved::SavedQueryError) -> Self {
        use zbridge_zuora::saved::SavedQueryError;
        match error {
            SavedQueryError::Invalid(e) => ApiError::Invalid(e),
            SavedQueryError::Store(e) => e.into(),
            SavedQueryError::Zuora(e) => e.into(),
            SavedQueryError::ConnectionGone { .. } => ApiError::Conflict {
                field: "Connection".into(),
                rule: error.to_string(),
                used_by: Vec::new(),
            },
            SavedQueryError::Unreadable { .. } => ApiError::Internal(error.to_string()),
        }
    }
}
