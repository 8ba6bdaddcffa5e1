//! Conformance of the simulator's login, OAuth and identity endpoints with the request and
//! response examples of reference/salesforce-api.md §2–§4.

mod salesforce_support;

use std::time::Duration;

use salesforce_support::*;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim, ids::SfId};

#[tokio::test]
async fn soap_login_returns_the_documented_login_result() {
    let sim = start().await;
    let admin = user(&sim, "admin");
    assert!(
        admin.password.contains('&') && admin.password.contains('<'),
        "the admin password exercises XML escaping"
    );
    let (status, body) = soap_login_raw(
        &sim.login_url(),
        "64.0",
        &admin.username,
        &format!("{}{}", admin.password, admin.security_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let org = sim.org(OrgKind::Production);
    let session = element(&body, "sessionId").unwrap();
    assert!(
        session.starts_with(&format!("{}!", org.org_id15)),
        "{session}"
    );
    assert_eq!(
        element(&body, "serverUrl").unwrap(),
        format!("{}/services/Soap/u/64.0/{}", sim.login_url(), org.org_id15)
    );
    assert_eq!(element(&body, "passwordExpired").as_deref(), Some("false"));
    assert_eq!(element(&body, "sandbox").as_deref(), Some("false"));
    let user_id = element(&body, "userId").unwrap();
    assert_eq!(user_id.len(), 18);
    assert_eq!(SfId::parse(&user_id).unwrap().to_string(), user_id);
    assert_eq!(element(&body, "organizationId").unwrap(), org.org_id);
    assert_eq!(
        element(&body, "sessionSecondsValid").as_deref(),
        Some("7200")
    );
    // The session id is a REST bearer token.
    let resp = client()
        .get(format!("{}/services/data/v64.0/limits", sim.login_url()))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["sforce-limit-info"]
            .to_str()
            .unwrap()
            .starts_with("api-usage=")
    );
}

#[tokio::test]
async fn soap_login_faults_carry_the_documented_codes() {
    let sim = start().await;
    let admin = user(&sim, "admin");
    let base = sim.login_url();
    let (status, body) = soap_login_raw(&base, "64.0", &admin.username, "wrong").await;
    assert_eq!(status, 500);
    assert_eq!(
        element(&body, "sf:exceptionCode").as_deref(),
        Some("INVALID_LOGIN")
    );
    assert!(body.contains("<faultcode>INVALID_LOGIN</faultcode>"));
    assert!(body.contains("Invalid username, password, security token; or user locked out."));

    let (_, body) = soap_login_raw(&base, "64.0", &admin.username, &admin.password).await;
    assert_eq!(
        element(&body, "sf:exceptionCode").as_deref(),
        Some("LOGIN_MUST_USE_SECURITY_TOKEN")
    );

    let (_, body) = soap_login_raw(
        &base,
        "65.0",
        &admin.username,
        &format!("{}{}", admin.password, admin.security_token),
    )
    .await;
    assert_eq!(
        element(&body, "sf:exceptionCode").as_deref(),
        Some("UNSUPPORTED_API_VERSION")
    );

    sim.set_soap_login_enabled(OrgKind::Production, false);
    let (status, body) = soap_login_raw(
        &base,
        "64.0",
        &admin.username,
        &format!("{}{}", admin.password, admin.security_token),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(
        element(&body, "sf:exceptionCode").as_deref(),
        Some("INSUFFICIENT_ACCESS")
    );
}

#[tokio::test]
async fn trusted_ip_allows_login_without_the_token() {
    let sim = SalesforceSim::builder()
        .trusted_ip(true)
        .start()
        .await
        .unwrap();
    let admin = user(&sim, "admin");
    let (status, _) =
        soap_login_raw(&sim.login_url(), "64.0", &admin.username, &admin.password).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn expired_password_gets_a_restricted_session() {
    let sim = start().await;
    let expired = user(&sim, "expired");
    assert!(expired.password_expired);
    let (status, body) = soap_login_raw(
        &sim.login_url(),
        "64.0",
        &expired.username,
        &format!("{}{}", expired.password, expired.security_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(element(&body, "passwordExpired").as_deref(), Some("true"));
    let session = element(&body, "sessionId").unwrap();
    let resp = client()
        .get(format!("{}/services/data/v64.0/sobjects", sim.login_url()))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn sandbox_org_has_its_own_ids_users_and_listener() {
    let sim = SalesforceSim::builder()
        .sandbox_org(true)
        .start()
        .await
        .unwrap();
    let prod = sim.org(OrgKind::Production);
    let sandbox = sim.org(OrgKind::Sandbox);
    assert_ne!(prod.org_id, sandbox.org_id);
    assert_ne!(prod.login_url, sandbox.login_url);
    let u = sandbox.user("admin").unwrap();
    let (status, body) = soap_login_raw(
        &sandbox.login_url,
        "64.0",
        &u.username,
        &format!("{}{}", u.password, u.security_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(element(&body, "sandbox").as_deref(), Some("true"));
    assert!(
        element(&body, "serverUrl")
            .unwrap()
            .starts_with(&sandbox.login_url)
    );
    // Production credentials do not work on the sandbox.
    let p = prod.user("admin").unwrap();
    let (status, _) = soap_login_raw(
        &sandbox.login_url,
        "64.0",
        &p.username,
        &format!("{}{}", p.password, p.security_token),
    )
    .await;
    assert_eq!(status, 500);
}

async fn token(base: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let resp = client()
        .post(format!("{base}/services/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn password_grant_returns_the_documented_token_response() {
    let sim = start().await;
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap();
    let app = &org.connected_app;
    let pw = format!("{}{}", admin.password, admin.security_token);
    let (status, body) = token(
        &sim.login_url(),
        &[
            ("grant_type", "password"),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("username", &admin.username),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}!", org.org_id15))
    );
    assert_eq!(body["instance_url"], sim.login_url());
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["issued_at"].as_str().unwrap().parse::<u64>().is_ok(),
        "issued_at is epoch millis as a string"
    );
    assert!(body["signature"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token from the password flow"
    );
    assert!(body.get("expires_in").is_none());
    // Identity URL.
    let id_url = body["id"].as_str().unwrap();
    assert_eq!(
        id_url,
        format!("{}/id/{}/{}", sim.login_url(), org.org_id, admin.user_id)
    );
    let identity: serde_json::Value = client()
        .get(id_url)
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identity["organization_id"], org.org_id);
    assert_eq!(identity["user_id"], admin.user_id);
    assert_eq!(identity["username"], admin.username);
    assert_eq!(identity["active"], true);
    assert_eq!(
        identity["urls"]["rest"],
        format!("{}/services/data/v{{version}}/", sim.login_url())
    );
    // userinfo.
    let info: serde_json::Value = client()
        .get(format!("{}/services/oauth2/userinfo", sim.login_url()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], admin.username);
    assert_eq!(info["is_salesforce_integration_user"], false);

    let (s, e) = token(
        &sim.login_url(),
        &[
            ("grant_type", "password"),
            ("client_id", "nope"),
            ("client_secret", "x"),
            ("username", &admin.username),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_client_id")));
    assert_eq!(e["error_description"], "client identifier invalid");
    let (_, e) = token(
        &sim.login_url(),
        &[
            ("grant_type", "password"),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("username", &admin.username),
            ("password", "bad"),
        ],
    )
    .await;
    assert_eq!(
        e,
        serde_json::json!({"error": "invalid_grant", "error_description": "authentication failure"})
    );
    let (s, e) = token(
        &sim.login_url(),
        &[
            ("grant_type", "password"),
            ("client_id", &app.consumer_key),
            ("client_secret", "bad"),
            ("username", &admin.username),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
}

fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = "a-very-long-code-verifier-that-is-at-least-43-characters-long".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Logs in through the authorize endpoint by form POST and returns the code.
async fn authorize(
    base: &str,
    client_id: &str,
    username: &str,
    password: &str,
    challenge: &str,
) -> String {
    let redirect = "http://127.0.0.1:9/callback";
    let page = client()
        .get(format!("{base}/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("scope", "api refresh_token id"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"username\""));
    let resp = client()
        .post(format!("{base}/services/oauth2/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("scope", "api refresh_token id"),
            ("state", "xyz"),
            ("username", username),
            ("pw", password),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(redirect), "{location}");
    assert!(location.contains("state=xyz"));
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    urlencoding_decode(code)
}

fn urlencoding_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_and_refresh_rotation() {
    let sim = start().await;
    let base = sim.login_url();
    let org = sim.org(OrgKind::Production);
    let app = org.connected_app.clone();
    let sync = org.user("sync").unwrap();
    let (verifier, challenge) = pkce();
    let redirect = "http://127.0.0.1:9/callback";

    let code = authorize(
        &base,
        &app.consumer_key,
        &sync.username,
        &sync.password,
        &challenge,
    )
    .await;
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("redirect_uri", redirect),
            ("code_verifier", "wrong-verifier"),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_request");

    let code = authorize(
        &base,
        &app.consumer_key,
        &sync.username,
        &sync.password,
        &challenge,
    )
    .await;
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(
        e["error"], "invalid_grant",
        "a challenge without a verifier"
    );

    let code = authorize(
        &base,
        &app.consumer_key,
        &sync.username,
        &sync.password,
        &challenge,
    )
    .await;
    let (s, first) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{first}");
    let refresh1 = first["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(first["scope"], "api refresh_token id");
    // A code is single use.
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");

    let (s, second) = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh1),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let refresh2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh2, "rotation issues a new refresh token");
    let access2 = second["access_token"].as_str().unwrap().to_string();

    // Reusing the rotated-away token revokes the whole chain, access tokens included.
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh1),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
        ],
    )
    .await;
    assert_eq!(
        e,
        serde_json::json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
    );
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    let resp = client()
        .get(format!("{base}/services/data/v64.0/limits"))
        .bearer_auth(&access2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
}

#[tokio::test]
async fn without_rotation_the_refresh_token_stays_and_revoke_kills_it() {
    let sim = SalesforceSim::builder()
        .refresh_token_rotation(false)
        .start()
        .await
        .unwrap();
    let base = sim.login_url();
    let org = sim.org(OrgKind::Production);
    let app = org.connected_app.clone();
    let admin = org.user("admin").unwrap();
    let (verifier, challenge) = pkce();
    let code = authorize(
        &base,
        &app.consumer_key,
        &admin.username,
        &admin.password,
        &challenge,
    )
    .await;
    let (_, t) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &app.consumer_key),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let (s, r) = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert!(r.get("refresh_token").is_none());
    let access = r["access_token"].as_str().unwrap().to_string();
    let resp = client()
        .post(format!("{base}/services/oauth2/revoke"))
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, e) = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &app.consumer_key),
            ("client_secret", &app.consumer_secret),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    let resp = client()
        .get(format!("{base}/services/data/v64.0/limits"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "revoking a refresh token revokes its access tokens"
    );
    let resp = client()
        .post(format!("{base}/services/oauth2/revoke"))
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn denied_authorization_redirects_with_access_denied() {
    let sim = start().await;
    let base = sim.login_url();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap();
    let resp = client()
        .post(format!("{base}/services/oauth2/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", org.connected_app.consumer_key.as_str()),
            ("redirect_uri", "http://localhost:1234/cb"),
            ("state", "s1"),
            ("username", admin.username.as_str()),
            ("pw", admin.password.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:1234/cb?error=access_denied"),
        "{location}"
    );
    let resp = client()
        .get(format!("{base}/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", org.connected_app.consumer_key.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

fn jwt(
    sim: &zbridge_sim::salesforce::RunningSalesforceSim,
    iss: &str,
    sub: &str,
    aud: &str,
) -> String {
    let exp = chrono::Utc::now().timestamp() + 180;
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(sim.jwt_private_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &serde_json::json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp}),
        &key,
    )
    .unwrap()
}

#[tokio::test]
async fn jwt_bearer_grant_checks_signature_audience_and_approval() {
    let sim = start().await;
    let base = sim.login_url();
    let org = sim.org(OrgKind::Production);
    let key = org.connected_app.consumer_key.clone();
    let admin = org.user("admin").unwrap();
    let sync = org.user("sync").unwrap();
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    let assertion = jwt(&sim, &key, &admin.username, "https://login.salesforce.com");
    let (s, t) = token(&base, &[("grant_type", grant), ("assertion", &assertion)]).await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("refresh_token").is_none());

    let assertion = jwt(&sim, &key, &admin.username, "https://test.salesforce.com");
    let (_, e) = token(&base, &[("grant_type", grant), ("assertion", &assertion)]).await;
    assert_eq!(e["error_description"], "audience is invalid");

    let assertion = jwt(&sim, &key, &sync.username, &base);
    let (_, e) = token(&base, &[("grant_type", grant), ("assertion", &assertion)]).await;
    assert_eq!(
        e,
        serde_json::json!({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"})
    );

    // After the user approves the app once through a flow that issues a refresh token, JWT works.
    let (verifier, challenge) = pkce();
    let code = authorize(&base, &key, &sync.username, &sync.password, &challenge).await;
    let (s, _) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &key),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = token(&base, &[("grant_type", grant), ("assertion", &assertion)]).await;
    assert_eq!(s, 200);

    let mut tampered = jwt(&sim, &key, &admin.username, &base);
    tampered.push('x');
    let (_, e) = token(&base, &[("grant_type", grant), ("assertion", &tampered)]).await;
    assert_eq!(e["error"], "invalid_grant");
}

#[tokio::test]
async fn an_idle_session_expires_with_invalid_session_id() {
    let sim = SalesforceSim::builder()
        .session_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let rest = Rest::admin(&sim).await;
    assert_eq!(rest.get("/limits").await.0, 200);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, body) = rest.get("/limits").await;
    assert_eq!(status, 401);
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
}

/// The SOAP `logout()` envelope: an empty `logout` element and the session in `SessionHeader`.
fn logout_envelope(session: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Header>
    <SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{session}</sessionId></SessionHeader>
  </env:Header>
  <env:Body><n1:logout xmlns:n1="urn:partner.soap.sforce.com"/></env:Body>
</env:Envelope>"#
    )
}

async fn soap_post(url: &str, body: String) -> (u16, String) {
    let resp = client()
        .post(url)
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "logout")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn soap_logout_ends_the_session() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    assert_eq!(rest.get("/limits").await.0, 200);
    let other = Rest::admin(&sim).await;
    let url = format!("{}/services/Soap/u/64.0", sim.login_url());
    let (status, body) = soap_post(&url, logout_envelope(&rest.token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<logoutResponse/>"), "{body}");
    let (status, err) = rest.get("/limits").await;
    assert_eq!(
        (status, err[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
    assert_eq!(other.get("/limits").await.0, 200, "only that session ends");
    // A second logout with the ended session is a fault.
    let (status, body) = soap_post(&url, logout_envelope(&rest.token)).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"),
        "{body}"
    );
    // The serverUrl login() returns (…/Soap/u/64.0/{orgId15}) takes the call too.
    let org15 = sim.org(OrgKind::Production).org_id15;
    let at = format!("{}/services/Soap/u/64.0/{org15}", sim.login_url());
    let (status, _) = soap_post(&at, logout_envelope(&other.token)).await;
    assert_eq!(status, 200);
    assert_eq!(other.get("/limits").await.0, 401);
}
