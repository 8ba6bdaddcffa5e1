//! The Query page in headless Chromium against the Zuora simulator: pick a connection, a
//! table, columns and a condition, preview the first rows, and download everything as CSV.

mod common;

use zbridge_sim::zuora::ZuoraSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_preview_and_a_csv_download_in_chromium() {
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

    let b = common::browser::Browser::start(&chromedriver, "ui_query").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.goto(&format!("{}/query", server.url)).await;
    b.click("#q-connection option[value='Sim']").await;
    b.click("#q-load-tables").await;
    b.click("#q-table option[value='account']").await;
    b.click("#q-load-columns").await;
    b.click("#q-columns input[value='accountnumber']").await;
    b.click("#q-columns input[value='name']").await;
    b.click("#q-columns input[value='status']").await;
    b.click(
        "#q-conditions tbody tr:first-child select[name=cond_field] option[value='accountnumber']",
    )
    .await;
    b.click("#q-conditions tbody tr:first-child select[name=cond_op] option[value='IS NOT NULL']")
        .await;
    b.screenshot("1_form").await;
    b.click("#q-preview").await;
    b.wait_text("#preview-count", "(12 rows)").await;
    let header = b.text("#preview-table thead").await;
    assert!(
        header.contains("accountnumber") && header.contains("status"),
        "{header}"
    );
    b.screenshot("2_preview").await;
    b.assert_labelled().await;

    b.click("#q-download-csv").await;
    let csv = String::from_utf8(b.downloaded("account.csv").await).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("accountnumber,name,status"));
    assert_eq!(lines.count(), 12, "{csv}");
    b.screenshot("3_after_download").await;
    b.quit().await;
}
