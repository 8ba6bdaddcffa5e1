//! Authentication: SOAP `login()` (salesforce-api.md §2), the OAuth 2.0 endpoints (§3: authorize
//! page, token with the authorization-code + PKCE, refresh-token with rotation, password and JWT
//! bearer grants, revoke, userinfo) and the identity URL (§4).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::http::{Shared, bearer, parse_version};
use super::ids::SfId;
use super::org::{AuthCode, Org, OrgKind, TokenFamily, now_ms};

/// Each user may hold this many approvals (refresh-token families) per app; the next one
/// revokes the oldest (salesforce-api.md §3.3).
const MAX_APPROVALS: usize = 5;
/// Newest API version where SOAP `login()` is still served (salesforce-api.md §2.5).
const MAX_LOGIN_VERSION: u32 = 64;

/// OAuth and identity routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/services/oauth2/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/services/oauth2/token", axum::routing::post(token))
        .route("/services/oauth2/revoke", get(revoke_get).post(revoke_post))
        .route("/services/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/id/{org}/{user}", get(identity))
}

// ---------------------------------------------------------------------------------------------
// SOAP login()

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A login() fault: `LoginFault` detail, `faultcode` without a prefix.
fn soap_fault(code: &str, message: &str) -> Response {
    fault_response("", "LoginFault", code, message)
}

/// An HTTP 500 SOAP fault with `faultcode` `{prefix}{code}` and the given detail element.
fn fault_response(prefix: &str, detail: &str, code: &str, message: &str) -> Response {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>{prefix}{code}</faultcode><faultstring>{code}: {msg}</faultstring><detail><sf:{detail} xsi:type="sf:{detail}"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{msg}</sf:exceptionMessage></sf:{detail}></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        msg = xml_escape(message)
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// A SOAP request read loosely: every element's local name, and the text of each.
#[derive(Debug, Default)]
struct SoapRequest {
    elements: HashSet<String>,
    values: HashMap<String, String>,
}

/// Reads element names and texts (any namespace prefix; entities and CDATA decoded).
fn parse_soap(body: &str) -> Option<SoapRequest> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut current: Option<String> = None;
    let mut elements = HashSet::new();
    let mut values: HashMap<String, String> = HashMap::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_string();
                elements.insert(name.clone());
                current = Some(name);
            }
            Event::Empty(e) => {
                elements.insert(e.local_name().into_inner().to_string());
            }
            Event::Text(t) => {
                if let Some(name) = &current {
                    values
                        .entry(name.clone())
                        .or_default()
                        .push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(name) = &current {
                    let resolved = match r.resolve_char_ref().ok()? {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::unescape(&format!("&{};", r.as_ref()))
                            .ok()?
                            .into_owned(),
                    };
                    values.entry(name.clone()).or_default().push_str(&resolved);
                }
            }
            Event::CData(t) => {
                if let Some(name) = &current {
                    values
                        .entry(name.clone())
                        .or_default()
                        .push_str(&t.into_inner());
                }
            }
            Event::End(_) => current = None,
            Event::Eof => break,
            _ => {}
        }
    }
    Some(SoapRequest { elements, values })
}

/// Reads the text of `<username>` and `<password>`.
fn parse_login_request(body: &str) -> Option<(String, String)> {
    let mut req = parse_soap(body)?;
    Some((
        req.values.remove("username")?,
        req.values.remove("password").unwrap_or_default(),
    ))
}

/// Outcome of checking a username and password (+ token).
enum Credentials {
    Ok(usize),
    NeedsToken,
    Invalid,
}

fn check_credentials(
    org: &Org,
    username: &str,
    password: &str,
    require_token: bool,
) -> Credentials {
    let Some(user) = org.user_by_name(username) else {
        return Credentials::Invalid;
    };
    let u = &org.users[user];
    if password == format!("{}{}", u.password, u.security_token) {
        return Credentials::Ok(user);
    }
    if password == u.password {
        if !require_token || org.settings.trusted_ip {
            return Credentials::Ok(user);
        }
        return Credentials::NeedsToken;
    }
    Credentials::Invalid
}

/// `POST /services/Soap/u/{version}` (and `/Soap/c/`): `login()`, or `logout()` when the body
/// holds a `logout` element.
pub async fn soap_call(
    State(state): State<Shared>,
    Path(version): Path<String>,
    body: String,
) -> Response {
    soap_dispatch(&state, &version, &body)
}

/// `POST /services/Soap/u/{version}/{orgId}`: the `serverUrl` login() hands out.
pub async fn soap_call_at(
    State(state): State<Shared>,
    Path((version, _org)): Path<(String, String)>,
    body: String,
) -> Response {
    soap_dispatch(&state, &version, &body)
}

fn soap_dispatch(state: &Shared, version: &str, body: &str) -> Response {
    match parse_soap(body) {
        Some(req) if req.elements.contains("logout") => soap_logout(state, version, &req),
        _ => soap_login(state, version, body),
    }
}

fn soap_ok(body: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#
        ),
    )
        .into_response()
}

/// A fault outside login(): `UnexpectedErrorFault` with `sf:`-prefixed codes.
fn soap_api_fault(code: &str, message: &str) -> Response {
    fault_response("sf:", "UnexpectedErrorFault", code, message)
}

/// `logout()`: ends the session named in the `SessionHeader`.
fn soap_logout(state: &Shared, version: &str, req: &SoapRequest) -> Response {
    let served = version
        .strip_suffix(".0")
        .and_then(|v| parse_version(&format!("v{v}.0")));
    if served.is_none() {
        return soap_api_fault(
            "UNSUPPORTED_API_VERSION",
            &format!("Invalid Api version specified on URL: {version}"),
        );
    }
    let token = req
        .values
        .get("sessionId")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mut org = state.lock();
    if org.session_user(&token).is_none() {
        return soap_api_fault(
            "INVALID_SESSION_ID",
            "Invalid Session ID found in SessionHeader: Illegal Session",
        );
    }
    org.sessions.remove(&token);
    soap_ok("<logoutResponse/>")
}

/// The partner `login()` call.
fn soap_login(state: &Shared, version: &str, body: &str) -> Response {
    let invalid = "Invalid username, password, security token; or user locked out.";
    let major = version
        .strip_suffix(".0")
        .and_then(|v| parse_version(&format!("v{v}.0")));
    let Some(major) = major.filter(|v| *v <= MAX_LOGIN_VERSION) else {
        return soap_fault(
            "UNSUPPORTED_API_VERSION",
            &format!(
                "Invalid Api version specified on URL: login() is available in API version {MAX_LOGIN_VERSION}.0 and earlier"
            ),
        );
    };
    let Some((username, password)) = parse_login_request(body) else {
        return soap_fault("INVALID_LOGIN", invalid);
    };
    let mut org = state.lock();
    if !org.settings.soap_login_enabled {
        return soap_fault(
            "INSUFFICIENT_ACCESS",
            "SOAP API login() is disabled by default in this org. Enable it in Setup > User Interface, or use OAuth.",
        );
    }
    let user = match check_credentials(&org, &username, &password, true) {
        Credentials::Ok(u) => u,
        Credentials::NeedsToken => {
            return soap_fault(
                "LOGIN_MUST_USE_SECURITY_TOKEN",
                "Invalid username, password, security token; or user locked out. Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company's trusted networks, you must add a security token to your password to log in.",
            );
        }
        Credentials::Invalid => return soap_fault("INVALID_LOGIN", invalid),
    };
    let perms = org.perms(user);
    if !perms.api_enabled || !perms.use_any_api_auth {
        return soap_fault(
            "INSUFFICIENT_ACCESS",
            "The user is missing the Use Any API Auth permission required for login().",
        );
    }
    let session = org.open_session(user, None);
    let body = login_response(&org, user, &session, major);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        body,
    )
        .into_response()
}

fn login_response(org: &Org, user: usize, session: &str, version: u32) -> String {
    let u = &org.users[user];
    let profile = &org.profiles[u.profile];
    let base = &org.base_url;
    let org15 = org.org_id.id15();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}.0/{org15}</metadataServerUrl><passwordExpired>{expired}</passwordExpired><sandbox>{sandbox}</sandbox><serverUrl>{base}/services/Soap/u/{version}.0/{org15}</serverUrl><sessionId>{session}</sessionId><userId>{user_id}</userId><userInfo><accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal><currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{org_id}</organizationId><organizationMultiCurrency>true</organizationMultiCurrency><organizationName>{org_name}</organizationName><profileId>{profile_id}</profileId><roleId xsi:nil="true"/><sessionSecondsValid>{seconds}</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil="true"/><userEmail>{email}</userEmail><userFullName>{full}</userFullName><userId>{user_id}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>{username}</userName><userTimeZone>GMT</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"#,
        expired = u.password_expired,
        sandbox = org.kind == OrgKind::Sandbox,
        user_id = u.id,
        org_id = org.org_id,
        org_name = xml_escape(&org.name),
        profile_id = profile.id,
        seconds = org.settings.session_timeout.as_secs(),
        email = xml_escape(&u.email),
        full = xml_escape(&format!("{} {}", u.first_name, u.last_name)),
        username = xml_escape(&u.username),
    )
}

// ---------------------------------------------------------------------------------------------
// OAuth token endpoint

fn oauth_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        axum::Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn check_client(
    org: &Org,
    form: &HashMap<String, String>,
    secret_required: bool,
) -> Result<(), Response> {
    let client_id = form
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    if client_id != org.app.consumer_key {
        return Err(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        ));
    }
    match form.get("client_secret") {
        Some(secret) if *secret != org.app.consumer_secret => {
            Err(oauth_error("invalid_client", "invalid client credentials"))
        }
        None if secret_required => Err(oauth_error("invalid_client", "invalid client credentials")),
        _ => Ok(()),
    }
}

fn token_response(
    org: &mut Org,
    user: usize,
    family: Option<u64>,
    refresh: Option<String>,
    scope: Option<&str>,
) -> Response {
    let access = org.open_session(user, family);
    let id = org.identity_url(user);
    let issued_at = now_ms().to_string();
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(org.app.consumer_secret.as_bytes())
    else {
        return oauth_error("server_error", "cannot sign the token response");
    };
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let mut body = serde_json::json!({
        "access_token": access,
        "instance_url": org.instance_url(),
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = serde_json::Value::String(r);
    }
    if let Some(s) = scope {
        body["scope"] = serde_json::Value::String(s.to_string());
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `POST /services/oauth2/token`.
async fn token(State(state): State<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    let mut org = state.lock();
    match form.get("grant_type").map(String::as_str) {
        Some("password") => password_grant(&mut org, &form),
        Some("authorization_code") => code_grant(&mut org, &form),
        Some("refresh_token") => refresh_grant(&mut org, &form),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => jwt_grant(&mut org, &form),
        _ => oauth_error("unsupported_grant_type", "grant type not supported"),
    }
}

fn serde_urlencoded_pairs(body: &str) -> HashMap<String, String> {
    url_pairs(body).into_iter().collect()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn url_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn password_grant(org: &mut Org, form: &HashMap<String, String>) -> Response {
    if let Err(r) = check_client(org, form, true) {
        return r;
    }
    let username = form.get("username").map(String::as_str).unwrap_or_default();
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    match check_credentials(org, username, password, true) {
        Credentials::Ok(user) if !org.users[user].password_expired => {
            token_response(org, user, None, None, None)
        }
        _ => oauth_error("invalid_grant", "authentication failure"),
    }
}

fn code_grant(org: &mut Org, form: &HashMap<String, String>) -> Response {
    let has_verifier = form.contains_key("code_verifier");
    if let Err(r) = check_client(org, form, !has_verifier) {
        return r;
    }
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let Some(grant) = org.auth_codes.remove(code) else {
        return oauth_error("invalid_grant", "invalid authorization code");
    };
    if grant.expires < Instant::now() || grant.client_id != org.app.consumer_key {
        return oauth_error("invalid_grant", "invalid authorization code");
    }
    if form.get("redirect_uri").map(String::as_str) != Some(grant.redirect_uri.as_str()) {
        return oauth_error(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    }
    if let Some(challenge) = &grant.code_challenge {
        let Some(verifier) = form.get("code_verifier") else {
            return oauth_error("invalid_grant", "invalid code verifier");
        };
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return oauth_error("invalid_request", "invalid code verifier");
        }
    }
    let wants_refresh = grant
        .scope
        .split_whitespace()
        .any(|s| s == "refresh_token" || s == "offline_access" || s == "full");
    let (family, refresh) = if wants_refresh {
        let (f, r) = new_family(org, grant.user, &grant.scope);
        (Some(f), Some(r))
    } else {
        (None, None)
    };
    org.approved_users.insert(grant.user);
    token_response(org, grant.user, family, refresh, Some(&grant.scope))
}

fn new_family(org: &mut Org, user: usize, scope: &str) -> (u64, String) {
    let family = org.next_family();
    let refresh = format!("5Aep861{}", org.random_token(80));
    let client_id = org.app.consumer_key.clone();
    org.families.insert(
        family,
        TokenFamily {
            user,
            client_id: client_id.clone(),
            scope: scope.to_string(),
            revoked: false,
            current: refresh.clone(),
            issued_order: family,
        },
    );
    org.refresh_tokens.insert(refresh.clone(), family);
    let mut live: Vec<(u64, u64)> = org
        .families
        .iter()
        .filter(|(_, f)| f.user == user && f.client_id == client_id && !f.revoked)
        .map(|(id, f)| (f.issued_order, *id))
        .collect();
    live.sort_unstable();
    while live.len() > MAX_APPROVALS {
        let (_, oldest) = live.remove(0);
        org.revoke_family(oldest);
    }
    (family, refresh)
}

fn refresh_grant(org: &mut Org, form: &HashMap<String, String>) -> Response {
    if let Err(r) = check_client(org, form, false) {
        return r;
    }
    let expired = || oauth_error("invalid_grant", "expired access/refresh token");
    if org.faults.revoked_refresh_token {
        return expired();
    }
    let token = form
        .get("refresh_token")
        .map(String::as_str)
        .unwrap_or_default();
    let Some(&family_id) = org.refresh_tokens.get(token) else {
        return expired();
    };
    let Some(family) = org.families.get(&family_id).cloned() else {
        return expired();
    };
    if family.revoked {
        return expired();
    }
    if family.current != token {
        // Reuse of a rotated-away token: revoke the whole chain (salesforce-api.md §3.3).
        org.revoke_family(family_id);
        return expired();
    }
    let rotated = if org.settings.refresh_token_rotation {
        let next = format!("5Aep861{}", org.random_token(80));
        org.refresh_tokens.insert(next.clone(), family_id);
        if let Some(f) = org.families.get_mut(&family_id) {
            f.current = next.clone();
        }
        Some(next)
    } else {
        None
    };
    token_response(
        org,
        family.user,
        Some(family_id),
        rotated,
        Some(&family.scope),
    )
}

#[derive(serde::Deserialize)]
struct JwtClaims {
    iss: String,
    sub: String,
}

fn jwt_grant(org: &mut Org, form: &HashMap<String, String>) -> Response {
    let assertion = form
        .get("assertion")
        .map(String::as_str)
        .unwrap_or_default();
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(org.app.jwt_public_key_pem.as_bytes())
    else {
        return oauth_error("invalid_grant", "invalid assertion");
    };
    let canonical = match org.kind {
        OrgKind::Production => "https://login.salesforce.com",
        OrgKind::Sandbox => "https://test.salesforce.com",
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[canonical, org.base_url.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 0;
    let claims = match jsonwebtoken::decode::<JwtClaims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    oauth_error("invalid_grant", "audience is invalid")
                }
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    oauth_error("invalid_grant", "expired authorization code")
                }
                _ => oauth_error("invalid_grant", "invalid assertion"),
            };
        }
    };
    if claims.iss != org.app.consumer_key {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    let Some(user) = org.user_by_name(&claims.sub) else {
        return oauth_error("invalid_grant", "invalid assertion");
    };
    let preauthorized = org
        .app
        .preauthorized_profiles
        .contains(&org.users[user].profile);
    if !preauthorized && !org.approved_users.contains(&user) {
        return oauth_error("invalid_grant", "user hasn't approved this consumer");
    }
    token_response(org, user, None, None, None)
}

// ---------------------------------------------------------------------------------------------
// Authorize page

fn html_escape(s: &str) -> String {
    xml_escape(s)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font-family:sans-serif;background:#f3f3f3}}main{{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px}}\
label{{display:block;margin-top:1rem}}input[type=text],input[type=password]{{width:100%;padding:.5rem}}button{{margin-top:1rem;padding:.5rem 1rem}}\
.error{{color:#b00}}</style></head><body><main>{body}</main></body></html>"
    )
}

fn hidden_fields(query: &str) -> String {
    url_pairs(query)
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect()
}

fn login_form(org: &Org, query: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Log in to {org_name}</h1>{error}<form method=\"post\" action=\"/services/oauth2/authorize\">{hidden}\
<label for=\"username\">Username</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\">\
<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"pw\" autocomplete=\"current-password\">\
<button type=\"submit\" id=\"Login\">Log In</button></form>",
        org_name = html_escape(&org.name),
        hidden = hidden_fields(query),
    );
    Html(page("Login | Salesforce (simulated)", &body)).into_response()
}

fn approve_form(org: &Org, ticket: &str, user: usize) -> Response {
    let body = format!(
        "<h1>Allow Access?</h1><p><strong>{app}</strong> is asking to access your data as <span id=\"user\">{user}</span>.</p>\
<form method=\"post\" action=\"/services/oauth2/authorize\"><input type=\"hidden\" name=\"ticket\" value=\"{ticket}\">\
<button type=\"submit\" id=\"oaapprove\" name=\"decision\" value=\"allow\">Allow</button> \
<button type=\"submit\" id=\"oadeny\" name=\"decision\" value=\"deny\">Deny</button></form>",
        app = html_escape(&org.app.name),
        user = html_escape(&org.users[user].username),
    );
    Html(page("Allow Access? | Salesforce (simulated)", &body)).into_response()
}

fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<h1>OAuth error</h1><p id=\"error\">error={}</p><p>{}</p>",
        html_escape(error),
        html_escape(description)
    );
    (status, Html(page("Error | Salesforce (simulated)", &body))).into_response()
}

/// The callback URLs the simulated app accepts: any loopback http(s) URL, because tools listen
/// on a random local port. A real app lists exact callback URLs.
fn redirect_allowed(uri: &str) -> bool {
    [
        "http://127.0.0.1",
        "http://localhost",
        "https://127.0.0.1",
        "https://localhost",
    ]
    .iter()
    .any(|p| {
        uri.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':') || rest.starts_with('/'))
    })
}

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let query: String = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{query}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Validates the authorize parameters; `Err` is the response to send.
fn check_authorize_params(org: &Org, params: &HashMap<String, String>) -> Result<(), Response> {
    if params.get("client_id") != Some(&org.app.consumer_key) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        ));
    }
    let redirect = params
        .get("redirect_uri")
        .map(String::as_str)
        .unwrap_or_default();
    if !redirect_allowed(redirect) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ));
    }
    let state = params.get("state").map(String::as_str).unwrap_or_default();
    if params.get("response_type").map(String::as_str) != Some("code") {
        return Err(redirect_with(
            redirect,
            &[
                ("error", "unsupported_response_type"),
                ("error_description", "response type not supported"),
                ("state", state),
            ],
        ));
    }
    if params.contains_key("code_challenge")
        && params
            .get("code_challenge_method")
            .map(String::as_str)
            .unwrap_or("S256")
            != "S256"
    {
        return Err(redirect_with(
            redirect,
            &[
                ("error", "invalid_request"),
                ("error_description", "unsupported code_challenge_method"),
                ("state", state),
            ],
        ));
    }
    Ok(())
}

/// `GET /services/oauth2/authorize`: the login form.
async fn authorize_page(
    State(state): State<Shared>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let params: HashMap<String, String> = url_pairs(&query).into_iter().collect();
    let org = state.lock();
    if let Err(r) = check_authorize_params(&org, &params) {
        return r;
    }
    login_form(&org, &query, None)
}

/// `POST /services/oauth2/authorize`: the login step, the Allow/Deny step, or both at once
/// (a form POST with `username`, `pw` and `decision=allow` goes straight to the redirect).
async fn authorize_submit(State(state): State<Shared>, body: String) -> Response {
    let form: Vec<(String, String)> = url_pairs(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut org = state.lock();
    if let Some(ticket) = get("ticket") {
        let Some((user, query)) = org.pending_approvals.remove(&ticket) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "approval expired; start again",
            );
        };
        return decide(&mut org, user, &query, get("decision").as_deref());
    }
    let login_keys = ["username", "pw", "password", "decision"];
    let query = form
        .iter()
        .filter(|(k, _)| !login_keys.contains(&k.as_str()))
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let params: HashMap<String, String> = url_pairs(&query).into_iter().collect();
    if let Err(r) = check_authorize_params(&org, &params) {
        return r;
    }
    let username = get("username").unwrap_or_default();
    let password = get("pw").or_else(|| get("password")).unwrap_or_default();
    let user = match check_credentials(&org, &username, &password, false) {
        Credentials::Ok(u) if !org.users[u].password_expired => u,
        Credentials::Ok(_) => {
            return login_form(
                &org,
                &query,
                Some("Your password has expired. Reset it before you log in."),
            );
        }
        _ => {
            return login_form(
                &org,
                &query,
                Some(
                    "Please check your username and password. If you still can't log in, contact your Salesforce administrator.",
                ),
            );
        }
    };
    match get("decision") {
        Some(decision) => decide(&mut org, user, &query, Some(&decision)),
        None => {
            let ticket = org.random_token(32);
            org.pending_approvals.insert(ticket.clone(), (user, query));
            approve_form(&org, &ticket, user)
        }
    }
}

fn decide(org: &mut Org, user: usize, query: &str, decision: Option<&str>) -> Response {
    let params: HashMap<String, String> = url_pairs(query).into_iter().collect();
    let redirect = params.get("redirect_uri").cloned().unwrap_or_default();
    let state = params.get("state").cloned().unwrap_or_default();
    if decision != Some("allow") {
        return redirect_with(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_description", "end-user denied authorization"),
                ("state", &state),
            ],
        );
    }
    let code = format!("aPrx{}", org.random_token(60));
    let scope = params
        .get("scope")
        .cloned()
        .unwrap_or_else(|| "api refresh_token id".to_string());
    org.auth_codes.insert(
        code.clone(),
        AuthCode {
            user,
            client_id: org.app.consumer_key.clone(),
            redirect_uri: redirect.clone(),
            code_challenge: params.get("code_challenge").cloned(),
            scope,
            expires: Instant::now() + Duration::from_secs(15 * 60),
        },
    );
    redirect_with(&redirect, &[("code", &code), ("state", &state)])
}

// ---------------------------------------------------------------------------------------------
// Revoke, identity, userinfo

async fn revoke_get(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    revoke_token(
        &state,
        q.get("token").map(String::as_str).unwrap_or_default(),
    )
}

async fn revoke_post(State(state): State<Shared>, body: String) -> Response {
    let form = serde_urlencoded_pairs(&body);
    revoke_token(
        &state,
        form.get("token").map(String::as_str).unwrap_or_default(),
    )
}

fn revoke_token(state: &Shared, token: &str) -> Response {
    let mut org = state.lock();
    if let Some(&family) = org.refresh_tokens.get(token) {
        org.revoke_family(family);
        return StatusCode::OK.into_response();
    }
    if org.sessions.remove(token).is_some() {
        return StatusCode::OK.into_response();
    }
    oauth_error("unsupported_token_type", "this token type is not supported")
}

fn session_for(
    org: &mut Org,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<usize> {
    let token = bearer(headers).or_else(|| query.get("oauth_token").cloned())?;
    org.session_user(&token)
}

fn identity_json(org: &Org, user: usize, version: Option<&str>) -> serde_json::Value {
    let u = &org.users[user];
    let base = &org.base_url;
    let v = version.unwrap_or("{version}");
    let org_id = org.org_id;
    serde_json::json!({
        "id": org.identity_url(user),
        "asserted_user": true,
        "user_id": u.id.to_string(),
        "organization_id": org_id.to_string(),
        "username": u.username,
        "nick_name": u.username.split('@').next().unwrap_or_default(),
        "display_name": format!("{} {}", u.first_name, u.last_name),
        "email": u.email,
        "email_verified": true,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "timezone": "GMT",
        "photos": {"picture": format!("{base}/profilephoto/005/F"), "thumbnail": format!("{base}/profilephoto/005/T")},
        "addr_street": null, "addr_city": null, "addr_state": null, "addr_country": null, "addr_zip": null,
        "mobile_phone": null,
        "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": {"created_date": null, "body": null},
        "urls": {
            "enterprise": format!("{base}/services/Soap/c/{v}/{}", org_id.id15()),
            "metadata": format!("{base}/services/Soap/m/{v}/{}", org_id.id15()),
            "partner": format!("{base}/services/Soap/u/{v}/{}", org_id.id15()),
            "rest": format!("{base}/services/data/v{v}/"),
            "sobjects": format!("{base}/services/data/v{v}/sobjects/"),
            "search": format!("{base}/services/data/v{v}/search/"),
            "query": format!("{base}/services/data/v{v}/query/"),
            "recent": format!("{base}/services/data/v{v}/recent/"),
            "tooling_soap": format!("{base}/services/Soap/T/{v}/{}", org_id.id15()),
            "tooling_rest": format!("{base}/services/data/v{v}/tooling/"),
            "profile": format!("{base}/{}", u.id),
            "feeds": format!("{base}/services/data/v{v}/chatter/feeds"),
            "groups": format!("{base}/services/data/v{v}/chatter/groups"),
            "users": format!("{base}/services/data/v{v}/chatter/users"),
            "feed_items": format!("{base}/services/data/v{v}/chatter/feed-items"),
            "feed_elements": format!("{base}/services/data/v{v}/chatter/feed-elements"),
            "custom_domain": base,
        },
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "last_modified_date": "2026-01-01T00:00:00.000+0000",
        "is_app_installed": true,
    })
}

/// `GET /id/{org}/{user}`.
async fn identity(
    State(state): State<Shared>,
    Path((org_param, user_param)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut org = state.lock();
    let Some(user) = session_for(&mut org, &headers, &query) else {
        return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
    };
    let same_org = SfId::parse(&org_param) == Some(org.org_id);
    let same_user = SfId::parse(&user_param) == Some(org.users[user].id);
    if !same_org || !same_user {
        return (StatusCode::FORBIDDEN, "Bad_Id").into_response();
    }
    let version = query.get("version").map(|v| {
        if v == "latest" {
            format!("{}.0", super::http::MAX_VERSION)
        } else {
            v.clone()
        }
    });
    (
        StatusCode::OK,
        axum::Json(identity_json(&org, user, version.as_deref())),
    )
        .into_response()
}

/// `GET /services/oauth2/userinfo`.
async fn userinfo(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut org = state.lock();
    let Some(user) = session_for(&mut org, &headers, &query) else {
        return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
    };
    let id = identity_json(&org, user, None);
    let u = &org.users[user];
    let body = serde_json::json!({
        "sub": org.identity_url(user),
        "user_id": u.id.to_string(),
        "organization_id": org.org_id.to_string(),
        "preferred_username": u.username,
        "nickname": id["nick_name"],
        "name": id["display_name"],
        "email": u.email,
        "email_verified": true,
        "given_name": u.first_name,
        "family_name": u.last_name,
        "zoneinfo": "GMT",
        "photos": id["photos"],
        "profile": id["urls"]["profile"],
        "picture": id["photos"]["picture"],
        "address": {},
        "urls": id["urls"],
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "updated_at": "2026-01-01T00:00:00Z",
        "is_app_installed": true,
        "is_salesforce_integration_user": false,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_request_is_parsed_with_entities_and_cdata() {
        let body = r#"<?xml version="1.0"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>a@b.c</n1:username><n1:password>p&amp;&lt;x&gt;TOKEN</n1:password></n1:login></env:Body></env:Envelope>"#;
        assert_eq!(
            parse_login_request(body),
            Some(("a@b.c".into(), "p&<x>TOKEN".into()))
        );
        let cdata = r#"<Envelope><Body><login><username><![CDATA[u@x]]></username><password><![CDATA[a&b]]></password></login></Body></Envelope>"#;
        assert_eq!(
            parse_login_request(cdata),
            Some(("u@x".into(), "a&b".into()))
        );
    }

    #[test]
    fn form_decoding_handles_plus_and_percent() {
        assert_eq!(
            url_pairs("a=b+c&d=%26%3D&e"),
            vec![
                ("a".into(), "b c".into()),
                ("d".into(), "&=".into()),
                ("e".into(), "".into())
            ]
        );
    }

    #[test]
    fn only_loopback_callbacks_are_accepted() {
        assert!(redirect_allowed("http://127.0.0.1:8080/cb"));
        assert!(redirect_allowed("http://localhost/cb"));
        assert!(!redirect_allowed("http://127.0.0.1.evil.example/cb"));
        assert!(!redirect_allowed("https://example.com/cb"));
    }
}
