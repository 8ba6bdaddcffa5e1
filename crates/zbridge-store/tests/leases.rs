//! Leases on sync profiles, on SQLite and PostgreSQL: claim, renew, expiry, stealing after
//! expiry, release, resuming an interrupted run, and concurrent claimers that never both win.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_store::{LeaseError, LeaseEvent, Store, SyncProfile};

const SHORT: Duration = Duration::from_millis(400);

async fn profiles(store: &Store, count: usize) -> Vec<SyncProfile> {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Z").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secrecy::SecretString::from("s".to_string()));
    store.create_connection(&def).await.unwrap();
    let mut out = Vec::new();
    for i in 0..count {
        out.push(
            store
                .create_sync_profile(&format!("P{i:02}"), "Z", serde_json::json!({}))
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn claim_renew_expire_steal_and_release() {
    for backend in common::backends().await {
        let name = backend.name;
        let store = backend.open().await;
        let p = profiles(&store, 1).await.remove(0);
        store
            .set_sync_schedule(&p.id, 3600, Utc::now() - chrono::Duration::seconds(5))
            .await
            .unwrap();

        let claimed = store.claim_sync_profiles("w1", SHORT, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        let lease = claimed[0].lease.clone();
        assert!(claimed[0].due && !claimed[0].resume, "{name}");
        assert_eq!(lease.profile_name, "P00");
        let schedule = &store.sync_schedules().await.unwrap()[0];
        assert!(
            schedule.next_due > Utc::now() + chrono::Duration::seconds(3000),
            "{name}: the schedule moved one interval on: {schedule:?}"
        );

        assert!(
            store
                .claim_sync_profiles("w2", SHORT, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}: not due any more, and leased"
        );
        match store.acquire_sync_lease(&p, "w2", SHORT).await {
            Err(LeaseError::Held { worker_id, .. }) => assert_eq!(worker_id, "w1", "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        let err = store
            .acquire_sync_lease(&p, "w2", SHORT)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sync profile 'P00' is running on worker w1 (lease until"),
            "{err}"
        );

        let renewed = store.renew_sync_lease(&lease).await.unwrap();
        assert!(renewed.unwrap() >= lease.expires_at, "{name}");
        let holder = store.sync_lease(&p.id).await.unwrap().unwrap();
        assert_eq!(
            (holder.worker_id.as_str(), holder.renewals, holder.live),
            ("w1", 1, true),
            "{name}"
        );

        tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
        let holder = store.sync_lease(&p.id).await.unwrap().unwrap();
        assert!(!holder.live, "{name}: expired");
        let stolen = store.acquire_sync_lease(&p, "w2", SHORT).await.unwrap();
        assert_eq!(
            store.renew_sync_lease(&lease).await.unwrap(),
            None,
            "{name}: the old holder lost it"
        );
        assert!(
            !store.release_sync_lease(&lease).await.unwrap(),
            "{name}: the old holder cannot drop the new lease"
        );
        assert_eq!(
            store.sync_lease(&p.id).await.unwrap().unwrap().worker_id,
            "w2"
        );
        assert!(store.release_sync_lease(&stolen).await.unwrap(), "{name}");
        assert_eq!(store.sync_lease(&p.id).await.unwrap(), None, "{name}");
        // Released: anyone may take it at once.
        let again = store.acquire_sync_lease(&p, "w3", SHORT).await.unwrap();
        assert!(store.release_sync_lease(&again).await.unwrap());
    }
}

#[tokio::test]
async fn an_expired_lease_wins_the_renewal_race_only_while_nobody_took_it() {
    for backend in common::backends().await {
        let store = backend.open().await;
        let p = profiles(&store, 1).await.remove(0);
        let lease = store
            .acquire_sync_lease(&p, "w1", Duration::from_millis(100))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Expired but not taken: still this holder's, and renewing makes it live again.
        assert!(store.renew_sync_lease(&lease).await.unwrap().is_some());
        assert!(store.sync_lease(&p.id).await.unwrap().unwrap().live);
        assert!(store.release_sync_lease(&lease).await.unwrap());
    }
}

#[tokio::test]
async fn an_interrupted_run_is_claimed_again_once_its_lease_expires() {
    for backend in common::backends().await {
        let name = backend.name;
        let store = backend.open().await;
        let p = profiles(&store, 1).await.remove(0);
        let later = Utc::now() + chrono::Duration::hours(1);
        store.set_sync_schedule(&p.id, 3600, later).await.unwrap();
        let dead = store.acquire_sync_lease(&p, "dead", SHORT).await.unwrap();
        store
            .create_sync_run(&p.id, false, "schedule")
            .await
            .unwrap();
        assert!(
            store
                .claim_sync_profiles("w1", SHORT, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}: the run's holder is alive"
        );
        tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
        let claimed = store.claim_sync_profiles("w1", SHORT, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        assert!(claimed[0].resume && !claimed[0].due, "{name}");
        assert_eq!(
            store.sync_schedules().await.unwrap()[0]
                .next_due
                .timestamp(),
            later.timestamp(),
            "{name}: a resume does not move the schedule"
        );
        assert_eq!(store.renew_sync_lease(&dead).await.unwrap(), None);
        // Without a schedule, an interrupted run waits for a person ('sync run').
        store.remove_sync_schedule(&p.id).await.unwrap();
        assert!(store.release_sync_lease(&claimed[0].lease).await.unwrap());
        assert!(
            store
                .claim_sync_profiles("w1", SHORT, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_both_win() {
    const PROFILES: usize = 24;
    const CLAIMERS: usize = 6;
    for backend in common::backends().await {
        let name = backend.name;
        let store = backend.open().await;
        let all = profiles(&store, PROFILES).await;
        let due = Utc::now() - chrono::Duration::seconds(1);
        for p in &all {
            store.set_sync_schedule(&p.id, 3600, due).await.unwrap();
        }
        let mut tasks = Vec::new();
        for c in 0..CLAIMERS {
            // Each claimer has its own store (its own pool), as separate workers would.
            let store = backend.open().await;
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_sync_profiles(&format!("w{c}"), Duration::from_secs(30), 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|g| g.lease.profile_id));
                }
            }));
        }
        let mut wins: HashMap<String, usize> = HashMap::new();
        for t in tasks {
            for id in t.await.unwrap() {
                *wins.entry(id).or_default() += 1;
            }
        }
        assert_eq!(
            wins.len(),
            PROFILES,
            "{name}: every due profile was claimed"
        );
        assert!(
            wins.values().all(|&n| n == 1),
            "{name}: a profile was claimed twice: {wins:?}"
        );

        // Many callers racing for one (unscheduled) profile's lease: exactly one gets it.
        let free = store
            .create_sync_profile("Race", "Z", serde_json::json!({}))
            .await
            .unwrap();
        let mut racers = Vec::new();
        for c in 0..CLAIMERS {
            let store = backend.open().await;
            let free = free.clone();
            racers.push(tokio::spawn(async move {
                store
                    .acquire_sync_lease(&free, &format!("r{c}"), Duration::from_secs(30))
                    .await
                    .is_ok()
            }));
        }
        let mut winners = 0;
        for r in racers {
            winners += usize::from(r.await.unwrap());
        }
        assert_eq!(winners, 1, "{name}");
    }
}

#[tokio::test]
async fn a_keeper_renews_and_reports_a_stolen_lease() {
    for backend in common::backends().await {
        let name = backend.name;
        let store = backend.open().await;
        let p = profiles(&store, 1).await.remove(0);
        let lease = store
            .acquire_sync_lease(&p, "w1", Duration::from_millis(300))
            .await
            .unwrap();
        let events: Arc<Mutex<Vec<LeaseEvent>>> = Arc::default();
        let seen = events.clone();
        let keeper = store.keep_sync_lease(lease.clone(), move |e| seen.lock().unwrap().push(e));
        // Three renewal periods: the lease outlives its 300 ms time to live.
        tokio::time::sleep(Duration::from_millis(450)).await;
        let holder = store.sync_lease(&p.id).await.unwrap().unwrap();
        assert!(holder.live && holder.renewals >= 2, "{name}: {holder:?}");
        assert!(!keeper.is_lost());

        // Someone removes the lease and takes the profile: the next renewal notices.
        assert!(store.release_sync_lease(&lease).await.unwrap());
        let other = store
            .acquire_sync_lease(&p, "w2", Duration::from_secs(30))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(keeper.is_lost(), "{name}");
        let events = events.lock().unwrap().clone();
        assert!(
            matches!(events.last(), Some(LeaseEvent::Lost(m)) if m.contains("taken by another worker")),
            "{name}: {events:?}"
        );
        assert!(
            !keeper.release().await.unwrap(),
            "{name}: releasing a lost lease leaves the new holder's alone"
        );
        assert_eq!(
            store.sync_lease(&p.id).await.unwrap().unwrap().worker_id,
            "w2"
        );
        assert!(store.release_sync_lease(&other).await.unwrap());
    }
}

/// Runs one statement on the backend's database directly.
async fn raw(backend: &common::Backend, sql: String) {
    use sqlx::Connection;
    match &backend.pg_url {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
        }
        None => {
            let path = backend.dir.path().join("zbridge.db");
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_live_lease_of_a_process_that_is_gone_is_taken_over_at_once() {
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    for backend in common::backends().await {
        let name = backend.name;
        let store = backend.open().await;
        let p = profiles(&store, 1).await.remove(0);
        store
            .acquire_sync_lease(&p, "w1", Duration::from_secs(60))
            .await
            .unwrap();
        // Held by a process of this machine that still runs (this one): refused.
        assert!(matches!(
            store.acquire_sync_lease(&p, "w2", SHORT).await,
            Err(LeaseError::Held { .. })
        ));
        // Held by a process of another machine (or pid namespace): refused, whatever its pid.
        raw(
            &backend,
            format!("UPDATE sync_leases SET holder_key = 'elsewhere', holder_pid = {dead_pid}"),
        )
        .await;
        assert!(matches!(
            store.acquire_sync_lease(&p, "w2", SHORT).await,
            Err(LeaseError::Held { .. })
        ));
        // Held by a process of this machine that has ended: taken over before it expires.
        let key = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
        let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
        raw(
            &backend,
            format!(
                "UPDATE sync_leases SET holder_key = '{}/{}'",
                key.trim(),
                ns.display()
            ),
        )
        .await;
        let lease = store.acquire_sync_lease(&p, "w2", SHORT).await.unwrap();
        assert_eq!(lease.took_over_from.as_deref(), Some("w1"), "{name}");
        assert_eq!(
            store.sync_lease(&p.id).await.unwrap().unwrap().worker_id,
            "w2"
        );
    }
}
