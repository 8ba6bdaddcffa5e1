//! The Query activity against the Zuora simulator, through both services.

use std::sync::Arc;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::value::Value;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};
use zbridge_zuora::query::{self, Progress, QuerySpec};
use zbridge_zuora::{TokenCache, ZuoraClient, discovery};

mod support;
use support::{Collect, client};

async fn export(client: &ZuoraClient, spec: &QuerySpec) -> Collect {
    let schema = discovery::describe(client, &spec.table).await.unwrap();
    let plan = query::plan(spec, &schema, client.connection().service).unwrap();
    let mut sink = Collect::default();
    query::run(
        client,
        &plan,
        &mut sink,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    sink
}

fn ids(collect: &Collect) -> Vec<String> {
    let id = collect
        .columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case("id"))
        .expect("an Id column");
    let mut ids: Vec<String> = collect.rows.iter().map(|r| r[id].to_string()).collect();
    ids.sort();
    ids
}

async fn sim() -> RunningZuoraSim {
    ZuoraSim::builder()
        .seed(11)
        .accounts(60)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_whole_table_through_each_service() {
    let sim = sim().await;
    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let dq = client(&sim, ZuoraService::DataQuery);
    let by_aqua = export(
        &aqua,
        &QuerySpec {
            table: "Account".into(),
            ..Default::default()
        },
    )
    .await;
    let by_dq = export(
        &dq,
        &QuerySpec {
            table: "account".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(by_aqua.rows.len() >= 60, "{}", by_aqua.rows.len());
    assert_eq!(
        ids(&by_aqua),
        ids(&by_dq),
        "both services return the same accounts"
    );
    assert!(
        by_aqua.columns.contains(&"AccountNumber".to_string()),
        "{:?}",
        by_aqua.columns
    );
    assert!(
        !by_aqua.columns.iter().any(|c| c.contains(':')),
        "API names, never labels"
    );
}

#[tokio::test]
async fn filters_and_columns_agree_across_services() {
    let sim = sim().await;
    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let dq = client(&sim, ZuoraService::DataQuery);
    for filter in [
        "Status = 'Active'",
        "Balance > 100 AND Status IN ('Active', 'Cancelled')",
        "Name LIKE '%a%'",
        "NOT (Status = 'Active') OR AutoPay = true",
        "CrmId IS NULL",
    ] {
        let spec = |table: &str| QuerySpec {
            table: table.into(),
            columns: Some(vec!["Id".into(), "Status".into(), "Balance".into()]),
            filter: Some(filter.into()),
            ..Default::default()
        };
        let a = export(&aqua, &spec("Account")).await;
        let d = export(&dq, &spec("account")).await;
        assert_eq!(ids(&a), ids(&d), "filter {filter}");
        assert_eq!(a.columns.len(), 3);
    }
}

#[tokio::test]
async fn a_window_is_half_open_and_windows_tile() {
    let sim = sim().await;
    let dq = client(&sim, ZuoraService::DataQuery);
    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let all = export(
        &dq,
        &QuerySpec {
            table: "account".into(),
            ..Default::default()
        },
    )
    .await;
    let now = sim.now();
    let middle = now - chrono::Duration::days(200);
    let far = now - chrono::Duration::days(5000);
    let later = now + chrono::Duration::days(1);
    for client in [&dq, &aqua] {
        let table = if client.connection().service == ZuoraService::DataQuery {
            "account"
        } else {
            "Account"
        };
        let window = |since, until| QuerySpec {
            table: table.into(),
            since: Some(since),
            until: Some(until),
            ..Default::default()
        };
        let first = export(client, &window(far, middle)).await;
        let second = export(client, &window(middle, later)).await;
        let mut tiled = ids(&first);
        tiled.extend(ids(&second));
        tiled.sort();
        assert_eq!(
            tiled,
            ids(&all),
            "{:?}: every row exactly once",
            client.connection().service
        );
    }
}

#[tokio::test]
async fn deleted_rows_come_with_a_flag_through_data_query() {
    let sim = sim().await;
    let dq = client(&sim, ZuoraService::DataQuery);
    let with = export(
        &dq,
        &QuerySpec {
            table: "account".into(),
            include_deleted: true,
            ..Default::default()
        },
    )
    .await;
    let without = export(
        &dq,
        &QuerySpec {
            table: "account".into(),
            ..Default::default()
        },
    )
    .await;
    let flag = with.columns.iter().position(|c| c == "deleted").unwrap();
    let deleted = with
        .rows
        .iter()
        .filter(|r| r[flag] == Value::Bool(true))
        .count();
    assert_eq!(with.rows.len() - deleted, without.rows.len());

    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let schema = discovery::describe(&aqua, "Account").await.unwrap();
    let err = query::plan(
        &QuerySpec {
            table: "Account".into(),
            include_deleted: true,
            ..Default::default()
        },
        &schema,
        ZuoraService::AQuADataExport,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("stateful"), "{err}");
}

#[tokio::test]
async fn limit_and_local_filters() {
    let sim = sim().await;
    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let limited = export(
        &aqua,
        &QuerySpec {
            table: "Account".into(),
            limit: Some(7),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(limited.rows.len(), 7);
    // A LIKE with % in the middle cannot be pushed to Export ZOQL: it is evaluated locally.
    let spec = QuerySpec {
        table: "Account".into(),
        filter: Some("Name LIKE 'A%s'".into()),
        ..Default::default()
    };
    let schema = discovery::describe(&aqua, "Account").await.unwrap();
    let plan = query::plan(&spec, &schema, ZuoraService::AQuADataExport).unwrap();
    assert!(plan.local.is_some(), "{plan:?}");
    let local = export(&aqua, &spec).await;
    let dq = client(&sim, ZuoraService::DataQuery);
    let pushed = export(
        &dq,
        &QuerySpec {
            table: "account".into(),
            filter: Some("Name LIKE 'A%s'".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&local), ids(&pushed));
}

#[tokio::test]
async fn raw_sql_and_zoql_run_as_written() {
    let sim = sim().await;
    for (service, text) in [
        (
            ZuoraService::DataQuery,
            "SELECT id, name FROM account WHERE status = 'Active'",
        ),
        (
            ZuoraService::AQuADataExport,
            "select Id, Name from Account where Status = 'Active'",
        ),
    ] {
        let client = client(&sim, service);
        let plan = query::plan_raw(text, service);
        let mut sink = Collect::default();
        query::run(
            &client,
            &plan,
            &mut sink,
            Arc::new(Progress::default()),
            CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(sink.columns.len(), 2, "{service:?}: {:?}", sink.columns);
        assert!(!sink.rows.is_empty());
        assert!(sink.rows.iter().all(|r| matches!(r[0], Value::Text(_))));
    }
}

/// Jobs of one tenant never exceed MaxConcurrentJobs, whatever the number of queries at once:
/// a tenant that refuses a third job (two running, no queue) serves six concurrent exports.
#[tokio::test]
async fn jobs_per_tenant_are_bounded() {
    let sim = ZuoraSim::builder()
        .seed(3)
        .accounts(20)
        .job_delay(std::time::Duration::from_millis(200))
        .dq_running_limit(2)
        .dq_queue_limit(0)
        .start()
        .await
        .unwrap();
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Bounded").unwrap());
    def.service = ZuoraService::DataQuery.as_str().into();
    def.client_id = sim.client_id().into();
    def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
        .unwrap();
    def.set_advanced("MaxConcurrentJobs", SecretString::from("2".to_string()))
        .unwrap();
    let client = ZuoraClient::new(
        def.resolve(&VariableScope::default()).unwrap(),
        TokenCache::Memory,
    )
    .unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                export(
                    &client,
                    &QuerySpec {
                        table: "account".into(),
                        limit: Some(1),
                        ..Default::default()
                    },
                )
                .await
                .rows
                .len()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 1);
    }
}
