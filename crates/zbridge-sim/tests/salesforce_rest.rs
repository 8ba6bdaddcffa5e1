//! Conformance of the simulator's REST API with reference/salesforce-api.md §7–§9, §11, §12:
//! describe with field-level security, CRUD, upsert by external id, sObject Collections, SOQL
//! with paging, limits and the daily allocation.

mod salesforce_support;

use salesforce_support::*;
use serde_json::json;
use zbridge_sim::salesforce::{OrgKind, SalesforceSim, seeded_account_ids};

#[tokio::test]
async fn versions_and_resources() {
    let sim = start().await;
    let versions: serde_json::Value = client()
        .get(format!("{}/services/data/", sim.login_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = versions.as_array().unwrap();
    assert!(list.iter().any(|v| v["version"] == "64.0"
        && v["url"] == "/services/data/v64.0"
        && v["label"] == "Summer '25"));
    let rest = Rest::admin(&sim).await;
    let (s, r) = rest.get("").await;
    assert_eq!(s, 200);
    assert_eq!(r["sobjects"], "/services/data/v64.0/sobjects");
    let (s, _) = rest.get("/services/data/v30.0/limits").await;
    assert_eq!(s, 404, "unsupported versions do not exist");
}

#[tokio::test]
async fn describe_honours_field_level_security() {
    let sim = start().await;
    let admin = Rest::admin(&sim).await;
    let sync = Rest::new(&sim, "sync").await;
    let (_, global) = admin.get("/sobjects/").await;
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for object in [
        "Account",
        "User",
        "Product2",
        "Zuora__CustomerAccount__c",
        "Zuora__Subscription__c",
        "Zuora__SubscriptionProductCharge__c",
        "Zuora__ZInvoice__c",
        "Zuora__Payment__c",
        "Zuora__PaymentMethod__c",
        "Zuora__Refund__c",
        "Zuora__PaymentInvoice__c",
        "zqu__ZProduct__c",
        "zqu__ProductRatePlan__c",
        "zqu__ProductRatePlanCharge__c",
    ] {
        assert!(names.contains(&object), "{object} is installed");
    }
    let field = |d: &serde_json::Value, name: &str| {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
    };
    let (s, d) = admin
        .get("/sobjects/Zuora__CustomerAccount__c/describe")
        .await;
    assert_eq!(s, 200);
    assert!(d["keyPrefix"].as_str().unwrap().starts_with('a'));
    let ext = field(&d, "Zuora__External_Id__c").unwrap();
    assert_eq!(
        (
            ext["externalId"].as_bool(),
            ext["idLookup"].as_bool(),
            ext["type"].as_str()
        ),
        (Some(true), Some(true), Some("string"))
    );
    let account = field(&d, "Zuora__Account__c").unwrap();
    assert_eq!(account["referenceTo"], json!(["Account"]));
    assert_eq!(account["relationshipName"], "Zuora__Account__r");
    assert!(field(&d, "Zuora__Notes__c").is_some());
    assert_eq!(field(&d, "Zuora__Balance__c").unwrap()["updateable"], true);

    let (_, limited) = sync
        .get("/sobjects/Zuora__CustomerAccount__c/describe")
        .await;
    assert!(
        field(&limited, "Zuora__Notes__c").is_none(),
        "a hidden field is absent"
    );
    let balance = field(&limited, "Zuora__Balance__c").unwrap();
    assert_eq!(
        (
            balance["createable"].as_bool(),
            balance["updateable"].as_bool()
        ),
        (Some(false), Some(false))
    );

    let (_, pi) = admin
        .get("/sobjects/Zuora__PaymentInvoice__c/describe")
        .await;
    let master = field(&pi, "Zuora__Payment__c").unwrap();
    assert_eq!(
        (
            master["cascadeDelete"].as_bool(),
            master["nillable"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let (_, payment) = admin.get("/sobjects/Zuora__Payment__c/describe").await;
    assert!(
        payment["childRelationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["childSObject"] == "Zuora__PaymentInvoice__c" && c["cascadeDelete"] == true)
    );
    assert_eq!(admin.get("/sobjects/Nope__c/describe").await.0, 404);
}

#[tokio::test]
async fn sobject_create_read_update_delete() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let crm = &seeded_account_ids(7, 1)[0];
    let (s, created) = rest.post("/sobjects/Zuora__CustomerAccount__c", json!({"Name": "Acme", "Zuora__External_Id__c": "2c92c0f8a", "Zuora__Account__c": crm, "Zuora__Balance__c": 12.5, "Zuora__AutoPay__c": true})).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["success"], true);
    assert_eq!(created["errors"], json!([]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 18);
    let (s, rec) = rest
        .get(&format!("/sobjects/Zuora__CustomerAccount__c/{id}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(rec["attributes"]["type"], "Zuora__CustomerAccount__c");
    assert_eq!(rec["Zuora__Account__c"], crm.as_str());
    assert_eq!(rec["Zuora__Balance__c"], 12.5);
    assert_eq!(rec["Zuora__AutoPay__c"], true);
    let (s, _) = rest
        .patch(
            &format!("/sobjects/Zuora__CustomerAccount__c/{id}"),
            json!({"Zuora__Status__c": "Active"}),
        )
        .await;
    assert_eq!(s, 204);
    let (_, rec) = rest
        .get(&format!(
            "/sobjects/Zuora__CustomerAccount__c/{}?fields=Zuora__Status__c",
            &id[..15]
        ))
        .await;
    assert_eq!(rec["Zuora__Status__c"], "Active");
    assert_eq!(
        rest.delete(&format!("/sobjects/Zuora__CustomerAccount__c/{id}"))
            .await
            .0,
        204
    );
    assert_eq!(
        rest.get(&format!("/sobjects/Zuora__CustomerAccount__c/{id}"))
            .await
            .0,
        404
    );
    let (s, e) = rest
        .delete(&format!("/sobjects/Zuora__CustomerAccount__c/{id}"))
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (404, Some("ENTITY_IS_DELETED"))
    );
    // A custom object's Name defaults to the record id.
    let (_, c) = rest
        .post(
            "/sobjects/Zuora__Subscription__c",
            json!({"Zuora__External_Id__c": "s1"}),
        )
        .await;
    let (_, rec) = rest
        .get(&format!(
            "/sobjects/Zuora__Subscription__c/{}",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rec["Name"], c["id"]);
}

#[tokio::test]
async fn validation_errors_use_the_documented_codes() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let sync = Rest::new(&sim, "sync").await;
    let (s, e) = rest
        .post("/sobjects/Account", json!({"AccountNumber": "1"}))
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (400, Some("REQUIRED_FIELD_MISSING"))
    );
    assert_eq!(e[0]["fields"], json!(["Name"]));
    let (_, e) = rest
        .post(
            "/sobjects/Zuora__Subscription__c",
            json!({"Name": "x".repeat(81)}),
        )
        .await;
    assert_eq!(e[0]["errorCode"], "STRING_TOO_LONG");
    let (_, e) = rest
        .post(
            "/sobjects/Zuora__Subscription__c",
            json!({"Zuora__Account__c": "001000000000000AAA"}),
        )
        .await;
    assert_eq!(
        e[0]["errorCode"],
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
    );
    let (_, e) = rest
        .post(
            "/sobjects/Zuora__Subscription__c",
            json!({"Zuora__TermStartDate__c": "31/12/2024"}),
        )
        .await;
    assert_eq!(e[0]["errorCode"], "INVALID_TYPE_ON_FIELD_IN_RECORD");
    let (_, e) = rest
        .post("/sobjects/Zuora__Subscription__c", json!({"Bogus__c": 1}))
        .await;
    assert_eq!(e[0]["errorCode"], "INVALID_FIELD");
    let (_, e) = sync
        .post(
            "/sobjects/Zuora__CustomerAccount__c",
            json!({"Zuora__Notes__c": "hidden"}),
        )
        .await;
    assert_eq!(e[0]["errorCode"], "INVALID_FIELD");
    let (_, e) = sync
        .post(
            "/sobjects/Zuora__CustomerAccount__c",
            json!({"Zuora__Balance__c": 1}),
        )
        .await;
    assert_eq!(e[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    let (_, e) = rest
        .post(
            "/sobjects/Zuora__PaymentInvoice__c",
            json!({"Zuora__EXT_ID__c": "pi"}),
        )
        .await;
    assert_eq!(
        e[0]["errorCode"], "REQUIRED_FIELD_MISSING",
        "a master-detail field is required"
    );
}

#[tokio::test]
async fn upsert_by_external_id_answers_201_200_204_300_and_404() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let path = "/sobjects/Zuora__CustomerAccount__c/Zuora__External_Id__c/2c92c0f8";
    let (s, r) = rest.patch(path, json!({"Name": "A"})).await;
    assert_eq!(s, 201);
    assert_eq!(r["created"], true);
    let id = r["id"].clone();
    let (s, r) = rest.patch(path, json!({"Name": "B"})).await;
    assert_eq!(
        (s, r["created"].as_bool(), r["id"].clone()),
        (200, Some(false), id.clone())
    );
    let (s, _) = rest
        .patch(&format!("/services/data/v45.0{path}"), json!({"Name": "C"}))
        .await;
    assert_eq!(s, 204, "before API 46.0 an update answers 204");
    let (s, e) = rest
        .patch(path, json!({"Zuora__External_Id__c": "other"}))
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    let (s, e) = rest
        .patch(
            "/sobjects/Zuora__CustomerAccount__c/Zuora__Status__c/x",
            json!({"Name": "A"}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        e,
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
    // A child written with its parent's external id (salesforce-api.md §8).
    let (s, r) = rest.patch("/sobjects/Zuora__Subscription__c/Zuora__External_Id__c/8a8aa0d1", json!({"Name": "A-S00001", "Zuora__Status__c": "Active", "Zuora__CustomerAccount__r": {"Zuora__External_Id__c": "2c92c0f8"}})).await;
    assert_eq!(s, 201, "{r}");
    let (_, sub) = rest
        .get(&format!(
            "/sobjects/Zuora__Subscription__c/{}",
            r["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sub["Zuora__CustomerAccount__c"], id);
    let (s, e) = rest
        .patch(
            "/sobjects/Zuora__Subscription__c/Zuora__External_Id__c/x2",
            json!({"Zuora__CustomerAccount__r": {"Zuora__External_Id__c": "missing"}}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Foreign key external ID: missing not found")
    );
    // Two records with one external id: 300 and nothing written.
    for _ in 0..2 {
        rest.post(
            "/sobjects/Zuora__Payment__c",
            json!({"Zuora__External_Id__c": "dup"}),
        )
        .await;
    }
    let (s, r) = rest
        .patch(
            "/sobjects/Zuora__Payment__c/Zuora__External_Id__c/dup",
            json!({"Zuora__Status__c": "x"}),
        )
        .await;
    assert_eq!(s, 300);
    assert_eq!(r.as_array().unwrap().len(), 2);
    let (s, _) = rest
        .patch(
            "/sobjects/Zuora__Payment__c/Zuora__External_Id__c/none?updateOnly=true",
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn collections_report_per_record_status_codes() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let rec = |ext: &str, name: &str| json!({"attributes": {"type": "Zuora__Subscription__c"}, "Zuora__External_Id__c": ext, "Name": name});
    let (s, r) = rest.patch("/composite/sobjects/Zuora__Subscription__c/Zuora__External_Id__c", json!({"allOrNone": false, "records": [rec("a", "A"), rec("b", &"x".repeat(100)), rec("c", "C")]})).await;
    assert_eq!(s, 200);
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 3, "results in request order");
    assert_eq!(
        (items[0]["success"].as_bool(), items[0]["created"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(items[1]["success"], false);
    assert_eq!(items[1]["errors"][0]["statusCode"], "STRING_TOO_LONG");
    assert!(items[1]["errors"][0].get("errorCode").is_none());
    assert_eq!(items[2]["success"], true);

    let (_, r) = rest
        .patch(
            "/composite/sobjects/Zuora__Subscription__c/Zuora__External_Id__c",
            json!({"allOrNone": true, "records": [rec("a", "A2"), rec("d", &"x".repeat(100))]}),
        )
        .await;
    assert_eq!(
        r[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    let (_, q) = rest
        .query("SELECT Name FROM Zuora__Subscription__c WHERE Zuora__External_Id__c = 'a'")
        .await;
    assert_eq!(
        q["records"][0]["Name"], "A",
        "allOrNone rolled the update back"
    );
    assert_eq!(
        rest.query("SELECT COUNT() FROM Zuora__Subscription__c WHERE Zuora__External_Id__c = 'd'")
            .await
            .1["totalSize"],
        0
    );

    let too_many: Vec<serde_json::Value> = (0..201).map(|i| rec(&format!("m{i}"), "M")).collect();
    let (s, e) = rest
        .patch(
            "/composite/sobjects/Zuora__Subscription__c/Zuora__External_Id__c",
            json!({"records": too_many}),
        )
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (400, Some("EXCEEDED_ID_LIMIT"))
    );

    let (_, created) = rest.post("/composite/sobjects", json!({"records": [{"attributes": {"type": "Account"}, "Name": "N1"}, {"attributes": {"type": "Zuora__Product__c"}, "Zuora__External_Id__c": "p1"}]})).await;
    let ids: Vec<String> = created
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let (_, updated) = rest
        .patch(
            "/composite/sobjects",
            json!({"records": [{"attributes": {"type": "Account"}, "id": ids[0], "Name": "N2"}]}),
        )
        .await;
    assert_eq!(updated[0]["success"], true);
    let (s, deleted) = rest
        .delete(&format!(
            "/composite/sobjects?ids={},{}&allOrNone=false",
            ids[0], ids[1]
        ))
        .await;
    assert_eq!(s, 200);
    assert!(
        deleted
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["success"] == true)
    );
    let (_, again) = rest
        .delete(&format!("/composite/sobjects?ids={}", ids[0]))
        .await;
    assert_eq!(again[0]["errors"][0]["statusCode"], "ENTITY_IS_DELETED");
}

#[tokio::test]
async fn soql_with_relationships_filters_ordering_and_paging() {
    let sim = SalesforceSim::builder()
        .seed(7)
        .accounts(450)
        .start()
        .await
        .unwrap();
    let rest = Rest::admin(&sim).await;
    let resp = rest
        .http
        .get(rest.url("/query"))
        .query(&[("q", "SELECT Id, Name FROM Account ORDER BY Name")])
        .bearer_auth(&rest.token)
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .unwrap();
    let page1: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (page1["totalSize"].as_u64(), page1["done"].as_bool()),
        (Some(450), Some(false))
    );
    assert_eq!(page1["records"].as_array().unwrap().len(), 200);
    assert_eq!(page1["records"][0]["Name"], "Sim Customer 00001");
    let next = page1["nextRecordsUrl"].as_str().unwrap();
    assert!(next.starts_with("/services/data/v64.0/query/01g"));
    let (_, page2) = rest.get(next).await;
    let (_, page3) = rest.get(page2["nextRecordsUrl"].as_str().unwrap()).await;
    assert_eq!(page3["done"], true);
    assert_eq!(page3["records"].as_array().unwrap().len(), 50);
    assert!(page3.get("nextRecordsUrl").is_none());

    let crm = seeded_account_ids(7, 2);
    rest.patch(
        "/sobjects/Zuora__CustomerAccount__c/Zuora__External_Id__c/ca1",
        json!({"Name": "CA1", "Zuora__Account__c": crm[0]}),
    )
    .await;
    rest.patch(
        "/sobjects/Zuora__CustomerAccount__c/Zuora__External_Id__c/ca2",
        json!({"Name": "CA2", "Zuora__Account__c": crm[1]}),
    )
    .await;
    for (ext, ca, version) in [("s1", "ca1", 1), ("s2", "ca1", 2), ("s3", "ca2", 1)] {
        let (s, r) = rest.patch(&format!("/sobjects/Zuora__Subscription__c/Zuora__External_Id__c/{ext}"), json!({"Name": ext.to_uppercase(), "Zuora__Version__c": version, "Zuora__CustomerAccount__r": {"Zuora__External_Id__c": ca}})).await;
        assert_eq!(s, 201, "{r}");
    }
    let (s, q) = rest.query("SELECT Id, Name, Zuora__CustomerAccount__r.Zuora__External_Id__c, Zuora__CustomerAccount__r.Zuora__Account__r.Name FROM Zuora__Subscription__c WHERE Zuora__External_Id__c IN ('s1','s2','s3') AND (Zuora__Version__c > 1 OR Zuora__CustomerAccount__r.Zuora__External_Id__c = 'ca2') ORDER BY Name DESC").await;
    assert_eq!(s, 200, "{q}");
    let recs = q["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["Name"], "S3");
    assert_eq!(
        recs[0]["Zuora__CustomerAccount__r"]["Zuora__External_Id__c"],
        "ca2"
    );
    assert_eq!(
        recs[0]["Zuora__CustomerAccount__r"]["attributes"]["type"],
        "Zuora__CustomerAccount__c"
    );
    assert_eq!(
        recs[0]["Zuora__CustomerAccount__r"]["Zuora__Account__r"]["Name"],
        "Sim Customer 00002"
    );
    assert_eq!(recs[1]["Name"], "S2");
    let (_, c) = rest.query("SELECT COUNT() FROM Zuora__Subscription__c WHERE Name LIKE 's%' AND Zuora__Version__c != null").await;
    assert_eq!(c["totalSize"], 3);
    let (_, by_id) = rest
        .query(&format!(
            "SELECT Name FROM Account WHERE Id = '{}'",
            &crm[0][..15]
        ))
        .await;
    assert_eq!(by_id["records"][0]["Name"], "Sim Customer 00001");

    let (s, e) = rest
        .query("SELECT Id FROM Zuora__Subscription__c WHERE")
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    let sync = Rest::new(&sim, "sync").await;
    let (s, e) = sync
        .query("SELECT Zuora__Notes__c FROM Zuora__CustomerAccount__c")
        .await;
    assert_eq!(
        (s, e[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    let (_, e) = rest.query("SELECT Id FROM Nope__c").await;
    assert_eq!(e[0]["errorCode"], "INVALID_TYPE");
}

#[tokio::test]
async fn user_permission_access_answers_the_customize_application_check() {
    let sim = start().await;
    let soql = "SELECT PermissionsCustomizeApplication, PermissionsModifyAllData FROM UserPermissionAccess";
    let (_, admin) = Rest::admin(&sim).await.query(soql).await;
    assert_eq!(admin["records"][0]["PermissionsCustomizeApplication"], true);
    let (_, sync) = Rest::new(&sim, "sync").await.query(soql).await;
    assert_eq!(sync["records"][0]["PermissionsCustomizeApplication"], false);
    assert_eq!(sync["records"][0]["PermissionsModifyAllData"], false);
}

#[tokio::test]
async fn limits_header_and_the_daily_allocation() {
    let sim = SalesforceSim::builder()
        .daily_api_allocation(4)
        .start()
        .await
        .unwrap();
    let rest = Rest::admin(&sim).await;
    let (s, h, limits) = rest.call(reqwest::Method::GET, "/limits", None).await;
    assert_eq!(s, 200);
    assert_eq!(h["sforce-limit-info"], "api-usage=1/4");
    assert_eq!(
        limits["DailyApiRequests"],
        json!({"Max": 4, "Remaining": 3})
    );
    for expected in ["api-usage=2/4", "api-usage=3/4", "api-usage=4/4"] {
        let (_, h, _) = rest.call(reqwest::Method::GET, "/sobjects", None).await;
        assert_eq!(h["sforce-limit-info"], expected);
    }
    let (s, h, e) = rest.call(reqwest::Method::GET, "/sobjects", None).await;
    assert_eq!(s, 403);
    assert_eq!(
        e,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(h["sforce-limit-info"], "api-usage=4/4");
    assert_eq!(sim.api_used(OrgKind::Production), 4);
}

#[tokio::test]
async fn deleting_a_master_cascades_and_clears_lookups() {
    let sim = start().await;
    let rest = Rest::admin(&sim).await;
    let payment = payment_with_invoices(&rest, "p1", 3).await;
    let (_, refund) = rest
        .post(
            "/sobjects/Zuora__Refund__c",
            json!({"Zuora__Payment__c": payment}),
        )
        .await;
    assert_eq!(
        rest.delete(&format!("/sobjects/Zuora__Payment__c/{payment}"))
            .await
            .0,
        204
    );
    assert_eq!(
        sim.records(OrgKind::Production, "Zuora__PaymentInvoice__c")
            .unwrap()
            .len(),
        0
    );
    let (_, r) = rest
        .get(&format!(
            "/sobjects/Zuora__Refund__c/{}",
            refund["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        r["Zuora__Payment__c"],
        serde_json::Value::Null,
        "a lookup to a deleted record is cleared"
    );
}
