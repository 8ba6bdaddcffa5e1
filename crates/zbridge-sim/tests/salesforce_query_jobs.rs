//! Bulk API 2.0 query jobs over real HTTP: create, poll, paged CSV results with `Sforce-Locator`
//! and `Sforce-NumberOfRecords`, `queryAll`, abort, delete, list, and the documented errors.

mod salesforce_support;

use std::collections::HashSet;

use serde_json::json;
use zbridge_sim::salesforce::{FaultProfile, OrgKind, SalesforceSim, seeded_account_ids};

use salesforce_support::*;

fn query_spec(soql: &str) -> serde_json::Value {
    json!({"operation": "query", "query": soql})
}

#[tokio::test]
async fn a_query_job_pages_its_results_with_locators() {
    let sim = start_with(SalesforceSim::builder().seed(7).accounts(25_000)).await;
    let rest = Rest::admin(&sim).await;
    let (s, created) = rest
        .post(
            "/jobs/query",
            query_spec("SELECT Id, Name, AccountNumber FROM Account"),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    // The documented create response (query_create_job / query_walkthrough).
    assert_eq!(created["state"], "UploadComplete");
    assert_eq!(created["operation"], "query");
    assert_eq!(created["object"], "Account");
    assert_eq!(created["contentType"], "CSV");
    assert_eq!(created["apiVersion"], 64.0);
    assert_eq!(created["lineEnding"], "LF");
    assert_eq!(created["columnDelimiter"], "COMMA");
    assert_eq!(created["concurrencyMode"], "Parallel");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("750"));
    let info = rest.wait_query_job(&id).await;
    assert_eq!(info["state"], "JobComplete", "{info}");
    assert_eq!(info["numberRecordsProcessed"], 25_000);
    assert_eq!(info["jobType"], "V2Query");
    assert_eq!(info["retries"], 0);

    let mut seen = HashSet::new();
    let mut locator = String::new();
    let mut pages = Vec::new();
    loop {
        let mut params = vec![("maxRecords", "10000")];
        if !locator.is_empty() {
            params.push(("locator", locator.as_str()));
        }
        let (s, next, count, body) = rest.query_results(&id, &params).await;
        assert_eq!(s, 200, "{body}");
        let rows = csv_rows(&body);
        assert_eq!(
            rows[0],
            ["Id", "Name", "AccountNumber"],
            "every page has the header"
        );
        assert!(body.starts_with("\"Id\",\"Name\",\"AccountNumber\"\n"));
        assert_eq!(count.unwrap().parse::<usize>().unwrap(), rows.len() - 1);
        for r in &rows[1..] {
            assert!(seen.insert(r[0].clone()), "no row twice");
        }
        pages.push(rows.len() - 1);
        let next = next.unwrap();
        if next == "null" {
            break;
        }
        locator = next;
    }
    assert_eq!(pages, [10_000, 10_000, 5_000]);
    let expected: HashSet<String> = seeded_account_ids(7, 25_000).into_iter().collect();
    assert_eq!(seen, expected);

    // A locator names the same set as long as the job exists (MTAwMDA is base64 of 10000).
    let (_, l1, _, a) = rest
        .query_results(&id, &[("maxRecords", "3"), ("locator", "MTAwMDA")])
        .await;
    let (_, l2, _, b) = rest
        .query_results(&id, &[("maxRecords", "3"), ("locator", "MTAwMDA")])
        .await;
    assert_eq!((a.clone(), l1), (b, l2));
    assert_eq!(csv_rows(&a).len(), 4);
    // Without maxRecords the whole (small) result is one set.
    let (_, last, count, _) = rest.query_results(&id, &[]).await;
    assert_eq!(
        (last.as_deref(), count.as_deref()),
        (Some("null"), Some("25000"))
    );
}

#[tokio::test]
async fn results_follow_the_job_settings_and_nulls_are_empty() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let crm = &seeded_account_ids(7, 1)[0];
    let (s, r) = rest
        .post(
            "/sobjects/Zuora__CustomerAccount__c",
            json!({"Name": "Acme, \"Inc\"", "Zuora__External_Id__c": "ca-1",
                "Zuora__Account__c": crm, "Zuora__Balance__c": 12.5, "Zuora__AutoPay__c": true}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let soql = "SELECT Id, Name, Zuora__Balance__c, Zuora__AutoPay__c, Zuora__Notes__c, \
                Zuora__Account__r.Name FROM Zuora__CustomerAccount__c";
    let (id, info) = rest
        .bulk_query(
            json!({"operation": "query", "query": soql, "columnDelimiter": "PIPE",
            "lineEnding": "CRLF", "contentType": "CSV"}),
        )
        .await;
    assert_eq!(info["columnDelimiter"], "PIPE");
    let (_, locator, count, body) = rest.query_results(&id, &[]).await;
    assert_eq!(
        (locator.as_deref(), count.as_deref()),
        (Some("null"), Some("1"))
    );
    let rid = r["id"].as_str().unwrap();
    assert_eq!(
        body,
        format!(
            "\"Id\"|\"Name\"|\"Zuora__Balance__c\"|\"Zuora__AutoPay__c\"|\"Zuora__Notes__c\"|\"Zuora__Account__r.Name\"\r\n\
             \"{rid}\"|\"Acme, \"\"Inc\"\"\"|\"12.5\"|\"true\"|\"\"|\"Sim Customer 00001\"\r\n"
        )
    );
    // Before API 50.0 the columns come back in alphabetical order.
    let old = Rest {
        base: rest.base.replace("v64.0", "v49.0"),
        token: rest.token.clone(),
        http: client(),
    };
    let (id, _) = old
        .bulk_query(query_spec("SELECT Name, Id FROM Zuora__CustomerAccount__c"))
        .await;
    let (_, _, _, body) = old.query_results(&id, &[]).await;
    assert_eq!(csv_rows(&body)[0], ["Id", "Name"]);
}

#[tokio::test]
async fn a_query_all_job_also_reads_the_recycle_bin() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, r) = rest
            .post(
                "/sobjects/Zuora__Subscription__c",
                json!({"Name": format!("S-{i}"), "Zuora__External_Id__c": format!("s{i}")}),
            )
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let (s, _) = rest
        .delete(&format!("/sobjects/Zuora__Subscription__c/{}", ids[1]))
        .await;
    assert_eq!(s, 204);
    let soql = "SELECT Id, IsDeleted FROM Zuora__Subscription__c ORDER BY Name";
    let (live, _) = rest.bulk_query(query_spec(soql)).await;
    let (all, info) = rest
        .bulk_query(json!({"operation": "queryAll", "query": soql}))
        .await;
    assert_eq!(info["operation"], "queryAll");
    let rows = |body: &str| -> Vec<Vec<String>> { csv_rows(body)[1..].to_vec() };
    let (_, _, _, body) = rest.query_results(&live, &[]).await;
    assert_eq!(
        rows(&body),
        [
            [ids[0].clone(), "false".into()],
            [ids[2].clone(), "false".into()]
        ]
    );
    let (_, _, _, body) = rest.query_results(&all, &[]).await;
    assert_eq!(
        rows(&body),
        [
            [ids[0].clone(), "false".into()],
            [ids[1].clone(), "true".into()],
            [ids[2].clone(), "false".into()]
        ]
    );
}

#[tokio::test]
async fn query_job_errors_use_the_documented_shapes() {
    let sim = start_with(
        SalesforceSim::builder()
            .seed(7)
            .fault_profile("slow-jobs")
            .unwrap(),
    )
    .await;
    let rest = Rest::admin(&sim).await;
    let code = |v: &serde_json::Value| v[0]["errorCode"].as_str().unwrap_or_default().to_string();
    let (s, e) = rest
        .post("/jobs/query", query_spec("SELECT FROM Account"))
        .await;
    assert_eq!((s, code(&e)), (400, "MALFORMED_QUERY".into()));
    let (s, e) = rest
        .post("/jobs/query", query_spec("SELECT Nope FROM Account"))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_FIELD".into()));
    let (s, e) = rest
        .post("/jobs/query", query_spec("SELECT Id FROM Nope__c"))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_TYPE".into()));
    let (s, e) = rest
        .post("/jobs/query", query_spec("SELECT COUNT() FROM Account"))
        .await;
    assert_eq!((s, code(&e)), (400, "API_ERROR".into()));
    let (s, e) = rest
        .post(
            "/jobs/query",
            json!({"operation": "insert", "query": "SELECT Id FROM Account"}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "INVALIDJOB".into()));
    let (s, e) = rest
        .post("/jobs/query", json!({"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "COLON"}))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALIDJOB".into()));
    let sync = Rest::new(&sim, "sync").await;
    let (s, e) = sync
        .post(
            "/jobs/query",
            query_spec("SELECT Zuora__Notes__c FROM Zuora__CustomerAccount__c"),
        )
        .await;
    assert_eq!(
        (s, code(&e)),
        (400, "INVALID_FIELD".into()),
        "hidden by field-level security"
    );
    let old = Rest {
        base: rest.base.replace("v64.0", "v46.0"),
        token: rest.token.clone(),
        http: client(),
    };
    assert_eq!(
        old.post("/jobs/query", query_spec("SELECT Id FROM Account"))
            .await
            .0,
        404
    );

    // slow-jobs keeps the job running long enough to see the in-progress errors.
    let (_, job) = rest
        .post("/jobs/query", query_spec("SELECT Id FROM Account"))
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    let (s, _, _, body) = rest.query_results(&id, &[]).await;
    assert_eq!(s, 412, "{body}");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code(&e), "JOB_NOT_COMPLETE");
    assert!(
        e[0]["message"]
            .as_str()
            .unwrap()
            .contains("Current status: ")
    );
    let (s, e) = rest.delete(&format!("/jobs/query/{id}")).await;
    assert_eq!((s, code(&e)), (400, "API_ERROR".into()));
    assert_eq!(
        e[0]["message"],
        "Error encountered when deleting the job because the job is not terminated"
    );
    let (s, aborted) = rest
        .patch(&format!("/jobs/query/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!((s, aborted["state"].as_str()), (200, Some("Aborted")));
    let (s, e) = rest
        .patch(&format!("/jobs/query/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!((s, code(&e)), (400, "API_ERROR".into()));
    let (s, e) = rest
        .patch(
            &format!("/jobs/query/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "INVALIDJOB".into()));
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert_eq!(
        rest.get(&format!("/jobs/query/{id}")).await.1["state"],
        "Aborted"
    );
    assert_eq!(rest.delete(&format!("/jobs/query/{id}")).await.0, 204);
    assert_eq!(rest.get(&format!("/jobs/query/{id}")).await.0, 404);
    assert_eq!(rest.query_results(&id, &[]).await.0, 404);

    // A finished job: results need the job's API version, a valid locator and maxRecords.
    sim.set_faults(OrgKind::Production, FaultProfile::default());
    let (id, _) = rest.bulk_query(query_spec("SELECT Id FROM Account")).await;
    let other = Rest {
        base: rest.base.replace("v64.0", "v63.0"),
        token: rest.token.clone(),
        http: client(),
    };
    assert_eq!(other.query_results(&id, &[]).await.0, 409);
    let (s, _, _, body) = rest.query_results(&id, &[("locator", "bm9wZQ")]).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("INVALID_QUERY_LOCATOR"));
    assert_eq!(rest.query_results(&id, &[("maxRecords", "0")]).await.0, 400);
    assert_eq!(rest.query_results(&id, &[("maxRecords", "x")]).await.0, 400);

    // job-fails: the job ends Failed with an errorMessage.
    sim.set_faults(OrgKind::Production, "job-fails".parse().unwrap());
    let (_, info) = rest.bulk_query(query_spec("SELECT Id FROM Account")).await;
    assert_eq!(info["state"], "Failed");
    assert!(info["errorMessage"].as_str().is_some());
    sim.set_faults(OrgKind::Production, "bulk-disabled".parse().unwrap());
    let (s, e) = rest
        .post("/jobs/query", query_spec("SELECT Id FROM Account"))
        .await;
    assert_eq!((s, code(&e)), (400, "FeatureNotEnabled".into()));
}

#[tokio::test]
async fn query_jobs_are_listed_apart_from_ingest_jobs() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let (a, _) = rest.bulk_query(query_spec("SELECT Id FROM Account")).await;
    let (b, _) = rest
        .bulk_query(query_spec("SELECT Name FROM Account"))
        .await;
    let (s, list) = rest.get("/jobs/query").await;
    assert_eq!(s, 200);
    assert_eq!(list["done"], true);
    assert_eq!(list["nextRecordsUrl"], serde_json::Value::Null);
    let ids: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str(), b.as_str()]);
    assert!(
        list["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["jobType"] == "V2Query")
    );
    let (_, none) = rest.get("/jobs/query?jobType=V2Ingest").await;
    assert_eq!(none["records"], json!([]));
    let (_, ingest) = rest.get("/jobs/ingest").await;
    assert_eq!(ingest["records"], json!([]));
    assert_eq!(rest.get(&format!("/jobs/ingest/{a}")).await.0, 404);
    let (_, limits) = rest.get("/limits").await;
    assert_eq!(limits["DailyBulkV2QueryJobs"]["Remaining"], 9_998);
}
