//! Each fault profile and each `/sim/` control operation, shown over HTTP.

mod salesforce_support;

use std::time::{Duration, Instant};

use salesforce_support::*;
use serde_json::json;
use zbridge_sim::salesforce::{FaultProfile, OrgKind, SalesforceSim};

fn faults(s: &str) -> FaultProfile {
    s.parse().unwrap()
}

fn upsert_spec() -> serde_json::Value {
    json!({"object": "Zuora__Product__c", "operation": "upsert", "externalIdFieldName": "Zuora__External_Id__c", "contentType": "CSV", "lineEnding": "LF"})
}

#[tokio::test]
async fn row_lock_fails_some_records_once_and_a_retry_succeeds() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    sim.set_faults(OrgKind::Production, faults("row-lock"));
    let records: Vec<serde_json::Value> = (0..40).map(|i| json!({"attributes": {"type": "Zuora__Product__c"}, "Zuora__External_Id__c": format!("p{i}")})).collect();
    let body = json!({"records": records});
    let (_, first) = rest
        .patch(
            "/composite/sobjects/Zuora__Product__c/Zuora__External_Id__c",
            body.clone(),
        )
        .await;
    let locked = first
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW")
        .count();
    assert!(locked > 0 && locked < 40, "{locked} of 40 locked");
    let (_, second) = rest
        .patch(
            "/composite/sobjects/Zuora__Product__c/Zuora__External_Id__c",
            body,
        )
        .await;
    assert!(
        second
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true)
    );
    // Bulk reports the lock in sf__Error.
    let csv: String = std::iter::once("Zuora__External_Id__c\n".to_string())
        .chain((100..140).map(|i| format!("q{i}\n")))
        .collect();
    let info = rest.bulk_job(upsert_spec(), &csv).await;
    assert!(info["numberRecordsFailed"].as_u64().unwrap() > 0);
    let (_, failed) = rest
        .text(&format!(
            "/jobs/ingest/{}/failedResults",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        csv_rows(&failed)[1..]
            .iter()
            .all(|r| r[1].starts_with("UNABLE_TO_LOCK_ROW:"))
    );
}

#[tokio::test]
async fn maintenance_answers_503() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    sim.set_faults(OrgKind::Production, faults("maintenance"));
    let (s, e) = rest.get("/sobjects").await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (503, Some("SERVER_UNAVAILABLE"))
    );
}

#[tokio::test]
async fn slow_jobs_stay_in_progress_for_a_while() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    sim.set_faults(OrgKind::Production, faults("slow-jobs"));
    let started = Instant::now();
    let (_, job) = rest.post("/jobs/ingest", upsert_spec()).await;
    let id = job["id"].as_str().unwrap();
    rest.http
        .put(rest.url(&format!("/jobs/ingest/{id}/batches")))
        .bearer_auth(&rest.token)
        .body("Zuora__External_Id__c\np1\n")
        .send()
        .await
        .unwrap();
    rest.patch(
        &format!("/jobs/ingest/{id}"),
        json!({"state": "UploadComplete"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, info) = rest.get(&format!("/jobs/ingest/{id}")).await;
    assert_eq!(info["state"], "InProgress");
    let done = rest.wait_job(id).await;
    assert_eq!(done["state"], "JobComplete");
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn a_failing_job_leaves_unprocessed_records() {
    let sim = SalesforceSim::builder()
        .fault_profile("job-fails")
        .unwrap()
        .start()
        .await
        .unwrap();
    let rest = Rest::admin(&sim).await;
    let csv: String = std::iter::once("Zuora__External_Id__c\n".to_string())
        .chain((0..10).map(|i| format!("p{i}\n")))
        .collect();
    let info = rest.bulk_job(upsert_spec(), &csv).await;
    assert_eq!(info["state"], "Failed");
    assert!(
        info["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("InternalServerError")
    );
    assert_eq!(info["numberRecordsProcessed"], 5);
    let (_, un) = rest
        .text(&format!(
            "/jobs/ingest/{}/unprocessedrecords",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(csv_rows(&un).len(), 6);
}

#[tokio::test]
async fn request_limit_storage_limit_and_bulk_disabled() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    sim.set_faults(OrgKind::Production, faults("storage-limit"));
    let (_, e) = rest.post("/sobjects/Zuora__Product__c", json!({})).await;
    assert_eq!(e[0]["errorCode"], "STORAGE_LIMIT_EXCEEDED");
    sim.set_faults(OrgKind::Production, faults("bulk-disabled"));
    let (_, e) = rest.post("/jobs/ingest", upsert_spec()).await;
    assert_eq!(
        e[0],
        json!({"message": "Async API not enabled", "errorCode": "FeatureNotEnabled"})
    );
    sim.set_faults(OrgKind::Production, faults("request-limit"));
    let (s, e) = rest.get("/limits").await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (403, Some("REQUEST_LIMIT_EXCEEDED"))
    );
}

#[tokio::test]
async fn revoked_refresh_token_profile_fails_every_refresh() {
    let sim = start().await;
    let org = sim.org(OrgKind::Production);
    let app = &org.connected_app;
    let admin = org.user("admin").unwrap();
    let resp = client()
        .post(format!("{}/services/oauth2/authorize", sim.login_url()))
        .form(&[
            ("response_type", "code"),
            ("client_id", app.consumer_key.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("username", admin.username.as_str()),
            ("pw", admin.password.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let t: serde_json::Value = client()
        .post(format!("{}/services/oauth2/token", sim.login_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", app.consumer_key.as_str()),
            ("client_secret", app.consumer_secret.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    sim.set_faults(OrgKind::Production, faults("revoked-refresh-token"));
    let e: serde_json::Value = client()
        .post(format!("{}/services/oauth2/token", sim.login_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", app.consumer_key.as_str()),
            ("client_secret", app.consumer_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        e,
        json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
    );
}

#[tokio::test]
async fn sim_control_api_reads_resets_counts_and_switches_faults() {
    let sim = start().await;
    let base = sim.login_url();
    let rest = Rest::admin(&sim).await;
    rest.post(
        "/sobjects/Zuora__Product__c",
        json!({"Zuora__External_Id__c": "p1"}),
    )
    .await;
    let http = client();
    let records: serde_json::Value = http
        .get(format!("{base}/sim/records/Zuora__Product__c"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records[0]["Zuora__External_Id__c"], "p1");
    let counters: serde_json::Value = http
        .get(format!("{base}/sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counters["endpoints"]["POST /services/data/{version}/sobjects/{object}"],
        1
    );
    assert_eq!(counters["endpoints"]["POST /services/Soap/u/{version}"], 1);
    assert_eq!(counters["apiUsed"], 1);

    let bad = http
        .put(format!("{base}/sim/faults"))
        .body(r#"{"profile": "row-locks"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let msg: serde_json::Value = bad.json().await.unwrap();
    assert!(
        msg["error"].as_str().unwrap().contains("maintenance"),
        "{msg}"
    );
    let ok: serde_json::Value = http
        .put(format!("{base}/sim/faults"))
        .body(r#"{"profile": "maintenance"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["profile"], "maintenance");
    assert_eq!(rest.get("/sobjects").await.0, 503);
    http.put(format!("{base}/sim/faults"))
        .body("none")
        .send()
        .await
        .unwrap();

    let settings: serde_json::Value = http
        .put(format!("{base}/sim/settings"))
        .body(r#"{"apiDailyMax": 500}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["apiDailyMax"], 500);
    http.post(format!("{base}/sim/expire-sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.get("/sobjects").await.0, 401);

    let info: serde_json::Value = http
        .get(format!("{base}/sim/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["login_url"], base);
    assert_eq!(info["users"].as_array().unwrap().len(), 3);

    http.post(format!("{base}/sim/reset")).send().await.unwrap();
    assert!(
        sim.records(OrgKind::Production, "Zuora__Product__c")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sim.records(OrgKind::Production, "Account").unwrap().len(),
        50
    );
    assert!(
        sim.counters(OrgKind::Production).is_empty(),
        "reset clears the counters"
    );
}
