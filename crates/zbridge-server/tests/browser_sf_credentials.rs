//! Salesforce OAuth sync credentials in headless Chromium, end to end through the Salesforce
//! simulator's authorize page: save the OAuth credentials, Test Access asks for the token,
//! set up the token (log in, allow), Test Access succeeds, delete with its confirmation.

mod common;

use secrecy::SecretString;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_sync_credentials_are_set_up_and_tested_in_chromium() {
    let Some(chromedriver) = common::browser::chromedriver() else {
        return;
    };
    let sim = SalesforceSim::builder().start().await.unwrap();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
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

    let b = common::browser::Browser::start(&chromedriver, "ui_sf_oauth").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.goto(&format!("{}/sf-credentials", server.url)).await;
    b.click("#profiles a").await;
    b.wait_title("Sync credentials Main").await;
    b.click("#o-edit").await;
    b.type_into("#o-org", &org.org_id).await;
    b.type_into("#o-user", &admin.user_id).await;
    b.type_into("#o-key", &org.connected_app.consumer_key).await;
    b.type_into("#o-secret", &org.connected_app.consumer_secret)
        .await;
    b.type_into("#o-login-url", &sim.login_url()).await;
    b.screenshot("1_oauth_form").await;
    b.assert_labelled().await;
    b.click("#o-save").await;
    b.wait_text("#sf-message", "Saved").await;
    assert_eq!(b.text("#oauth-token-state").await, "not set");

    b.click("#o-test").await;
    b.wait_text("#sf-message", "Set up the OAuth token").await;
    b.screenshot("2_test_needs_token").await;

    b.click("#o-setup").await;
    b.wait_title("Login").await;
    b.type_into("#username", &admin.username).await;
    b.type_into("#password", &admin.password).await;
    b.click("#Login").await;
    b.wait_title("Allow Access").await;
    b.screenshot("3_allow").await;
    b.click("#oaapprove").await;
    let result = b
        .wait_text("#setup-result", "The OAuth token is set up")
        .await;
    assert!(result.contains(&admin.username), "{result}");
    b.screenshot("4_setup_done").await;
    b.click("#back").await;
    b.wait_title("Sync credentials Main").await;
    assert_eq!(b.text("#oauth-token-state").await, "set");

    b.click("#o-test").await;
    let ok = b
        .wait_text("#sf-message", "The access test was successful")
        .await;
    assert!(ok.contains(&admin.username), "{ok}");
    b.screenshot("5_test_access_ok").await;
    b.assert_labelled().await;

    b.click("#o-delete").await;
    assert!(b.alert_text().await.contains("revoke the token"));
    b.accept_alert().await;
    b.wait_text("#sf-message", "Deleted").await;
    b.screenshot("6_deleted").await;
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
