//! No response ever holds a secret: with every kind of secret stored (connection secrets, a
//! secret advanced property, a secret variable, Salesforce password and token, OAuth consumer
//! secret, a refresh token from a real setup, a JWT private key), every operation of the OpenAPI document and
//! every page is called, and no body or header contains any secret. The JWT private key and
//! saved queries are part of the walk.

mod common;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use zbridge_core::connection::{ProxySettings, ZuoraConnectionDef};
use zbridge_core::{ConnectionName, VariableName};
use zbridge_sim::salesforce::{OrgKind, SalesforceSim};
use zbridge_sim::zuora::ZuoraSim;

fn body_for(operation: &str) -> Value {
    match operation {
        "createConnection" => json!({"name": "Second", "tenant": "USAPISandbox", "client_id": "x",
                                      "client_secret": "second-secret-0f3a9"}),
        "updateConnection" => json!({"project": null}),
        "setVariable" => json!({"value": "variable-secret-77c1", "secret": true}),
        "createSyncProfile" => json!({"name": "Second", "connection": "Prod"}),
        "savePasswordCredentials" => json!({"password": "password-secret-2b8e"}),
        "saveOAuthCredentials" => json!({}),
        "switchSfCredential" => json!({"kind": "oauth"}),
        "previewQuery" => {
            json!({"connection": "Prod", "table": "account", "columns": ["accountnumber", "name"]})
        }
        "runQuery" => json!({"connection": "Prod", "table": "account", "format": "jsonl"}),
        "saveSavedQuery" => {
            json!({"connection": "Prod", "table": "account", "columns": ["accountnumber", "name"]})
        }
        "execute" => json!({"connection": "Prod", "procedure": "GetOAuthAccessToken"}),
        "scheduleSync" => json!({"every": "2h"}),
        _ => json!({}),
    }
}

/// Reads, then writes, then deletes; the OAuth credential (whose delete revokes) last. A
/// saved query is run after it is saved.
fn rank(method: &Method, operation: &str) -> u8 {
    match (method.as_str(), operation) {
        (_, "runSavedQuery") => 2,
        (_, "deleteOAuthCredential") => 4,
        (_, "cleanupSync") => 5,
        ("GET", _) => 0,
        ("DELETE", _) => 3,
        _ => 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_body_or_header_holds_a_secret() {
    let zuora = ZuoraSim::builder()
        .seed(5)
        .accounts(3)
        .start()
        .await
        .unwrap();
    let sf = SalesforceSim::builder().start().await.unwrap();
    let org = sf.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
    let server = common::start().await;

    let mut secrets: Vec<String> = vec![
        zuora.client_secret().to_string(),
        "refresh-secret-5d2c".into(),
        "proxy-secret-91aa".into(),
        "access-token-secret-c3d4".into(),
        "variable-secret-4e7f".into(),
        "sf-password-secret-8a1b".into(),
        "sftokensecret6c0d".into(),
        org.connected_app.consumer_secret.clone(),
        common::TOKEN.to_string(),
        "second-secret-0f3a9".into(),
        "variable-secret-77c1".into(),
        "password-secret-2b8e".into(),
    ];

    // A connection with every secret field set, reading from the Zuora simulator.
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Prod").unwrap());
    def.service = "DataQuery".into();
    def.client_id = zuora.client_id().into();
    def.client_secret = Some(SecretString::from(zuora.client_secret().to_string()));
    def.refresh_token = Some(SecretString::from(secrets[1].clone()));
    def.proxy = ProxySettings {
        enabled: false,
        url: "http://proxy.invalid:3128".into(),
        user: "svc".into(),
        password: Some(SecretString::from(secrets[2].clone())),
    };
    def.set_advanced("URL", SecretString::from(zuora.base_url().to_string()))
        .unwrap();
    def.set_advanced("PollInterval", SecretString::from("1".to_string()))
        .unwrap();
    server.store.create_connection(&def).await.unwrap();
    let mut token_only = ZuoraConnectionDef::new(ConnectionName::parse("Token only").unwrap());
    token_only
        .set_advanced("InitiateOAuth", SecretString::from("OFF".to_string()))
        .unwrap();
    token_only
        .set_advanced("OAuthAccessToken", SecretString::from(secrets[3].clone()))
        .unwrap();
    server.store.create_connection(&token_only).await.unwrap();
    server
        .store
        .set_variable(
            &VariableName::parse("zsecret").unwrap(),
            None,
            &SecretString::from(secrets[4].clone()),
            true,
        )
        .await
        .unwrap();

    // A sync profile with Salesforce credentials and OAuth credentials set up for real.
    server
        .store
        .create_sync_profile("Main", "Prod", json!({}))
        .await
        .unwrap();
    let put = |path: &str, body: Value| {
        let req = server.api(Method::PUT, path).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        }
    };
    put(
        "/api/sync-profiles/Main/sf-credentials/password",
        json!({"username": admin.username, "password": secrets[5], "security_token": secrets[6],
               "login_url": sf.login_url()}),
    )
    .await;
    put(
        "/api/sync-profiles/Main/sf-credentials/oauth",
        json!({"org_id": org.org_id, "user_id": admin.user_id, "consumer_key": org.connected_app.consumer_key,
               "consumer_secret": org.connected_app.consumer_secret, "login_url": sf.login_url()}),
    )
    .await;
    // JWT bearer credentials with the private key sealed in the store.
    let pem = sf.jwt_private_key_pem();
    secrets.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    put(
        "/api/sync-profiles/Main/sf-credentials/jwt",
        json!({"username": admin.username, "consumer_key": org.connected_app.consumer_key,
               "private_key": pem, "login_url": sf.login_url()}),
    )
    .await;
    let started: Value = server
        .api(
            Method::POST,
            "/api/sync-profiles/Main/sf-credentials/setup-oauth",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The authorize page's form, posted in one go: its parameters plus login and approval.
    let authorize = started["authorize_url"].as_str().unwrap();
    let (endpoint, query) = authorize.split_once('?').unwrap();
    let mut form: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    for (k, v) in [
        ("username", admin.username.as_str()),
        ("pw", admin.password.as_str()),
        ("decision", "allow"),
    ] {
        form.push((k.into(), v.into()));
    }
    let approved = common::http()
        .post(endpoint)
        .form(&form)
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(started["redirect_uri"].as_str().unwrap()));
    let code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    secrets.push(code.to_string());
    let done = common::http().get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    let shown = server.sf_credentials_shown("Main").await;
    let oauth = shown["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "oauth")
        .unwrap();
    assert_eq!(oauth["oauth_token"]["set"], true, "{shown}");

    // Every API operation, reads first.
    let spec: Value = server
        .api(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let id = op["operationId"].as_str().unwrap().to_string();
            let path = template
                .replace("{name}", "Prod")
                .replace("{profile}", "Main")
                .replace("{kind}", "jwt")
                .replace("{table}", "account")
                .replace("{id}", "0000");
            operations.push((rank(&method, &id), method, path, id));
        }
    }
    operations.sort();
    let mut seen = Vec::new();
    for (_, method, path, id) in &operations {
        // Deleting the profile or the saved query would leave the pages below nothing to
        // show; they go last.
        if id == "deleteSyncProfile" || id == "deleteSavedQuery" {
            continue;
        }
        let mut req = server.api(method.clone(), path);
        if *method != Method::GET && *method != Method::DELETE {
            req = req.json(&body_for(id));
        }
        let resp = req.send().await.unwrap();
        seen.push(format!("{method} {path} -> {}", resp.status()));
        let headers = format!("{:?}", resp.headers());
        let body = resp.text().await.unwrap();
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{method} {path} returned a secret: {body}"
            );
            assert!(
                !headers.contains(secret.as_str()),
                "{method} {path} header holds a secret"
            );
        }
        if *id == "runQuery" {
            assert_eq!(body.lines().count(), 3, "the walk reached Zuora: {body}");
        }
        if *id == "runSavedQuery" {
            assert_eq!(body.lines().count(), 4, "the saved query ran: {body}");
        }
        if *id == "testSfAccess" {
            assert!(
                body.contains("successful"),
                "the walk reached Salesforce: {body}"
            );
        }
    }
    assert!(seen.len() >= 25, "{seen:#?}");

    // Every page, including the editors that hold secret fields.
    let pages = [
        "/connections",
        "/connections/Prod",
        "/connections/Token%20only",
        "/connections/Prod/delete",
        "/connection-editor/new",
        "/variables",
        "/sf-credentials",
        "/sf-credentials/Main",
        "/sf-credentials/Main?edit=password",
        "/sf-credentials/Main?edit=oauth",
        "/sf-credentials/Main?edit=jwt",
        "/query?connection=Prod&table=account&columns=name&action=preview",
        "/query?connection=Prod&table=account&save_name=Prod&saved=Prod",
        "/query/save?connection=Prod&table=account&columns=name&save_name=Prod",
        "/query/saved/Prod/delete",
        "/execute",
        "/sync",
    ];
    for page in pages {
        let resp = server.api(Method::GET, page).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        let body = resp.text().await.unwrap();
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "{page} shows a secret");
        }
    }
    // The editor's Test, posted as the page does.
    let resp = server
        .api(Method::POST, "/connection-editor/test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "original=Prod&name=Prod&tenant=USProduction&service=DataQuery&client_id={}&adv_key=URL&adv_value={}",
            zuora.client_id(),
            form_urlencoded::byte_serialize(zuora.base_url().as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    let body = resp.text().await.unwrap();
    assert!(body.contains("Test succeeded"), "{body}");

    let deleted = server
        .api(Method::DELETE, "/api/saved-queries/Prod")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let deleted = server
        .api(Method::DELETE, "/api/sync-profiles/Main")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    for secret in &secrets {
        assert!(
            !body.contains(secret.as_str()),
            "the Test result shows a secret: {body}"
        );
    }
}

trait ShowCredentials {
    async fn sf_credentials_shown(&self, profile: &str) -> Value;
}

impl ShowCredentials for common::Server {
    async fn sf_credentials_shown(&self, profile: &str) -> Value {
        self.api(
            Method::GET,
            &format!("/api/sync-profiles/{profile}/sf-credentials"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }
}
