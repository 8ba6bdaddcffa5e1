//! The REST client: one place that sends every data call with the session, renews it once on
//! `INVALID_SESSION_ID`, retries what is transient, tracks `Sforce-Limit-Info` and enforces the
//! API budget (salesforce-api.md §6, §7, §11, §13).
//!
//! Credential changes take effect between batches: every batch operation starts with
//! [`SalesforceClient::begin_batch`], which checks whether the profile's active credential
//! changed in the store and, if so, authenticates with the new one. A batch already running
//! keeps its own [`Authenticator`] and finishes with the old session.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Deserialize;
use zbridge_store::{CredentialStamp, Store};

use crate::error::{Result, SalesforceError};
use crate::limits::{ApiUsage, LimitTracker};
use crate::redact::scrub_url;
use crate::session::{Authenticator, Session};

/// The REST API version the client speaks.
pub const API_VERSION: &str = "64.0";

/// Tunables of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// REST API version (`64.0`).
    pub api_version: String,
    /// Stop before this share (percent) of the daily API allocation is used.
    pub budget_percent: u32,
    /// Retries of a transient failure (5xx, throttling, `UNABLE_TO_LOCK_ROW`).
    pub max_retries: u32,
    /// First retry pause; doubles each time, with jitter.
    pub retry_base: Duration,
    /// Largest CSV upload of one Bulk job (Salesforce: 100 MB).
    pub bulk_max_upload_bytes: usize,
    /// First pause between Bulk job polls.
    pub bulk_poll_initial: Duration,
    /// Longest pause between Bulk job polls.
    pub bulk_poll_max: Duration,
    /// Give up polling after this long (the job keeps running at Salesforce).
    pub bulk_poll_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            api_version: API_VERSION.to_string(),
            budget_percent: 80,
            max_retries: 4,
            retry_base: Duration::from_millis(250),
            bulk_max_upload_bytes: 100 * 1024 * 1024,
            bulk_poll_initial: Duration::from_millis(500),
            bulk_poll_max: Duration::from_secs(10),
            bulk_poll_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// Where the client's credential comes from.
#[derive(Debug)]
enum Source {
    /// A fixed authenticator.
    Fixed,
    /// A sync profile's active credential in the store, re-read at batch boundaries.
    Profile {
        store: Store,
        profile_id: String,
        profile_name: String,
        stamp: tokio::sync::Mutex<Option<CredentialStamp>>,
    },
}

/// A Salesforce client for the sync engine and the preflight.
#[derive(Debug)]
pub struct SalesforceClient {
    http: reqwest::Client,
    auth: RwLock<Arc<Authenticator>>,
    source: Source,
    limits: LimitTracker,
    options: ClientOptions,
}

/// A request to the REST API.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Relative to `/services/data/vXX.X/`, or absolute from the host when it starts with `/`.
    pub path: String,
    pub body: Option<(&'static str, Bytes)>,
    /// Whether sending it twice is harmless (upserts, reads, deletes).
    pub idempotent: bool,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> Self {
        ApiRequest {
            method: Method::GET,
            path: path.into(),
            body: None,
            idempotent: true,
        }
    }

    pub fn json(method: Method, path: impl Into<String>, body: &serde_json::Value) -> Self {
        ApiRequest {
            method,
            path: path.into(),
            body: Some(("application/json", Bytes::from(body.to_string()))),
            idempotent: true,
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub body: Bytes,
    /// The response headers (Bulk query results page with `Sforce-Locator`).
    pub headers: reqwest::header::HeaderMap,
}

impl ApiResponse {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| SalesforceError::protocol(format!("response body: {e}")))
    }
}

#[derive(Deserialize)]
struct RestError {
    #[serde(rename = "errorCode", default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

/// The code and message of a REST error body (an array, sometimes a single object).
fn error_of(body: &[u8], status: u16) -> (String, String) {
    let parsed = serde_json::from_slice::<Vec<RestError>>(body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| serde_json::from_slice::<RestError>(body).ok());
    match parsed {
        Some(e) if !e.error_code.is_empty() => (e.error_code, e.message),
        _ => (
            format!("HTTP_{status}"),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    }
}

/// 401 bodies that a new token does not fix; refreshing on them would loop (lessons.md L54).
fn renewal_cannot_help(message: &str) -> bool {
    message.contains("not valid for use with the REST API")
        || message.contains("Connected app is not attached to Agent")
}

impl SalesforceClient {
    /// A client around one authenticator.
    pub fn new(http: reqwest::Client, auth: Authenticator, options: ClientOptions) -> Self {
        SalesforceClient {
            http,
            auth: RwLock::new(Arc::new(auth)),
            source: Source::Fixed,
            limits: LimitTracker::new(options.budget_percent),
            options,
        }
    }

    /// A client that follows a sync profile's active credential in the store.
    pub(crate) fn for_profile(
        http: reqwest::Client,
        auth: Authenticator,
        stamp: Option<CredentialStamp>,
        store: Store,
        profile_id: &str,
        profile_name: &str,
        options: ClientOptions,
    ) -> Self {
        SalesforceClient {
            http,
            auth: RwLock::new(Arc::new(auth)),
            source: Source::Profile {
                store,
                profile_id: profile_id.to_string(),
                profile_name: profile_name.to_string(),
                stamp: tokio::sync::Mutex::new(stamp),
            },
            limits: LimitTracker::new(options.budget_percent),
            options,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The latest API usage Salesforce reported.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.limits.usage()
    }

    /// The authenticator for the next batch: if the profile's credential changed since the
    /// last batch, a new one for the new credential.
    pub async fn begin_batch(&self) -> Result<Arc<Authenticator>> {
        if let Source::Profile {
            store,
            profile_id,
            profile_name,
            stamp,
        } = &self.source
        {
            let mut known = stamp.lock().await;
            let now = store.sf_credential_stamp(profile_id).await?;
            if *known != now {
                let auth =
                    crate::service::authenticator_for(&self.http, store, profile_id, profile_name)
                        .await?;
                tracing::info!(profile = %profile_name, kind = ?now.as_ref().map(|s| s.kind.clone()), "sync credentials changed; the next batch uses them");
                *self.auth.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(auth);
                *known = now;
            }
        }
        Ok(self.auth.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn url(&self, session: &Session, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", session.instance_url)
        } else {
            format!(
                "{}/services/data/v{}/{path}",
                session.instance_url, self.options.api_version
            )
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.options.retry_base.saturating_mul(1 << attempt.min(6));
        let jitter = rand::rng().random_range(0.5..1.0);
        base.mul_f64(jitter).min(Duration::from_secs(30))
    }

    /// Sends a request with `auth`'s session (see the module documentation for the policy).
    pub(crate) async fn call(&self, auth: &Authenticator, req: &ApiRequest) -> Result<ApiResponse> {
        let mut session = auth.session().await?;
        let mut renewed = false;
        let mut attempt: u32 = 0;
        loop {
            self.limits.check()?;
            let url = self.url(&session, &req.path);
            let mut builder = self
                .http
                .request(req.method.clone(), &url)
                .bearer_auth(session.access_token.expose_secret())
                .header("Accept", "application/json");
            if let Some((content_type, body)) = &req.body {
                builder = builder
                    .header("Content-Type", *content_type)
                    .body(body.clone());
            }
            tracing::trace!(method = %req.method, url = %scrub_url(&url), attempt, "Salesforce request");
            let response = match builder.send().await {
                Ok(r) => r,
                Err(e) if req.idempotent && attempt < self.options.max_retries => {
                    tracing::debug!(error = %e.without_url(), attempt, "network error; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(SalesforceError::Transport {
                        url: scrub_url(&url),
                        message: e.without_url().to_string(),
                    });
                }
            };
            let status = response.status().as_u16();
            if let Some(info) = response
                .headers()
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
            {
                self.limits.observe(info);
            }
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| SalesforceError::Transport {
                    url: scrub_url(&url),
                    message: e.without_url().to_string(),
                })?;
            tracing::trace!(status, bytes = body.len(), "Salesforce response");
            if (200..300).contains(&status) {
                return Ok(ApiResponse { body, headers });
            }
            let (code, message) = error_of(&body, status);
            let retryable = matches!(status, 420 | 429 | 500 | 502 | 503 | 504)
                || code == "UNABLE_TO_LOCK_ROW"
                || code == "SERVER_UNAVAILABLE";
            match status {
                401 if code == "INVALID_SESSION_ID"
                    && !renewed
                    && !renewal_cannot_help(&message) =>
                {
                    renewed = true;
                    session = auth.renew(&session).await?;
                }
                401 => return Err(SalesforceError::Session { code, message }),
                403 if code == "REQUEST_LIMIT_EXCEEDED" => {
                    let daily = message.contains("TotalRequests");
                    if daily || attempt >= self.options.max_retries {
                        tracing::warn!("Salesforce API request limit exceeded; stopping");
                        return Err(SalesforceError::RequestLimit {
                            message,
                            usage: self.limits.usage().map(|u| (u.used, u.max)),
                        });
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                _ if retryable && req.idempotent && attempt < self.options.max_retries => {
                    tracing::debug!(status, code = %code, attempt, "transient Salesforce error; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                _ => {
                    return Err(SalesforceError::Api {
                        status,
                        code,
                        message,
                    });
                }
            }
        }
    }

    /// `GET /sobjects/{object}/describe`; `None` when the object does not exist or is not
    /// visible to the user.
    pub async fn describe(&self, object: &str) -> Result<Option<Describe>> {
        check_name("object", object)?;
        let auth = self.begin_batch().await?;
        match self
            .call(
                &auth,
                &ApiRequest::get(format!("sobjects/{object}/describe")),
            )
            .await
        {
            Ok(r) => r.json().map(Some),
            Err(SalesforceError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs a SOQL query and returns every record, following `nextRecordsUrl`.
    pub async fn query(&self, soql: &str) -> Result<Vec<serde_json::Value>> {
        let auth = self.begin_batch().await?;
        self.query_with(&auth, soql).await
    }

    pub(crate) async fn query_with(
        &self,
        auth: &Authenticator,
        soql: &str,
    ) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        self.query_pages_with(auth, soql, |page| {
            out.extend(page);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Runs a SOQL query and hands each page of records (up to 2,000) to `page`, following
    /// `nextRecordsUrl`: memory holds one page whatever the size of the result. Returns the
    /// records read.
    pub async fn query_pages(
        &self,
        soql: &str,
        page: impl FnMut(Vec<serde_json::Value>) -> Result<()>,
    ) -> Result<u64> {
        let auth = self.begin_batch().await?;
        self.query_pages_with(&auth, soql, page).await
    }

    async fn query_pages_with(
        &self,
        auth: &Authenticator,
        soql: &str,
        mut on_page: impl FnMut(Vec<serde_json::Value>) -> Result<()>,
    ) -> Result<u64> {
        #[derive(Deserialize)]
        struct Page {
            records: Vec<serde_json::Value>,
            #[serde(rename = "nextRecordsUrl")]
            next: Option<String>,
        }
        let mut query = reqwest::Url::parse("http://x/query")
            .map_err(|e| SalesforceError::protocol(e.to_string()))?;
        query.query_pairs_mut().append_pair("q", soql);
        let mut path = format!("query?{}", query.query().unwrap_or_default());
        let mut read = 0;
        loop {
            let page: Page = self.call(auth, &ApiRequest::get(path)).await?.json()?;
            read += page.records.len() as u64;
            on_page(page.records)?;
            match page.next {
                Some(next) => path = next,
                None => return Ok(read),
            }
        }
    }

    /// `GET /limits/`.
    pub async fn org_limits(&self) -> Result<serde_json::Value> {
        let auth = self.begin_batch().await?;
        self.call(&auth, &ApiRequest::get("limits")).await?.json()
    }

    /// The identity of the session's user.
    pub async fn identity(&self) -> Result<crate::oauth::Identity> {
        let auth = self.begin_batch().await?;
        let session = auth.session().await?;
        let url = session
            .identity_url
            .clone()
            .ok_or_else(|| SalesforceError::protocol("no identity URL for this session"))?;
        match crate::oauth::identity(&self.http, &url, &session.access_token).await {
            Err(SalesforceError::Api {
                status: 401 | 403, ..
            }) => {
                let session = auth.renew(&session).await?;
                crate::oauth::identity(&self.http, &url, &session.access_token).await
            }
            other => other,
        }
    }
}

/// Object and field names go into paths and SOQL: only API-name characters are allowed.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(SalesforceError::Local(format!(
            "'{name}' is not a Salesforce {what} API name"
        )))
    }
}

/// The parts of a describe result the client uses.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Describe {
    /// API name.
    pub name: String,
    /// Object-level create permission.
    #[serde(default)]
    pub createable: bool,
    /// Object-level edit permission.
    #[serde(default)]
    pub updateable: bool,
    /// Object-level delete permission.
    #[serde(default)]
    pub deletable: bool,
    /// Fields visible to the user.
    #[serde(default)]
    pub fields: Vec<DescribeField>,
}

/// One visible field.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct DescribeField {
    /// API name.
    pub name: String,
    /// Whether the user can set it on create.
    #[serde(default)]
    pub createable: bool,
    /// Whether the user can change it.
    #[serde(default)]
    pub updateable: bool,
    /// Marked External ID.
    #[serde(rename = "externalId", default)]
    pub external_id: bool,
    /// Usable to identify a record in an upsert.
    #[serde(rename = "idLookup", default)]
    pub id_lookup: bool,
}

impl Describe {
    /// A field by API name (case-insensitive, as Salesforce).
    pub fn field(&self, name: &str) -> Option<&DescribeField> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_in_both_shapes() {
        assert_eq!(
            error_of(
                br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
                401
            ),
            (
                "INVALID_SESSION_ID".into(),
                "Session expired or invalid".into()
            )
        );
        assert_eq!(
            error_of(br#"{"message":"m","errorCode":"X"}"#, 400),
            ("X".into(), "m".into())
        );
        assert_eq!(error_of(b"oops", 502).0, "HTTP_502");
    }

    #[test]
    fn names_are_checked_before_they_reach_soql() {
        assert!(check_name("object", "Zuora__Subscription__c").is_ok());
        assert!(check_name("field", "Id' OR ''='").is_err());
        assert!(check_name("field", "").is_err());
    }
}
