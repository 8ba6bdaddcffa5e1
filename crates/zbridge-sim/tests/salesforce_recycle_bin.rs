//! The recycle bin over real HTTP: `queryAll` sees records deleted through REST, Collections and
//! Bulk (`IsDeleted = true`) for 15 days on the org's clock, `query` never does; `hardDelete`
//! skips the bin; `…/updated` and `…/deleted` answer their documented shapes and window rules.

mod salesforce_support;

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, SecondsFormat, Utc};
use serde_json::json;
use zbridge_sim::salesforce::OrgKind;

use salesforce_support::*;

async fn subscription(rest: &Rest, ext: &str) -> String {
    let (s, r) = rest
        .post(
            "/sobjects/Zuora__Subscription__c",
            json!({"Name": ext, "Zuora__External_Id__c": ext}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_str().unwrap().to_string()
}

fn ids_of(result: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = result["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn deleted_records_are_read_only_through_query_all_for_fifteen_days() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let keep = subscription(&rest, "keep").await;
    let by_rest = subscription(&rest, "rest").await;
    let by_collections = subscription(&rest, "collections").await;
    let by_bulk = subscription(&rest, "bulk").await;
    let hard = subscription(&rest, "hard").await;
    assert_eq!(
        rest.delete(&format!("/sobjects/Zuora__Subscription__c/{by_rest}"))
            .await
            .0,
        204
    );
    let (s, r) = rest
        .delete(&format!("/composite/sobjects?ids={by_collections}"))
        .await;
    assert_eq!((s, r[0]["success"].as_bool()), (200, Some(true)), "{r}");
    let job = rest
        .bulk_job(
            json!({"object": "Zuora__Subscription__c", "operation": "delete"}),
            &format!("Id\n{by_bulk}\n"),
        )
        .await;
    assert_eq!(job["numberRecordsProcessed"], 1, "{job}");
    let job = rest
        .bulk_job(
            json!({"object": "Zuora__Subscription__c", "operation": "hardDelete"}),
            &format!("Id\n{hard}\n"),
        )
        .await;
    assert_eq!(job["numberRecordsFailed"], 0, "{job}");

    let soql = "SELECT Id, Name, IsDeleted FROM Zuora__Subscription__c";
    let (_, live) = rest.query(soql).await;
    assert_eq!(ids_of(&live), std::slice::from_ref(&keep));
    let (s, all) = rest.query_all(soql).await;
    assert_eq!(s, 200, "{all}");
    let soft = sorted(vec![
        keep.clone(),
        by_rest.clone(),
        by_collections.clone(),
        by_bulk.clone(),
    ]);
    assert_eq!(ids_of(&all), soft, "hard-deleted records skip the bin");
    for r in all["records"].as_array().unwrap() {
        assert_eq!(r["IsDeleted"], r["Id"] != keep.as_str(), "{r}");
    }
    let (_, deleted_only) = rest
        .query_all("SELECT Id FROM Zuora__Subscription__c WHERE IsDeleted = true")
        .await;
    assert_eq!(deleted_only["totalSize"], 3);
    let (_, none) = rest
        .query("SELECT Id FROM Zuora__Subscription__c WHERE IsDeleted = true")
        .await;
    assert_eq!(none["totalSize"], 0);
    let (_, by_id) = rest
        .query_all(&format!(
            "SELECT Id FROM Zuora__Subscription__c WHERE Id = '{by_rest}'"
        ))
        .await;
    assert_eq!(ids_of(&by_id), std::slice::from_ref(&by_rest));

    // Deleted records stay deleted for the REST API: 404 on read, ENTITY_IS_DELETED on delete.
    let path = format!("/sobjects/Zuora__Subscription__c/{by_rest}");
    assert_eq!(rest.get(&path).await.0, 404);
    let (s, e) = rest.delete(&path).await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (404, Some("ENTITY_IS_DELETED"))
    );

    // Fourteen days later they are still there; after fifteen they are gone.
    advance_clock(&sim, 14 * 86_400).await;
    assert_eq!(rest.query_all(soql).await.1["totalSize"], 4);
    advance_clock(&sim, 86_400 + 60).await;
    let (_, all) = rest.query_all(soql).await;
    assert_eq!(ids_of(&all), std::slice::from_ref(&keep));
    let (s, e) = rest.delete(&path).await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (404, Some("ENTITY_IS_DELETED"))
    );
}

#[tokio::test]
async fn query_all_pages_with_next_records_url_and_cascade_deletes_reach_the_bin() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let payment = payment_with_invoices(&rest, "p1", 3).await;
    let pid = payment.as_str();
    assert_eq!(
        rest.delete(&format!("/sobjects/Zuora__Payment__c/{pid}"))
            .await
            .0,
        204
    );
    let (_, children) = rest
        .query_all("SELECT Id, IsDeleted, Zuora__Payment__c FROM Zuora__PaymentInvoice__c")
        .await;
    assert_eq!(children["totalSize"], 3);
    assert!(
        children["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["IsDeleted"] == true && r["Zuora__Payment__c"] == pid)
    );

    // queryAll pages like query; the nextRecordsUrl says /query/ yet continues the queryAll.
    let job = rest
        .bulk_job(
            json!({"object": "Zuora__Subscription__c", "operation": "insert"}),
            &(0..2500).fold("Name\n".to_string(), |acc, i| acc + &format!("S{i}\n")),
        )
        .await;
    assert_eq!(job["numberRecordsProcessed"], 2500);
    let csv: String = std::iter::once("Id".to_string())
        .chain(
            sim.records(OrgKind::Production, "Zuora__Subscription__c")
                .unwrap()
                .iter()
                .take(2100)
                .map(|r| r["Id"].as_str().unwrap().to_string()),
        )
        .collect::<Vec<_>>()
        .join("\n");
    rest.bulk_job(
        json!({"object": "Zuora__Subscription__c", "operation": "delete"}),
        &format!("{csv}\n"),
    )
    .await;
    let (_, first) = rest
        .query_all("SELECT Id FROM Zuora__Subscription__c")
        .await;
    assert_eq!(
        (first["totalSize"].as_u64(), first["done"].as_bool()),
        (Some(2500), Some(false))
    );
    let next = first["nextRecordsUrl"].as_str().unwrap();
    assert!(next.contains("/query/"));
    let (_, more) = rest.get(next).await;
    assert_eq!(more["records"].as_array().unwrap().len(), 500);
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[tokio::test]
async fn updated_and_deleted_answer_the_documented_shapes_and_windows() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let before = (DateTime::<Utc>::from_timestamp_millis(sim.now_ms(OrgKind::Production)).unwrap()
        - ChronoDuration::minutes(2))
    .duration_trunc(ChronoDuration::minutes(1))
    .unwrap();
    let a = subscription(&rest, "a").await;
    let b = subscription(&rest, "b").await;
    assert_eq!(
        rest.delete(&format!("/sobjects/Zuora__Subscription__c/{b}"))
            .await
            .0,
        204
    );
    let after = before + ChronoDuration::minutes(10);
    let window = |what: &str, start: DateTime<Utc>, end: DateTime<Utc>| {
        let enc = |t: DateTime<Utc>| iso(t).replace(':', "%3A").replace('+', "%2B");
        format!(
            "/sobjects/Zuora__Subscription__c/{what}/?start={}&end={}",
            enc(start),
            enc(end)
        )
    };
    let (s, updated) = rest.get(&window("updated", before, after)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(
        updated["ids"],
        json!([a]),
        "deleted records are not updated records"
    );
    let covered = updated["latestDateCovered"].as_str().unwrap();
    assert!(covered.ends_with(":00.000+0000"), "{covered}");
    let (s, deleted) = rest.get(&window("deleted", before, after)).await;
    assert_eq!(s, 200, "{deleted}");
    assert_eq!(deleted["deletedRecords"].as_array().unwrap().len(), 1);
    assert_eq!(deleted["deletedRecords"][0]["id"], b.as_str());
    assert!(
        deleted["deletedRecords"][0]["deletedDate"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    assert!(deleted["earliestDateAvailable"].is_string());
    assert!(deleted["latestDateCovered"].is_string());
    // A window that closes before the changes sees nothing.
    let (_, empty) = rest
        .get(&window(
            "updated",
            before - ChronoDuration::hours(1),
            before,
        ))
        .await;
    assert_eq!(empty["ids"], json!([]));

    // Window rules: start before end by a minute or more, 30 (updated) / 15 (deleted) days back.
    let code = |v: &serde_json::Value| v[0]["errorCode"].as_str().unwrap_or_default().to_string();
    let (s, e) = rest.get(&window("updated", after, before)).await;
    assert_eq!((s, code(&e)), (400, "INVALID_REPLICATION_DATE".into()));
    let (s, e) = rest
        .get(&window(
            "updated",
            before + ChronoDuration::seconds(10),
            before + ChronoDuration::seconds(40),
        ))
        .await;
    assert_eq!(
        (s, code(&e)),
        (400, "INVALID_REPLICATION_DATE".into()),
        "seconds are ignored"
    );
    let (s, e) = rest
        .get(&window(
            "updated",
            before - ChronoDuration::days(32),
            before,
        ))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_REPLICATION_DATE".into()));
    assert_eq!(
        rest.get(&window(
            "updated",
            before - ChronoDuration::days(20),
            before
        ))
        .await
        .0,
        200
    );
    let (s, e) = rest
        .get(&window(
            "deleted",
            before - ChronoDuration::days(20),
            before,
        ))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_REPLICATION_DATE".into()));
    let (s, e) = rest
        .get("/sobjects/Zuora__Subscription__c/updated/?start=yesterday&end=now")
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_REPLICATION_DATE".into()));
    assert_eq!(
        rest.get(&window("updated", before, after).replace("Zuora__Subscription__c", "Nope__c"))
            .await
            .0,
        404
    );

    // Sixteen days on, the delete is purged: earliestDateAvailable moves past it.
    advance_clock(&sim, 16 * 86_400).await;
    let now = DateTime::<Utc>::from_timestamp_millis(sim.now_ms(OrgKind::Production)).unwrap();
    let (_, later) = rest
        .get(&window("deleted", now - ChronoDuration::days(1), now))
        .await;
    assert_eq!(later["deletedRecords"], json!([]));
    assert_eq!(
        later["earliestDateAvailable"],
        deleted["deletedRecords"][0]["deletedDate"]
    );
}
