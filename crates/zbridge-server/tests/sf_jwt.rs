//! JWT bearer sync credentials over the JSON API and the page's form post, against the
//! Salesforce simulator: the private key is write-only (shown as `{"set": true}`), a bad key is refused
//! by name, Test Access succeeds, and the form needs its CSRF token.

mod common;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim};

async fn call(server: &common::Server, method: Method, path: &str, body: Value) -> (u16, String) {
    let resp = server.api(method, path).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_credentials_with_a_sealed_key_pass_test_access() {
    let sim = SalesforceSim::builder().start().await.unwrap();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
    let pem = sim.jwt_private_key_pem();
    let key_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let server = common::start().await;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(SecretString::from("s".to_string()));
    server.store.create_connection(&def).await.unwrap();
    server
        .store
        .create_sync_profile("Main", "Zuora", json!({}))
        .await
        .unwrap();
    let path = "/api/sync-profiles/Main/sf-credentials/jwt";
    let never_shown = |body: &str| {
        for line in &key_lines {
            assert!(!body.contains(line), "a line of the key came back: {body}");
        }
    };

    // Nothing is saved without a key, or with something that is not one.
    let (status, body) = call(
        &server,
        Method::PUT,
        path,
        json!({"username": admin.username, "consumer_key": org.connected_app.consumer_key}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"field\":\"Private Key\""), "{body}");
    let junk = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    let (status, body) = call(
        &server,
        Method::PUT,
        path,
        json!({"username": admin.username, "consumer_key": org.connected_app.consumer_key,
               "private_key": junk}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(!body.contains("bm90IGEga2V5"), "{body}");
    assert!(body.contains("not an RSA private key"), "{body}");

    let (status, body) = call(
        &server,
        Method::PUT,
        path,
        json!({"username": admin.username, "consumer_key": org.connected_app.consumer_key,
               "private_key": pem, "login_url": sim.login_url()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    never_shown(&body);
    let saved: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(saved["active"], "jwt");
    assert_eq!(saved["credentials"][0]["private_key"]["set"], true);
    assert!(saved["credentials"][0].get("key_file").is_none(), "{saved}");

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/sync-profiles/Main/sf-credentials/test-access",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["kind"], "jwt");
    assert_eq!(report["user_id"], admin.user_id);
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("The access test was successful"),
        "{report}"
    );

    // An edit without the key keeps it; both a key and a key file is refused.
    let (status, body) = call(&server, Method::PUT, path, json!({"sandbox": false})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""private_key":{"set":true}"#), "{body}");
    let (status, body) = call(
        &server,
        Method::PUT,
        path,
        json!({"private_key": pem, "key_file": "/etc/hostname"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    never_shown(&body);
    for (page, shows) in [
        ("/sf-credentials/Main", "id=\"jwt-key-state\">set<"),
        (
            "/sf-credentials/Main?edit=jwt",
            "placeholder=\"set — leave empty to keep it\"",
        ),
    ] {
        let html = server
            .api(Method::GET, page)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        never_shown(&html);
        assert!(html.contains(shows), "{page}");
    }

    // The page's form post: refused without its CSRF token, saved with it.
    let (cookie, csrf) = server.browser_session().await;
    let form = |csrf: &str| {
        let mut out = form_urlencoded::Serializer::new(String::new());
        out.append_pair("username", &admin.username)
            .append_pair("consumer_key", &org.connected_app.consumer_key)
            .append_pair("private_key", "")
            .append_pair("login_url", &sim.login_url());
        if !csrf.is_empty() {
            out.append_pair("csrf", csrf);
        }
        out.finish()
    };
    let post = |body: String| {
        common::http()
            .post(format!("{}/sf-credentials/Main/jwt", server.url))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(post(form("")).await.unwrap().status(), 403);
    let saved = post(form(&csrf)).await.unwrap();
    assert_eq!(saved.status(), 303, "an empty key box keeps the key");
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/sync-profiles/Main/sf-credentials/test-access",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
