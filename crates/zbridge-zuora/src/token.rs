//! The OAuth token manager of one connection.
//!
//! - Client credentials against `{base}/oauth/token`; the token is renewed 5 minutes before it
//!   expires, and once when a request gets a 401.
//! - One renewal is in flight at a time: concurrent requests wait for it (Zuora rate-limits the
//!   token endpoint per IP, so parallel requests must never mint several tokens).
//! - Each connection has its own cache: sealed in the store under its connection id, or the
//!   file named by `OAuthSettingsLocation` (mode 0600, locked while written).
//! - `InitiateOAuth=OFF` uses `OAuthAccessToken` as given.
//! - A refresh token is tried once with the `refresh_token` grant; Zuora refuses that grant, so
//!   the manager then falls back to client credentials when a secret is set.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use zbridge_core::connection::{OAuthMode, ResolvedZuoraConnection};
use zbridge_store::{Store, StoredToken};

use crate::error::{ZuoraError, excerpt};
use crate::policy::RetryPolicy;
use crate::transport;

/// Renew this long before the token expires.
const RENEW_EARLY: Duration = Duration::from_secs(300);

/// Where a connection's token is kept between runs.
#[derive(Clone)]
pub enum TokenCache {
    /// Only in memory, for this process.
    Memory,
    /// Sealed in the store, under the connection's id.
    Store {
        /// The store.
        store: Store,
        /// The connection's id.
        connection_id: String,
    },
    /// A file (`OAuthSettingsLocation`), sealed with the store's key.
    File {
        /// The store whose key seals the file.
        store: Store,
        /// The connection's id.
        connection_id: String,
        /// The file.
        path: PathBuf,
    },
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenCache::Memory => f.write_str("Memory"),
            TokenCache::Store { connection_id, .. } => write!(f, "Store({connection_id})"),
            TokenCache::File { path, .. } => write!(f, "File({})", path.display()),
        }
    }
}

/// A token and what Zuora said about it.
#[derive(Clone)]
pub struct Token {
    /// The bearer token.
    pub access_token: SecretString,
    /// When it expires (unknown for a token given with InitiateOAuth=OFF).
    pub expires_at: Option<DateTime<Utc>>,
    /// The scope, e.g. `user.… entity.… tenant.19`.
    pub scope: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The entity ids the token covers (`entity.<uuid>` scope words).
    pub fn entities(&self) -> Vec<&str> {
        self.scope
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("entity."))
            .collect()
    }

    fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at
            .is_none_or(|at| at - chrono::Duration::from_std(RENEW_EARLY).unwrap_or_default() > now)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    scope: String,
}

/// Obtains, caches and renews the access token of one connection.
pub struct TokenManager {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<SecretString>,
    refresh_token: Option<SecretString>,
    fixed: Option<SecretString>,
    binding: String,
    cache: TokenCache,
    current: Mutex<Option<Token>>,
    refresh_grant_refused: AtomicBool,
    connect_timeout: Duration,
    proxied: bool,
    policy: RetryPolicy,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("token_url", &self.token_url)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager for `conn`, sending token requests through `http`.
    pub fn new(
        conn: &ResolvedZuoraConnection,
        http: reqwest::Client,
        cache: TokenCache,
        policy: RetryPolicy,
    ) -> Arc<Self> {
        let fixed = match &conn.oauth {
            OAuthMode::Off { access_token } => Some(access_token.clone()),
            OAuthMode::Refresh => None,
        };
        Arc::new(TokenManager {
            http,
            token_url: format!("{}/oauth/token", conn.base_url),
            client_id: conn.client_id.clone(),
            client_secret: conn.client_secret.clone(),
            refresh_token: conn.refresh_token.clone(),
            fixed,
            binding: format!("{}|{}", conn.base_url, conn.client_id),
            cache,
            current: Mutex::new(None),
            refresh_grant_refused: AtomicBool::new(false),
            connect_timeout: conn.settings.connect_timeout,
            proxied: conn.proxy.is_some(),
            policy,
        })
    }

    /// Whether the token was given as is (InitiateOAuth=OFF) and cannot be renewed.
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// A token that is valid for at least five more minutes, renewing it if needed.
    pub async fn token(&self) -> Result<Token, ZuoraError> {
        if let Some(fixed) = &self.fixed {
            return Ok(Token {
                access_token: fixed.clone(),
                expires_at: None,
                scope: String::new(),
            });
        }
        // Holding the lock while renewing makes concurrent callers wait for one renewal.
        let mut current = self.current.lock().await;
        let now = Utc::now();
        if let Some(token) = current.as_ref().filter(|t| t.is_fresh(now)) {
            return Ok(token.clone());
        }
        if let Some(token) = self.load_cached().await?.filter(|t| t.is_fresh(now)) {
            *current = Some(token.clone());
            return Ok(token);
        }
        let token = self.fetch().await?;
        self.save_cached(&token).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// Drops `stale` after the server refused it, so the next [`TokenManager::token`] renews.
    /// A token that was already replaced by another caller is left alone.
    pub async fn invalidate(&self, stale: &Token) -> Result<(), ZuoraError> {
        if self.fixed.is_some() {
            return Err(ZuoraError::AccessTokenRefused);
        }
        let mut current = self.current.lock().await;
        let same = current
            .as_ref()
            .is_some_and(|t| t.access_token.expose_secret() == stale.access_token.expose_secret());
        if same || current.is_none() {
            *current = None;
            self.forget_cached().await?;
        }
        Ok(())
    }

    async fn fetch(&self) -> Result<Token, ZuoraError> {
        if let Some(refresh) = &self.refresh_token
            && !self.refresh_grant_refused.load(Ordering::Relaxed)
        {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh.expose_secret().to_string()),
                ("client_id", self.client_id.clone()),
            ];
            if let Some(secret) = &self.client_secret {
                form.push(("client_secret", secret.expose_secret().to_string()));
            }
            match self.post_token(&form).await {
                Ok(token) => return Ok(token),
                Err(ZuoraError::AuthRejected { .. }) => {
                    tracing::info!(
                        "Zuora refused the refresh-token grant; using client credentials"
                    );
                    self.refresh_grant_refused.store(true, Ordering::Relaxed);
                    if self.client_secret.is_none() {
                        return Err(ZuoraError::RefreshGrantRefused);
                    }
                }
                Err(other) => return Err(other),
            }
        }
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            zbridge_core::ValidationError::new(
                zbridge_core::connection::field::CLIENT_SECRET,
                "is required unless InitiateOAuth=OFF",
            )
        })?;
        let form = vec![
            ("client_id", self.client_id.clone()),
            ("client_secret", secret.expose_secret().to_string()),
            ("grant_type", "client_credentials".to_string()),
        ];
        self.post_token(&form).await
    }

    /// One token request, retried on 429 and 5xx like any other call.
    async fn post_token(&self, form: &[(&str, String)]) -> Result<Token, ZuoraError> {
        let policy = &self.policy;
        let started = std::time::Instant::now();
        let mut retry = 0;
        loop {
            let sent = self.http.post(&self.token_url).form(form).send().await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    let failure = transport::classify(
                        &error,
                        &self.token_url,
                        self.connect_timeout,
                        self.proxied,
                    );
                    match transport::retry_wait(policy, retry, started, None, &failure) {
                        Some(wait) => {
                            tokio::time::sleep(wait).await;
                            retry += 1;
                            continue;
                        }
                        None => return Err(failure),
                    }
                }
            };
            let status = response.status().as_u16();
            let wait = crate::policy::server_wait(
                status,
                |h| response.headers().get(h).and_then(|v| v.to_str().ok()),
                Utc::now(),
            );
            let body = response.text().await.unwrap_or_default();
            match status {
                200 => return parse_token(&body, &self.token_url),
                429 | 500 | 502 | 503 | 504 => {
                    let failure = ZuoraError::Http {
                        method: "POST".into(),
                        path: "/oauth/token".into(),
                        status,
                        body: excerpt(&body),
                    };
                    match transport::retry_wait(policy, retry, started, wait, &failure) {
                        Some(wait) => {
                            tokio::time::sleep(wait).await;
                            retry += 1;
                        }
                        None => return Err(failure),
                    }
                }
                400 | 401 | 403 if looks_like_json(&body) => {
                    return Err(ZuoraError::AuthRejected {
                        status,
                        url: self.token_url.clone(),
                        body: excerpt(&body),
                    });
                }
                407 => {
                    return Err(ZuoraError::Proxy {
                        detail: "the proxy asked for authentication (HTTP 407)".into(),
                    });
                }
                _ => {
                    return Err(ZuoraError::NotZuora {
                        url: self.token_url.clone(),
                        status,
                    });
                }
            }
        }
    }

    async fn load_cached(&self) -> Result<Option<Token>, ZuoraError> {
        let stored = match &self.cache {
            TokenCache::Memory => None,
            TokenCache::Store {
                store,
                connection_id,
            } => store
                .load_token(connection_id, &self.binding)
                .await
                .map_err(|e| ZuoraError::Cache(e.to_string()))?,
            TokenCache::File {
                store,
                connection_id,
                path,
            } => crate::token_file::load(store, connection_id, &self.binding, path)?,
        };
        Ok(stored.map(|s| Token {
            access_token: s.access_token,
            expires_at: Some(s.expires_at),
            scope: s.scope,
        }))
    }

    async fn save_cached(&self, token: &Token) -> Result<(), ZuoraError> {
        let Some(expires_at) = token.expires_at else {
            return Ok(());
        };
        let stored = StoredToken {
            access_token: token.access_token.clone(),
            scope: token.scope.clone(),
            expires_at,
        };
        match &self.cache {
            TokenCache::Memory => Ok(()),
            TokenCache::Store {
                store,
                connection_id,
            } => store
                .save_token(connection_id, &self.binding, &stored)
                .await
                .map_err(|e| ZuoraError::Cache(e.to_string())),
            TokenCache::File {
                store,
                connection_id,
                path,
            } => crate::token_file::save(store, connection_id, &self.binding, path, &stored),
        }
    }

    async fn forget_cached(&self) -> Result<(), ZuoraError> {
        match &self.cache {
            TokenCache::Memory => Ok(()),
            TokenCache::Store {
                store,
                connection_id,
            } => store
                .delete_token(connection_id)
                .await
                .map_err(|e| ZuoraError::Cache(e.to_string())),
            TokenCache::File { path, .. } => crate::token_file::remove(path),
        }
    }
}

fn looks_like_json(body: &str) -> bool {
    let t = body.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

fn parse_token(body: &str, url: &str) -> Result<Token, ZuoraError> {
    let parsed: TokenResponse = serde_json::from_str(body).map_err(|e| ZuoraError::Protocol {
        path: url.to_string(),
        detail: format!("the token response is not the documented JSON: {e}"),
    })?;
    let lifetime = parsed
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3600.0);
    let expires_at = Utc::now() + chrono::Duration::milliseconds((lifetime * 1000.0) as i64);
    Ok(Token {
        access_token: SecretString::from(parsed.access_token),
        expires_at: Some(expires_at),
        scope: parsed.scope,
    })
}
