//! Request-level behaviour of the client (token renewal, retries, errors in HTTP 200, error
//! kinds) against a small stub server whose every call is counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use secrecy::SecretString;
use serde_json::json;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_zuora::policy::RetryPolicy;
use zbridge_zuora::{TokenCache, ZuoraClient, ZuoraError};

#[derive(Default)]
struct Stub {
    token_calls: AtomicUsize,
    api_calls: AtomicUsize,
    /// The API answers 401 to this many calls first.
    unauthorized_first: AtomicUsize,
    /// The API answers 503 to this many calls first.
    unavailable_first: AtomicUsize,
    /// The token endpoint refuses the refresh-token grant.
    last_grant: std::sync::Mutex<Vec<String>>,
    track_ids: std::sync::Mutex<Vec<String>>,
}

async fn token(State(stub): State<Arc<Stub>>, body: String) -> impl IntoResponse {
    let n = stub.token_calls.fetch_add(1, Ordering::SeqCst);
    let grant = body
        .split('&')
        .find_map(|p| p.strip_prefix("grant_type="))
        .unwrap_or("")
        .to_string();
    stub.last_grant.lock().unwrap().push(grant.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    if grant != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if body.contains("client_secret=wrong") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Authentication error"})),
        )
            .into_response();
    }
    axum::Json(json!({"access_token": format!("token-{n}"), "expires_in": 3599, "scope": "tenant.1", "token_type": "bearer"}))
        .into_response()
}

async fn api(State(stub): State<Arc<Stub>>, headers: HeaderMap) -> impl IntoResponse {
    stub.api_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(id) = headers.get("zuora-track-id").and_then(|v| v.to_str().ok()) {
        stub.track_ids.lock().unwrap().push(id.to_string());
    }
    let take = |counter: &AtomicUsize| {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    if take(&stub.unauthorized_first) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Authentication error"})),
        )
            .into_response();
    }
    if take(&stub.unavailable_first) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "0")],
            "busy",
        )
            .into_response();
    }
    axum::Json(json!({"success": true, "auth": headers.get("authorization").and_then(|v| v.to_str().ok())})).into_response()
}

async fn error_in_200() -> impl IntoResponse {
    axum::Json(
        json!({"success": false, "reasons": [{"code": 53100320, "message": "'termType' value should be one of: TERMED, EVERGREEN"}]}),
    )
}

async fn start(stub: Arc<Stub>) -> String {
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/v1/thing", get(api))
        .route("/v1/bad", get(error_in_200))
        .route("/query/jobs", get(api))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn def(url: &str, secret: &str) -> ZuoraConnectionDef {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Stub").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(SecretString::from(secret.to_string()));
    def.set_advanced("URL", SecretString::from(url.to_string()))
        .unwrap();
    def.set_advanced("ConnectTimeout", SecretString::from("2".to_string()))
        .unwrap();
    def.set_advanced("ReadTimeout", SecretString::from("2".to_string()))
        .unwrap();
    def
}

fn client(def: &ZuoraConnectionDef) -> ZuoraClient {
    let conn = def.resolve(&VariableScope::default()).unwrap();
    let policy = RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(5),
    };
    ZuoraClient::with_policy(conn, TokenCache::Memory, policy).unwrap()
}

#[tokio::test]
async fn concurrent_requests_share_one_token_request() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;
    let client = client(&def(&url, "s3cret"));
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get_json("/v1/thing").await })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(stub.token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(stub.api_calls.load(Ordering::SeqCst), 20);
    let ids = stub.track_ids.lock().unwrap();
    assert!(
        ids.iter()
            .all(|id| id.len() <= 64 && !id.contains([':', ';', '"', '\''])),
        "{ids:?}"
    );
}

#[tokio::test]
async fn a_401_renews_the_token_and_replays_a_bounded_number_of_times() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;
    let client = client(&def(&url, "s3cret"));
    stub.unauthorized_first.store(1, Ordering::SeqCst);
    let body = client.get_json("/v1/thing").await.unwrap();
    assert_eq!(
        body["auth"], "Bearer token-1",
        "the replay carries the new token"
    );
    assert_eq!(stub.token_calls.load(Ordering::SeqCst), 2);

    // A token revoked again on the way (a rotation elsewhere) is renewed again...
    stub.unauthorized_first.store(3, Ordering::SeqCst);
    client.get_json("/v1/thing").await.unwrap();
    // ...but never without end.
    stub.unauthorized_first.store(4, Ordering::SeqCst);
    let err = client.get_json("/v1/thing").await.unwrap_err();
    assert!(matches!(err, ZuoraError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn transient_errors_are_retried_and_then_given_up() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;
    let client = client(&def(&url, "s3cret"));
    stub.unavailable_first.store(2, Ordering::SeqCst);
    client.get_json("/v1/thing").await.unwrap();
    assert_eq!(stub.api_calls.load(Ordering::SeqCst), 3);

    stub.unavailable_first.store(10, Ordering::SeqCst);
    let err = client.get_json("/v1/thing").await.unwrap_err().to_string();
    assert!(
        err.starts_with("/v1/thing: gave up after 4 attempts"),
        "{err}"
    );
}

#[tokio::test]
async fn an_error_sent_with_http_200_is_an_error() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;
    let err = client(&def(&url, "s3cret"))
        .get_json("/v1/bad")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "/v1/bad: Zuora reported an error 53100320: 'termType' value should be one of: TERMED, EVERGREEN"
    );
}

#[tokio::test]
async fn a_refused_refresh_grant_falls_back_to_client_credentials() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;
    let mut with_refresh = def(&url, "s3cret");
    with_refresh.refresh_token = Some(SecretString::from("rt".to_string()));
    client(&with_refresh).get_json("/v1/thing").await.unwrap();
    assert_eq!(
        *stub.last_grant.lock().unwrap(),
        ["refresh_token", "client_credentials"]
    );

    let mut refresh_only = with_refresh.clone();
    refresh_only.client_secret = None;
    let conn = refresh_only.resolve(&VariableScope::default()).unwrap();
    let err = ZuoraClient::new(conn, TokenCache::Memory)
        .unwrap()
        .get_json("/v1/thing")
        .await
        .unwrap_err();
    assert!(matches!(err, ZuoraError::RefreshGrantRefused), "{err}");
}

#[tokio::test]
async fn the_test_tells_failures_apart() {
    let stub = Arc::new(Stub::default());
    let url = start(stub.clone()).await;

    let err = zbridge_zuora::test::test_connection(&client(&def(&url, "wrong")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ZuoraError::AuthRejected { status: 401, .. }),
        "{err}"
    );

    let err = zbridge_zuora::test::test_connection(&client(&def(
        "http://zbridge-no-such-host.invalid",
        "s",
    )))
    .await
    .unwrap_err();
    assert!(matches!(err, ZuoraError::UnknownHost { .. }), "{err}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let err = zbridge_zuora::test::test_connection(&client(&def(&closed_url, "s")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ZuoraError::Connect { .. } | ZuoraError::RetriesExhausted { .. }
        ),
        "{err}"
    );

    let not_zuora = start_plain_404().await;
    let err = zbridge_zuora::test::test_connection(&client(&def(&not_zuora, "s")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ZuoraError::NotZuora { status: 404, .. }),
        "{err}"
    );

    let silent = start_silent().await;
    let err = zbridge_zuora::test::test_connection(&client(&def(&silent, "s")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");

    let mut proxied = def(&url, "s3cret");
    proxied.proxy.enabled = true;
    proxied.proxy.url = closed_url.clone();
    let err = zbridge_zuora::test::test_connection(&client(&proxied))
        .await
        .unwrap_err();
    assert!(matches!(err, ZuoraError::Proxy { .. }), "{err}");

    let https = url.replace("http://", "https://");
    let err = zbridge_zuora::test::test_connection(&client(&def(&https, "s3cret")))
        .await
        .unwrap_err();
    assert!(matches!(err, ZuoraError::Tls { .. }), "{err}");

    let mut data_query = def(&url, "s3cret");
    data_query.service = ZuoraService::DataQuery.as_str().into();
    let checks = zbridge_zuora::test::test_connection(&client(&data_query))
        .await
        .unwrap();
    assert_eq!(checks.len(), 3);
    assert!(
        checks[2]
            .detail
            .starts_with("GET /query/jobs?pageSize=1 answered HTTP 200"),
        "{checks:?}"
    );
}

async fn start_plain_404() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, Router::new()).await.unwrap() });
    url
}

/// Accepts connections and never answers.
async fn start_silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
