//! The connection editor in headless Chromium: an invalid name is refused, the variable
//! picker fills a field, Test reaches the Zuora simulator, Save, Discard with its confirmation,
//! Delete with its confirmation and dependency list.

mod common;

use secrecy::SecretString;
use zbridge_core::VariableName;
use zbridge_sim::zuora::ZuoraSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_test_save_discard_and_delete_a_connection_in_chromium() {
    let Some(chromedriver) = common::browser::chromedriver() else {
        return;
    };
    let sim = ZuoraSim::builder()
        .seed(7)
        .accounts(5)
        .start()
        .await
        .unwrap();
    let server = common::start().await;
    server
        .store
        .set_variable(
            &VariableName::parse("sim_id").unwrap(),
            None,
            &SecretString::from(sim.client_id().to_string()),
            false,
        )
        .await
        .unwrap();
    let b = common::browser::Browser::start(&chromedriver, "ui_connection").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.screenshot("1_list").await;
    b.assert_labelled().await;

    b.click("#new-connection").await;
    b.wait_title("New connection").await;
    b.type_into("#f-name", "Sim/EU").await;
    // The variable picker opens on '[' and inserts the chosen name.
    b.type_into("#f-client-id", "[").await;
    b.click("#var-picker button[data-name=sim_id]").await;
    assert_eq!(b.value("#f-client-id").await, "[sim_id]");
    b.type_into("#f-client-secret", sim.client_secret()).await;
    b.click("#adv-add").await;
    b.type_into("#advanced-rows tr:last-child input[name=adv_key]", "url")
        .await;
    b.type_into(
        "#advanced-rows tr:last-child input[name=adv_value]",
        sim.base_url(),
    )
    .await;
    b.click("#advanced-rows tr:last-child button[data-row=submit]")
        .await;
    assert_eq!(
        b.value("#advanced-rows tr:last-child input[name=adv_key]")
            .await,
        "URL",
        "Submit settles the row with the key's canonical spelling"
    );
    b.click("#save").await;
    let error = b.wait_text("#messages .error", "Connection Name").await;
    assert!(error.contains("'/'"), "{error}");
    b.screenshot("2_invalid_name").await;

    b.clear("#f-name").await;
    b.type_into("#f-name", "Sim EU").await;
    b.click("#test").await;
    let outcome = b.wait_text("#test-outcome", "Test succeeded").await;
    assert!(outcome.contains("OAuth"), "{outcome}");
    b.screenshot("3_test_ok").await;

    b.click("#save").await;
    b.wait_title("Sim EU").await;
    b.wait_text("#notice", "Saved connection 'Sim EU'").await;
    assert_eq!(b.value("#f-client-id").await, "[sim_id]");
    assert_eq!(
        b.value("#f-client-secret").await,
        "",
        "secrets are never sent back"
    );
    b.screenshot("4_saved").await;
    b.assert_labelled().await;
    let saved = server.store.load_connection("Sim EU").await.unwrap();
    assert_eq!(saved.def.advanced.get("URL"), Some(sim.base_url()));

    // The Advanced Configurations table: add a row, submit it, edit it, delete it, Clear All.
    b.click("#adv-add").await;
    let last = "#advanced-rows tr:last-child";
    b.type_into(&format!("{last} input[name=adv_key]"), "PollInterval")
        .await;
    b.type_into(&format!("{last} input[name=adv_value]"), "4")
        .await;
    b.click(&format!("{last} button[data-row=submit]")).await;
    b.click(&format!("{last} button[data-row=edit]")).await;
    b.clear(&format!("{last} input[name=adv_value]")).await;
    b.type_into(&format!("{last} input[name=adv_value]"), "7")
        .await;
    b.click(&format!("{last} button[data-row=submit]")).await;
    assert_eq!(b.value(&format!("{last} input[name=adv_value]")).await, "7");
    b.screenshot("4b_row_edited").await;
    b.click(&format!("{last} button[data-row=delete]")).await;
    b.wait_text("#adv-message", "Deleted row PollInterval")
        .await;
    b.click("#adv-clear-all").await;
    b.wait_text("#adv-message", "Cleared every row").await;
    assert!(!b.exists("#advanced-rows tr").await);

    // Discard asks first; dismissing keeps the edit, accepting reloads what is saved.
    b.type_into("#f-client-id", "-edited").await;
    b.click("#discard").await;
    assert!(b.alert_text().await.contains("Discard your changes?"));
    b.dismiss_alert().await;
    assert_eq!(b.value("#f-client-id").await, "[sim_id]-edited");
    b.click("#discard").await;
    b.alert_text().await;
    b.accept_alert().await;
    b.wait_title("Sim EU").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.value("#f-client-id").await != "[sim_id]" {
        assert!(
            std::time::Instant::now() < deadline,
            "discard did not reload"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.value("#advanced-rows tr:first-child input[name=adv_key]")
            .await,
        "URL",
        "discarding brings the cleared rows back"
    );
    b.screenshot("5_discarded").await;

    // Delete shows the components that use the connection and refuses while they exist.
    server
        .store
        .save_component(
            "query",
            "Daily accounts",
            &serde_json::json!({}),
            std::slice::from_ref(&saved.id),
        )
        .await
        .unwrap();
    b.click("#delete").await;
    b.wait_title("Delete Sim EU").await;
    b.wait_text("#used-by", "query 'Daily accounts'").await;
    assert!(!b.enabled("#confirm-delete").await);
    b.screenshot("6_delete_blocked").await;
    b.assert_labelled().await;
    server
        .store
        .delete_component("query", "Daily accounts")
        .await
        .unwrap();
    b.click("#cancel-delete").await;
    b.wait_title("Sim EU").await;
    b.click("#delete").await;
    b.wait_text("#no-dependencies", "Nothing uses this connection")
        .await;
    b.screenshot("7_delete_confirm").await;
    b.click("#confirm-delete").await;
    b.wait_text("main", "Deleted connection 'Sim EU'").await;
    b.screenshot("8_deleted").await;
    b.goto(&format!("{}/variables", server.url)).await;
    b.assert_labelled().await;
    b.goto(&format!("{}/execute", server.url)).await;
    b.assert_labelled().await;
    b.quit().await;
    assert!(server.store.list_connections().await.unwrap().is_empty());
}
