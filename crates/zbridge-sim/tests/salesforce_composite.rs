//! sObject Collections retrieve, Composite (`/composite`) and sObject Tree (`/composite/tree`)
//! over real HTTP, with their per-record and per-subrequest results and documented errors.

mod salesforce_support;

use serde_json::json;
use zbridge_sim::salesforce::{OrgKind, seeded_account_ids};

use salesforce_support::*;

fn code(v: &serde_json::Value) -> String {
    v[0]["errorCode"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn collections_retrieve_by_get_and_post_with_null_for_missing_ids() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let accounts = seeded_account_ids(7, 2);
    let (_, created) = rest
        .post(
            "/sobjects/Zuora__CustomerAccount__c",
            json!({"Name": "Acme", "Zuora__Account__c": accounts[0]}),
        )
        .await;
    let ca = created["id"].as_str().unwrap().to_string();
    let (_, gone) = rest
        .post(
            "/sobjects/Zuora__CustomerAccount__c",
            json!({"Name": "Gone"}),
        )
        .await;
    let gone = gone["id"].as_str().unwrap().to_string();
    rest.delete(&format!("/sobjects/Zuora__CustomerAccount__c/{gone}"))
        .await;
    let ids = format!("{ca},{gone},{},notanid", accounts[0]);
    let (s, got) = rest
        .get(&format!(
            "/composite/sobjects/Zuora__CustomerAccount__c?ids={ids}&fields=name,Id,Zuora__Account__c"
        ))
        .await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got.as_array().unwrap().len(), 4, "one entry per id");
    assert_eq!(got[0]["attributes"]["type"], "Zuora__CustomerAccount__c");
    assert_eq!(got[0]["Name"], "Acme");
    assert_eq!(got[0]["Id"], ca.as_str());
    assert_eq!(got[0]["Zuora__Account__c"], accounts[0].as_str());
    assert_eq!(
        got[0].as_object().unwrap().len(),
        4,
        "only the fields asked for"
    );
    assert_eq!(got[1], serde_json::Value::Null, "deleted");
    assert_eq!(got[2], serde_json::Value::Null, "an id of another object");
    assert_eq!(got[3], serde_json::Value::Null, "not an id");
    let (s, posted) = rest
        .post(
            "/composite/sobjects/Account",
            json!({"ids": [accounts[1], accounts[0]], "fields": ["AccountNumber"]}),
        )
        .await;
    assert_eq!(s, 200, "{posted}");
    assert_eq!(posted[0]["AccountNumber"], "SIM-00002");
    assert_eq!(posted[1]["AccountNumber"], "SIM-00001");
    // Errors: a field that does not exist (or is hidden), missing parameters, too many ids.
    let (s, e) = rest
        .get(&format!(
            "/composite/sobjects/Account?ids={}&fields=Nope",
            accounts[0]
        ))
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_FIELD".into()));
    let sync = Rest::new(&sim, "sync").await;
    let (s, e) = sync
        .post(
            "/composite/sobjects/Zuora__CustomerAccount__c",
            json!({"ids": [ca], "fields": ["Zuora__Notes__c"]}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "INVALID_FIELD".into()));
    let (s, e) = rest
        .get(&format!("/composite/sobjects/Account?ids={}", accounts[0]))
        .await;
    assert_eq!((s, code(&e)), (400, "MISSING_ARGUMENT".into()));
    let many: Vec<String> = (0..2001).map(|_| accounts[0].clone()).collect();
    let (s, e) = rest
        .post(
            "/composite/sobjects/Account",
            json!({"ids": many, "fields": ["Name"]}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "EXCEEDED_ID_LIMIT".into()));
    assert_eq!(
        rest.post(
            "/composite/sobjects/Nope__c",
            json!({"ids": [ca], "fields": ["Id"]})
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn composite_runs_subrequests_with_references_between_them() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let crm = &seeded_account_ids(7, 1)[0];
    let v = "/services/data/v64.0";
    let (s, out) = rest
        .post(
            "/composite",
            json!({"compositeRequest": [
                {"method": "POST", "url": format!("{v}/sobjects/Zuora__CustomerAccount__c"),
                 "referenceId": "newCa", "body": {"Name": "Acme", "Zuora__Account__c": crm}},
                {"method": "GET", "url": format!("{v}/sobjects/Zuora__CustomerAccount__c/@{{newCa.id}}?fields=Name"),
                 "referenceId": "readCa"},
                {"method": "PATCH", "url": format!("{v}/sobjects/Zuora__Subscription__c/Zuora__External_Id__c/s-1"),
                 "referenceId": "upsertSub",
                 "body": {"Name": "@{readCa.Name}", "Zuora__CustomerAccount__c": "@{newCa.id}"}},
                {"method": "GET", "url": format!("{v}/query?q=SELECT+Id,Name+FROM+Zuora__Subscription__c"),
                 "referenceId": "q"},
                {"method": "PATCH", "url": format!("{v}/sobjects/Zuora__Subscription__c/@{{q.records[0].Id}}"),
                 "referenceId": "rename", "body": {"Name": "renamed"}},
                {"method": "DELETE", "url": format!("{v}/sobjects/Zuora__Subscription__c/@{{upsertSub.id}}"),
                 "referenceId": "drop"}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    let r = out["compositeResponse"].as_array().unwrap();
    let statuses: Vec<u64> = r
        .iter()
        .map(|i| i["httpStatusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 200, 201, 200, 204, 204], "{out}");
    assert_eq!(r[0]["referenceId"], "newCa");
    let ca = r[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        r[0]["httpHeaders"]["Location"],
        format!("/services/data/v64.0/sobjects/Zuora__CustomerAccount__c/{ca}")
    );
    assert_eq!(r[1]["body"]["Name"], "Acme");
    assert_eq!(r[1]["httpHeaders"], json!({}));
    assert_eq!(r[2]["body"]["created"], true);
    assert_eq!(r[3]["body"]["records"][0]["Name"], "Acme");
    assert_eq!(r[4]["body"], serde_json::Value::Null);
    let subs = sim
        .records(OrgKind::Production, "Zuora__Subscription__c")
        .unwrap();
    assert!(subs.is_empty(), "the last subrequest deleted it");
    // One composite call is one API call.
    let used = sim.api_used(OrgKind::Production);
    rest.post(
        "/composite",
        json!({"compositeRequest": [
            {"method": "GET", "url": format!("{v}/limits"), "referenceId": "a"},
            {"method": "GET", "url": format!("{v}/sobjects/Account/describe"), "referenceId": "b"}
        ]}),
    )
    .await;
    assert_eq!(sim.api_used(OrgKind::Production), used + 1);
}

#[tokio::test]
async fn composite_all_or_none_rolls_back_and_dependents_halt() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let v = "/services/data/v64.0";
    let requests = |all: bool| {
        json!({"allOrNone": all, "compositeRequest": [
            {"method": "POST", "url": format!("{v}/sobjects/Zuora__Subscription__c"),
             "referenceId": "ok", "body": {"Name": "kept?"}},
            {"method": "POST", "url": format!("{v}/sobjects/Zuora__Subscription__c"),
             "referenceId": "bad", "body": {"Nope__c": 1}},
            {"method": "PATCH", "url": format!("{v}/sobjects/Zuora__Subscription__c/@{{bad.id}}"),
             "referenceId": "dependent", "body": {"Name": "x"}},
            {"method": "POST", "url": format!("{v}/composite/sobjects"),
             "referenceId": "independent", "body": {"records": [
                {"attributes": {"type": "Zuora__Subscription__c"}, "Name": "c1"}]}}
        ]})
    };
    let (s, out) = rest.post("/composite", requests(true)).await;
    assert_eq!(s, 200, "{out}");
    let r = out["compositeResponse"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[1]["httpStatusCode"], 400);
    assert_eq!(code(&r[1]["body"]), "INVALID_FIELD");
    for i in [0, 2, 3] {
        assert_eq!(r[i]["httpStatusCode"], 400, "{}", r[i]);
        assert_eq!(code(&r[i]["body"]), "PROCESSING_HALTED");
        assert_eq!(
            r[i]["body"][0]["message"],
            "The transaction was rolled back since another operation in the same transaction failed."
        );
    }
    assert!(
        sim.records(OrgKind::Production, "Zuora__Subscription__c")
            .unwrap()
            .is_empty()
    );

    let (_, out) = rest.post("/composite", requests(false)).await;
    let r = out["compositeResponse"].as_array().unwrap();
    let statuses: Vec<u64> = r
        .iter()
        .map(|i| i["httpStatusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 400, 400, 200], "{out}");
    assert_eq!(code(&r[2]["body"]), "PROCESSING_HALTED");
    assert!(
        r[2]["body"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bad.id")
    );
    assert_eq!(r[3]["body"][0]["success"], true);
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__Subscription__c")
            .unwrap()
            .len(),
        2
    );

    // A Collections subrequest with a failed record fails an all-or-none composite request.
    let (_, out) = rest
        .post(
            "/composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": format!("{v}/sobjects/Zuora__Subscription__c"),
                 "referenceId": "first", "body": {"Name": "rolled back"}},
                {"method": "POST", "url": format!("{v}/composite/sobjects"), "referenceId": "coll",
                 "body": {"allOrNone": false, "records": [
                    {"attributes": {"type": "Zuora__Subscription__c"}, "Name": "ok"},
                    {"attributes": {"type": "Zuora__Subscription__c"}, "Nope__c": "bad"}]}}
            ]}),
        )
        .await;
    let r = out["compositeResponse"].as_array().unwrap();
    assert_eq!(r[0]["httpStatusCode"], 400, "{out}");
    assert_eq!(r[1]["body"][0]["success"], false, "{out}");
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__Subscription__c")
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn composite_request_errors_are_top_level() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let v = "/services/data/v64.0";
    let get = |r: &str| json!({"method": "GET", "url": format!("{v}/limits"), "referenceId": r});
    let (s, e) = rest
        .post(
            "/composite",
            json!({"compositeRequest": [{"method": "GET", "url": format!("{v}/limits")}]}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "JSON_PARSER_ERROR".into()));
    assert_eq!(e[0]["message"], "'referenceId' is a required field.");
    let (s, e) = rest
        .post(
            "/composite",
            json!({"compositeRequest": [get("a"), get("a")]}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "JSON_PARSER_ERROR".into()));
    let (s, e) = rest
        .post("/composite", json!({"compositeRequest": [get("a-b")]}))
        .await;
    assert_eq!((s, code(&e)), (400, "JSON_PARSER_ERROR".into()));
    let many: Vec<serde_json::Value> = (0..26).map(|i| get(&format!("r{i}"))).collect();
    let (s, e) = rest
        .post("/composite", json!({"compositeRequest": many}))
        .await;
    assert_eq!((s, code(&e)), (400, "LIMIT_EXCEEDED".into()));
    let queries: Vec<serde_json::Value> = (0..6)
        .map(|i| json!({"method": "GET", "url": format!("{v}/query?q=SELECT+Id+FROM+Account"), "referenceId": format!("q{i}")}))
        .collect();
    let (s, e) = rest
        .post("/composite", json!({"compositeRequest": queries}))
        .await;
    assert_eq!((s, code(&e)), (400, "LIMIT_EXCEEDED".into()));
    let (s, e) = rest
        .post(
            "/composite",
            json!({"compositeRequest": [{"method": "GET", "url": format!("{v}/limits"),
            "referenceId": "h", "httpHeaders": {"Authorization": "Bearer x"}}]}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "JSON_PARSER_ERROR".into()));
    // An unknown resource is a failed subrequest, not a failed request.
    let (s, out) = rest
        .post(
            "/composite",
            json!({"compositeRequest": [
            {"method": "GET", "url": format!("{v}/jobs/ingest"), "referenceId": "jobs"}]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(out["compositeResponse"][0]["httpStatusCode"], 404);
}

#[tokio::test]
async fn sobject_tree_creates_nested_records_all_or_nothing() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let crm = &seeded_account_ids(7, 1)[0];
    let tree = json!({"records": [
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "ca1"},
         "Name": "Acme", "Zuora__Account__c": crm,
         "Zuora__Subscriptions__r": {"records": [
            {"attributes": {"type": "Zuora__Subscription__c", "referenceId": "sub1"}, "Name": "A-S1",
             "Zuora__SubscriptionProductCharges__r": {"records": [
                {"attributes": {"type": "Zuora__SubscriptionProductCharge__c", "referenceId": "chg1"}, "Name": "C1"}]}},
            {"attributes": {"type": "Zuora__Subscription__c", "referenceId": "sub2"}, "Name": "A-S2"}]}},
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "ca2"}, "Name": "Beta"}
    ]});
    let (s, out) = rest
        .post("/composite/tree/Zuora__CustomerAccount__c", tree)
        .await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["hasErrors"], false);
    let refs: Vec<&str> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["referenceId"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        ["ca1", "ca2", "sub1", "sub2", "chg1"],
        "parents first"
    );
    let ca1 = out["results"][0]["id"].as_str().unwrap();
    let sub1 = out["results"][2]["id"].as_str().unwrap();
    let (_, q) = rest
        .query("SELECT Name, Zuora__CustomerAccount__c FROM Zuora__Subscription__c ORDER BY Name")
        .await;
    assert_eq!(q["records"][0]["Zuora__CustomerAccount__c"], ca1);
    assert_eq!(q["records"][1]["Zuora__CustomerAccount__c"], ca1);
    let (_, q) = rest
        .query("SELECT Zuora__Subscription__c FROM Zuora__SubscriptionProductCharge__c")
        .await;
    assert_eq!(q["records"][0]["Zuora__Subscription__c"], sub1);

    // One bad record: nothing is created and only that record is reported.
    let bad = json!({"records": [
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "good"}, "Name": "Gamma",
         "Zuora__Subscriptions__r": {"records": [
            {"attributes": {"type": "Zuora__Subscription__c", "referenceId": "broken"}, "Zuora__MRR__c": "lots"}]}}
    ]});
    let (s, out) = rest
        .post("/composite/tree/Zuora__CustomerAccount__c", bad)
        .await;
    assert_eq!(s, 400, "{out}");
    assert_eq!(out["hasErrors"], true);
    assert_eq!(
        out["results"],
        json!([{"referenceId": "broken", "errors": [
        {"statusCode": "INVALID_TYPE_ON_FIELD_IN_RECORD", "message": out["results"][0]["errors"][0]["message"], "fields": ["Zuora__MRR__c"]}]}])
    );
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__CustomerAccount__c")
            .unwrap()
            .len(),
        2
    );

    // Duplicate reference ids: one result per instance.
    let dup = json!({"records": [
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "x"}, "Name": "1"},
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "x"}, "Name": "2"}]});
    let (s, out) = rest
        .post("/composite/tree/Zuora__CustomerAccount__c", dup)
        .await;
    assert_eq!(s, 400);
    assert_eq!(out["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        out["results"][0]["errors"][0]["statusCode"],
        "INVALID_INPUT"
    );
    // Limits and shape: over 200 records, a wrong root type, an unknown relationship.
    let many: Vec<serde_json::Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": format!("r{i}")}, "Name": "n"}))
        .collect();
    let (s, e) = rest
        .post(
            "/composite/tree/Zuora__CustomerAccount__c",
            json!({"records": many}),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "LIMIT_EXCEEDED".into()));
    let (s, out) = rest
        .post(
            "/composite/tree/Zuora__CustomerAccount__c",
            json!({"records": [{"attributes": {"type": "Account", "referenceId": "a"}, "Name": "n"}]}),
        )
        .await;
    assert_eq!(
        (s, out["results"][0]["errors"][0]["statusCode"].as_str()),
        (400, Some("INVALID_TYPE"))
    );
    let (s, out) = rest
        .post(
            "/composite/tree/Zuora__CustomerAccount__c",
            json!({"records": [{"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "a"},
                "Contacts": {"records": []}}]}),
        )
        .await;
    assert_eq!(
        (s, out["results"][0]["errors"][0]["statusCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__CustomerAccount__c")
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn collections_all_or_none_rolls_back_cascade_deletes_too() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let pid = payment_with_invoices(&rest, "p1", 1).await;
    let v = "/services/data/v64.0";
    let (_, out) = rest
        .post(
            "/composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "DELETE", "url": format!("{v}/sobjects/Zuora__Payment__c/{pid}"), "referenceId": "del"},
                {"method": "POST", "url": format!("{v}/sobjects/Zuora__Payment__c"), "referenceId": "bad",
                 "body": {"Zuora__Amount__c": "NaN-ish"}}
            ]}),
        )
        .await;
    assert_eq!(out["compositeResponse"][1]["httpStatusCode"], 400, "{out}");
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__Payment__c")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__PaymentInvoice__c")
            .unwrap()
            .len(),
        1
    );
    let (_, bin) = rest
        .query_all("SELECT Id FROM Zuora__PaymentInvoice__c WHERE IsDeleted = true")
        .await;
    assert_eq!(
        bin["totalSize"], 0,
        "the rolled-back delete left nothing in the recycle bin"
    );
    let (s, _) = rest
        .delete(&format!("/sobjects/Zuora__Payment__c/{pid}"))
        .await;
    assert_eq!(
        s, 204,
        "after a rollback the record is live again, not ENTITY_IS_DELETED"
    );
}
