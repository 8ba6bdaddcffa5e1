//! Router assembly and the pieces every endpoint shares: the org handle, REST error bodies,
//! bearer authentication, the API allocation with `Sforce-Limit-Info`, maintenance faults and
//! per-endpoint counters.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::org::Org;
use super::{auth, bulk, collections, composite, control, query_jobs, replication, rest};

/// Oldest and newest REST API versions the simulated org serves (salesforce-api.md §1).
pub const MIN_VERSION: u32 = 31;
pub const MAX_VERSION: u32 = 68;

/// The org behind one listener.
pub struct OrgCell {
    org: Mutex<Org>,
}

impl OrgCell {
    /// Wraps an org.
    pub fn new(org: Org) -> OrgCell {
        OrgCell {
            org: Mutex::new(org),
        }
    }

    /// Locks the org. A panic in another handler must not take the simulator down, so a
    /// poisoned lock is recovered.
    pub fn lock(&self) -> MutexGuard<'_, Org> {
        self.org.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shared handle passed to every handler.
pub type Shared = Arc<OrgCell>;

/// The authenticated caller of a REST request and the API version in its path.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub user: usize,
    pub version: u32,
}

/// A top-level REST error: a JSON array of `{message, errorCode}` (salesforce-api.md §7).
pub fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!([{"message": message, "errorCode": code}]);
    (status, axum::Json(body)).into_response()
}

/// A top-level REST error that names fields.
pub fn rest_error_fields(
    status: StatusCode,
    code: &str,
    message: &str,
    fields: &[String],
) -> Response {
    let body = serde_json::json!([{"message": message, "errorCode": code, "fields": fields}]);
    (status, axum::Json(body)).into_response()
}

/// 404 `NOT_FOUND` with Salesforce's wording.
pub fn not_found() -> Response {
    rest_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// A JSON response.
pub fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Parses `v64.0` into 64 if the org serves that version.
pub fn parse_version(segment: &str) -> Option<u32> {
    let n: u32 = segment
        .strip_prefix('v')?
        .strip_suffix(".0")?
        .parse()
        .ok()?;
    (MIN_VERSION..=MAX_VERSION).contains(&n).then_some(n)
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))?;
    Some(token.trim().to_string())
}

fn invalid_session() -> Response {
    rest_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

/// Guards `/services/data/vXX.X/…`: version, maintenance, session, daily allocation; then adds
/// `Sforce-Limit-Info` to the response.
async fn rest_guard(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let version_segment = path
        .strip_prefix("/services/data/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let Some(version) = parse_version(version_segment) else {
        return not_found();
    };
    let token = bearer(req.headers());
    let caller = {
        let mut org = state.lock();
        if org.faults.maintenance {
            return rest_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_UNAVAILABLE",
                "The org is down for maintenance. Please try again later.",
            );
        }
        let Some(user) = token.and_then(|t| org.session_user(&t)) else {
            return invalid_session();
        };
        if org.api_exhausted() {
            let mut resp = rest_error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
            add_limit_header(&mut resp, &org.limit_info());
            return resp;
        }
        org.count_api_call();
        org.purge_recycle_bin();
        Caller { user, version }
    };
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    let info = state.lock().limit_info();
    add_limit_header(&mut resp, &info);
    resp
}

fn add_limit_header(resp: &mut Response, info: &str) {
    if let Ok(v) = HeaderValue::from_str(info) {
        resp.headers_mut().insert("sforce-limit-info", v);
    }
}

/// Counts every call per method and route pattern, for `/sim/counters`.
async fn count_endpoint(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let key = format!("{} {}", req.method(), route);
    if !route.starts_with("/sim/") {
        *state.lock().counters.entry(key).or_default() += 1;
    }
    next.run(req).await
}

/// The whole router of one org listener.
pub fn router(state: Shared) -> Router {
    let versioned = Router::new()
        .merge(rest::routes())
        .merge(replication::routes())
        .merge(collections::routes())
        .merge(composite::routes())
        .merge(bulk::routes())
        .merge(query_jobs::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), rest_guard));
    Router::new()
        .route("/services/data", get(rest::versions))
        .route("/services/data/", get(rest::versions))
        .merge(versioned)
        .route("/services/Soap/u/{version}", post(auth::soap_call))
        .route("/services/Soap/c/{version}", post(auth::soap_call))
        .route("/services/Soap/u/{version}/{org}", post(auth::soap_call_at))
        .route("/services/Soap/c/{version}/{org}", post(auth::soap_call_at))
        .merge(auth::routes())
        .merge(control::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            count_endpoint,
        ))
        .fallback(fallback)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::disable())
}

async fn fallback() -> Response {
    not_found()
}

/// The service to serve: the router behind a layer that drops a trailing `/`, since clients
/// write both `…/sobjects/` and `…/sobjects`.
pub fn app(state: Shared) -> Router {
    Router::new()
        .fallback_service(router(state))
        .layer(middleware::map_request(strip_trailing_slash))
}

async fn strip_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/').to_string();
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed,
        };
        if let Ok(uri) = new.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}
