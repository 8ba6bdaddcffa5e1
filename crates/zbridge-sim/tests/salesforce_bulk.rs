//! Conformance of the simulator's Bulk API 2.0 ingest with reference/salesforce-api.md §10:
//! the job state machine, the one-PUT rule, the 100 MB limit, result CSVs, record validation,
//! abort and delete, and the master-detail cascade with its 10,000-child orphaning.

mod salesforce_support;

use salesforce_support::*;
use serde_json::json;
use zbridge_sim::salesforce::{CASCADE_LIMIT, OrgKind, seeded_account_ids};

fn upsert_spec(object: &str, ext: &str) -> serde_json::Value {
    json!({"object": object, "operation": "upsert", "externalIdFieldName": ext, "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})
}

#[tokio::test]
async fn upsert_job_runs_the_state_machine_and_reports_results() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let crm = &seeded_account_ids(7, 1)[0];
    let csv = format!(
        "Zuora__External_Id__c,Name,Zuora__Account__c,Zuora__Balance__c\n\
         ca1,Acme,{crm},10.5\n\
         ca2,\"Comma, Inc\",{crm},1\n\
         ca3,{},{crm},1\n\
         ca4,Bad CRM,001000000000000AAA,1\n\
         ca5,Bad number,{crm},lots\n\
         dup,First,{crm},1\n\
         dup,Second,{crm},1\n",
        "x".repeat(81)
    );
    let (s, job) = rest
        .post(
            "/jobs/ingest",
            upsert_spec("Zuora__CustomerAccount__c", "Zuora__External_Id__c"),
        )
        .await;
    assert_eq!(s, 200);
    for (k, v) in [
        ("state", "Open"),
        ("operation", "upsert"),
        ("concurrencyMode", "Parallel"),
        ("contentType", "CSV"),
        ("jobType", "V2Ingest"),
        ("lineEnding", "LF"),
        ("columnDelimiter", "COMMA"),
    ] {
        assert_eq!(job[k], v, "{k}");
    }
    assert_eq!(job["apiVersion"], 64.0);
    let id = job["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("750"));
    assert_eq!(
        job["contentUrl"],
        format!("services/data/v64.0/jobs/ingest/{id}/batches")
    );
    let put = rest
        .http
        .put(rest.url(&format!("/jobs/ingest/{id}/batches")))
        .bearer_auth(&rest.token)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert!(put.text().await.unwrap().is_empty());
    let (s, closed) = rest
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!((s, closed["state"].as_str()), (200, Some("UploadComplete")));
    let done = rest.wait_job(&id).await;
    assert_eq!(done["state"], "JobComplete");
    assert_eq!(done["numberRecordsProcessed"], 7);
    assert_eq!(done["numberRecordsFailed"], 5);

    let (s, ok) = rest
        .text(&format!("/jobs/ingest/{id}/successfulResults/"))
        .await;
    assert_eq!(s, 200);
    let rows = csv_rows(&ok);
    assert_eq!(
        rows[0],
        [
            "sf__Id",
            "sf__Created",
            "Zuora__External_Id__c",
            "Name",
            "Zuora__Account__c",
            "Zuora__Balance__c"
        ]
    );
    assert!(ok.starts_with("\"sf__Id\",\"sf__Created\""));
    let mut succeeded: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    succeeded.sort_unstable();
    assert_eq!(succeeded, ["ca1", "ca2"]);
    assert!(rows[1..].iter().all(|r| r[1] == "true" && r[0].len() == 18));
    assert!(rows.iter().any(|r| r[3] == "Comma, Inc"));

    let (_, failed) = rest
        .text(&format!("/jobs/ingest/{id}/failedResults/"))
        .await;
    let rows = csv_rows(&failed);
    assert_eq!(rows[0][..2], ["sf__Id", "sf__Error"]);
    let error_of = |ext: &str| {
        rows.iter()
            .filter(|r| r[2] == ext)
            .map(|r| r[1].clone())
            .collect::<Vec<_>>()
    };
    assert!(error_of("ca3")[0].starts_with("STRING_TOO_LONG:"));
    assert!(error_of("ca4")[0].starts_with("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY:"));
    assert!(error_of("ca5")[0].starts_with("INVALID_TYPE_ON_FIELD_IN_RECORD:"));
    assert_eq!(error_of("dup").len(), 2);
    assert!(
        error_of("dup")
            .iter()
            .all(|e| e.starts_with("DUPLICATE_EXTERNAL_ID:"))
    );
    assert!(rows[1..].iter().all(|r| r[0].is_empty()));
    for path in ["unprocessedrecords", "unprocessedRecords"] {
        let (s, un) = rest.text(&format!("/jobs/ingest/{id}/{path}/")).await;
        assert_eq!(s, 200);
        assert_eq!(csv_rows(&un).len(), 1, "only the header");
    }

    // Second run: updates, and a child with a parent lookup by external id.
    let info = rest
        .bulk_job(
            upsert_spec("Zuora__CustomerAccount__c", "Zuora__External_Id__c"),
            "Zuora__External_Id__c,Name\nca1,Acme 2\n",
        )
        .await;
    let (_, ok) = rest
        .text(&format!(
            "/jobs/ingest/{}/successfulResults",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(csv_rows(&ok)[1][1], "false", "an update is not created");
    let info = rest.bulk_job(upsert_spec("Zuora__Subscription__c", "Zuora__External_Id__c"), "Zuora__External_Id__c,Name,Zuora__CustomerAccount__r.Zuora__External_Id__c,Zuora__TermStartDate__c\ns1,A-S1,ca1,2024-01-31\ns2,A-S2,nope,2024-01-31\n").await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].as_u64(),
            info["numberRecordsFailed"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let (_, failed) = rest
        .text(&format!(
            "/jobs/ingest/{}/failedResults",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        csv_rows(&failed)[1][1]
            .starts_with("INVALID_FIELD:Foreign key external ID: nope not found")
    );
    let subs = sim
        .records(OrgKind::Production, "Zuora__Subscription__c")
        .unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["Zuora__TermStartDate__c"], "2024-01-31");
}

#[tokio::test]
async fn a_second_upload_makes_the_close_fail() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let (_, job) = rest
        .post(
            "/jobs/ingest",
            upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    for _ in 0..2 {
        let put = rest
            .http
            .put(rest.url(&format!("/jobs/ingest/{id}/batches")))
            .bearer_auth(&rest.token)
            .header("Content-Type", "text/csv")
            .body("Zuora__External_Id__c\np1\n")
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let (s, e) = rest
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(e[0]["errorCode"], "INVALIDJOB");
    assert_eq!(
        e[0]["message"],
        format!(
            "Found multipe contents for job: <{id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job."
        )
    );
}

#[tokio::test]
async fn abort_keeps_rows_unprocessed_and_delete_removes_the_job() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let (_, job) = rest
        .post(
            "/jobs/ingest",
            upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    rest.http
        .put(rest.url(&format!("/jobs/ingest/{id}/batches")))
        .bearer_auth(&rest.token)
        .body("Zuora__External_Id__c,Zuora__SKU__c\np1,S1\np2,S2\n")
        .send()
        .await
        .unwrap();
    let (s, aborted) = rest
        .patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!((s, aborted["state"].as_str()), (200, Some("Aborted")));
    let (_, un) = rest
        .text(&format!("/jobs/ingest/{id}/unprocessedrecords"))
        .await;
    let rows = csv_rows(&un);
    assert_eq!(rows[0], ["Zuora__External_Id__c", "Zuora__SKU__c"]);
    let mut keys: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["p1", "p2"]);
    let (_, list) = rest.get("/jobs/ingest").await;
    assert!(
        list["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id)
    );
    assert_eq!(rest.delete(&format!("/jobs/ingest/{id}")).await.0, 204);
    assert_eq!(rest.get(&format!("/jobs/ingest/{id}")).await.0, 404);
    assert!(
        sim.records(OrgKind::Production, "Zuora__Product__c")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn job_creation_and_header_errors() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let (s, e) = rest
        .post(
            "/jobs/ingest",
            json!({"object": "Zuora__Product__c", "operation": "upsert", "contentType": "CSV"}),
        )
        .await;
    assert_eq!((s, e[0]["errorCode"].as_str()), (400, Some("INVALIDJOB")));
    let (_, e) = rest
        .post(
            "/jobs/ingest",
            upsert_spec("Zuora__Product__c", "Zuora__SKU__c"),
        )
        .await;
    assert_eq!(e[0]["errorCode"], "INVALIDJOB");
    let (_, e) = rest
        .post("/jobs/ingest", upsert_spec("Nope__c", "Id"))
        .await;
    assert_eq!(e[0]["errorCode"], "INVALIDENTITY");
    let info = rest
        .bulk_job(
            upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
            "Zuora__External_Id__c,Bogus__c\np1,x\n",
        )
        .await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "InvalidBatch : Field name not found : Bogus__c"
    );
    let (_, un) = rest
        .text(&format!(
            "/jobs/ingest/{}/unprocessedrecords",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(csv_rows(&un).len(), 2);
    let info = rest
        .bulk_job(
            upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
            "Zuora__External_Id__c\r\np1\r\n",
        )
        .await;
    assert_eq!(info["state"], "Failed");
    assert!(
        info["errorMessage"]
            .as_str()
            .unwrap()
            .contains("LineEnding is invalid")
    );
    // Empty means "leave as is", #N/A sets null (Bulk semantics).
    rest.bulk_job(
        upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
        "Zuora__External_Id__c,Zuora__SKU__c,Zuora__Category__c\np2,S,C\n",
    )
    .await;
    rest.bulk_job(
        upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
        "Zuora__External_Id__c,Zuora__SKU__c,Zuora__Category__c\np2,,#N/A\n",
    )
    .await;
    let products = sim
        .records(OrgKind::Production, "Zuora__Product__c")
        .unwrap();
    assert_eq!(products[0]["Zuora__SKU__c"], "S");
    assert!(products[0].get("Zuora__Category__c").is_none());
}

#[tokio::test]
async fn an_upload_over_100_mb_is_refused() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let (_, job) = rest
        .post(
            "/jobs/ingest",
            upsert_spec("Zuora__Product__c", "Zuora__External_Id__c"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let body = vec![b'a'; 100 * 1024 * 1024 + 1];
    let put = rest
        .http
        .put(rest.url(&format!("/jobs/ingest/{id}/batches")))
        .bearer_auth(&rest.token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 413);
}

#[tokio::test]
async fn delete_job_cascades_and_orphans_beyond_ten_thousand_children() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    rest.bulk_job(
        upsert_spec("Zuora__Payment__c", "Zuora__EXT_ID__c"),
        "Zuora__EXT_ID__c,Zuora__Amount__c\nbig,1\nsmall,2\n",
    )
    .await;
    let mut csv = String::from("Zuora__EXT_ID__c,Zuora__Payment__r.Zuora__EXT_ID__c\n");
    for i in 0..CASCADE_LIMIT + 5 {
        csv.push_str(&format!("pi{i},big\n"));
    }
    csv.push_str("lone,small\n");
    let info = rest
        .bulk_job(
            upsert_spec("Zuora__PaymentInvoice__c", "Zuora__EXT_ID__c"),
            &csv,
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    assert_eq!(
        info["numberRecordsProcessed"].as_u64(),
        Some(CASCADE_LIMIT as u64 + 6)
    );
    let payments = sim
        .records(OrgKind::Production, "Zuora__Payment__c")
        .unwrap();
    let ids: Vec<&str> = payments.iter().map(|p| p["Id"].as_str().unwrap()).collect();
    let delete_csv = format!("Id\n{}\n{}\n", ids[0], ids[1]);
    let info = rest.bulk_job(json!({"object": "Zuora__Payment__c", "operation": "delete", "contentType": "CSV", "lineEnding": "LF"}), &delete_csv).await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsFailed"], 0);
    assert!(
        sim.records(OrgKind::Production, "Zuora__Payment__c")
            .unwrap()
            .is_empty()
    );
    let orphans = sim
        .records(OrgKind::Production, "Zuora__PaymentInvoice__c")
        .unwrap();
    assert_eq!(
        orphans.len(),
        5,
        "children beyond the cascade limit are left orphaned"
    );
    let info = rest.bulk_job(json!({"object": "Zuora__Payment__c", "operation": "delete", "contentType": "CSV", "lineEnding": "LF"}), &delete_csv).await;
    let (_, failed) = rest
        .text(&format!(
            "/jobs/ingest/{}/failedResults",
            info["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        csv_rows(&failed)[1..]
            .iter()
            .all(|r| r[1].starts_with("ENTITY_IS_DELETED"))
    );
}
