//! The client for the sync engine against the simulator: Collections and Bulk upserts with
//! partial failures, deletes, retries, limits, session renewal, refresh rotation under
//! concurrency, credential switches between batches, and preflight.

mod common;

use std::time::Duration;

use common::{PROFILE, env, env_with};
use zbridge_salesforce::collections::RecordOutcome;
use zbridge_salesforce::preflight::{default_objects, preflight};
use zbridge_salesforce::{ClientOptions, SalesforceClient, SalesforceError};
use zbridge_sim::salesforce::{FaultProfile, OrgKind, SalesforceSim};

const OBJECT: &str = "Zuora__CustomerAccount__c";
const KEY: &str = "Zuora__External_Id__c";

fn fast() -> ClientOptions {
    ClientOptions {
        retry_base: Duration::from_millis(5),
        bulk_poll_initial: Duration::from_millis(5),
        bulk_poll_max: Duration::from_millis(50),
        bulk_poll_timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    }
}

async fn client(env: &common::Env) -> SalesforceClient {
    env.service.client(PROFILE, fast()).await.unwrap()
}

fn record(key: &str, name: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(KEY.into(), key.into());
    m.insert("Name".into(), name.into());
    m
}

fn too_long() -> String {
    "x".repeat(300)
}

#[tokio::test]
async fn collections_upsert_maps_partial_failures_to_input_rows() {
    let env = env().await;
    env.save_password("admin").await;
    let c = client(&env).await;
    // 450 rows: three calls; rows 7 and 301 are too long for Name.
    let records: Vec<_> = (0..450)
        .map(|i| {
            let name = if i == 7 || i == 301 {
                too_long()
            } else {
                format!("Account {i}")
            };
            record(&format!("ext-{i}"), &name)
        })
        .collect();
    let results = c.upsert_collection(OBJECT, KEY, &records).await.unwrap();
    assert_eq!(results.len(), 450);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.external_id, format!("ext-{i}"));
        match &r.outcome {
            RecordOutcome::Failed { errors } => {
                assert!(i == 7 || i == 301, "row {i} failed: {errors:?}");
                assert_eq!(errors[0].status_code, "STRING_TOO_LONG");
            }
            RecordOutcome::Created { id } => assert!(i != 7 && i != 301 && !id.is_empty()),
            other => panic!("row {i}: {other:?}"),
        }
    }
    // Again: updates.
    let again = c
        .upsert_collection(OBJECT, KEY, &records[..3])
        .await
        .unwrap();
    assert!(matches!(again[0].outcome, RecordOutcome::Updated { .. }));
    assert_eq!(
        env.sim
            .counters(OrgKind::Production)
            .get("PATCH /services/data/{version}/composite/sobjects/{object}/{field}"),
        Some(&4)
    );
}

#[tokio::test]
async fn bulk_upsert_maps_partial_failures_to_input_rows_across_split_jobs() {
    let env = env().await;
    env.save_password("admin").await;
    let mut options = fast();
    options.bulk_max_upload_bytes = 2_000;
    let c = env.service.client(PROFILE, options).await.unwrap();
    let columns = vec![KEY.to_string(), "Name".to_string()];
    let rows: Vec<Vec<String>> = (0..120)
        .map(|i| {
            let name = if i % 25 == 3 {
                too_long()
            } else {
                format!("Bulk, \"account\" {i}")
            };
            vec![format!("bulk-{i}"), name]
        })
        .collect();
    let outcome = c.bulk_upsert(OBJECT, KEY, &columns, &rows).await.unwrap();
    assert!(outcome.jobs.len() > 1, "split into several jobs");
    assert!(outcome.jobs.iter().all(|j| j.state == "JobComplete"));
    assert_eq!(outcome.results.len(), 120);
    for (i, r) in outcome.results.iter().enumerate() {
        assert_eq!(
            (r.index, r.external_id.as_str()),
            (i, format!("bulk-{i}").as_str())
        );
        match &r.outcome {
            RecordOutcome::Failed { errors } => {
                assert_eq!(i % 25, 3, "row {i}: {errors:?}");
                assert_eq!(errors[0].status_code, "STRING_TOO_LONG");
            }
            RecordOutcome::Created { .. } => assert_ne!(i % 25, 3),
            other => panic!("row {i}: {other:?}"),
        }
    }
    let stored = env.sim.records(OrgKind::Production, OBJECT).unwrap();
    let row9 = stored.iter().find(|r| r[KEY] == "bulk-9").unwrap();
    assert_eq!(row9["Name"], "Bulk, \"account\" 9");
}

#[tokio::test]
async fn a_failed_bulk_job_reports_unprocessed_rows() {
    let env = env_with(SalesforceSim::builder().seed(3).faults(FaultProfile {
        job_fails: true,
        ..FaultProfile::default()
    }))
    .await;
    env.save_password("admin").await;
    let c = client(&env).await;
    let columns = vec![KEY.to_string(), "Name".to_string()];
    let rows: Vec<Vec<String>> = (0..40)
        .map(|i| vec![format!("f-{i}"), format!("n{i}")])
        .collect();
    let outcome = c.bulk_upsert(OBJECT, KEY, &columns, &rows).await.unwrap();
    assert_eq!(outcome.jobs[0].state, "Failed");
    assert!(outcome.jobs[0].error_message.is_some());
    let unprocessed = outcome
        .results
        .iter()
        .filter(|r| r.outcome == RecordOutcome::Unprocessed)
        .count();
    let done = outcome
        .results
        .iter()
        .filter(|r| r.outcome.is_success())
        .count();
    assert!(
        unprocessed > 0 && done > 0 && unprocessed + done == 40,
        "{unprocessed} + {done}"
    );
}

#[tokio::test]
async fn row_locks_are_retried_until_every_row_is_written() {
    let env = env_with(SalesforceSim::builder().seed(4).faults(FaultProfile {
        row_lock: true,
        ..FaultProfile::default()
    }))
    .await;
    env.save_password("admin").await;
    let c = client(&env).await;
    let records: Vec<_> = (0..60).map(|i| record(&format!("l-{i}"), "n")).collect();
    let results = c.upsert_collection(OBJECT, KEY, &records).await.unwrap();
    assert!(
        results.iter().all(|r| r.outcome.is_success()),
        "{results:?}"
    );
    let columns = vec![KEY.to_string(), "Name".to_string()];
    let rows: Vec<Vec<String>> = (0..60)
        .map(|i| vec![format!("bl-{i}"), "n".into()])
        .collect();
    let outcome = c.bulk_upsert(OBJECT, KEY, &columns, &rows).await.unwrap();
    assert!(outcome.results.iter().all(|r| r.outcome.is_success()));
    assert!(outcome.jobs.len() >= 2, "locked rows went into a retry job");
}

#[tokio::test]
async fn deletes_by_external_id_through_collections_and_bulk() {
    let env = env().await;
    env.save_password("admin").await;
    let c = client(&env).await;
    let records: Vec<_> = (0..6).map(|i| record(&format!("d-{i}"), "n")).collect();
    c.upsert_collection(OBJECT, KEY, &records).await.unwrap();
    let values: Vec<String> = ["d-0", "d-1", "missing", "d-2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let results = c.delete_collection(OBJECT, KEY, &values).await.unwrap();
    assert!(matches!(results[0].outcome, RecordOutcome::Deleted { .. }));
    assert_eq!(results[2].outcome, RecordOutcome::AlreadyAbsent);
    assert!(matches!(results[3].outcome, RecordOutcome::Deleted { .. }));
    let values: Vec<String> = ["d-3", "d-4", "d-0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let outcome = c.bulk_delete(OBJECT, KEY, &values).await.unwrap();
    assert!(matches!(
        outcome.results[0].outcome,
        RecordOutcome::Deleted { .. }
    ));
    assert!(matches!(
        outcome.results[1].outcome,
        RecordOutcome::Deleted { .. }
    ));
    assert_eq!(outcome.results[2].outcome, RecordOutcome::AlreadyAbsent);
    let left: Vec<String> = env
        .sim
        .records(OrgKind::Production, OBJECT)
        .unwrap()
        .iter()
        .filter_map(|r| r[KEY].as_str().map(str::to_string))
        .filter(|k| k.starts_with("d-"))
        .collect();
    assert_eq!(left, vec!["d-5".to_string()]);
}

#[tokio::test]
async fn request_limit_stops_cleanly_and_the_budget_stops_before_it() {
    let env = env_with(SalesforceSim::builder().seed(8).daily_api_allocation(20)).await;
    env.save_password("admin").await;
    let mut options = fast();
    options.budget_percent = 50;
    let c = env.service.client(PROFILE, options).await.unwrap();
    let mut calls = 0;
    let err = loop {
        match c.org_limits().await {
            Ok(_) => calls += 1,
            Err(e) => break e,
        }
        assert!(calls < 30);
    };
    assert!(
        matches!(
            err,
            SalesforceError::BudgetExhausted {
                max: 20,
                allowed: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("10 of 20"), "{err}");

    env.sim.set_faults(
        OrgKind::Production,
        FaultProfile {
            request_limit: true,
            ..FaultProfile::default()
        },
    );
    let c = env.service.client(PROFILE, fast()).await.unwrap();
    let err = c.org_limits().await.unwrap_err();
    assert!(
        matches!(err, SalesforceError::RequestLimit { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("TotalRequests Limit exceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_session_is_renewed_by_one_login_and_5xx_is_retried() {
    let env = env().await;
    env.save_password("admin").await;
    let c = client(&env).await;
    c.org_limits().await.unwrap();
    env.sim.expire_sessions(OrgKind::Production);
    let (a, b) = tokio::join!(c.org_limits(), c.org_limits());
    a.unwrap();
    b.unwrap();
    let logins = env.sim.counters(OrgKind::Production)["POST /services/Soap/u/{version}"];
    assert_eq!(
        logins, 2,
        "one login, then exactly one re-login for two concurrent expiries"
    );

    env.sim.set_faults(
        OrgKind::Production,
        FaultProfile {
            maintenance: true,
            ..FaultProfile::default()
        },
    );
    let started = std::time::Instant::now();
    let err = c.org_limits().await.unwrap_err();
    assert!(
        matches!(err, SalesforceError::Api { status: 503, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn refresh_rotation_is_single_flight_across_concurrent_requests_and_clients() {
    let env = env().await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    let profile = env.store.load_sync_profile(PROFILE).await.unwrap();
    let token = |env: &common::Env| {
        let store = env.store.clone();
        let id = profile.id.clone();
        async move {
            let r = store
                .load_sf_credential(&id, "oauth")
                .await
                .unwrap()
                .unwrap();
            secrecy::ExposeSecret::expose_secret(&r.secrets["refresh_token"]).to_string()
        }
    };
    let first = token(&env).await;
    // Two clients stand for two processes sharing the store; each sends two requests at once.
    let a = client(&env).await;
    let b = client(&env).await;
    let (r1, r2, r3, r4) = tokio::join!(
        a.org_limits(),
        a.org_limits(),
        b.org_limits(),
        b.org_limits()
    );
    for r in [r1, r2, r3, r4] {
        r.unwrap();
    }
    let second = token(&env).await;
    assert_ne!(first, second, "the rotated token was saved");
    env.sim.expire_sessions(OrgKind::Production);
    let (r1, r2) = tokio::join!(a.org_limits(), b.org_limits());
    r1.unwrap();
    r2.unwrap();
    // Had any refresh replayed an old token, Salesforce would have revoked the whole chain.
    let fresh = client(&env).await;
    fresh.org_limits().await.unwrap();
    assert_ne!(token(&env).await, second);
}

#[tokio::test]
async fn a_credential_change_takes_effect_at_the_next_batch() {
    let env = env().await;
    env.save_password("admin").await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    let c = client(&env).await;
    assert_eq!(
        c.identity().await.unwrap().username,
        env.user("admin").username
    );
    // A batch in flight keeps its session; the switch shows at the next batch.
    let in_flight = c.begin_batch().await.unwrap();
    env.service.switch(PROFILE, None).await.unwrap();
    let old_session = in_flight.session().await.unwrap();
    assert!(!secrecy::ExposeSecret::expose_secret(&old_session.access_token).is_empty());
    assert_eq!(
        c.identity().await.unwrap().username,
        env.user("sync").username
    );
    let records: Vec<_> = (0..3).map(|i| record(&format!("s-{i}"), "n")).collect();
    assert!(
        c.upsert_collection(OBJECT, KEY, &records)
            .await
            .unwrap()
            .iter()
            .all(|r| r.outcome.is_success())
    );
}

#[tokio::test]
async fn preflight_reports_missing_field_access_and_customize_application() {
    let env = env().await;
    env.save_password("admin").await;
    let admin = preflight(&client(&env).await, &default_objects())
        .await
        .unwrap();
    assert!(admin.is_ok(), "{:#?}", admin.findings);

    env.save_password("sync").await;
    let report = preflight(&client(&env).await, &default_objects())
        .await
        .unwrap();
    let has = |object: &str, field: &str, problem: &str| {
        report.findings.iter().any(|f| {
            f.object == object && f.field.as_deref() == Some(field) && f.problem.contains(problem)
        })
    };
    assert!(
        has(OBJECT, "Zuora__Notes__c", "not visible"),
        "{:#?}",
        report.findings
    );
    assert!(
        has(OBJECT, "Zuora__Balance__c", "read-only"),
        "{:#?}",
        report.findings
    );
    assert!(has(
        "Zuora__ZInvoice__c",
        "Zuora__Description__c",
        "not visible"
    ));
    assert!(!report.customize_application);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.problem.contains("Customize Application") && f.fix.starts_with("grant"))
    );
}
