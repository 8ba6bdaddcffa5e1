//! The 360 sync through both simulators: full and incremental runs, deletes, failures.

mod common;

use common::{Setup, differences, env, expected};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_makes_the_org_match_the_mapping() {
    let env = env(Setup::default()).await;
    let report = env.run(false).await;
    assert_eq!(report.run.status, "Finished", "{:?}", report);
    let want = expected(&env.client).await;
    let diffs = differences(&env, &want);
    assert!(
        diffs.is_empty(),
        "{} differences: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
    let accounts = env.org("Zuora__CustomerAccount__c", "Zuora__External_Id__c");
    assert!(accounts.len() > 10, "{}", accounts.len());
    assert!(
        !env.org(
            "Zuora__SubscriptionProductCharge__c",
            "Zuora__External_Id__c"
        )
        .is_empty()
    );
    assert!(
        !env.org("zqu__ProductRatePlan__c", "zqu__ZuoraId__c")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_converge_after_random_changes_cancellations_and_deletes() {
    use zbridge_sim::zuora::Mutation::{Cancel, Delete, Update};
    let env = env(Setup::default()).await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    let rounds: [&[(&str, usize, zbridge_sim::zuora::Mutation)]; 2] = [
        &[
            ("Account", 4, Update),
            ("Account", 2, Cancel),
            ("Account", 1, Delete),
            ("Subscription", 4, Update),
            ("Subscription", 2, Cancel),
            ("Subscription", 1, Delete),
            ("RatePlanCharge", 3, Update),
            ("RatePlan", 1, Delete),
            ("Invoice", 3, Update),
            ("Invoice", 1, Cancel),
            ("Payment", 2, Update),
            ("Payment", 1, Delete),
            ("Refund", 1, Update),
            ("Product", 1, Delete),
        ],
        &[
            ("Account", 3, Update),
            ("Account", 1, Cancel),
            ("Subscription", 2, Cancel),
            ("Invoice", 2, Delete),
            ("RatePlanCharge", 2, Delete),
            ("InvoicePayment", 1, Delete),
        ],
    ];
    for round in rounds {
        for (object, count, action) in round {
            env.zuora.mutate(0, object, *count, *action).unwrap();
        }
        env.zuora.advance_clock(std::time::Duration::from_secs(600));
        let report = env.run(false).await;
        assert_eq!(report.run.status, "Finished", "{report:#?}");
        assert!(!report.run.full);
        let want = expected(&env.client).await;
        let diffs = differences(&env, &want);
        assert!(
            diffs.is_empty(),
            "{} differences: {:#?}",
            diffs.len(),
            &diffs[..diffs.len().min(20)]
        );
    }
    let products = env.org("zqu__ZProduct__c", "zqu__ZuoraId__c");
    assert!(
        products.values().any(|p| p["zqu__Deleted__c"] == true),
        "a product deleted in Zuora is flagged, not removed"
    );
}
