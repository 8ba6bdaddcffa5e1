//! JWT bearer sync credentials in headless Chromium against the Salesforce simulator: a key
//! that is not a key is refused by name, the real one is saved (and then shown only as set),
//! Test Access succeeds, and Delete asks first.

mod common;

use secrecy::SecretString;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_sync_credentials_are_saved_and_tested_in_chromium() {
    let Some(chromedriver) = common::browser::chromedriver() else {
        return;
    };
    let sim = SalesforceSim::builder().start().await.unwrap();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
    let pem = sim.jwt_private_key_pem();
    let key_line = pem.lines().nth(1).unwrap().to_string();
    let server = common::start().await;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(SecretString::from("s".to_string()));
    server.store.create_connection(&def).await.unwrap();
    server
        .store
        .create_sync_profile("Main", "Zuora", serde_json::json!({}))
        .await
        .unwrap();

    let b = common::browser::Browser::start(&chromedriver, "ui_sf_jwt").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.goto(&format!("{}/sf-credentials/Main", server.url)).await;
    b.wait_title("Sync credentials Main").await;
    assert!(!b.enabled("#m-jwt").await, "nothing to switch to yet");
    b.click("#j-edit").await;
    b.type_into("#j-username", &admin.username).await;
    b.type_into("#j-key", &org.connected_app.consumer_key).await;
    b.type_into(
        "#j-private-key",
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
    )
    .await;
    b.type_into("#j-login-url", &sim.login_url()).await;
    b.assert_labelled().await;
    b.click("#j-save").await;
    b.wait_text("#sf-message", "Private Key: is not an RSA private key")
        .await;
    b.screenshot("1_not_a_key").await;

    // The form comes back with the saved fields; the key box is empty (write-only).
    b.clear("#j-username").await;
    b.type_into("#j-username", &admin.username).await;
    b.clear("#j-key").await;
    b.type_into("#j-key", &org.connected_app.consumer_key).await;
    b.clear("#j-login-url").await;
    b.type_into("#j-login-url", &sim.login_url()).await;
    b.type_into("#j-private-key", pem).await;
    b.screenshot("2_jwt_form").await;
    b.click("#j-save").await;
    b.wait_text("#sf-message", "Saved").await;
    assert_eq!(b.text("#jwt-key-state").await, "set");
    let html = b
        .script(
            "return document.documentElement.outerHTML",
            serde_json::json!([]),
        )
        .await;
    assert!(
        !html.as_str().unwrap().contains(&key_line),
        "the key is never shown"
    );
    // The first credential of a profile is the active one.
    assert!(b.enabled("#m-jwt").await);
    b.click("#j-edit").await;
    let placeholder = b
        .script(
            "return document.querySelector('#j-private-key').placeholder",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(placeholder, "set — leave empty to keep it");
    assert_eq!(b.value("#j-private-key").await, "");
    b.goto(&format!("{}/sf-credentials/Main", server.url)).await;

    b.click("#j-test").await;
    let ok = b
        .wait_text("#sf-message", "The access test was successful")
        .await;
    assert!(ok.contains(&admin.username), "{ok}");
    b.screenshot("3_test_access_ok").await;
    b.assert_labelled().await;

    b.click("#j-delete").await;
    assert!(b.alert_text().await.contains("private key"));
    b.dismiss_alert().await;
    assert_eq!(b.text("#jwt-key-state").await, "set", "dismissed: kept");
    b.click("#j-delete").await;
    b.alert_text().await;
    b.accept_alert().await;
    b.wait_text("#sf-message", "Deleted").await;
    b.screenshot("4_deleted").await;
    b.quit().await;
    let profile = server.store.load_sync_profile("Main").await.unwrap();
    assert!(
        server
            .store
            .load_sf_credentials(&profile.id)
            .await
            .unwrap()
            .is_empty()
    );
}
