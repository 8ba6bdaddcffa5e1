//! Running a sync from the browser: Run now on a profile whose Zuora connection and Salesforce
//! org are the simulators, the run's live progress until it finishes, and the history with
//! its status, per-object counts and error CSV.

mod common;

use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::ZuoraSim;

const SEED: u64 = 11;
const ACCOUNTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_runs_from_the_browser_and_its_history_appears() {
    let Some(chromedriver) = common::browser::chromedriver() else {
        return;
    };
    let sf = SalesforceSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .start()
        .await
        .unwrap();
    let zuora = ZuoraSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .crm_share(1.0)
        .job_delay(Duration::from_millis(1))
        .crm_ids(seeded_account_ids(SEED, ACCOUNTS))
        .start()
        .await
        .unwrap();
    let server = common::start().await;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora Sim").unwrap());
    def.service = "DataQuery".into();
    def.client_id = zuora.client_id().into();
    def.client_secret = Some(SecretString::from(zuora.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(zuora.base_url().to_string()))
        .unwrap();
    def.set_advanced("PollInterval", SecretString::from("1".to_string()))
        .unwrap();
    server.store.create_connection(&def).await.unwrap();
    server
        .store
        .create_sync_profile("Main", "Zuora Sim", json!({"lag_secs": 0}))
        .await
        .unwrap();
    let admin = sf.org(OrgKind::Production).user("admin").unwrap().clone();
    let saved = server
        .api(
            Method::PUT,
            "/api/sync-profiles/Main/sf-credentials/password",
        )
        .json(
            &json!({"username": admin.username, "password": admin.password,
                      "security_token": admin.security_token, "login_url": sf.login_url()}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        saved.status().is_success(),
        "{}",
        saved.text().await.unwrap()
    );

    let b = common::browser::Browser::start(&chromedriver, "ui_sync").await;
    b.sign_in(&server.url, common::TOKEN).await;
    b.goto(&format!("{}/sync", server.url)).await;
    b.wait_text("#no-runs", "No runs yet").await;
    b.click("#sync-profiles input[name=full]").await;
    b.screenshot("1_profiles").await;
    b.assert_labelled().await;
    b.click("#run-1").await;
    b.wait_title("Sync run").await;
    b.screenshot("2_progress").await;
    let status = b
        .wait_text_any("#run-status", &["Finished", "Failure"])
        .await;
    assert!(status.contains("Finished"), "{status}");
    let objects = b.text("#run-objects").await;
    assert!(objects.contains("Account"), "{objects}");
    b.screenshot("3_finished").await;

    b.click("main a[href='/sync']").await;
    b.wait_title("Sync").await;
    let history = b.wait_text("#sync-history", "Main").await;
    assert!(
        history.contains("manual") && history.contains("full"),
        "{history}"
    );
    assert!(history.contains("Finished"), "{history}");
    let runs = server.store.list_sync_runs(None, 10).await.unwrap();
    let (_, stats) = server.store.load_sync_run(&runs[0].id).await.unwrap();
    let account = stats.iter().find(|o| o.object == "Account").unwrap();
    assert!(account.upserted > 0, "{stats:?}");
    let counts = format!("Account {} upserted", account.upserted);
    assert!(history.contains(&counts), "{counts} not in {history}");
    b.screenshot("4_history").await;

    // Verify from the page: the profile's row shows the latest verify.
    b.click("#verify-1").await;
    b.wait_title("Sync").await;
    let summary = b.wait_text("#verify-summary-1", "no drift").await;
    assert!(!summary.contains("never"), "{summary}");
    b.screenshot("5_verified").await;
    b.quit().await;

    let last: serde_json::Value = server
        .api(Method::GET, "/api/sync-profiles/Main/verify")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["drifted"], false, "{last:#}");
    let accounts = last["report"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "Account")
        .unwrap();
    assert_eq!(accounts["in_scope"], accounts["in_org"], "{accounts}");
    let verified = server
        .api(Method::POST, "/api/sync-profiles/Main/verify")
        .json(&json!({"repair": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let body: serde_json::Value = verified.json().await.unwrap();
    assert_eq!(body["drifted"], false, "{body:#}");
    let refused = server
        .api(Method::POST, "/api/sync-profiles/Main/verify")
        .json(&json!({"repiar": true}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());
    assert!(refused.text().await.unwrap().contains("repiar"));

    assert_eq!(runs.len(), 1);
    let csv = server
        .api(
            Method::GET,
            &format!("/sync/runs/{}/errors.csv", runs[0].id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("object,external_id,operation,code"),
        "{text}"
    );
}
