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
    for (n, round) in rounds.into_iter().enumerate() {
        for (object, count, action) in round {
            env.zuora.mutate(0, object, *count, *action).unwrap();
        }
        if n == 1 {
            // A removed CrmId takes the account's subtree out of the org; a changed one
            // re-points every child's Account lookup.
            let mut synced: Vec<String> = env
                .org("Zuora__CustomerAccount__c", "Zuora__External_Id__c")
                .into_keys()
                .collect();
            synced.sort();
            env.zuora
                .set_field(0, "Account", &synced[0], "CrmId", None)
                .unwrap();
            let other = zbridge_sim::salesforce::seeded_account_ids(common::SEED, 30)
                .pop()
                .unwrap();
            env.zuora
                .set_field(0, "Account", &synced[1], "CrmId", Some(&other))
                .unwrap();
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

fn sf_faults(name: &str) -> zbridge_sim::salesforce::FaultProfile {
    name.parse().unwrap()
}

fn zuora_faults(name: &str) -> zbridge_sim::zuora::FaultProfile {
    name.parse().unwrap()
}

/// A run through a fault either converges or ends as Failure with a message; either way the
/// next run, with the faults gone, leaves the org exactly as the mapping says (so no watermark
/// moved past unwritten data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_through_faults_on_both_sides_converge_or_fail_cleanly() {
    use zbridge_sim::salesforce::OrgKind;
    use zbridge_sim::zuora::Mutation::{Cancel, Update};
    let env = env(Setup {
        accounts: 20,
        options: serde_json::json!({"lag_secs": 60, "bulk_threshold": 15, "skip_accounts_without_crm_id": true}),
        ..Default::default()
    })
    .await;
    let scenarios: [(&str, &str); 4] = [
        ("row-lock", "none"),
        ("maintenance", "none"),
        ("none", "server-errors"),
        ("bulk-disabled", "job-failure"),
    ];
    let mut statuses = Vec::new();
    for (sf, zuora) in scenarios {
        env.sf.set_faults(OrgKind::Production, sf_faults(sf));
        env.zuora.set_faults(zuora_faults(zuora));
        env.zuora.mutate(0, "Account", 3, Update).unwrap();
        env.zuora.mutate(0, "Subscription", 2, Cancel).unwrap();
        env.zuora.mutate(0, "RatePlanCharge", 3, Update).unwrap();
        env.zuora.advance_clock(std::time::Duration::from_secs(600));
        let report = env.run(false).await;
        if report.run.status == "Failure" {
            let message = report.run.message.clone().unwrap_or_default();
            assert!(!message.is_empty(), "a Failure says why");
            for o in &report.objects {
                if o.upserted + o.failed + o.skipped < o.read {
                    assert_eq!(
                        o.watermark_after, o.watermark_before,
                        "{}: an unfinished object keeps its watermark",
                        o.object
                    );
                }
            }
        }
        statuses.push((
            sf,
            zuora,
            report.run.status.clone(),
            report.run.message.clone(),
        ));
    }
    env.sf.set_faults(OrgKind::Production, sf_faults("none"));
    env.zuora.set_faults(zuora_faults("none"));
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let report = env.run(false).await;
    assert_eq!(
        report.run.status, "Finished",
        "{report:#?}\nearlier: {statuses:#?}"
    );
    let want = expected(&env.client).await;
    let diffs = differences(&env, &want);
    assert!(
        diffs.is_empty(),
        "{statuses:#?}\n{} differences: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
}

/// The profile's credential changes while a run is loading: the run picks it up at the next
/// batch and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_switch_in_the_middle_of_a_run_does_not_fail_it() {
    use zbridge_sim::salesforce::OrgKind;
    let env = env(Setup {
        options: serde_json::json!({"lag_secs": 60, "batch_size": 4, "skip_accounts_without_crm_id": true}),
        ..Default::default()
    })
    .await;
    let switched = std::sync::atomic::AtomicBool::new(false);
    let run = env.run(false);
    let switch = async {
        loop {
            let written = env
                .sf
                .records(OrgKind::Production, "Zuora__CustomerAccount__c")
                .unwrap_or_default()
                .len();
            if written > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        common::save_password(&env.service, &env.sf, "admin").await;
        env.sf.expire_sessions(OrgKind::Production);
        switched.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let (report, ()) = tokio::join!(run, switch);
    assert!(switched.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(report.run.status, "Finished", "{report:#?}");
    let diffs = differences(&env, &expected(&env.client).await);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

/// Through AQuA (stateless, no delete feed): full and incremental runs with changes and
/// cancellations converge the same way, and so do hard deletes, which AQuA does not report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_through_aqua_converge() {
    use zbridge_sim::zuora::Mutation::{Cancel, Delete, Update};
    let env = env(Setup {
        accounts: 20,
        service: zbridge_core::ZuoraService::AQuADataExport,
        ..Default::default()
    })
    .await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    env.zuora.mutate(0, "Account", 3, Update).unwrap();
    env.zuora.mutate(0, "Account", 1, Cancel).unwrap();
    env.zuora.mutate(0, "Subscription", 3, Cancel).unwrap();
    env.zuora.mutate(0, "Invoice", 2, Cancel).unwrap();
    // Stateless AQuA never reports these; the engine finds them by their missing Ids.
    env.zuora.mutate(0, "Account", 1, Delete).unwrap();
    env.zuora.mutate(0, "Subscription", 1, Delete).unwrap();
    env.zuora.mutate(0, "RatePlanCharge", 2, Delete).unwrap();
    env.zuora.mutate(0, "Payment", 1, Delete).unwrap();
    env.zuora.mutate(0, "Product", 1, Delete).unwrap();
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let report = env.run(false).await;
    assert_eq!(report.run.status, "Finished", "{report:#?}");
    let (_, dq) = common::zuora_client(&env.zuora, zbridge_core::ZuoraService::DataQuery);
    let diffs = differences(&env, &expected(&dq).await);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let products = env.org("zqu__ZProduct__c", "zqu__ZuoraId__c");
    assert!(
        products.values().any(|p| p["zqu__Deleted__c"] == true),
        "a product deleted in Zuora is flagged through AQuA too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_without_a_crm_id_need_a_fix_and_are_read_again_only_when_changed() {
    use zbridge_sync::classify::NEEDS_FIX;
    let env = env(Setup {
        options: serde_json::json!({"lag_secs": 60}),
        ..Setup::default()
    })
    .await;
    let mut missing: Vec<String> =
        common::table(&env.client, "Account", &["Id", "CrmId", "Status"])
            .await
            .into_iter()
            .filter(|r| r["crmid"].is_empty() && r["status"] != "Canceled")
            .map(|r| r["id"].clone())
            .collect();
    missing.sort();
    assert!(
        !missing.is_empty(),
        "the tenant has accounts without a CrmId"
    );

    let first = env.run(false).await;
    assert_eq!(first.run.status, "Finished with Errors", "{first:#?}");
    let failures = env.store.sync_run_failures(&first.run.id).await.unwrap();
    let flagged: Vec<String> = failures.iter().map(|f| f.external_id.clone()).collect();
    assert_eq!(flagged, missing, "exactly the accounts without a CrmId");
    for f in &failures {
        assert_eq!(
            (f.object.as_str(), f.code.as_str(), f.retry_class.as_str()),
            ("Account", "DACO-02", NEEDS_FIX),
            "{f:?}"
        );
        assert_eq!(f.status_code, "MISSING_CRM_ID");
    }
    let profile = env.store.load_sync_profile(common::PROFILE).await.unwrap();
    let open = || async {
        env.store
            .open_sync_failures(&profile.id, "Account", NEEDS_FIX)
            .await
            .unwrap()
    };
    assert_eq!(open().await, missing);

    // Unchanged, they are not read or retried again.
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let second = env.run(false).await;
    assert_eq!(second.run.status, "Finished", "{second:#?}");
    assert_eq!(second.failed, 0);
    assert_eq!(open().await, missing, "still waiting for a fix");

    // Fixed in Zuora, the account syncs and its failure is resolved.
    let fixed = missing.remove(0);
    let crm = zbridge_sim::salesforce::seeded_account_ids(common::SEED, 30)
        .pop()
        .unwrap();
    env.zuora
        .set_field(0, "Account", &fixed, "CrmId", Some(&crm))
        .unwrap();
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let third = env.run(false).await;
    assert_eq!(third.run.status, "Finished", "{third:#?}");
    assert!(
        env.org("Zuora__CustomerAccount__c", "Zuora__External_Id__c")
            .contains_key(&fixed)
    );
    assert_eq!(open().await, missing);
    let diffs = differences(&env, &expected(&env.client).await);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_are_complete_past_10000_children_of_one_parent() {
    // Salesforce's cascade stops at 10,000 children of one master record and leaves the rest
    // orphaned (the simulator does the same); the engine deletes children itself, first.
    const CHARGES: &str = "Zuora__SubscriptionProductCharge__c";
    const EXTRA: usize = zbridge_sim::salesforce::CASCADE_LIMIT + 50;
    let env = env(Setup {
        accounts: 4,
        options: serde_json::json!({
            "lag_secs": 60,
            "skip_accounts_without_crm_id": true,
            "objects": ["Account", "Subscription", "RatePlan", "RatePlanCharge"],
        }),
        ..Setup::default()
    })
    .await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    let charges = env.org(CHARGES, "Zuora__External_Id__c");
    let (charge, record) = charges.iter().next().expect("a synced charge");
    let subscription = record["Zuora__Subscription__c"].clone();
    env.zuora
        .copy_record(0, "RatePlanCharge", charge, EXTRA)
        .unwrap();
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    assert_eq!(env.run(false).await.run.status, "Finished");
    let under = |env: &common::Env| {
        env.org(CHARGES, "Zuora__External_Id__c")
            .values()
            .filter(|c| c["Zuora__Subscription__c"] == subscription)
            .count()
    };
    assert!(under(&env) > EXTRA, "{}", under(&env));

    // Cancelling the billing account removes its whole subtree, every charge included.
    let parent = |table: &'static str, id: String, column: &'static str| {
        let client = env.client.clone();
        async move {
            common::table(&client, table, &["Id", column])
                .await
                .into_iter()
                .find(|r| r["id"] == id)
                .map(|r| r[&column.to_ascii_lowercase()].clone())
                .unwrap()
        }
    };
    let plan = parent("RatePlanCharge", charge.clone(), "RatePlanId").await;
    let zsub = parent("RatePlan", plan, "SubscriptionId").await;
    let account = parent("Subscription", zsub, "AccountId").await;
    env.zuora
        .set_field(0, "Account", &account, "Status", Some("Canceled"))
        .unwrap();
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let report = env.run(false).await;
    assert_eq!(report.run.status, "Finished", "{report:#?}");
    assert_eq!(under(&env), 0, "no orphaned charges");
    let synced = [
        "Zuora__CustomerAccount__c ",
        "Zuora__Subscription__c ",
        "Zuora__SubscriptionRatePlan__c ",
        "Zuora__SubscriptionProductCharge__c ",
    ];
    let diffs: Vec<String> = differences(&env, &expected(&env.client).await)
        .into_iter()
        .filter(|d| synced.iter().any(|o| d.starts_with(o)))
        .collect();
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_only_edit_reaches_the_flattened_bill_to_fields() {
    let env = env(Setup::default()).await;
    assert_eq!(env.run(false).await.run.status, "Finished");
    let synced = env.org("Zuora__CustomerAccount__c", "Zuora__External_Id__c");
    let (account, contact) = common::table(&env.client, "Account", &["Id", "BillToId"])
        .await
        .into_iter()
        .find(|r| synced.contains_key(&r["id"]) && !r["billtoid"].is_empty())
        .map(|r| (r["id"].clone(), r["billtoid"].clone()))
        .expect("a synced account with a bill-to contact");
    // Only the contact changes: the account's own UpdatedDate stays where it was.
    env.zuora
        .set_field(0, "Contact", &contact, "City", Some("Contact-edit City"))
        .unwrap();
    env.zuora.advance_clock(std::time::Duration::from_secs(600));
    let report = env.run(false).await;
    assert_eq!(report.run.status, "Finished", "{report:#?}");
    let shown = env.org("Zuora__CustomerAccount__c", "Zuora__External_Id__c");
    assert_eq!(shown[&account]["Zuora__BillToCity__c"], "Contact-edit City");
    let diffs = differences(&env, &expected(&env.client).await);
    assert!(diffs.is_empty(), "{diffs:#?}");
}
