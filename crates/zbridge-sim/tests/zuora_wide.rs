//! The feature-gated `WideRecord` object (100 fields, computed rows) behaves like any other
//! object through describe, Data Query, AQuA and the Actions API, and is absent unless enabled.

mod zuora_support;

use serde_json::json;
use zuora_support::*;

#[tokio::test]
async fn wide_record_is_absent_unless_enabled() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let list = c
        .get("/v1/describe")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("<name>WideRecord</name>"));
    let one = c.get("/v1/describe/WideRecord").send().await.unwrap();
    assert_eq!(one.status(), 404);
    let job = c.data_query(csv_job("SELECT id FROM widerecord")).await;
    assert_eq!(job["queryStatus"], "failed");
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_record_has_one_hundred_columns_through_both_services() {
    let sim = small().wide_rows(1_500).start().await.unwrap();
    let c = Client::new(&sim).await;
    let list = c
        .get("/v1/describe")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("<name>WideRecord</name>"));
    let describe = c
        .get("/v1/describe/WideRecord")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(describe.matches("<field>").count(), 100);

    let job = c.data_query(csv_job("SELECT * FROM widerecord")).await;
    assert_eq!(job["queryStatus"], "completed", "{job}");
    let text = http()
        .get(job["dataFile"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (headers, rows) = csv_rows(&text);
    assert_eq!(headers.len(), 100);
    assert_eq!(rows.len(), 1_500);
    let ids: std::collections::HashSet<&String> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(ids.len(), 1_500, "ids are unique");

    let job = c
        .aqua(
            json!({"format": "csv", "version": "1.2", "useQueryLabels": "true",
                     "queries": [{"name": "w", "type": "zoqlexport",
                                  "query": "select * from WideRecord where Status = 'Active'"}]}),
        )
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    let (headers, rows) = csv_rows(&c.file(job["batches"][0]["fileId"].as_str().unwrap()).await);
    assert_eq!(headers.len(), 100);
    assert_eq!(headers[0], "WideRecord.Id");
    let status = headers
        .iter()
        .position(|h| h == "WideRecord.Status")
        .unwrap();
    assert!(
        rows.len() > 300 && rows.len() < 700,
        "{} active rows",
        rows.len()
    );
    assert!(rows.iter().all(|r| r[status] == "Active"));

    // The same rows come back on every read; an edit shadows the computed value.
    let id = rows[0][0].clone();
    let saved = c
        .json(c.post(
            "/v1/action/update",
            &json!({"type": "WideRecord", "objects": [{"Id": id, "Custom01__c": "edited"}]}),
        ))
        .await;
    assert_eq!(saved[0]["Success"], true, "{saved}");
    let job = c
        .data_query(csv_job(&format!(
            "SELECT custom01__c FROM widerecord WHERE id = '{id}'"
        )))
        .await;
    let text = http()
        .get(job["dataFile"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv_rows(&text).1, vec![vec!["edited".to_string()]]);
}
