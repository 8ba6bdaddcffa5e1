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
