//! Smoke test: token, describe, one Data Query and one AQuA job over real HTTP.

mod zuora_support;

use serde_json::json;
use zuora_support::*;

#[tokio::test]
async fn token_describe_data_query_and_aqua_round_trip() {
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
    assert!(list.contains("<name>Account</name>"));
    let job = c
        .data_query(csv_job(
            "SELECT accountnumber, balance FROM Account WHERE Account.balance > 100",
        ))
        .await;
    assert_eq!(job["queryStatus"], "completed", "{job}");
    let body = c
        .http
        .get(job["dataFile"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (headers, rows) = csv_rows(&body);
    assert_eq!(headers, ["accountnumber", "balance"]);
    assert_eq!(rows.len() as u64, job["outputRows"].as_u64().unwrap());
    let aqua = c.aqua(json!({"queries":[{"query":"select AccountNumber, BillCycleDay from Account","type":"zoql"}]})).await;
    assert_eq!(aqua["status"], "completed", "{aqua}");
    let file = c.file(aqua["batches"][0]["fileId"].as_str().unwrap()).await;
    let (headers, rows) = csv_rows(&file);
    assert_eq!(
        headers,
        ["Account: Account Number", "Account: Bill Cycle Day"]
    );
    assert_eq!(rows.len(), 60);
}
