//! Who may call the server: the access token, browser sessions and CSRF tokens.
//!
//! The token is 32 random bytes shown once when it is created; only its SHA-256 is kept (in
//! `server-token` in the config directory, mode 0600), so a copied file does not reveal it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::form::FormData;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "zbridge_session";
/// Header that carries the CSRF token of htmx and script requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field that carries the CSRF token of plain form posts.
pub const CSRF_FIELD: &str = "csrf";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const TOKEN_FILE: &str = "server-token";
/// Largest form body the CSRF check reads.
const MAX_FORM: usize = 4 << 20;

/// Errors of the token file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct TokenFileError {
    path: PathBuf,
    source: std::io::Error,
}

/// The access token's digest.
#[derive(Debug, Clone)]
pub struct AccessToken {
    digest: [u8; 32],
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Compares without stopping at the first difference, so timing says nothing about the token.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AccessToken {
    /// The token for a known secret (tests, and tokens given on the command line).
    pub fn from_secret(token: &SecretString) -> Self {
        AccessToken {
            digest: digest(token.expose_secret()),
        }
    }

    /// A new random token, returned once in plain text.
    pub fn generate() -> (Self, SecretString) {
        let token = SecretString::from(random_text(32));
        (Self::from_secret(&token), token)
    }

    /// Reads the token's digest from `dir`, or creates a token (returned in plain text so it
    /// can be shown once) when there is none or `rotate` is set.
    pub fn load_or_create(
        dir: &Path,
        rotate: bool,
    ) -> Result<(Self, Option<SecretString>), TokenFileError> {
        let path = dir.join(TOKEN_FILE);
        let fail = |source| TokenFileError {
            path: path.clone(),
            source,
        };
        if !rotate {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let mut digest = [0u8; 32];
                    hex::decode_to_slice(text.trim(), &mut digest).map_err(|_| {
                        fail(std::io::Error::other(
                            "not a token digest; delete the file or start with --new-token",
                        ))
                    })?;
                    return Ok((AccessToken { digest }, None));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(e)),
            }
        }
        let (token, secret) = Self::generate();
        std::fs::create_dir_all(dir).map_err(fail)?;
        write_private(&path, &hex::encode(token.digest)).map_err(fail)?;
        Ok((token, Some(secret)))
    }

    /// Whether `presented` is the token.
    pub fn verify(&self, presented: &str) -> bool {
        same_bytes(&digest(presented.trim()), &self.digest)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// A signed-in browser.
#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    expires_at: Instant,
}

/// Signed-in browsers, in memory: a restart signs everyone out.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self) -> (String, String) {
        let id = random_text(32);
        let csrf = random_text(32);
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires_at > now);
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                expires_at: now + SESSION_TTL,
            },
        );
        (id, csrf)
    }

    fn csrf_of(&self, id: &str) -> Option<String> {
        let sessions = self.lock();
        let session = sessions.get(id)?;
        (session.expires_at > Instant::now()).then(|| session.csrf.clone())
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The CSRF token of the request's session (empty for token-authenticated requests), for
/// templates to embed.
#[derive(Debug, Clone, Default)]
pub struct Csrf(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Csrf>().cloned().unwrap_or_default())
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn is_public(path: &str) -> bool {
    // The OAuth callback is authenticated by its unguessable `state`: the browser comes back
    // from Salesforce cross-site, so the SameSite=Strict session cookie is not sent.
    path == "/login" || path.starts_with("/assets/") || path == crate::sf::CALLBACK_PATH
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The guard in front of every route: a bearer token, or a session cookie plus a CSRF token on
/// state-changing requests.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_public(&path) {
        return next.run(req).await;
    }
    if let Some(token) = bearer(req.headers()) {
        if state.token().verify(token) {
            return next.run(req).await;
        }
        return unauthorized(&path);
    }
    let Some(csrf) =
        cookie(req.headers(), SESSION_COOKIE).and_then(|id| state.sessions().csrf_of(&id))
    else {
        return unauthorized(&path);
    };
    let mut req = if is_safe(req.method()) {
        req
    } else {
        match check_csrf(req, &csrf).await {
            Ok(req) => req,
            Err(response) => return response,
        }
    };
    req.extensions_mut().insert(Csrf(csrf));
    next.run(req).await
}

/// Accepts the CSRF token from the header, or from the `csrf` field of a form body (which is
/// read here and handed on unchanged).
async fn check_csrf(req: Request, expected: &str) -> Result<Request, Response> {
    let forbidden = || {
        ApiError::Forbidden("the request carries no valid CSRF token; reload the page".into())
            .into_response()
    };
    if let Some(value) = req.headers().get(CSRF_HEADER) {
        return if same_bytes(value.as_bytes(), expected.as_bytes()) {
            Ok(req)
        } else {
            Err(forbidden())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(forbidden());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let form = FormData::parse(&bytes);
    match form.get(CSRF_FIELD) {
        Some(token) if same_bytes(token.as_bytes(), expected.as_bytes()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(forbidden()),
    }
}

fn unauthorized(path: &str) -> Response {
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::Unauthorized.into_response();
    }
    let page = LoginPage {
        next: path.to_string(),
        error: String::new(),
    };
    (StatusCode::UNAUTHORIZED, render(&page)).into_response()
}

/// Renders a template; a failure is an internal error, never a panic.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::Internal(format!("page rendering failed: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    error: String,
}

#[derive(serde::Deserialize)]
struct NextParam {
    next: Option<String>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

async fn login_page(Query(q): Query<NextParam>) -> Response {
    render(&LoginPage {
        next: local_path(q.next.as_deref()),
        error: String::new(),
    })
}

/// Only same-site paths, so the sign-in page cannot bounce the user elsewhere. Browsers drop
/// tabs and line breaks from a URL before resolving it (`/\t/evil.example` becomes
/// `//evil.example`, another host), and a line break cannot go into a header: any control
/// character, like a second leading slash or a backslash, sends the user home instead.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.into()
        }
        _ => "/".into(),
    }
}

async fn login(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let form = FormData::parse(&body);
    let next = local_path(form.get("next"));
    if !state.token().verify(form.get("token").unwrap_or_default()) {
        let page = LoginPage {
            next,
            error:
                "That is not the access token. It was printed when zbridge serve first started; \
                    start it with --new-token to make a new one."
                    .into(),
        };
        return (StatusCode::UNAUTHORIZED, render(&page)).into_response();
    }
    let (id, _) = state.sessions().create();
    let secure = if state.options().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions().remove(&id);
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("zbridge_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_keeps_only_a_digest_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (token, shown) = AccessToken::load_or_create(dir.path(), false).unwrap();
        let shown = shown.expect("a new token is shown once");
        assert!(token.verify(shown.expose_secret()));
        let file = std::fs::read_to_string(dir.path().join(TOKEN_FILE)).unwrap();
        assert!(!file.contains(shown.expose_secret()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, none) = AccessToken::load_or_create(dir.path(), false).unwrap();
        assert!(none.is_none(), "an existing token is not shown again");
        assert!(again.verify(shown.expose_secret()));
        assert!(!again.verify("guess"));
        let (rotated, new) = AccessToken::load_or_create(dir.path(), true).unwrap();
        assert!(!rotated.verify(shown.expose_secret()));
        assert!(rotated.verify(new.unwrap().expose_secret()));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/connections")), "/connections");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\n/evil.example")), "/");
        assert_eq!(local_path(Some("/sync\r\nSet-Cookie: x=1")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(
            local_path(Some("/sync?verified=Main")),
            "/sync?verified=Main"
        );
        assert_eq!(local_path(None), "/");
    }
}
