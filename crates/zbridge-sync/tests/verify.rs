//! `sync verify` (issue 19): after a full run the org matches Zuora object by object; drift
//! made on either side is counted as missing, extra or stale, and a repair run removes it.

mod common;

use std::time::Duration;

use common::{Setup, differences, env, expected};
use zbridge_sim::zuora::Mutation::{Delete, Update};
use zbridge_sync::RunRequest;
use zbridge_sync::engine::{VerifyReport, VerifyRequest};

async fn verify(env: &common::Env) -> VerifyReport {
    env.engine
        .verify(&VerifyRequest {
            profile: common::PROFILE.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

fn object<'a>(report: &'a VerifyReport, name: &str) -> &'a zbridge_sync::engine::ObjectDrift {
    report.objects.iter().find(|o| o.object == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_drift_on_either_side_and_a_repair_removes_it() {
    let env = env(Setup::default()).await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    let clean = verify(&env).await;
    assert!(!clean.drifted(), "{:#?}", clean.objects);
    let accounts = object(&clean, "Account");
    assert!(accounts.in_scope > 10 && accounts.in_scope == accounts.in_org);
    // Read through Bulk API 2.0 query jobs (as large objects are), the org compares the same.
    let through_bulk = env
        .engine
        .verify(&VerifyRequest {
            profile: common::PROFILE.into(),
            bulk_query_from: Some(0),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!through_bulk.drifted(), "{:#?}", through_bulk.objects);
    assert_eq!(through_bulk.objects, clean.objects);

    // Zuora changes that no run has carried yet: stale accounts, an extra payment.
    let changed = env.zuora.mutate(0, "Account", 2, Update).unwrap();
    let deleted = env.zuora.mutate(0, "Payment", 1, Delete).unwrap();
    // Someone deletes an invoice in the org.
    let invoices = env.org("Zuora__ZInvoice__c", "Zuora__External_Id__c");
    let gone = invoices.keys().next().unwrap().clone();
    let sf = env
        .service
        .client(common::PROFILE, common::sf_options())
        .await
        .unwrap();
    sf.delete_collection(
        "Zuora__ZInvoice__c",
        "Zuora__External_Id__c",
        std::slice::from_ref(&gone),
    )
    .await
    .unwrap();

    let csv = tempfile::tempdir().unwrap();
    let drift = env
        .engine
        .verify(&VerifyRequest {
            profile: common::PROFILE.into(),
            csv_dir: Some(csv.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(drift.drifted());
    let a = object(&drift, "Account");
    assert_eq!(
        (a.stale, a.missing, a.extra),
        (changed.len() as u64, 0, 0),
        "{a:#?}"
    );
    assert!(
        a.stale_fields.iter().any(|f| f.field == "Zuora__Notes__c"),
        "the field that differs is named: {a:#?}"
    );
    let p = object(&drift, "Payment");
    assert_eq!(p.extra, deleted.len() as u64, "{p:#?}");
    let i = object(&drift, "Invoice");
    assert_eq!((i.missing, i.extra, i.stale), (1, 0, 0), "{i:#?}");
    let listed = std::fs::read_to_string(csv.path().join("Invoice.csv")).unwrap();
    assert!(listed.contains(&format!("{gone},missing")), "{listed}");
    let listed = std::fs::read_to_string(csv.path().join("Account.csv")).unwrap();
    assert!(
        listed.contains(&format!("{},stale", changed[0])),
        "{listed}"
    );

    // The repair is a run of its own; afterwards nothing differs.
    let profile = env.store.load_sync_profile(common::PROFILE).await.unwrap();
    let watermark_before = env
        .store
        .sync_watermark(&profile.id, "Account")
        .await
        .unwrap();
    let repair = env
        .engine
        .run(&RunRequest {
            profile: common::PROFILE.into(),
            repair: Some(drift.repair()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(repair.run.trigger, "repair");
    assert_eq!(repair.run.status, "Finished", "{repair:#?}");
    let after = verify(&env).await;
    assert!(!after.drifted(), "{:#?}", after.objects);
    let diffs = differences(&env, &expected(&env.client).await);
    assert!(diffs.is_empty(), "{diffs:#?}");
    assert_eq!(
        env.store
            .sync_watermark(&profile.id, "Account")
            .await
            .unwrap(),
        watermark_before,
        "a repair moves no watermark"
    );

    // The next run has nothing left to do twice, and the org still matches.
    env.zuora.advance_clock(Duration::from_secs(600));
    assert_eq!(env.run(false).await.run.status, "Finished");
    assert!(!verify(&env).await.drifted());
}
