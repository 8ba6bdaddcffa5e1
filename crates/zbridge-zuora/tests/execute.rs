//! The Execute activity against the Zuora simulator, over HTTP.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::variables::VariableScope;
use zbridge_sim::zuora::{FaultKind, FaultProfile, FaultRule, RunningZuoraSim, Trigger, ZuoraSim};
use zbridge_zuora::execute::{
    self, ExecuteError, InputFormat, Outcome, Params, Procedure, RecordResult, RunSummary,
};
use zbridge_zuora::policy::RetryPolicy;
use zbridge_zuora::{TokenCache, ZuoraClient};

async fn sim() -> RunningZuoraSim {
    ZuoraSim::builder()
        .seed(11)
        .accounts(12)
        .start()
        .await
        .unwrap()
}

fn client(sim: &RunningZuoraSim) -> ZuoraClient {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Sim").unwrap());
    def.client_id = sim.client_id().into();
    def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
        .unwrap();
    let resolved = def.resolve(&VariableScope::default()).unwrap();
    let policy = RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(10),
    };
    ZuoraClient::with_policy(resolved, TokenCache::Memory, policy).unwrap()
}

fn params(procedure: Procedure, pairs: &[&str]) -> Params {
    Params::parse(procedure, pairs).unwrap()
}

async fn run(
    client: &ZuoraClient,
    procedure: Procedure,
    pairs: &[&str],
    format: InputFormat,
    text: String,
) -> (Vec<RecordResult>, RunSummary) {
    let read = || execute::input::records(format, std::io::Cursor::new(text.clone()));
    execute::check(procedure, read()).unwrap();
    let mut results = Vec::new();
    let report = execute::run(client, procedure, &params(procedure, pairs), read(), |r| {
        results.push(r.clone());
        Ok(())
    })
    .await
    .unwrap();
    if report.summary.failed_calls > 0 {
        assert!(report.last_call_error.is_some());
    }
    (results, report.summary)
}

fn lines(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

async fn query(client: &ZuoraClient, zoql: &str) -> Vec<Value> {
    let answer = client
        .post_json("/v1/action/query", &json!({"queryString": zoql}))
        .await
        .unwrap();
    answer["records"].as_array().unwrap().clone()
}

fn lines_of(results: &[RecordResult]) -> Vec<u64> {
    results.iter().map(|r| r.line).collect()
}

/// 51 new accounts go out as 50 + 1, and the results come back in input order, each naming the
/// account created from its line.
#[tokio::test]
async fn a_51_record_create_is_sent_as_50_plus_1_with_results_in_order() {
    let sim = sim().await;
    let client = client(&sim);
    let records: Vec<Value> = (1..=51)
        .map(|i| json!({"Name": format!("Batch {i:02}"), "Currency": "USD", "BillCycleDay": 1}))
        .collect();
    let (results, summary) = run(
        &client,
        Procedure::CreateRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        lines(&records),
    )
    .await;
    assert_eq!(sim.counters()["actions.create"], 2);
    assert_eq!(
        (summary.calls, summary.succeeded, summary.failed),
        (2, 51, 0)
    );
    assert_eq!(summary.outcome(), Outcome::AllSucceeded);
    assert_eq!(lines_of(&results), (1..=51).collect::<Vec<u64>>());
    let created = query(
        &client,
        "select Id, Name from Account where Name like 'Batch %'",
    )
    .await;
    for result in &results {
        let id = result.id.as_deref().unwrap();
        let row = created.iter().find(|r| r["Id"] == id).unwrap();
        assert_eq!(row["Name"], format!("Batch {:02}", result.line));
    }
}

/// Invalid records in a valid input (Zuora refuses them) fail on their own lines; the others
/// are created.
#[tokio::test]
async fn partial_failure_is_reported_on_the_right_input_lines() {
    let sim = sim().await;
    let client = client(&sim);
    let text = "{\"Name\":\"Good 1\",\"Currency\":\"USD\"}\n\
                \n\
                {\"Currency\":\"USD\"}\n\
                {\"Name\":\"Good 2\",\"BillCycleDay\":\"not a number\"}\n\
                {\"Name\":\"Good 3\"}\n";
    let (results, summary) = run(
        &client,
        Procedure::CreateRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        text.into(),
    )
    .await;
    assert_eq!(lines_of(&results), vec![1, 3, 4, 5]);
    let ok: Vec<bool> = results.iter().map(|r| r.success).collect();
    assert_eq!(ok, vec![true, false, false, true]);
    assert_eq!(
        results[1].errors[0].code.as_deref(),
        Some("MISSING_REQUIRED_VALUE")
    );
    assert!(
        results[2].errors[0].message.contains("BillCycleDay"),
        "{:?}",
        results[2]
    );
    assert_eq!(summary.outcome(), Outcome::SomeFailed);
    assert_eq!(
        (summary.succeeded, summary.failed, summary.failed_calls),
        (2, 2, 0)
    );
}

/// CSV updates and lowercase DeleteResults: an unknown id fails its own line.
#[tokio::test]
async fn csv_update_then_delete_with_an_unknown_id() {
    let sim = sim().await;
    let client = client(&sim);
    let (created, _) = run(
        &client,
        Procedure::CreateRecords,
        &["type=Account"],
        InputFormat::Csv,
        "Name,Currency\nTo Update,USD\nTo Delete,USD\n".into(),
    )
    .await;
    let (a, b) = (
        created[0].id.clone().unwrap(),
        created[1].id.clone().unwrap(),
    );
    assert_eq!(lines_of(&created), vec![2, 3]);

    let missing = "2c92c0f8000000000000000000000000";
    let update = format!("Id,Name,Notes\n{a},Renamed,\"line one\nline two\"\n{missing},Ghost,\n");
    let (updated, summary) = run(
        &client,
        Procedure::UpdateRecords,
        &["type=Account"],
        InputFormat::Csv,
        update,
    )
    .await;
    assert_eq!(lines_of(&updated), vec![2, 4]);
    assert!(updated[0].success);
    assert_eq!(updated[0].id.as_deref(), Some(a.as_str()));
    assert!(!updated[1].success);
    assert_eq!(updated[1].id.as_deref(), Some(missing));
    assert_eq!(summary.outcome(), Outcome::SomeFailed);
    let row = query(
        &client,
        &format!("select Name, Notes from Account where Id = '{a}'"),
    )
    .await;
    assert_eq!(row[0]["Name"], "Renamed");
    assert_eq!(row[0]["Notes"], "line one\nline two");

    let delete = lines(&[json!({"Id": b}), json!({"Id": missing})]);
    let (deleted, _) = run(
        &client,
        Procedure::DeleteRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        delete,
    )
    .await;
    assert!(deleted[0].success);
    assert_eq!(deleted[0].id.as_deref(), Some(b.as_str()));
    assert!(!deleted[1].success);
    assert_eq!(deleted[1].errors[0].code.as_deref(), Some("INVALID_ID"));
    assert!(
        query(&client, &format!("select Id from Account where Id = '{b}'"))
            .await
            .is_empty()
    );
}

/// A call refused as a whole (HTTP 400) fails each of its records, and only those: the batch
/// before it succeeded, and results stay in input order.
#[tokio::test]
async fn a_batch_refused_as_a_whole_fails_exactly_its_records() {
    let sim = sim().await;
    let client = client(&sim);
    sim.set_faults(FaultProfile {
        name: "second create refused".into(),
        rules: vec![FaultRule {
            endpoint: "actions.create".into(),
            fault: FaultKind::Status {
                statuses: vec![400],
            },
            trigger: Trigger::Calls { calls: vec![2] },
        }],
    });
    let records: Vec<Value> = (1..=53).map(|i| json!({"Name": format!("R{i}")})).collect();
    let (results, summary) = run(
        &client,
        Procedure::CreateRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        lines(&records),
    )
    .await;
    assert_eq!(lines_of(&results), (1..=53).collect::<Vec<u64>>());
    assert!(results[..50].iter().all(|r| r.success));
    for failed in &results[50..] {
        assert!(!failed.success);
        assert_eq!(failed.errors[0].code.as_deref(), Some("HTTP_400"));
    }
    assert_eq!((summary.calls, summary.failed_calls), (2, 1));
    assert_eq!(summary.outcome(), Outcome::SomeFailed);
}

/// Every call failing at Zuora is told apart from some records failing.
#[tokio::test]
async fn a_run_whose_every_call_failed_says_so() {
    let sim = sim().await;
    let client = client(&sim);
    sim.set_faults(FaultProfile {
        name: "every update refused".into(),
        rules: vec![FaultRule {
            endpoint: "actions.update".into(),
            fault: FaultKind::Status {
                statuses: vec![403],
            },
            trigger: Trigger::Always,
        }],
    });
    let (results, summary) = run(
        &client,
        Procedure::UpdateRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        lines(&[json!({"Id": "2c92c0f8000000000000000000000000", "Notes": "x"})]),
    )
    .await;
    assert_eq!(results[0].errors[0].code.as_deref(), Some("HTTP_403"));
    assert_eq!(summary.outcome(), Outcome::AllCallsFailed);
}

/// After an error every later call would repeat (credentials refused), the run stops sending
/// and reports the remaining records as not sent, still one result per record.
#[tokio::test]
async fn refused_credentials_stop_the_run_and_the_rest_is_reported_not_sent() {
    let sim = sim().await;
    let client = client(&sim);
    sim.set_faults(FaultProfile {
        name: "401 on create".into(),
        rules: vec![FaultRule {
            endpoint: "actions.create".into(),
            fault: FaultKind::Status {
                statuses: vec![401],
            },
            trigger: Trigger::Always,
        }],
    });
    let records: Vec<Value> = (1..=120)
        .map(|i| json!({"Name": format!("R{i}")}))
        .collect();
    let text = lines(&records);
    let read =
        || execute::input::records(InputFormat::JsonLines, std::io::Cursor::new(text.clone()));
    let mut results = Vec::new();
    let report = execute::run(
        &client,
        Procedure::CreateRecords,
        &params(Procedure::CreateRecords, &["type=Account"]),
        read(),
        |r| {
            results.push(r.clone());
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(lines_of(&results), (1..=120).collect::<Vec<u64>>());
    assert_eq!(report.summary.calls, 1);
    assert!(report.summary.stopped.is_some());
    assert!(matches!(
        report.last_call_error,
        Some(zbridge_zuora::ZuoraError::Unauthorized { .. })
    ));
    assert!(results[..50].iter().all(|r| r.errors[0].code.is_none()));
    assert!(
        results[50..]
            .iter()
            .all(|r| r.errors[0].code.as_deref() == Some("NOT_SENT"))
    );
    assert_eq!(report.summary.outcome(), Outcome::AllCallsFailed);
    assert_eq!(
        sim.counters()["actions.create"],
        4,
        "one call, replayed with a new token three times at most"
    );
}

/// A stub Actions endpoint that answers 429 to the first attempt of each batch and records the
/// Idempotency-Key of every attempt.
#[derive(Default)]
struct KeyRecorder {
    keys: std::sync::Mutex<Vec<String>>,
}

async fn stub_token() -> axum::Json<Value> {
    axum::Json(
        json!({"access_token": "stub-token", "token_type": "bearer", "expires_in": 3599, "scope": "tenant.1"}),
    )
}

async fn stub_create(
    axum::extract::State(recorder): axum::extract::State<std::sync::Arc<KeyRecorder>>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut keys = recorder.keys.lock().unwrap();
    let first_attempt = !keys.contains(&key);
    keys.push(key);
    if first_attempt {
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            axum::Json(json!({"message": "Too many requests"})),
        )
            .into_response();
    }
    let results: Vec<Value> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, _)| json!({"Id": format!("id-{}-{i}", keys.len()), "Success": true}))
        .collect();
    axum::Json(Value::Array(results)).into_response()
}

/// Each batch is one logical call: its retries resend the same Idempotency-Key (so Zuora can
/// refuse a second create), and the next batch has its own key.
#[tokio::test]
async fn each_batch_keeps_one_idempotency_key_across_retries() {
    let recorder = std::sync::Arc::new(KeyRecorder::default());
    let app = axum::Router::new()
        .route("/oauth/token", axum::routing::post(stub_token))
        .route("/v1/action/create", axum::routing::post(stub_create))
        .with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Stub").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(SecretString::from("s3cret".to_string()));
    def.set_advanced("URL", SecretString::from(url)).unwrap();
    let resolved = def.resolve(&VariableScope::default()).unwrap();
    let client = ZuoraClient::with_policy(
        resolved,
        TokenCache::Memory,
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(5),
        },
    )
    .unwrap();

    let records: Vec<Value> = (0..60).map(|i| json!({"Name": format!("N{i}")})).collect();
    let (results, summary) = run(
        &client,
        Procedure::CreateRecords,
        &["type=Account"],
        InputFormat::JsonLines,
        lines(&records),
    )
    .await;
    assert!(results.iter().all(|r| r.success));
    assert_eq!(summary.calls, 2);
    let keys = recorder.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 4, "two batches, each retried once: {keys:?}");
    assert!(!keys[0].is_empty());
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[2], keys[3]);
    assert_ne!(keys[0], keys[2]);
}

/// Invalid input is refused with every bad line, before anything is sent.
#[tokio::test]
async fn invalid_input_sends_nothing() {
    let sim = sim().await;
    let before = sim.counters();
    let text = "{\"Id\":\"a\"}\n{\"Id\":\"b\",\"Name\":\"extra\"}\n[1,2]\n{\"Name\":\"x\"}\n";
    let records = execute::input::records(InputFormat::JsonLines, std::io::Cursor::new(text));
    match execute::check(Procedure::DeleteRecords, records) {
        Err(ExecuteError::InvalidInput { errors, total }) => {
            assert_eq!(total, 3);
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![2, 3, 4]);
            assert!(errors[0].message.contains("does not take: Name"));
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
    assert_eq!(sim.counters(), before);
}

/// GenerateInvoices bills accounts with active subscriptions; SplitInvoice sends InvoiceSplit
/// ids; an unknown account and a malformed split id fail on their lines.
#[tokio::test]
async fn generate_invoices_and_split_invoice() {
    let sim = sim().await;
    let client = client(&sim);
    let active = query(
        &client,
        "select AccountId from Subscription where Status = 'Active'",
    )
    .await;
    let account = active[0]["AccountId"].as_str().unwrap();
    let text = lines(&[
        json!({"AccountId": account, "InvoiceDate": "2026-11-02", "TargetDate": "2026-11-30"}),
        json!({"AccountId": "2c92c0f8000000000000000000000000", "InvoiceDate": "2026-11-02", "TargetDate": "2026-11-30"}),
    ]);
    let (results, _) = run(
        &client,
        Procedure::GenerateInvoices,
        &[],
        InputFormat::JsonLines,
        text,
    )
    .await;
    assert!(results[0].success, "{results:?}");
    let invoice = results[0].id.clone().unwrap();
    let row = query(
        &client,
        &format!("select AccountId, Status from Invoice where Id = '{invoice}'"),
    )
    .await;
    assert_eq!(row[0]["AccountId"], account);
    assert!(!results[1].success);

    let split = "Id\n8a8082c45f9b1a2d015f9b2b6c1a0001\nnot-an-id\n".to_string();
    let (results, summary) = run(
        &client,
        Procedure::SplitInvoice,
        &["synchronous=true"],
        InputFormat::Csv,
        split,
    )
    .await;
    assert_eq!(lines_of(&results), vec![2, 3]);
    assert!(results[0].success);
    assert!(!results[1].success);
    assert_eq!(summary.calls, 1);
}

/// Subscribe creates an account and its subscription per record; amend makes a new version of
/// one subscription per record.
#[tokio::test]
async fn subscribe_and_amend() {
    let sim = sim().await;
    let client = client(&sim);
    let plans = query(&client, "select Id from ProductRatePlan").await;
    let plan = plans[0]["Id"].as_str().unwrap();
    let good = json!({
        "Account": {"Name": "Subscribed Co", "Currency": "USD", "BillCycleDay": 1},
        "BillToContact": {"FirstName": "Ada", "LastName": "Lovelace", "Country": "United States"},
        "SubscriptionData": {"Subscription": {"TermType": "EVERGREEN"},
                             "RatePlanData": [{"RatePlan": {"ProductRatePlanId": plan}}]},
    });
    let bad = json!({
        "Account": {"Name": "Broken Co"},
        "SubscriptionData": {"RatePlanData": [{"RatePlan": {"ProductRatePlanId": "2c92c0f8000000000000000000000000"}}]},
    });
    let (results, summary) = run(
        &client,
        Procedure::Subscribe,
        &[],
        InputFormat::JsonLines,
        lines(&[good, bad]),
    )
    .await;
    assert_eq!(summary.calls, 1);
    assert!(results[0].success, "{results:?}");
    assert!(results[0].details["AccountNumber"].is_string());
    assert!(!results[1].success);
    let subscription = results[0].id.clone().unwrap();

    let amend = format!(
        "SubscriptionId,Name,Type,ContractEffectiveDate\n\
         {subscription},Renew it,Renewal,2026-11-02\n\
         2c92c0f8000000000000000000000000,Ghost,Renewal,2026-11-02\n"
    );
    let (results, summary) = run(&client, Procedure::Amend, &[], InputFormat::Csv, amend).await;
    assert_eq!(summary.calls, 2, "one request per call");
    assert_eq!(lines_of(&results), vec![2, 3]);
    assert!(results[0].success, "{results:?}");
    assert_ne!(
        results[0].id.as_deref(),
        Some(subscription.as_str()),
        "a new version"
    );
    assert_eq!(
        results[0].details["AmendmentIds"].as_array().unwrap().len(),
        1
    );
    assert!(!results[1].success);
}

/// GetOAuthAccessToken reads the token; RefreshOAuthAccessToken mints a new one.
#[tokio::test]
async fn token_procedures_read_and_renew_the_token() {
    let sim = sim().await;
    let client = client(&sim);
    let first = execute::access_token(&client).await.unwrap();
    assert!(first.renewable && !first.renewed);
    assert!(first.token.expires_at.is_some());
    let again = execute::access_token(&client).await.unwrap();
    assert_eq!(
        again.token.access_token.expose_secret(),
        first.token.access_token.expose_secret()
    );
    let renewed = execute::refresh_access_token(&client).await.unwrap();
    assert!(renewed.renewed);
    assert_ne!(
        renewed.token.access_token.expose_secret(),
        first.token.access_token.expose_secret()
    );
    assert_eq!(sim.counters()["oauth.token"], 2);
    // The new token works.
    client.get_json("/query/jobs?pageSize=1").await.unwrap();
}

/// CreateSchema turns describe into a JSON Schema.
#[tokio::test]
async fn create_schema_describes_a_table() {
    let sim = sim().await;
    let client = client(&sim);
    let (schema, unknown) = execute::create_schema(&client, "Account").await.unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(schema["title"], "Account");
    assert_eq!(
        schema["properties"]["Name"]["type"],
        json!(["string", "null"])
    );
    assert!(schema["properties"]["Region__c"].is_object());
    assert!(matches!(
        execute::create_schema(&client, "NoSuchObject").await,
        Err(ExecuteError::Zuora(_))
    ));
}

/// The in-memory helper the demo and the API use.
#[tokio::test]
async fn run_json_lines_checks_then_sends() {
    let sim = sim().await;
    let client = client(&sim);
    let p = params(Procedure::CreateRecords, &["type=Account"]);
    let (results, summary) = execute::run_json_lines(
        &client,
        Procedure::CreateRecords,
        &p,
        "{\"Name\":\"Demo\"}\n",
    )
    .await
    .unwrap();
    assert!(results[0].success);
    assert_eq!(summary.succeeded, 1);
    let refused =
        execute::run_json_lines(&client, Procedure::CreateRecords, &p, "{\"Id\":\"x\"}\n").await;
    assert!(matches!(
        refused,
        Err(ExecuteError::InvalidInput { total: 1, .. })
    ));
}
