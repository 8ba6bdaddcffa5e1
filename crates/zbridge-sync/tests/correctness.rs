//! The sync never reports success while records are missing or stale (issue 17): windows end
//! on Zuora's clock whatever this machine's says, and a record that enters the scope is owed
//! its whole subtree, durably, until the subtree is written.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Setup, differences, env, expected};
use zbridge_sim::zuora::Mutation::Update;

async fn assert_converged(env: &common::Env, context: &str) {
    let diffs = differences(env, &expected(&env.client).await);
    assert!(
        diffs.is_empty(),
        "{context}: {} differences: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
}

/// Rows read by the account-scope objects of a run (catalog objects are read whole).
fn account_rows_read(report: &zbridge_sync::RunReport) -> i64 {
    const CATALOG: [&str; 5] = [
        "Product",
        "ZProduct",
        "ProductRatePlan",
        "ProductRatePlanCharge",
        "ProductRatePlanChargeTier",
    ];
    report
        .objects
        .iter()
        .filter(|o| !CATALOG.contains(&o.object.as_str()))
        .map(|o| o.read)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_end_on_zuoras_clock_whatever_this_machines_clock_says() {
    // +1 h: this machine is an hour ahead of Zuora (its windows used to pass over changes
    // Zuora had not stamped yet); −1 h: an hour behind.
    for skew_hours in [1i64, -1] {
        let env = env(Setup {
            zuora_clock: Some(Utc::now() - chrono::Duration::hours(skew_hours)),
            ..Setup::default()
        })
        .await;
        let first = env.run(false).await;
        assert_eq!(first.run.status, "Finished", "{first:#?}");
        assert!(first.run.full, "a profile's first run is full");
        let way = if skew_hours > 0 { "ahead of" } else { "behind" };
        assert!(
            first.run.warnings.iter().any(|w| w.contains(way)),
            "the skew is noted in the run's history: {:?}",
            first.run.warnings
        );

        let changed = env.zuora.mutate(0, "Account", 6, Update).unwrap();
        env.zuora.mutate(0, "Subscription", 4, Update).unwrap();
        env.zuora.advance_clock(Duration::from_secs(600));
        let second = env.run(false).await;
        assert_eq!(second.run.status, "Finished", "{second:#?}");
        assert!(!second.run.full);
        let accounts = second
            .objects
            .iter()
            .find(|o| o.object == "Account")
            .unwrap();
        assert!(
            accounts.read >= changed.len() as i64,
            "skew {skew_hours} h: {} of {} changed accounts read",
            accounts.read,
            changed.len()
        );
        assert_converged(&env, &format!("skew {skew_hours} h")).await;

        // Nothing changed since: nothing is read twice.
        let third = env.run(false).await;
        assert_eq!(third.run.status, "Finished", "{third:#?}");
        assert_eq!(account_rows_read(&third), 0, "{:#?}", third.objects);
    }
}

/// An account without a CrmId that has subscriptions, invoices and payments.
async fn account_with_children_but_no_crm_id(env: &common::Env) -> String {
    let accounts = common::table(&env.client, "Account", &["Id", "CrmId", "Status"]).await;
    let subscriptions = common::table(&env.client, "Subscription", &["AccountId", "Status"]).await;
    let invoices = common::table(&env.client, "Invoice", &["AccountId", "Status"]).await;
    accounts
        .iter()
        .filter(|a| a["crmid"].is_empty() && a["status"] == "Active")
        .map(|a| a["id"].clone())
        .find(|id| {
            subscriptions
                .iter()
                .any(|s| &s["accountid"] == id && s["status"] == "Active")
                && invoices
                    .iter()
                    .any(|i| &i["accountid"] == id && i["status"] == "Posted")
        })
        .expect("the tenant has an active account without a CrmId, with children")
}

/// A synced tenant in which an account with children then gains a CrmId; returns its id.
async fn synced_then_an_account_gains_a_crm_id() -> (common::Env, String) {
    let env = env(Setup {
        accounts: 40,
        ..Setup::default()
    })
    .await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    let account = account_with_children_but_no_crm_id(&env).await;
    let crm = zbridge_sim::salesforce::seeded_account_ids(common::SEED, 40)
        .pop()
        .unwrap();
    env.zuora
        .set_field(0, "Account", &account, "CrmId", Some(&crm))
        .unwrap();
    env.zuora.advance_clock(Duration::from_secs(600));
    (env, account)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_gains_a_crm_id_brings_its_subtree_even_across_runs() {
    let (env, account) = synced_then_an_account_gains_a_crm_id().await;

    // The run that writes the account stops after it (as a run killed or failed there
    // would): its children's windows have long passed them by.
    let only_account = env.run_objects(false, &["Account"]).await;
    assert_eq!(only_account.run.status, "Finished", "{only_account:#?}");
    assert!(
        env.org("Zuora__CustomerAccount__c", "Zuora__External_Id__c")
            .contains_key(&account)
    );
    // A run of one level more stops before the grandchildren.
    env.zuora.advance_clock(Duration::from_secs(60));
    let subscriptions = env.run_objects(false, &["Subscription"]).await;
    assert_eq!(subscriptions.run.status, "Finished", "{subscriptions:#?}");

    env.zuora.advance_clock(Duration::from_secs(60));
    let rest = env.run(false).await;
    assert_eq!(rest.run.status, "Finished", "{rest:#?}");
    assert_converged(&env, "after the account gained a CrmId").await;

    // Debts are settled: the next run reads nothing again.
    env.zuora.advance_clock(Duration::from_secs(60));
    let again = env.run(false).await;
    assert_eq!(account_rows_read(&again), 0, "{:#?}", again.objects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_leaves_the_new_accounts_subtree_owed() {
    let (env, account) = synced_then_an_account_gains_a_crm_id().await;
    // Stopped once the account's batch is at Salesforce (a worker's SIGTERM, a lost lease).
    let stop = tokio_util::sync::CancellationToken::new();
    let engine = &env.engine;
    let request = zbridge_sync::RunRequest {
        profile: common::PROFILE.into(),
        stop: stop.clone(),
        ..Default::default()
    };
    let mut run = std::pin::pin!(engine.run(&request));
    let report = loop {
        tokio::select! {
            report = &mut run => break report.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(2)) => {
                if env
                    .org("Zuora__CustomerAccount__c", "Zuora__External_Id__c")
                    .contains_key(&account)
                {
                    stop.cancel();
                }
            }
        }
    };
    assert!(
        report.run.status == "Failure" || report.run.status == "Finished",
        "{report:#?}"
    );
    env.zuora.advance_clock(Duration::from_secs(60));
    let next = env.run(false).await;
    assert_eq!(next.run.status, "Finished", "{next:#?}");
    assert_converged(&env, "after a stopped run").await;
}

/// Faults that the Query activity survives (a reset or cut download is fetched again, a 5xx or
/// a failed job retried, a revoked token renewed) are survived by the sync too: every run
/// finishes and the org converges, with the faults still on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_finish_through_transient_zuora_faults() {
    use zbridge_sim::zuora::Mutation::Cancel;
    let env = env(Setup {
        accounts: 20,
        ..Setup::default()
    })
    .await;
    // (A failed job whose message says nothing of a retry is a Failure, not a guess:
    // `job-failure` is covered by sync.rs's converge-or-fail-cleanly test.)
    for fault in [
        "connection-reset",
        "truncated-file",
        "server-errors",
        "gateway-timeout",
        "revoked-token",
        "slow-body",
    ] {
        env.zuora.set_faults(fault.parse().unwrap());
        env.zuora.mutate(0, "Account", 3, Update).unwrap();
        env.zuora.mutate(0, "Subscription", 2, Cancel).unwrap();
        env.zuora.mutate(0, "Invoice", 2, Update).unwrap();
        env.zuora.advance_clock(Duration::from_secs(600));
        let report = env.run(false).await;
        assert_eq!(report.run.status, "Finished", "{fault}: {report:#?}");
        assert_converged(&env, fault).await;
    }
}

/// Salesforce refuses Bulk jobs for the org (`FeatureNotEnabled`): the run loads through
/// sObject Collections instead, finishes, and says so in its history (issue 14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_bulk_api_loads_fall_back_to_collections_and_say_so() {
    use zbridge_sim::salesforce::OrgKind;
    let env = env(Setup {
        options: serde_json::json!({"lag_secs": 60, "bulk_threshold": 5,
            "skip_accounts_without_crm_id": true}),
        ..Setup::default()
    })
    .await;
    env.sf
        .set_faults(OrgKind::Production, "bulk-disabled".parse().unwrap());
    let report = env.run(false).await;
    assert_eq!(report.run.status, "Finished", "{report:#?}");
    assert_eq!(report.objects.iter().map(|o| o.bulk_jobs).sum::<i64>(), 0);
    assert!(
        report
            .run
            .warnings
            .iter()
            .any(|w| w.contains("sObject Collections")),
        "{:?}",
        report.run.warnings
    );
    assert_converged(&env, "through Collections").await;
    // Deletes fall back too.
    env.zuora
        .mutate(0, "Account", 8, zbridge_sim::zuora::Mutation::Cancel)
        .unwrap();
    env.zuora.advance_clock(Duration::from_secs(600));
    let next = env.run(false).await;
    assert_eq!(next.run.status, "Finished", "{next:#?}");
    assert_converged(&env, "deletes through Collections").await;
}
