//! zbridge's local web UI and HTTP JSON API, served by `zbridge serve`.
//!
//! Both faces call the same service functions as the CLI (the store, the Zuora client, the
//! Salesforce sync-credentials service); handlers here only translate HTTP to those calls.
//!
//! - Authentication: an access token ([`auth::AccessToken`]) created on first start; API clients
//!   send it as `Authorization: Bearer`, the browser signs in with it once and then keeps an
//!   HttpOnly, SameSite=Strict session cookie.
//! - Every state-changing request made with the session cookie carries a CSRF token (a hidden
//!   form field, or the `X-CSRF-Token` header that htmx adds).
//! - Secrets are write-only: the API and the pages show them only as set / not set.
//! - Errors of the API are JSON `{"error": {"field": ..., "rule": ...}}` ([`error::ApiError`]).

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod api;
pub mod assets;
pub mod auth;
pub mod error;
pub mod execute;
pub mod form;
pub mod openapi;
pub mod pages;
pub mod query;
pub mod sf;
pub mod sync;
pub mod tls;
pub mod zuora;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use zbridge_salesforce::SyncCredentials;
use zbridge_store::Store;

pub use auth::AccessToken;
pub use error::ApiError;

/// How the server runs.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Mark the session cookie `Secure` (the server is reached over TLS).
    pub secure_cookies: bool,
}

/// Everything a handler needs, shared by all requests.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    token: AccessToken,
    sessions: auth::Sessions,
    options: ServerOptions,
    sf: SyncCredentials,
    pending_oauth: Mutex<HashMap<String, sf::Pending>>,
}

impl AppState {
    /// State over `store`, accepting `token`.
    pub fn new(store: Store, token: AccessToken, options: ServerOptions) -> Result<Self, ApiError> {
        let http = zbridge_salesforce::service::http_client()?;
        Ok(AppState {
            inner: Arc::new(Inner {
                sf: SyncCredentials::new(store.clone(), http),
                store,
                token,
                sessions: auth::Sessions::default(),
                options,
                pending_oauth: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The Salesforce sync-credentials service.
    pub fn sf(&self) -> &SyncCredentials {
        &self.inner.sf
    }

    pub(crate) fn token(&self) -> &AccessToken {
        &self.inner.token
    }

    pub(crate) fn sessions(&self) -> &auth::Sessions {
        &self.inner.sessions
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// Setups waiting for the browser, by OAuth `state`.
    pub(crate) fn pending_oauth(&self) -> std::sync::MutexGuard<'_, HashMap<String, sf::Pending>> {
        self.inner
            .pending_oauth
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The whole application: pages, API and assets, behind the authentication guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api", api::routes())
        .merge(auth::routes())
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        // No page may be framed by another site (clickjacking), and no answer is read as
        // another type than the one it says it is.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

/// Serves the application on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Serves the application over TLS on `listener` until the process ends. Give the state
/// [`ServerOptions::secure_cookies`] so the session cookie is marked `Secure`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: std::sync::Arc<rustls::ServerConfig>,
    state: AppState,
) -> std::io::Result<()> {
    axum::serve(tls::TlsListener::new(listener, config)?, router(state)).await
}
