//! The JSON API under `/api`: everything the CLI does, over the same service functions.
//! Secrets are write-only: requests may set (a string) or clear (`null`) them; responses show
//! only `{"set": true|false}`.

pub mod connections;
pub mod execute;
pub mod query;
pub mod saved_queries;
pub mod sf_credentials;
pub mod sync;

pub mod variables;

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Deserializer};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(crate::openapi::document))
        .merge(connections::routes())
        .merge(variables::routes())
        .merge(execute::routes())
        .merge(query::routes())
        .merge(saved_queries::routes())
        .merge(sf_credentials::routes())
        .merge(sync::routes())
        // Every answer under /api has the JSON error shape, these two included.
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
}

async fn unknown_route(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> crate::error::ApiError {
    crate::error::ApiError::NotFound(format!(
        "no API operation at {}; /api/openapi.json lists them",
        uri.path()
    ))
}

async fn wrong_method(
    method: axum::http::Method,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> crate::error::ApiError {
    crate::error::ApiError::MethodNotAllowed(format!(
        "{method} is not an operation of {}; /api/openapi.json lists the methods it takes",
        uri.path()
    ))
}

/// A write-only field of a request: absent keeps the stored value, `null` clears it, a value
/// sets it.
#[derive(Debug, Clone, Default)]
pub enum Patch<T> {
    /// Keep what is stored.
    #[default]
    Keep,
    /// Remove it.
    Clear,
    /// Replace it.
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Set(v),
            None => Patch::Clear,
        })
    }
}

pub use zbridge_store::SecretState;

/// A JSON body whose rejection is an [`ApiError`] with the field and rule, like every other
/// error of the API.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = crate::ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(crate::ApiError::bad_request(
                "request body",
                rejection.body_text(),
            )),
        }
    }
}
