//! The HTTP client of one Zuora connection: authentication, headers, retries and the checks of
//! every response body.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::Value;
use zbridge_core::connection::ResolvedZuoraConnection;

use crate::clock::{ClockSamples, ZuoraTime};
use crate::error::{ZuoraError, excerpt};
use crate::policy::{self, RetryPolicy, StatusClass};
use crate::token::{Token, TokenCache, TokenManager};
use crate::transport;

/// New tokens one call may fetch after a 401: a token can be revoked while a call is on its
/// way (a rotation, another process signing in with the same client), so one renewal is not
/// always enough; a credential Zuora truly refuses fails at the token endpoint instead.
const TOKEN_RENEWALS: u32 = 3;

/// A Zuora connection ready to make calls.
#[derive(Debug, Clone)]
pub struct ZuoraClient {
    conn: Arc<ResolvedZuoraConnection>,
    http: reqwest::Client,
    tokens: Arc<TokenManager>,
    policy: RetryPolicy,
    clock: Arc<ClockSamples>,
}

/// A successful response, body read.
#[derive(Debug)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// One logical API call; its retries share the track id and the idempotency key.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    method: Method,
    path: &'a str,
    json: Option<&'a Value>,
    /// An AQuA submit must answer with an `id` (zuora-api.md §4.3).
    expect_id: bool,
}

impl<'a> Call<'a> {
    /// A GET of `path` (relative to the base URL, with its leading slash).
    pub fn get(path: &'a str) -> Self {
        Call {
            method: Method::GET,
            path,
            json: None,
            expect_id: false,
        }
    }

    /// A POST of a JSON body; it carries an `Idempotency-Key`, so a retry cannot act twice.
    pub fn post(path: &'a str, json: &'a Value) -> Self {
        Call {
            method: Method::POST,
            path,
            json: Some(json),
            expect_id: false,
        }
    }

    /// A DELETE of `path`.
    pub fn delete(path: &'a str) -> Self {
        Call {
            method: Method::DELETE,
            path,
            json: None,
            expect_id: false,
        }
    }

    /// Requires the JSON answer to carry a non-null `id`.
    pub fn expecting_id(mut self) -> Self {
        self.expect_id = true;
        self
    }
}

/// Builds the reqwest client of a connection: timeouts, proxy, gzip.
pub fn http_client(conn: &ResolvedZuoraConnection) -> Result<reqwest::Client, ZuoraError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("zbridge/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(conn.settings.connect_timeout)
        .read_timeout(conn.settings.read_timeout);
    builder = match &conn.proxy {
        Some(proxy) => {
            let mut p = reqwest::Proxy::all(&proxy.url).map_err(|e| ZuoraError::Proxy {
                detail: format!("invalid proxy URL: {e}"),
            })?;
            if let Some(user) = &proxy.user {
                let password = proxy
                    .password
                    .as_ref()
                    .map(|p| p.expose_secret().to_string())
                    .unwrap_or_default();
                p = p.basic_auth(user, &password);
            }
            builder.proxy(p)
        }
        // No proxy means none at all: an HTTP(S)_PROXY in the environment must not capture
        // traffic the user did not route through a proxy.
        None => builder.no_proxy(),
    };
    builder.build().map_err(|e| ZuoraError::Network {
        host: conn.base_url.clone(),
        detail: e.to_string(),
    })
}

impl ZuoraClient {
    /// A client for a resolved connection, with its token cache.
    pub fn new(conn: ResolvedZuoraConnection, cache: TokenCache) -> Result<Self, ZuoraError> {
        let settings = &conn.settings;
        let policy = RetryPolicy {
            max_retries: settings.max_retries,
            max_elapsed: settings.retry_max_elapsed,
            ..RetryPolicy::default()
        };
        Self::with_policy(conn, cache, policy)
    }

    /// A client for a saved connection: variables expanded with `scope`, the service
    /// optionally overridden, and the token cached under the connection's id in the store, or
    /// in the `OAuthSettingsLocation` file when the connection names one. The CLI and the web
    /// UI both build their clients here.
    pub fn for_saved(
        store: &zbridge_store::Store,
        record: &zbridge_store::ConnectionRecord,
        scope: &zbridge_core::variables::VariableScope,
        service: Option<zbridge_core::ZuoraService>,
    ) -> Result<Self, ZuoraError> {
        let mut resolved = record.def.resolve(scope)?;
        if let Some(service) = service {
            resolved.service = service;
        }
        let cache = match &resolved.oauth_settings_location {
            Some(path) => TokenCache::File {
                store: store.clone(),
                connection_id: record.id.clone(),
                path: path.into(),
            },
            None => TokenCache::Store {
                store: store.clone(),
                connection_id: record.id.clone(),
            },
        };
        Self::new(resolved, cache)
    }

    /// A client with an explicit retry policy (tests use short waits).
    pub fn with_policy(
        conn: ResolvedZuoraConnection,
        cache: TokenCache,
        policy: RetryPolicy,
    ) -> Result<Self, ZuoraError> {
        let http = http_client(&conn)?;
        let tokens = TokenManager::new(&conn, http.clone(), cache, policy.clone());
        Ok(ZuoraClient {
            conn: Arc::new(conn),
            http,
            tokens,
            policy,
            clock: Arc::new(ClockSamples::default()),
        })
    }

    /// Zuora's time now, from the `Date` header of the last answer (see [`crate::clock`]);
    /// `None` before any answer carried one.
    pub fn clock(&self) -> Option<ZuoraTime> {
        self.clock.latest()
    }

    /// The connection this client talks through.
    pub fn connection(&self) -> &ResolvedZuoraConnection {
        &self.conn
    }

    /// How calls are retried (downloads that break mid-body follow it too).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The token manager.
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// The underlying HTTP client (for downloads that must not carry Zuora's headers).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a GET and parses the JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, ZuoraError> {
        self.json(Call::get(path)).await
    }

    /// Sends a POST with a JSON body and parses the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ZuoraError> {
        self.json(Call::post(path, body)).await
    }

    /// Sends a call and parses the JSON answer, treating an error reported with HTTP 200 as an
    /// error.
    pub async fn json(&self, call: Call<'_>) -> Result<Value, ZuoraError> {
        let path = call.path;
        self.send(call)
            .await
            .and_then(|r| parse_json(path, &r.body))
    }

    /// Sends a call and returns its body as text (describe XML).
    pub async fn text(&self, call: Call<'_>) -> Result<String, ZuoraError> {
        let response = self.send(call).await?;
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }

    /// Opens a download: authenticated (`/v1/files/{id}`) when `url` is a path, or a plain GET
    /// without Zuora's headers for a pre-signed URL. Connection failures, 429 and 5xx before the
    /// body starts are retried; the body itself is left to stream.
    pub async fn open_download(&self, url: &str) -> Result<reqwest::Response, ZuoraError> {
        let presigned = url.starts_with("http://") || url.starts_with("https://");
        let full = if presigned {
            url.to_string()
        } else {
            format!("{}{url}", self.conn.base_url)
        };
        let shown = if presigned {
            "the result file".to_string()
        } else {
            url.to_string()
        };
        let started = Instant::now();
        let mut retry = 0u32;
        let mut renewals = 0;
        loop {
            let mut request = self.http.get(&full);
            let token = if presigned {
                None
            } else {
                Some(self.tokens.token().await?)
            };
            if let Some(token) = &token {
                request = request.headers(self.headers(
                    token,
                    &format!("zbridge-{}", uuid::Uuid::new_v4().simple()),
                    None,
                )?);
            }
            let failure = match request.send().await {
                Err(error) => transport::classify(
                    &error.without_url(),
                    &full,
                    self.conn.settings.read_timeout,
                    self.conn.proxy.is_some(),
                ),
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    if status == 401
                        && renewals < TOKEN_RENEWALS
                        && let Some(token) = &token
                    {
                        self.tokens.invalidate(token).await?;
                        renewals += 1;
                        continue;
                    }
                    let wait = policy::server_wait(
                        status,
                        |h| response.headers().get(h).and_then(|v| v.to_str().ok()),
                        chrono::Utc::now(),
                    );
                    let body = response.text().await.unwrap_or_default();
                    let failure = download_failure(&shown, status, &body);
                    self.wait_or_fail(&mut retry, started, wait, failure, &shown)
                        .await?;
                    continue;
                }
            };
            self.wait_or_fail(&mut retry, started, None, failure, &shown)
                .await?;
        }
    }

    /// Sends a call with authentication, the common headers and the retry policy.
    pub async fn send(&self, call: Call<'_>) -> Result<ApiResponse, ZuoraError> {
        let url = format!("{}{}", self.conn.base_url, call.path);
        let track_id = format!("zbridge-{}", uuid::Uuid::new_v4().simple());
        let idempotency_key =
            (call.method == Method::POST).then(|| uuid::Uuid::new_v4().to_string());
        let started = Instant::now();
        let mut retry = 0u32;
        let mut renewals = 0;
        loop {
            let token = self.tokens.token().await?;
            let headers = self.headers(&token, &track_id, idempotency_key.as_deref())?;
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .headers(headers);
            if let Some(json) = call.json {
                request = request.json(json);
            }
            let failure = match request.send().await {
                Err(error) => transport::classify(
                    &error,
                    &url,
                    self.conn.settings.read_timeout,
                    self.conn.proxy.is_some(),
                ),
                Ok(response) => {
                    let status = response.status().as_u16();
                    log_limits(call.path, response.headers());
                    self.clock.record(response.headers());
                    let headers = response.headers().clone();
                    let server_wait = policy::server_wait(
                        status,
                        |h| headers.get(h).and_then(|v| v.to_str().ok()),
                        chrono::Utc::now(),
                    );
                    let body = match response.bytes().await {
                        Ok(body) => body,
                        Err(error) => {
                            let failure = transport::classify(
                                &error,
                                &url,
                                self.conn.settings.read_timeout,
                                self.conn.proxy.is_some(),
                            );
                            self.wait_or_fail(&mut retry, started, None, failure, call.path)
                                .await?;
                            continue;
                        }
                    };
                    match policy::classify_status(status) {
                        StatusClass::Success => {
                            match check_body(call.path, &body, call.expect_id) {
                                Ok(()) => {
                                    return Ok(ApiResponse {
                                        status,
                                        headers,
                                        body,
                                    });
                                }
                                Err(failure) => {
                                    self.wait_or_fail(
                                        &mut retry,
                                        started,
                                        server_wait,
                                        failure,
                                        call.path,
                                    )
                                    .await?;
                                    continue;
                                }
                            }
                        }
                        StatusClass::Unauthorized if renewals < TOKEN_RENEWALS => {
                            tracing::debug!(path = call.path, "401: renewing the token");
                            self.tokens.invalidate(&token).await?;
                            renewals += 1;
                            continue;
                        }
                        StatusClass::Unauthorized => {
                            return Err(ZuoraError::Unauthorized {
                                path: call.path.to_string(),
                                body: excerpt(&String::from_utf8_lossy(&body)),
                            });
                        }
                        StatusClass::Transient | StatusClass::Permanent => {
                            let failure = ZuoraError::Http {
                                method: call.method.to_string(),
                                path: call.path.to_string(),
                                status,
                                body: excerpt(&String::from_utf8_lossy(&body)),
                            };
                            self.wait_or_fail(&mut retry, started, server_wait, failure, call.path)
                                .await?;
                            continue;
                        }
                    }
                }
            };
            self.wait_or_fail(&mut retry, started, None, failure, call.path)
                .await?;
        }
    }

    /// Sleeps before the next attempt, or returns the failure when it is final or the budget
    /// is spent.
    async fn wait_or_fail(
        &self,
        retry: &mut u32,
        started: Instant,
        server_wait: Option<std::time::Duration>,
        failure: ZuoraError,
        path: &str,
    ) -> Result<(), ZuoraError> {
        match transport::retry_wait(&self.policy, *retry, started, server_wait, &failure) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                *retry += 1;
                Ok(())
            }
            None if transport::is_transient(&failure) && *retry > 0 => {
                Err(ZuoraError::RetriesExhausted {
                    path: path.to_string(),
                    attempts: *retry + 1,
                    seconds: started.elapsed().as_secs(),
                    last: failure.to_string(),
                })
            }
            None => Err(failure),
        }
    }

    fn headers(
        &self,
        token: &Token,
        track_id: &str,
        idempotency_key: Option<&str>,
    ) -> Result<HeaderMap, ZuoraError> {
        let mut headers = HeaderMap::new();
        let mut bearer =
            HeaderValue::try_from(format!("Bearer {}", token.access_token.expose_secret()))
                .map_err(|_| ZuoraError::Protocol {
                    path: "/oauth/token".into(),
                    detail: "the access token is not a valid header value".into(),
                })?;
        bearer.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        insert(&mut headers, "Zuora-Track-Id", Some(track_id));
        insert(&mut headers, "Idempotency-Key", idempotency_key);
        let settings = &self.conn.settings;
        insert(
            &mut headers,
            "Zuora-Version",
            settings.zuora_version.as_deref(),
        );
        insert(&mut headers, "Zuora-Org-Ids", settings.org_ids.as_deref());
        let entities = token.entities();
        match settings.entity_ids.as_deref() {
            Some(ids) => insert(&mut headers, "Zuora-Entity-Ids", Some(ids)),
            None if entities.len() > 1 => {
                return Err(ZuoraError::EntityRequired {
                    count: entities.len(),
                    entities: entities.join(", "),
                });
            }
            None => {}
        }
        Ok(headers)
    }
}

/// Names a failed download: an expired pre-signed URL, a purged file, a file over the size cap.
fn download_failure(shown: &str, status: u16, body: &str) -> ZuoraError {
    match status {
        403 if body.contains("max-object-size") => ZuoraError::FileTooLarge {
            file: shown.to_string(),
        },
        404 => ZuoraError::FilePurged {
            file: shown.to_string(),
        },
        403 if shown == "the result file" => ZuoraError::LinkExpired,
        _ => ZuoraError::Http {
            method: "GET".into(),
            path: shown.to_string(),
            status,
            body: excerpt(body),
        },
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: Option<&str>) {
    if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
        headers.insert(name, value);
    }
}

fn log_limits(path: &str, headers: &HeaderMap) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    tracing::debug!(
        path,
        request_id = get("zuora-request-id"),
        ratelimit_limit = get("ratelimit-limit"),
        ratelimit_remaining = get("ratelimit-remaining"),
        ratelimit_reset = get("ratelimit-reset"),
        concurrency_limit = get("concurrency-limit-limit"),
        concurrency_remaining = get("concurrency-limit-remaining"),
        "Zuora rate limits"
    );
}

/// Checks a 2xx body for an error reported with HTTP 200.
fn check_body(path: &str, body: &[u8], expect_id: bool) -> Result<(), ZuoraError> {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Ok(()); // XML, CSV and empty bodies carry no JSON error
    };
    match policy::body_error(&json, expect_id) {
        Some(source) => Err(ZuoraError::Body {
            path: path.to_string(),
            source,
        }),
        None => Ok(()),
    }
}

fn parse_json(path: &str, body: &[u8]) -> Result<Value, ZuoraError> {
    serde_json::from_slice(body).map_err(|e| ZuoraError::Protocol {
        path: path.to_string(),
        detail: format!(
            "the body is not JSON ({e}): {}",
            excerpt(&String::from_utf8_lossy(body))
        ),
    })
}
