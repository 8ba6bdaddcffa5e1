//! Saved queries on the Query page in headless Chromium against the Zuora simulator: build a
//! query, save it under a name (with its confirmation page), see it listed, open it, run it (a
//! CSV download), see it among the connection's dependencies, and delete it with its
//! confirmation.

mod common;

use zbridge_sim::zuora::ZuoraSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_saved_listed_run_and_deleted_in_chromium() {
    let Some(chromedriver) = common::browser::chromedriver() else {
        return;
    };
    let sim = ZuoraSim::builder()
        .seed(3)
        .accounts(12)
        .start()
        .await
        .unwrap();
    let server = common::start().await;
    server.add_sim_connection(&sim).await;

    let b = common::browser::Browser::start(&chromedriver, "ui_saved_query").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.goto(&format!("{}/query", server.url)).await;
    b.wait_text("#no-saved", "No saved queries yet").await;
    b.click("#q-connection option[value='Sim']").await;
    b.click("#q-load-tables").await;
    b.click("#q-table option[value='account']").await;
    b.click("#q-load-columns").await;
    b.click("#q-columns input[value='accountnumber']").await;
    b.click("#q-columns input[value='name']").await;
    b.click(
        "#q-conditions tbody tr:first-child select[name=cond_field] option[value='accountnumber']",
    )
    .await;
    b.click("#q-conditions tbody tr:first-child select[name=cond_op] option[value='IS NOT NULL']")
        .await;
    b.type_into("#q-save-name", "Numbered accounts").await;
    b.screenshot("1_query").await;
    b.assert_labelled().await;

    // Save: the confirmation page shows what is saved, then the list has it.
    b.click("#q-save").await;
    b.wait_title("Save query").await;
    let summary = b.text("#save-summary").await;
    assert!(
        summary.contains("accountnumber, name") && summary.contains("accountnumber IS NOT NULL"),
        "{summary}"
    );
    assert_eq!(b.value("#save-name").await, "Numbered accounts");
    b.assert_labelled().await;
    b.screenshot("2_save_confirm").await;
    b.click("#save-confirm").await;
    b.wait_text("#query-notice", "Saved query 'Numbered accounts'.")
        .await;
    let row = "#saved-list tr[data-saved='Numbered accounts']";
    let listed = b.text(row).await;
    assert!(
        listed.contains("Sim") && listed.contains("account"),
        "{listed}"
    );
    b.screenshot("3_listed").await;
    b.assert_labelled().await;

    // Open brings the query back into the form.
    b.goto(&format!("{}/query", server.url)).await;
    b.click(&format!("{row} a[aria-label^='Open']")).await;
    b.wait_text("#query-notice", "Opened saved query 'Numbered accounts'")
        .await;
    let checked = b
        .script(
            "return [...document.querySelectorAll('#q-columns input:checked')].map(e => e.value)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(checked, serde_json::json!(["accountnumber", "name"]));
    assert!(
        b.value("#q-where")
            .await
            .contains("accountnumber IS NOT NULL")
    );

    // Run: every row, downloaded as a file named after the saved query.
    b.click(&format!("{row} a[data-run=csv]")).await;
    let csv = String::from_utf8(b.downloaded("Numbered_accounts.csv").await).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("accountnumber,name"));
    assert_eq!(lines.count(), 12, "{csv}");

    // The connection's Delete lists it as a dependency.
    b.goto(&format!("{}/connections/Sim/delete", server.url))
        .await;
    b.wait_text("#used-by", "query 'Numbered accounts'").await;
    assert!(!b.enabled("#confirm-delete").await);
    b.screenshot("4_connection_dependency").await;

    // Delete asks first; Cancel keeps it, Delete removes it.
    b.goto(&format!("{}/query", server.url)).await;
    b.click(&format!("{row} a[data-delete]")).await;
    b.wait_title("Delete Numbered accounts").await;
    b.assert_labelled().await;
    b.screenshot("5_delete_confirm").await;
    b.click("#cancel-delete").await;
    b.wait_title("Query").await;
    assert!(b.exists(row).await, "Cancel keeps the saved query");
    b.click(&format!("{row} a[data-delete]")).await;
    b.wait_title("Delete Numbered accounts").await;
    b.click("#confirm-delete").await;
    b.wait_text("#query-notice", "Deleted saved query 'Numbered accounts'.")
        .await;
    b.wait_text("#no-saved", "No saved queries yet").await;
    b.screenshot("6_deleted").await;
    assert!(
        server
            .store
            .components_using(&server.store.load_connection("Sim").await.unwrap().id)
            .await
            .unwrap()
            .is_empty()
    );
    b.quit().await;
}
