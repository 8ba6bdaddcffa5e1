//! The sync state on SQLite and PostgreSQL: runs, watermarks, failures, the key index,
//! schedules.

mod common;

use chrono::{Duration, TimeZone, Utc};
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_store::{ObjectStats, Store, SyncFailure, SyncKey};

async fn profile(store: &Store) -> String {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Z").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secrecy::SecretString::from("s".to_string()));
    store.create_connection(&def).await.unwrap();
    store
        .create_sync_profile("P", "Z", serde_json::json!({"lag_secs": 60}))
        .await
        .unwrap()
        .id
}

fn key(object: &str, id: &str, parent: Option<(&str, &str)>, account: &str) -> SyncKey {
    SyncKey {
        object: object.into(),
        external_id: id.into(),
        parent: parent.map(|(o, i)| (o.into(), i.into())),
        account_id: Some(account.into()),
        crm_id: Some("001".into()),
    }
}

#[tokio::test]
async fn a_watermark_moves_only_with_its_checkpoint() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        let run = store.create_sync_run(&pid, true, "manual").await.unwrap();
        let mark = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut stats = ObjectStats {
            object: "Account".into(),
            read: 10,
            upserted: 9,
            failed: 1,
            watermark_after: Some(mark),
            ..Default::default()
        };
        store
            .commit_sync_object(&run.id, &pid, &stats, false)
            .await
            .unwrap();
        assert_eq!(
            store.sync_watermark(&pid, "Account").await.unwrap(),
            None,
            "{}",
            backend.name
        );
        stats.upserted = 10;
        store
            .commit_sync_object(&run.id, &pid, &stats, true)
            .await
            .unwrap();
        assert_eq!(
            store.sync_watermark(&pid, "Account").await.unwrap(),
            Some(mark)
        );
        let stale = store.create_sync_run(&pid, false, "manual").await.unwrap();
        assert_eq!(store.interrupt_sync_runs(&pid).await.unwrap(), 2);
        let (stale, _) = store.load_sync_run(&stale.id).await.unwrap();
        assert_eq!(stale.status, "Failure");
        assert!(stale.message.unwrap().contains("interrupted"));
        store
            .finish_sync_run(&run.id, "Finished", None)
            .await
            .unwrap();
        let (loaded, objects) = store.load_sync_run(&run.id[..8]).await.unwrap();
        assert_eq!(loaded.status, "Finished");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].upserted, 10, "the checkpoint was replaced");
        let runs = store.list_sync_runs(Some(&pid), 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(store.list_sync_runs(None, 10).await.unwrap().len(), 2);
        store.reset_sync_state(&pid).await.unwrap();
        assert_eq!(store.sync_watermark(&pid, "Account").await.unwrap(), None);
    }
}

#[tokio::test]
async fn failures_are_kept_per_run_and_open_until_resolved() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        let run = store.create_sync_run(&pid, false, "manual").await.unwrap();
        let failure = |id: &str, class: &str| SyncFailure {
            object: "Subscription".into(),
            external_id: id.into(),
            operation: "upsert".into(),
            code: "DACO-10".into(),
            retry_class: class.into(),
            status_code: "UNABLE_TO_LOCK_ROW".into(),
            message: "locked".into(),
            fields: String::new(),
        };
        store
            .record_sync_failures(
                &run.id,
                &pid,
                &[failure("a", "retryable"), failure("b", "needs_fix")],
            )
            .await
            .unwrap();
        assert_eq!(
            store.sync_run_failures(&run.id).await.unwrap().len(),
            2,
            "{}",
            backend.name
        );
        assert_eq!(
            store
                .open_sync_failures(&pid, "Subscription", "retryable")
                .await
                .unwrap(),
            vec!["a".to_string()]
        );
        store
            .resolve_sync_failures(&pid, "Subscription", &["a".into()])
            .await
            .unwrap();
        assert!(
            store
                .open_sync_failures(&pid, "Subscription", "retryable")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.sync_run_failures(&run.id).await.unwrap().len(),
            2,
            "history stays"
        );
    }
}

#[tokio::test]
async fn a_subtree_is_found_through_parents_and_accounts() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        store
            .put_sync_keys(
                &pid,
                &[
                    key("Account", "A", None, "A"),
                    key("Subscription", "S", None, "A"),
                    key("RatePlan", "R", Some(("Subscription", "S")), "A"),
                    key("RatePlanCharge", "C", Some(("RatePlan", "R")), "A"),
                    key("Subscription", "S2", None, "B"),
                ],
            )
            .await
            .unwrap();
        let mut sub = store
            .sync_subtree(&pid, "Subscription", "S", false)
            .await
            .unwrap();
        sub.sort();
        assert_eq!(sub.len(), 3, "{}: {sub:?}", backend.name);
        let acct = store
            .sync_subtree(&pid, "Account", "A", true)
            .await
            .unwrap();
        assert_eq!(acct.len(), 4);
        let known = store
            .known_sync_keys(&pid, "Subscription", &["S".into(), "X".into()])
            .await
            .unwrap();
        assert!(known.contains("S") && !known.contains("X"));
        store
            .remove_sync_keys(&pid, "Subscription", &["S".into()])
            .await
            .unwrap();
        assert_eq!(
            store
                .sync_keys_page(&pid, "Subscription", "", 10)
                .await
                .unwrap(),
            vec!["S2".to_string()]
        );
    }
}

#[tokio::test]
async fn a_due_schedule_is_claimed_once() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        let now = Utc::now();
        store
            .set_sync_schedule(&pid, 1800, now - Duration::seconds(5))
            .await
            .unwrap();
        let schedules = store.sync_schedules().await.unwrap();
        assert_eq!(schedules.len(), 1);
        assert!(store.claim_sync_schedule(&schedules[0], now).await.unwrap());
        assert!(
            !store.claim_sync_schedule(&schedules[0], now).await.unwrap(),
            "{}",
            backend.name
        );
        let after = store.sync_schedules().await.unwrap();
        assert!(after[0].next_due > now);
        let updated = store
            .update_sync_profile_options("p", serde_json::json!({"lag_secs": 5}))
            .await
            .unwrap();
        assert_eq!(updated.options["lag_secs"], 5);
        assert_eq!(
            store.sync_schedules().await.unwrap().len(),
            1,
            "same profile id"
        );
    }
}

#[tokio::test]
async fn run_warnings_are_kept_one_per_line() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        let run = store.create_sync_run(&pid, false, "manual").await.unwrap();
        assert!(run.warnings.is_empty());
        store
            .add_sync_run_warning(&run.id, "clock ahead\nby an hour")
            .await
            .unwrap();
        store
            .add_sync_run_warning(&run.id, "Bulk refused")
            .await
            .unwrap();
        let (loaded, _) = store.load_sync_run(&run.id).await.unwrap();
        assert_eq!(
            loaded.warnings,
            ["clock ahead by an hour", "Bulk refused"],
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn owed_children_are_written_with_the_keys_and_settled_per_parent_or_all() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        let owed: Vec<(String, String)> = (0..450)
            .map(|i| ("Subscription".to_string(), format!("A{i:04}")))
            .chain([("Invoice".to_string(), "A0001".to_string())])
            .collect();
        store
            .put_sync_keys_owing(&pid, &[key("Account", "A0001", None, "A0001")], &owed)
            .await
            .unwrap();
        // Written twice (a run that stopped and ran again): one debt each.
        store
            .put_sync_keys_owing(&pid, &[], &owed[..10])
            .await
            .unwrap();
        let first = store
            .owed_children_page(&pid, "Subscription", "", 400)
            .await
            .unwrap();
        assert_eq!(first.len(), 400, "{}", backend.name);
        let rest = store
            .owed_children_page(&pid, "Subscription", first.last().unwrap(), 400)
            .await
            .unwrap();
        assert_eq!(rest.len(), 50, "{}", backend.name);
        store
            .settle_owed_children(&pid, "Subscription", &first)
            .await
            .unwrap();
        assert_eq!(
            store
                .owed_children_page(&pid, "Subscription", "", 1000)
                .await
                .unwrap(),
            rest
        );
        store
            .settle_all_owed_children(&pid, "Subscription")
            .await
            .unwrap();
        assert!(
            store
                .owed_children_page(&pid, "Subscription", "", 1000)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .owed_children_page(&pid, "Invoice", "", 10)
                .await
                .unwrap(),
            ["A0001"],
            "another object's debts stay"
        );
        store.reset_sync_state(&pid).await.unwrap();
        assert!(
            store
                .owed_children_page(&pid, "Invoice", "", 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn the_latest_verify_of_each_profile_is_kept() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let pid = profile(&store).await;
        assert!(store.sync_verifications(None).await.unwrap().is_empty());
        let report = serde_json::json!([{"object": "Account", "missing": 2}]);
        store
            .save_sync_verification(&pid, true, &report)
            .await
            .unwrap();
        store
            .save_sync_verification(&pid, false, &serde_json::json!([]))
            .await
            .unwrap();
        let kept = store.sync_verifications(Some(&pid)).await.unwrap();
        assert_eq!(kept.len(), 1, "{}", backend.name);
        assert!(!kept[0].drifted);
        assert_eq!(kept[0].report, serde_json::json!([]));
        assert_eq!(store.sync_verifications(None).await.unwrap(), kept);
    }
}
