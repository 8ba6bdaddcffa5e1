//! The Execute activity through the API and the page, against the Zuora simulator: results per
//! record, invalid input refused before anything is sent, token procedures without the token.

mod common;

use reqwest::Method;
use serde_json::{Value, json};
use zbridge_sim::zuora::ZuoraSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_reports_each_record_and_never_the_token() {
    let sim = ZuoraSim::builder()
        .seed(9)
        .accounts(2)
        .start()
        .await
        .unwrap();
    let server = common::start().await;
    server.add_sim_connection(&sim).await;

    let created: Value = server
        .api(Method::POST, "/api/execute")
        .json(&json!({
            "connection": "Sim", "procedure": "CreateRecords", "params": {"type": "Account"},
            "records": [
                {"Name": "First", "Currency": "USD", "BillCycleDay": 1},
                {"Name": "Second", "Currency": "USD", "BillCycleDay": 1}
            ]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["kind"], "records", "{created}");
    assert_eq!(created["summary"]["succeeded"], 2, "{created}");
    let results = created["results"].as_array().unwrap();
    assert_eq!(results[0]["line"], 1);
    assert!(results[1]["id"].is_string());

    let refused = server
        .api(Method::POST, "/api/execute")
        .json(&json!({"connection": "Sim", "procedure": "CreateRecords", "params": {}, "records": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["rule"].as_str().unwrap().contains("type"),
        "{body}"
    );

    let token = server
        .api(Method::POST, "/api/execute")
        .json(&json!({"connection": "Sim", "procedure": "GetOAuthAccessToken"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token: Value = serde_json::from_str(&token).unwrap();
    assert_eq!(token["kind"], "token");
    assert!(token["scope"].is_string());
    let keys: Vec<&String> = token.as_object().unwrap().keys().collect();
    assert!(!keys.iter().any(|k| k.contains("access")), "{keys:?}");

    // The page: one row per record, and a refused input names its line.
    let page = server
        .api(Method::POST, "/execute")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "connection=Sim&procedure=CreateRecords&params=type%3DAccount&input={}",
            form_urlencoded::byte_serialize(
                b"{\"Name\": \"Third\", \"Currency\": \"USD\", \"BillCycleDay\": 1}\n"
            )
            .collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("1 of 1 record(s) succeeded"), "{html}");
    let bad = server
        .api(Method::POST, "/execute")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("connection=Sim&procedure=CreateRecords&params=type%3DAccount&input=not+json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("line 1"));
}
