//! The property behind the Query activity: for random tenants and random filters, the Data
//! Query path, the AQuA path and zbridge's local evaluation return the same rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use tokio_util::sync::CancellationToken;
use zbridge_core::ZuoraService;
use zbridge_core::filter::{self, Column, Record};
use zbridge_core::value::Value;
use zbridge_sim::zuora::ZuoraSim;
use zbridge_zuora::query::{self, Progress, QuerySpec};
use zbridge_zuora::{ZuoraClient, discovery};

mod support;
use support::{Collect, client};

const COLUMNS: [&str; 7] = [
    "Id",
    "Name",
    "Status",
    "Balance",
    "AutoPay",
    "BillCycleDay",
    "CrmId",
];

struct MapRecord(BTreeMap<String, Value>);

impl Record for MapRecord {
    fn value(&self, column: &Column) -> Option<&Value> {
        self.0.get(&column.name.to_lowercase())
    }
}

async fn ids(client: &ZuoraClient, filter: Option<&str>) -> Collect {
    let service = client.connection().service;
    let table = if service == ZuoraService::DataQuery {
        "account"
    } else {
        "Account"
    };
    let spec = QuerySpec {
        table: table.into(),
        columns: Some(COLUMNS.iter().map(|c| c.to_string()).collect()),
        filter: filter.map(str::to_string),
        ..Default::default()
    };
    let schema = discovery::describe(client, table).await.unwrap();
    let plan = query::plan(&spec, &schema, service).unwrap();
    let mut rows = Collect::default();
    query::run(
        client,
        &plan,
        &mut rows,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    rows
}

fn sorted_ids(rows: &Collect) -> Vec<String> {
    let mut ids: Vec<String> = rows.rows.iter().map(|r| r[0].to_string()).collect();
    ids.sort();
    ids
}

/// Random conditions over typed columns, combined with AND, OR and NOT.
fn condition() -> impl Strategy<Value = String> {
    let status = prop::sample::select(vec!["Active", "Cancelled", "Draft", "Suspended"]);
    let leaf = prop_oneof![
        (prop::sample::select(vec!["=", "!="]), status.clone())
            .prop_map(|(op, s)| format!("Status {op} '{s}'")),
        (
            prop::sample::select(vec!["<", "<=", ">", ">=", "=", "!="]),
            0i64..5000
        )
            .prop_map(|(op, n)| format!("Balance {op} {n}")),
        (prop::sample::select(vec!["<", ">=", "="]), 1i64..29)
            .prop_map(|(op, n)| format!("BillCycleDay {op} {n}")),
        any::<bool>().prop_map(|b| format!("AutoPay = {b}")),
        prop::sample::select(vec!["CrmId IS NULL", "CrmId IS NOT NULL"]).prop_map(str::to_string),
        prop::sample::select(vec!["A%", "%s", "%a%", "B_%"])
            .prop_map(|p| format!("Name LIKE '{p}'")),
        (status.clone(), status).prop_map(|(a, b)| format!("Status IN ('{a}', '{b}')")),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn data_query_aqua_and_local_evaluation_agree(seed in 1u64..10_000, filter in condition()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let sim = ZuoraSim::builder().seed(seed).accounts(25).start().await.unwrap();
            let dq = client(&sim, ZuoraService::DataQuery);
            let aqua = client(&sim, ZuoraService::AQuADataExport);
            let by_dq = sorted_ids(&ids(&dq, Some(&filter)).await);
            let by_aqua = sorted_ids(&ids(&aqua, Some(&filter)).await);
            let everything = ids(&dq, None).await;
            let expr = filter::parse(&filter).unwrap();
            let mut local: Vec<String> = everything
                .rows
                .iter()
                .filter(|row| {
                    let record = MapRecord(
                        everything.columns.iter().map(|c| c.to_lowercase()).zip(row.iter().cloned()).collect(),
                    );
                    filter::eval(&expr, &record).unwrap()
                })
                .map(|row| row[0].to_string())
                .collect();
            local.sort();
            prop_assert_eq!(&by_dq, &local, "Data Query vs local for {}", filter);
            prop_assert_eq!(&by_aqua, &local, "AQuA vs local for {}", filter);
            Ok(())
        })?;
    }
}
