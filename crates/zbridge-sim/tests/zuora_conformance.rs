//! Conformance with the request and response examples of shared/reference/zuora-api.md, over
//! real HTTP on loopback. Each test names the reference section it checks.

mod zuora_support;

use std::io::Read;
use std::time::Duration;

use serde_json::{Value, json};
use zbridge_sim::zuora::{Mutation, NO_DELETED_SUPPORT, SYNTAX_ERROR, ZuoraSim};
use zuora_support::*;

// §2.1–2.2: token request and response.
#[tokio::test]
async fn oauth_token_matches_the_documented_shape() {
    let sim = small().start().await.unwrap();
    assert_eq!(sim.client_id().len(), 36);
    assert!(sim.client_secret().len() <= 42);
    let resp = http()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(&[
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["access_token"].as_str().unwrap().len(), 32);
    assert_eq!(t["expires_in"], 3599);
    assert_eq!(t["token_type"], "bearer");
    assert!(t["jti"].is_string());
    let scope = t["scope"].as_str().unwrap();
    assert!(
        scope.starts_with("user.")
            && scope.contains(&format!("entity.{}", sim.entity_ids()[0]))
            && scope.contains("tenant.")
    );
    assert!(
        t.get("refresh_token").is_none(),
        "Zuora never returns a refresh token"
    );
}

// §2.2–2.3: no refresh grant, bad credentials, 401 body, expiry.
#[tokio::test]
async fn refresh_grant_bad_secret_and_expired_tokens_are_refused() {
    let sim = small()
        .token_lifetime(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let url = format!("{}/oauth/token", sim.base_url());
    let r = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", sim.client_id()),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = post_form(
        &url,
        &[
            ("client_id", sim.client_id()),
            ("client_secret", "wrong"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(r.status(), 401);

    let c = Client::new(&sim).await;
    assert_eq!(c.get("/v1/describe").send().await.unwrap().status(), 200);
    let anonymous = http()
        .get(format!("{}/v1/describe", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap(),
        json!({"message": "Authentication error"})
    );
    sim.advance_clock(Duration::from_secs(61));
    let expired = c.get("/v1/describe").send().await.unwrap();
    assert_eq!(expired.status(), 401);
    assert_eq!(
        expired.json::<Value>().await.unwrap(),
        json!({"message": "Authentication error"})
    );
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    http().post(url).form(form).send().await.unwrap()
}

// §3.1–3.2, §5.1: track id echo, request id, rate-limit headers and 429 with Retry-After.
#[tokio::test]
async fn common_headers_and_rate_limit() {
    let sim = small().rate_limit_per_minute(6).start().await.unwrap();
    let c = Client::new(&sim).await; // call 1
    let r = c
        .get("/v1/describe")
        .header("Zuora-Track-Id", "zbridge-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["zuora-track-id"], "zbridge-test-1");
    assert!(r.headers().contains_key("zuora-request-id"));
    assert_eq!(r.headers()["ratelimit-limit"], "6, 6;w=60");
    assert_eq!(r.headers()["ratelimit-remaining"], "4");
    assert!(r.headers().contains_key("ratelimit-reset"));
    assert_eq!(r.headers()["concurrency-limit-limit"], "40");
    let bad = c
        .get("/v1/describe")
        .header("Zuora-Track-Id", "has:colon")
        .send()
        .await
        .unwrap();
    assert!(
        !bad.headers().contains_key("zuora-track-id"),
        "invalid track ids are not echoed"
    );
    for _ in 0..3 {
        c.get("/v1/describe").send().await.unwrap();
    }
    let limited = c.get("/v1/describe").send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
}

// §9: describe list and object XML, relationships, picklists, export contexts, 404.
#[tokio::test]
async fn describe_xml() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let list = c.get("/v1/describe").send().await.unwrap();
    assert!(
        list.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let list = list.text().await.unwrap();
    assert!(
        list.contains("<objects>")
            && list.contains("<name>InvoiceItem</name>")
            && list.contains("href=")
    );
    let account = c
        .get("/v1/describe/Account")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("<name>AccountNumber</name>")
            && account.contains("<label>Account Number</label>")
    );
    assert!(
        account.contains("<context>export</context>") && account.contains("<type>picklist</type>")
    );
    assert!(
        account.contains("<option>Active</option>") && account.contains("<custom>true</custom>")
    );
    assert!(
        !account.contains("<cardinality>"),
        "relationships only on request"
    );
    let rel = c
        .get("/v1/describe/Account?showRelationships=true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        rel.contains("<name>BillToContact</name>")
            && rel.contains("<path>Account.BillToContact</path>")
    );
    assert!(rel.contains("<cardinality>TO_ONE</cardinality>"));
    let charge = c
        .get("/v1/describe/RatePlanCharge")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rollover = charge
        .split("<field>")
        .find(|f| f.contains("<name>RolloverBalance</name>"))
        .unwrap();
    assert!(
        !rollover.contains("export"),
        "soap-only fields lack the export context"
    );
    assert_eq!(
        c.get("/v1/describe/NoSuchThing")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

// §6.2–6.4: the documented submit, job, and result file.
#[tokio::test]
async fn data_query_documented_example() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let query = "SELECT accountnumber, balance FROM Account WHERE Account.balance > 100";
    let body = json!({"query": query, "compression": "NONE", "output": {"target": "S3"}, "outputFormat": "CSV"});
    let submitted = c.json(c.post("/query/jobs", &body)).await;
    let data = &submitted["data"];
    assert_eq!(data["id"].as_str().unwrap().len(), 36);
    assert_eq!(data["query"], query);
    assert_eq!(data["queryStatus"], "accepted");
    for key in [
        "useIndexJoin",
        "sourceData",
        "remainingRetries",
        "retries",
        "updatedOn",
        "createdOn",
        "createdBy",
    ] {
        assert!(data.get(key).is_some(), "missing {key}");
    }
    let job = c.wait_dq(data["id"].as_str().unwrap()).await;
    assert_eq!(job["queryStatus"], "completed");
    assert!(job["processingTime"].is_u64() && job["outputRows"].is_u64());
    let url = job["dataFile"].as_str().unwrap();
    assert!(url.contains("X-Amz-Security-Token"));
    let text = http().get(url).send().await.unwrap().text().await.unwrap();
    let (headers, rows) = csv_rows(&text);
    assert_eq!(headers, ["accountnumber", "balance"]);
    assert_eq!(rows.len() as u64, job["outputRows"].as_u64().unwrap());
    assert!(rows.iter().all(|r| r[1].parse::<f64>().unwrap() > 100.0));
    // The pre-signed URL refuses a Zuora bearer token, and expires.
    let with_auth = http().get(url).bearer_auth(&c.token).send().await.unwrap();
    assert_eq!(with_auth.status(), 400);
    sim.advance_clock(Duration::from_secs(3600));
    let expired = http().get(url).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("Request has expired")
    );
}

// §3.1 / L78: Data Query needs Content-Type application/json.
#[tokio::test]
async fn data_query_without_json_content_type_gets_415() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let r = c
        .http
        .post(format!("{}/query/jobs", c.base))
        .bearer_auth(&c.token)
        .header("Content-Type", "text/plain")
        .body(csv_job("select id from account").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 415, "message": "HTTP 415 Unsupported Media Type"})
    );
    let missing = c
        .json(c.post("/query/jobs", &json!({"query": "select 1"})))
        .await;
    assert_eq!(missing["code"], 400);
}

fn fetch(url: &str) -> Vec<u8> {
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        rt.block_on(async {
            http()
                .get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        })
    })
}

// §6.2, §6.4, L39: JSON Lines, TSV, DSV; GZIP and ZIP bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_query_formats_and_compression() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let q = "select accountnumber, name, autopay, updateddate from account order by accountnumber limit 5";
    let job = |fmt: &str, comp: &str| json!({"query": q, "outputFormat": fmt, "compression": comp, "output": {"target": "S3"}});
    let json_lines = c.data_query(job("JSON", "NONE")).await;
    let body = String::from_utf8(fetch(json_lines["dataFile"].as_str().unwrap())).unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["accountnumber"].is_string() && lines[0]["autopay"].is_boolean());
    let gz = c.data_query(job("CSV", "GZIP")).await;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&fetch(gz["dataFile"].as_str().unwrap())[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(csv_rows(&text).1.len(), 5);
    let zip = c.data_query(job("TSV", "ZIP")).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(fetch(
        zip["dataFile"].as_str().unwrap(),
    )))
    .unwrap();
    let mut tsv = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut tsv)
        .unwrap();
    assert!(tsv.starts_with("accountnumber\tname\tautopay\tupdateddate\n"));
    let mut dsv = job("DSV", "NONE");
    dsv["columnSeparator"] = json!("|");
    let dsv = c.data_query(dsv).await;
    let text = String::from_utf8(fetch(dsv["dataFile"].as_str().unwrap())).unwrap();
    assert!(text.starts_with("accountnumber|name|autopay|updateddate\n"));
}

// §6.5: SHOW TABLES, DESCRIBE, joins, deleted rows, readDeleted; §6.3 failures carry errorMessage.
#[tokio::test]
async fn data_query_sql_features_and_failures() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let tables = c.data_query(json!({"query": "SHOW TABLES", "outputFormat": "JSON", "compression": "NONE", "output": {"target": "S3"}})).await;
    let body = http()
        .get(tables["dataFile"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.lines().any(|l| l == r#"{"Table":"account"}"#));
    let describe = c.data_query(json!({"query": "DESCRIBE account", "outputFormat": "JSON", "compression": "NONE", "output": {"target": "S3"}})).await;
    let body = http()
        .get(describe["dataFile"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(r#"{"Column":"invoicetemplateid"#)
            || body
                .contains(r#""Column":"accountnumber","Type":"varchar","Extra":"","Comment":"""#)
    );
    let joined = c
        .data_query(csv_job(
            "select a.accountnumber, c.workemail from account a join contact c on c.id = a.billtoid \
             where a.status IN ('Active', 'Canceled') and c.workemail LIKE '%@%' and a.updateddate < TIMESTAMP '2030-01-01 00:00:00 +00:00'",
        ))
        .await;
    assert_eq!(joined["queryStatus"], "completed", "{joined}");
    assert!(joined["outputRows"].as_u64().unwrap() > 0);
    let failed = c.data_query(csv_job("select region_c from account")).await;
    assert_eq!(failed["queryStatus"], "failed");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("cannot be resolved")
    );
    assert!(failed.get("errorCode").is_none());
    let missing = c.data_query(csv_job("select id from acccount")).await;
    assert!(
        missing["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    sim.mutate(0, "Account", 3, Mutation::Delete).unwrap();
    let mut deleted = csv_job("select id from account");
    deleted["readDeleted"] = json!(true);
    assert_eq!(c.data_query(deleted).await["outputRows"], 3);
    let both = c
        .data_query(csv_job("select id, deleted from account"))
        .await;
    assert_eq!(both["outputRows"], 60);
}

// §6.1, §6.6: list, cancel, queue limit and output-row cap.
#[tokio::test]
async fn data_query_list_cancel_and_limits() {
    let sim = ZuoraSim::builder()
        .seed(3)
        .accounts(40)
        .job_delay(Duration::from_secs(30))
        .dq_running_limit(1)
        .dq_queue_limit(2)
        .output_row_cap(10)
        .start()
        .await
        .unwrap();
    let c = Client::new(&sim).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            c.json(c.post("/query/jobs", &csv_job("select id from account")))
                .await["data"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let over = c
        .json(c.post("/query/jobs", &csv_job("select id from account")))
        .await;
    assert_eq!(over["data"]["queryStatus"], "failed");
    assert!(
        over["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("limit")
    );
    let listed = c
        .json(c.get("/query/jobs?queryStatus=accepted&pageSize=2"))
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["id"], json!(ids[2]), "newest first");
    let cancelled = c.json(c.delete(&format!("/query/jobs/{}", ids[0]))).await;
    assert_eq!(cancelled["data"]["queryStatus"], "cancelled");
    assert_eq!(
        c.delete(&format!("/query/jobs/{}", ids[0]))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.get("/query/jobs/00000000-0000-0000-0000-000000000000")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let capped = ZuoraSim::builder()
        .seed(3)
        .accounts(40)
        .job_delay(Duration::ZERO)
        .output_row_cap(10)
        .start()
        .await
        .unwrap();
    let c = Client::new(&capped).await;
    let job = c.data_query(csv_job("select id from account")).await;
    assert_eq!(job["queryStatus"], "failed");
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .contains("maximum number of output rows (10)")
    );
    assert_eq!(
        c.data_query(csv_job("select id from account limit 10"))
            .await["queryStatus"],
        "completed"
    );
}

// §7.4–7.6: the documented stateless submit and its response; labels vs API names; files.
#[tokio::test]
async fn aqua_stateless_documented_example() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let submitted = c
        .json(c.post("/v1/batch-query/", &json!({"queries":[{"query":"select AccountNumber, BillCycleDay from Account","type":"zoql"}]})))
        .await;
    assert_eq!(submitted["id"].as_str().unwrap().len(), 32);
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["format"], "CSV");
    assert_eq!(submitted["encrypted"], "none");
    assert_eq!(submitted["useLastCompletedJobQueries"], false);
    let b = &submitted["batches"][0];
    assert_eq!(b["status"], "pending");
    assert_eq!(b["batchType"], "zoql");
    assert_eq!(b["full"], true);
    assert_eq!(b["recordCount"], 0);
    assert!(
        submitted.get("message").is_none(),
        "a successful submit has no message key"
    );
    let done = c.wait_aqua(submitted["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let file_id = done["batches"][0]["fileId"].as_str().unwrap();
    let resp = c.get(&format!("/v1/file/{file_id}")).send().await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let (headers, rows) = csv_rows(&resp.text().await.unwrap());
    assert_eq!(
        headers,
        ["Account: Account Number", "Account: Bill Cycle Day"]
    );
    assert_eq!(
        rows.len() as u64,
        done["batches"][0]["recordCount"].as_u64().unwrap()
    );
}

// §7.2, §7.6, §7.10: Export ZOQL joins, *, labels, dateTimeUtc, nullReplacement, literal quirk.
#[tokio::test]
async fn aqua_export_zoql_options() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let job = c
        .aqua(json!({
            "format": "csv", "version": "1.2", "useQueryLabels": "true", "dateTimeUtc": "true", "nullReplacement": "NULL",
            "queries": [{"name": "acc", "type": "zoqlexport",
                "query": "select Account.Id, AccountNumber, CrmId, UpdatedDate, BillToContact.FirstName from Account where UpdatedDate >= '2020-01-01T00:00:00Z' order by UpdatedDate"}]
        }))
        .await;
    let (headers, rows) = csv_rows(&c.file(job["batches"][0]["fileId"].as_str().unwrap()).await);
    assert_eq!(
        headers,
        [
            "Account.Id",
            "Account.AccountNumber",
            "Account.CrmId",
            "Account.UpdatedDate",
            "BillToContact.FirstName"
        ]
    );
    assert_eq!(rows.len(), 60);
    assert!(rows.iter().any(|r| r[2] == "NULL"), "null replacement");
    let ts = &rows[0][3];
    assert!(
        ts.ends_with("-0800") && ts.contains('T'),
        "dateTimeUtc renders the tenant's ±hhmm without a colon: {ts}"
    );
    let mut sorted = rows.iter().map(|r| r[3].clone()).collect::<Vec<_>>();
    sorted.sort();
    assert_eq!(
        sorted,
        rows.iter().map(|r| r[3].clone()).collect::<Vec<_>>()
    );
    // The documented quirk: a space-separated literal silently drops the predicate.
    let quirk = c.aqua(json!({"queries": [{"type": "zoqlexport", "query": "select Id from Account where UpdatedDate >= '2099-01-01 00:00:00'"}]})).await;
    assert_eq!(quirk["batches"][0]["recordCount"], 60);
    let iso = c.aqua(json!({"queries": [{"type": "zoqlexport", "query": "select Id from Account where UpdatedDate >= '2099-01-01T00:00:00Z'"}]})).await;
    assert_eq!(iso["batches"][0]["recordCount"], 0);
    let star = c.aqua(json!({"useQueryLabels": true, "queries": [{"type": "zoqlexport", "query": "select * from RatePlanCharge limit 3"}]})).await;
    let (headers, rows) = csv_rows(&c.file(star["batches"][0]["fileId"].as_str().unwrap()).await);
    assert_eq!(rows.len(), 3);
    assert!(
        headers.contains(&"RatePlanCharge.MRR".to_string())
            && !headers.contains(&"RatePlanCharge.RolloverBalance".to_string())
    );
}

// §4.3, §7.9: errors with HTTP 200.
#[tokio::test]
async fn aqua_errors_come_back_with_http_200() {
    let sim = small()
        .aqua_job_limit(1)
        .job_delay(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let c = Client::new(&sim).await;
    let submit = |body: Value| {
        let req = c.post("/v1/batch-query/", &body);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let syntax =
        submit(json!({"queries": [{"type": "zoqlexport", "query": "select from where"}]})).await;
    assert_eq!(
        (syntax["errorCode"].as_str(), syntax["message"].as_str()),
        (Some("90005"), Some(SYNTAX_ERROR))
    );
    assert!(syntax["id"].is_null());
    let timestamp = submit(json!({"queries": [{"type": "zoqlexport", "query": "select Id from Account where UpdatedDate > TIMESTAMP '2026-01-01 00:00:00'"}]})).await;
    assert_eq!(timestamp["errorCode"], "90005");
    let json_format =
        submit(json!({"format": "json", "queries": [{"query": "select Id from Account"}]})).await;
    assert_eq!(
        (
            json_format["success"].as_bool(),
            json_format["code"].as_u64()
        ),
        (Some(false), Some(50_000_090))
    );
    let many: Vec<Value> = (0..51)
        .map(
            |i| json!({"name": format!("q{i}"), "query": "select Id from Account", "type": "zoql"}),
        )
        .collect();
    assert_eq!(submit(json!({"queries": many})).await["errorCode"], "90004");
    let stateless_deleted = submit(json!({"queries": [{"query": "select Id from Account", "type": "zoqlexport", "deleted": {"column": "Deleted", "format": "Boolean"}}]})).await;
    assert_eq!(stateless_deleted["errorCode"], "90012");
    assert_ne!(NO_DELETED_SUPPORT, "");
    let first =
        submit(json!({"queries": [{"query": "select Id from Account", "type": "zoql"}]})).await;
    assert_eq!(first["status"], "submitted");
    let second =
        submit(json!({"queries": [{"query": "select Id from Account", "type": "zoql"}]})).await;
    assert_eq!(second["errorCode"], "90028");
    // Cancelling works once; a second DELETE is an error (90003), still with HTTP 200.
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        c.json(c.delete(&format!("/v1/batch-query/jobs/{id}")))
            .await["status"],
        "cancelled"
    );
    assert_eq!(
        c.json(c.delete(&format!("/v1/batch-query/jobs/{id}")))
            .await["errorCode"],
        "90003"
    );
    assert_eq!(
        c.json(c.get("/v1/batch-query/jobs/ffffffffffffffffffffffffffffffff"))
            .await["errorCode"],
        "90002"
    );
    // Unknown fields surface when the job runs: the job aborts with a batch message.
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let aborted = c
        .aqua(json!({"queries": [{"type": "zoqlexport", "query": "select Bogus from Account"}]}))
        .await;
    assert_eq!(aborted["status"], "aborted");
    assert!(
        aborted["batches"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Bogus")
    );
}

// §7.3, §7.4, §7.7: stateful full then incremental loads, the deleted column, last job.
#[tokio::test]
async fn aqua_stateful_full_then_incremental_with_deleted() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let job = || {
        json!({"format": "csv", "version": "1.1", "name": "Example", "encrypted": "none", "useQueryLabels": "true",
               "partner": "salesforce", "project": "00170000011K3Ub", "dateTimeUtc": "true",
               "queries": [{"name": "Account", "query": "select Id, Name from Account", "type": "zoqlexport",
                            "deleted": {"column": "Deleted", "format": "Boolean"}}]})
    };
    let full = c.aqua(job()).await;
    assert_eq!(full["status"], "completed");
    assert_eq!(
        (full["partner"].as_str(), full["version"].as_str()),
        (Some("salesforce"), Some("1.1"))
    );
    assert_eq!(full["batches"][0]["full"], true);
    assert_eq!(full["batches"][0]["recordCount"], 60);
    let (headers, rows) = csv_rows(&c.file(full["batches"][0]["fileId"].as_str().unwrap()).await);
    assert_eq!(headers, ["Account.Id", "Account.Name", "Account.Deleted"]);
    assert!(
        rows.iter().all(|r| r[2] == "false"),
        "a full load carries no deleted rows"
    );
    sim.advance_clock(Duration::from_secs(60));
    let updated = sim.mutate(0, "Account", 2, Mutation::Update).unwrap();
    let deleted = sim.mutate(0, "Account", 1, Mutation::Delete).unwrap();
    let incremental = c.aqua(job()).await;
    assert_eq!(incremental["batches"][0]["full"], false);
    let (_, rows) = csv_rows(
        &c.file(incremental["batches"][0]["fileId"].as_str().unwrap())
            .await,
    );
    let mut ids: Vec<(String, String)> =
        rows.iter().map(|r| (r[0].clone(), r[2].clone())).collect();
    ids.sort();
    let mut expected: Vec<(String, String)> = updated
        .iter()
        .filter(|u| !deleted.contains(u))
        .map(|u| (u.clone(), "false".into()))
        .chain(deleted.iter().map(|d| (d.clone(), "true".into())))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let last = c
        .json(c.get("/v1/batch-query/jobs/partner/salesforce/project/00170000011K3Ub"))
        .await;
    assert_eq!(last["id"], incremental["id"]);
}

// §7.6: segmented results; zip and gzip formats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aqua_segments_and_compressed_files() {
    let sim = small().segment_size(25).start().await.unwrap();
    let c = Client::new(&sim).await;
    let job = c
        .aqua(json!({"queries": [{"type": "zoqlexport", "query": "select Id from Account"}]}))
        .await;
    let segments = job["batches"][0]["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    assert!(job["batches"][0].get("fileId").is_none());
    let mut total = 0;
    for s in segments {
        let (headers, rows) = csv_rows(&c.file(s.as_str().unwrap()).await);
        assert_eq!(headers, ["Account: ID"]);
        total += rows.len();
    }
    assert_eq!(total, 60);
    let gz = c.aqua(json!({"format": "gzip", "queries": [{"type": "zoqlexport", "query": "select Id from Contact limit 5"}]})).await;
    let bytes = c
        .get(&format!(
            "/v1/files/{}",
            gz["batches"][0]["fileId"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(csv_rows(&text).1.len(), 5);
    let zipped = c.aqua(json!({"format": "zip", "queries": [{"name": "c", "type": "zoqlexport", "query": "select Id from Contact limit 4"}]})).await;
    let bytes = c
        .get(&format!(
            "/v1/files/{}",
            zipped["batches"][0]["fileId"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(csv_rows(&text).1.len(), 4);
}

// §8: the Actions examples: query/queryMore, create, update, delete, generate, execute.
#[tokio::test]
async fn actions_documented_examples() {
    let sim = ZuoraSim::builder()
        .seed(5)
        .accounts(2100)
        .job_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let c = Client::new(&sim).await;
    let page = c.json(c.post("/v1/action/query", &json!({"queryString": "select AccountNumber, BillCycleDay, CrmId from Account", "conf": {"batchSize": 2000}}))).await;
    assert_eq!(page["size"], 2100);
    assert_eq!(page["done"], false);
    assert_eq!(page["records"].as_array().unwrap().len(), 2000);
    assert!(
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.get("CrmId").is_none()),
        "nulls are omitted"
    );
    assert!(page["records"][0]["BillCycleDay"].is_i64());
    let locator = page["queryLocator"].as_str().unwrap();
    assert!(locator.ends_with("-2000"));
    let more = c
        .json(c.post("/v1/action/queryMore", &json!({"queryLocator": locator})))
        .await;
    assert_eq!(
        (more["size"].as_u64(), more["done"].as_bool()),
        (Some(2100), Some(true))
    );
    assert_eq!(more["records"].as_array().unwrap().len(), 100);

    let created = c.json(c.post("/v1/action/create", &json!({"type": "Account", "objects": [{"Name": "Amy Lawrence", "Status": "Draft", "Currency": "USD", "BillCycleDay": 1}]}))).await;
    assert_eq!(created[0]["Success"], true);
    let id = created[0]["Id"].as_str().unwrap().to_string();
    let before = c
        .json(c.post(
            "/v1/action/query",
            &json!({"queryString": format!("select UpdatedDate from Account where Id = '{id}'")}),
        ))
        .await;
    sim.advance_clock(Duration::from_secs(10));
    let updated = c.json(c.post("/v1/action/update", &json!({"type": "Account", "objects": [{"Id": id, "BillCycleDay": 15, "NotAField": 1}]}))).await;
    assert_eq!(updated, json!([{"Id": id, "Success": true}]));
    let after = c.json(c.post("/v1/action/query", &json!({"queryString": format!("select BillCycleDay, UpdatedDate from Account where Id = '{id}'")}))).await;
    assert_eq!(after["records"][0]["BillCycleDay"], 15);
    assert_ne!(
        after["records"][0]["UpdatedDate"], before["records"][0]["UpdatedDate"],
        "writes stamp UpdatedDate"
    );
    let strict = c
        .post(
            "/v1/action/update?rejectUnknownFields=true",
            &json!({"type": "Account", "objects": [{"Id": id, "NotAField": 1}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(strict.status(), 400);
    assert_eq!(
        strict.json::<Value>().await.unwrap(),
        json!({"message": "Error - unrecognised fields"})
    );
    let bad = c
        .json(c.post(
            "/v1/action/create",
            &json!({"type": "Account", "objects": [{"Name": "X", "Status": "Bogus"}]}),
        ))
        .await;
    assert_eq!(bad[0]["Success"], false);
    assert!(
        bad[0]["Errors"][0]["Message"]
            .as_str()
            .unwrap()
            .contains("should be one of")
    );
    let too_many: Vec<Value> = (0..51).map(|i| json!({"Name": format!("n{i}")})).collect();
    assert_eq!(
        c.post(
            "/v1/action/create",
            &json!({"type": "Account", "objects": too_many})
        )
        .send()
        .await
        .unwrap()
        .status(),
        400
    );
    let deleted = c
        .json(c.post(
            "/v1/action/delete",
            &json!({"type": "Account", "ids": [id]}),
        ))
        .await;
    assert_eq!(deleted, json!([{"id": id, "success": true}]));

    let active = c.json(c.post("/v1/action/query", &json!({"queryString": "select AccountId from Subscription where Status = 'Active'", "conf": {"batchSize": 1}}))).await;
    let account = active["records"][0]["AccountId"].as_str().unwrap();
    let generated = c.json(c.post("/v1/action/generate", &json!({"type": "Invoice", "objects": [{"AccountId": account, "InvoiceDate": "2026-11-02", "TargetDate": "2026-11-02"}]}))).await;
    assert_eq!(generated[0]["Success"], true, "{generated}");
    let inv = generated[0]["Id"].as_str().unwrap();
    let split = c
        .json(c.post(
            "/v1/action/execute",
            &json!({"type": "InvoiceSplit", "ids": [inv], "synchronous": false}),
        ))
        .await;
    assert_eq!(split, json!([{"Success": true, "Id": inv}]));
}

// §8: subscribe and amend change the data: new account and subscription, then a new version.
#[tokio::test]
async fn actions_subscribe_and_amend() {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    let plans = c
        .json(c.post(
            "/v1/action/query",
            &json!({"queryString": "select Id from ProductRatePlan"}),
        ))
        .await;
    let plan = plans["records"][0]["Id"].as_str().unwrap();
    let sub = c
        .json(c.post("/v1/action/subscribe", &json!({"subscribes": [{
            "Account": {"Name": "Subscribed Co", "Currency": "USD", "BillCycleDay": 1},
            "BillToContact": {"FirstName": "Amy", "LastName": "Lawrence", "Country": "United States"},
            "SubscriptionData": {"Subscription": {"TermType": "EVERGREEN"}, "RatePlanData": [{"RatePlan": {"ProductRatePlanId": plan}}]}
        }]})))
        .await;
    assert_eq!(sub[0]["Success"], true, "{sub}");
    let sub_id = sub[0]["SubscriptionId"].as_str().unwrap();
    let amended = c
        .json(c.post("/v1/action/amend", &json!({"requests": [{"Amendments": [{
            "ContractEffectiveDate": "2026-11-02", "Name": "Cancel it", "SubscriptionId": sub_id, "Type": "Cancellation"}]}]})))
        .await;
    assert_eq!(amended["results"][0]["Success"], true, "{amended}");
    let new_version = amended["results"][0]["SubscriptionId"].as_str().unwrap();
    let versions = c.json(c.post("/v1/action/query", &json!({"queryString": format!("select Id, Version, Status from Subscription where OriginalId = '{sub_id}'")}))).await;
    let mut got: Vec<(i64, String)> = versions["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["Version"].as_i64().unwrap(),
                r["Status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [(1, "Expired".to_string()), (2, "Cancelled".to_string())]
    );
    assert!(
        versions["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Id"] == new_version)
    );
    let bad = c.json(c.post("/v1/action/amend", &json!({"requests": [{"Amendments": [{"ContractEffectiveDate": "2026-11-02", "Name": "x", "SubscriptionId": sub_id, "Type": "Bogus"}]}]}))).await;
    assert!(
        bad["results"][0]["Errors"][0]["Message"]
            .as_str()
            .unwrap()
            .contains("should be one of")
    );
}

// §2.2, §5.2, L77: multi-entity tokens list several entities; calls must pick one.
#[tokio::test]
async fn multi_entity_requires_the_entity_header() {
    let sim = small().multi_entity(true).start().await.unwrap();
    let ids = sim.entity_ids();
    assert_eq!(ids.len(), 2);
    let c = Client::new(&sim).await;
    assert_eq!(c.get("/v1/describe").send().await.unwrap().status(), 400);
    let mut counts = Vec::new();
    for id in &ids {
        let r = c
            .post(
                "/v1/action/query",
                &json!({"queryString": "select Id from Account"}),
            )
            .header("Zuora-Entity-Ids", id)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        counts.push(r.json::<Value>().await.unwrap()["size"].as_u64().unwrap());
    }
    assert_eq!(counts, [30, 30], "accounts are split between the entities");
    let unknown = c
        .get("/v1/describe")
        .header("Zuora-Entity-Ids", "00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 403);
}

// /sim control API: clock, mutate, counters, faults by name with the valid names on error.
#[tokio::test]
async fn control_api() {
    let sim = small().start().await.unwrap();
    let h = http();
    let before: Value = h
        .get(format!("{}/sim/clock", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after: Value = h
        .post(format!("{}/sim/clock/advance", sim.base_url()))
        .json(&json!({"seconds": 86400}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(after["nowMs"].as_i64().unwrap() - before["nowMs"].as_i64().unwrap() >= 86_400_000);
    let m: Value = h
        .post(format!("{}/sim/mutate", sim.base_url()))
        .json(&json!({"object": "Subscription", "count": 2, "action": "cancel"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["ids"].as_array().unwrap().len(), 2);
    let bad = h
        .put(format!("{}/sim/faults", sim.base_url()))
        .json(&json!({"profile": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("truncated-file"));
    let ok = h
        .put(format!("{}/sim/faults", sim.base_url()))
        .json(&json!({"profile": "rate-limit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let _ = Client::new(&sim).await;
    let counters: Value = h
        .get(format!("{}/sim/counters", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["oauth.token"], 1);
    assert!(counters["sim.control"].as_u64().unwrap() >= 4);
}
