//! Router and the layer every Zuora endpoint goes through: request and track ids, rate and
//! concurrency limits with their headers, bearer-token authentication, entity selection and
//! request-phase faults.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::faults::{FaultKind, Phase};
use super::state::{Sim, lock};
use super::{actions, aqua, auth, control, dataquery, describe, files};

/// What the auth layer learned about the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthCtx {
    /// Index of the entity the call addresses.
    pub entity: usize,
}

/// Builds the router.
pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth/token", post(auth::token))
        .route("/v1/describe", get(describe::list))
        .route("/v1/describe/{object}", get(describe::object))
        .route("/query/jobs", post(dataquery::submit).get(dataquery::list))
        .route(
            "/query/jobs/{id}",
            get(dataquery::get).delete(dataquery::cancel),
        )
        .route("/sim-s3/results/{file}", get(files::data_file))
        .route("/v1/batch-query/", post(aqua::submit))
        .route("/v1/batch-query", post(aqua::submit))
        .route(
            "/v1/batch-query/jobs/{id}",
            get(aqua::get).delete(aqua::delete),
        )
        .route(
            "/v1/batch-query/jobs/partner/{partner}/project/{project}",
            get(aqua::last),
        )
        .route("/v1/files/{id}", get(files::aqua_file))
        .route("/v1/file/{id}", get(files::aqua_file))
        .route("/apps/api/file/{id}", get(files::aqua_file))
        .route("/v1/action/{operation}", post(actions::dispatch))
        .merge(control::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), zuora_layer))
        .layer(middleware::from_fn_with_state(sim.clone(), date_layer))
        .with_state(sim)
}

/// Every answer carries the tenant's time in `Date` (RFC 9110 §6.6.1), from the virtual
/// clock: clients that end their windows on Zuora's clock read it there. (Hyper would
/// otherwise stamp the host's time.)
async fn date_layer(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let date = sim
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, value);
    }
    resp
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"message": "no Route matched with those values"})),
    )
        .into_response()
}

/// Stable endpoint names for counters and fault rules.
pub(crate) fn classify(method: &Method, path: &str) -> &'static str {
    let p = path.trim_end_matches('/');
    match (method, p) {
        (_, "/oauth/token") => "oauth.token",
        (_, "/v1/describe") => "describe.list",
        (_, p) if p.starts_with("/v1/describe/") => "describe.object",
        (&Method::POST, "/query/jobs") => "dq.submit",
        (&Method::GET, "/query/jobs") => "dq.list",
        (&Method::DELETE, p) if p.starts_with("/query/jobs/") => "dq.cancel",
        (_, p) if p.starts_with("/query/jobs/") => "dq.get",
        (_, p) if p.starts_with("/sim-s3/") => "dq.file",
        (_, "/v1/batch-query") => "aqua.submit",
        (_, p) if p.starts_with("/v1/batch-query/jobs/partner/") => "aqua.last",
        (&Method::DELETE, p) if p.starts_with("/v1/batch-query/jobs/") => "aqua.delete",
        (_, p) if p.starts_with("/v1/batch-query/jobs/") => "aqua.get",
        (_, p)
            if p.starts_with("/v1/files/")
                || p.starts_with("/v1/file/")
                || p.starts_with("/apps/api/file/") =>
        {
            "aqua.file"
        }
        (_, p) if p.starts_with("/v1/action/") => match &p["/v1/action/".len()..] {
            "query" => "actions.query",
            "queryMore" => "actions.queryMore",
            "create" => "actions.create",
            "update" => "actions.update",
            "delete" => "actions.delete",
            "generate" => "actions.generate",
            "execute" => "actions.execute",
            "subscribe" => "actions.subscribe",
            "amend" => "actions.amend",
            _ => "actions.unknown",
        },
        (_, p) if p.starts_with("/sim/") || p == "/sim" => "sim.control",
        _ => "unknown",
    }
}

/// A `Zuora-Track-Id` is echoed only when valid: ≤ 64 US-ASCII characters, none of `: ; " '`.
fn valid_track_id(v: &HeaderValue) -> Option<HeaderValue> {
    let s = v.to_str().ok()?;
    (s.len() <= 64 && s.is_ascii() && !s.contains([':', ';', '"', '\''])).then(|| v.clone())
}

struct InflightGuard<'a>(&'a Sim);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn zuora_layer(State(sim): State<Arc<Sim>>, mut req: Request, next: Next) -> Response {
    let endpoint = classify(req.method(), req.uri().path());
    sim.count(endpoint);
    // The control API and the pre-signed "S3" URL are not Zuora endpoints.
    if endpoint == "sim.control" || endpoint == "dq.file" {
        return next.run(req).await;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let track = req.headers().get("zuora-track-id").and_then(valid_track_id);
    let inflight = sim.inflight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InflightGuard(&sim);
    let (remaining, reset) = rate_check(&sim);
    let mut resp = if remaining.is_none() {
        let mut r = fault_status(429, endpoint);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(reset.max(1)));
        r
    } else if inflight > sim.cfg.concurrency_limit {
        let mut r = fault_status(429, endpoint);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        r
    } else {
        match pre_checks(&sim, endpoint, &mut req) {
            Some(early) => early,
            None => next.run(req).await,
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("zuora-request-id", v);
    }
    if let Some(t) = track {
        h.insert("zuora-track-id", t);
    }
    let limit = sim.cfg.rate_limit_per_minute;
    if let Ok(v) = HeaderValue::from_str(&format!("{limit}, {limit};w=60")) {
        h.insert("ratelimit-limit", v);
    }
    h.insert(
        "ratelimit-remaining",
        HeaderValue::from(remaining.unwrap_or(0)),
    );
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    if endpoint.starts_with("describe.")
        || endpoint.starts_with("aqua.")
        || endpoint.starts_with("actions.")
    {
        h.insert(
            "concurrency-limit-type",
            HeaderValue::from_static("Default"),
        );
        h.insert(
            "concurrency-limit-limit",
            HeaderValue::from(sim.cfg.concurrency_limit as u64),
        );
        h.insert(
            "concurrency-limit-remaining",
            HeaderValue::from(sim.cfg.concurrency_limit.saturating_sub(inflight) as u64),
        );
    }
    resp
}

/// Counts the call in the current one-minute window; returns (remaining, seconds to reset),
/// with `None` remaining when the limit is exceeded.
fn rate_check(sim: &Sim) -> (Option<u64>, u64) {
    let mut w = lock(&sim.rate);
    if w.started.elapsed() >= Duration::from_secs(60) {
        w.started = Instant::now();
        w.count = 0;
    }
    w.count += 1;
    let reset = 60u64.saturating_sub(w.started.elapsed().as_secs());
    let limit = sim.cfg.rate_limit_per_minute;
    if w.count > limit {
        (None, reset)
    } else {
        (Some(limit - w.count), reset)
    }
}

/// Authentication, entity selection and request-phase faults. `Some` ends the call early.
fn pre_checks(sim: &Sim, endpoint: &'static str, req: &mut Request) -> Option<Response> {
    let token = if endpoint == "oauth.token" {
        None
    } else {
        match bearer(req.headers()) {
            Some(t) if token_valid(sim, &t) => Some(t),
            _ => return Some(unauthorized()),
        }
    };
    if let Some(token) = &token {
        match entity_of(sim, req.headers()) {
            Ok(entity) => {
                req.extensions_mut().insert(AuthCtx { entity });
            }
            Err(r) => return Some(r),
        }
        let fault = lock(&sim.faults).check(endpoint, Phase::Request);
        match fault {
            Some(FaultKind::RevokeToken) => {
                lock(&sim.tokens).remove(token);
                return Some(unauthorized());
            }
            Some(FaultKind::Status { statuses }) => {
                return Some(fault_status(statuses[0], endpoint));
            }
            _ => {}
        }
    } else if let Some(FaultKind::Status { statuses }) =
        lock(&sim.faults).check(endpoint, Phase::Request)
    {
        return Some(fault_status(statuses[0], endpoint));
    }
    None
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn token_valid(sim: &Sim, token: &str) -> bool {
    let now = sim.now_ms();
    lock(&sim.tokens)
        .get(token)
        .is_some_and(|t| t.expires_ms > now)
}

/// `Zuora-Entity-Ids` selects the entity. With one entity the header is optional (and must name
/// it if sent); with several it is required.
#[allow(clippy::result_large_err)]
fn entity_of(sim: &Sim, headers: &HeaderMap) -> Result<usize, Response> {
    let given = headers
        .get("zuora-entity-ids")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match given {
        None if sim.entities.len() == 1 => Ok(0),
        None => Err(common_error(
            StatusCode::BAD_REQUEST,
            53_000_022,
            "The Zuora-Entity-Ids header is required: this token has access to more than one entity.",
        )),
        Some(id) => sim
            .entities
            .iter()
            .position(|e| e.uuid.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                common_error(
                    StatusCode::FORBIDDEN,
                    53_000_010,
                    &format!("Invalid entity id: {id}"),
                )
            }),
    }
}

/// 401 `{"message":"Authentication error"}` (ProxyUnauthorizedResponse).
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"message": "Authentication error"})),
    )
        .into_response()
}

/// A v1 `CommonResponse` error.
pub(crate) fn common_error(status: StatusCode, code: u64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "success": false,
            "processId": format!("{:016X}", rand::random::<u64>()),
            "reasons": [{"code": code, "message": message}],
            "requestId": uuid::Uuid::new_v4().to_string(),
        })),
    )
        .into_response()
}

/// The response of an injected status fault.
pub(crate) fn fault_status(status: u16, endpoint: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        429 => with_retry_after(common_error(
            code,
            50_000_070,
            "Too many requests. Please retry after the time in Retry-After.",
        )),
        500 if endpoint == "aqua.file" => (
            code,
            axum::Json(
                json!({"reasons": [{"code": "SystemError", "message": "internal server error"}]}),
            ),
        )
            .into_response(),
        500 => common_error(
            code,
            50_000_060,
            "An internal error occurred. Please contact Zuora Global Support.",
        ),
        502..=504 => {
            let reason = code.canonical_reason().unwrap_or("Error");
            let mut r = Response::new(Body::from(format!(
                "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center></body></html>"
            )));
            *r.status_mut() = code;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r
        }
        _ => (
            code,
            axum::Json(json!({"message": code.canonical_reason().unwrap_or("error")})),
        )
            .into_response(),
    }
}

fn with_retry_after(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
    r
}

/// An XML response.
pub(crate) fn xml(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}
