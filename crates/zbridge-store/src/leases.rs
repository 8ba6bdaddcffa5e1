//! Leases on sync profiles: one profile never has two runs at once, across any number of
//! processes and machines sharing one database.
//!
//! Whoever runs a profile (a `zbridge worker`, `zbridge sync run`, the web UI) first takes its
//! lease, renews it every third of its time to live while the run works ([`LeaseKeeper`]), and
//! releases it at the end. A holder that dies stops renewing; its lease expires and the profile
//! is free again. Workers claim due profiles with [`Store::claim_sync_profiles`]: on PostgreSQL
//! `SELECT … FOR UPDATE SKIP LOCKED` over the due schedules, so concurrent workers never wait
//! for each other and never take the same profile; on SQLite the same statements run in a
//! `BEGIN IMMEDIATE` transaction (SQLite has one writer at a time).
//!
//! Every lease time comes from the database's clock, so workers on machines whose clocks
//! disagree still agree on when a lease expires. Each acquisition gets a new `lease_id`:
//! renewals and the release name it, so a holder that lost its lease can never extend or drop
//! the next holder's.
//!
//! A lease also names its holder's process (machine boot, pid namespace and pid, on Linux).
//! [`Store::acquire_sync_lease`] (a person running `sync run` or the web UI) takes over at once
//! a live lease whose holder is provably gone: same machine boot and pid namespace, and that pid
//! no longer runs (a reused pid only makes it wait for the expiry). Workers always wait for the
//! expiry, which is what holds across machines.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Db, on_pool};
use crate::{DatabaseKind, Store, StoreError, SyncProfile, from_millis};

/// How long a lease lives without renewal when the caller does not choose (workers take
/// `--lease-secs`).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// A lease this process took on a sync profile.
#[derive(Debug, Clone)]
pub struct SyncLease {
    /// The profile's id.
    pub profile_id: String,
    /// The profile's name (for messages).
    pub profile_name: String,
    /// New for every acquisition.
    pub lease_id: String,
    /// Who holds it.
    pub worker_id: String,
    /// When it expires unless renewed (database clock).
    pub expires_at: DateTime<Utc>,
    /// The worker id of a holder whose process was gone, whose lease this one replaced before
    /// it expired.
    pub took_over_from: Option<String>,
    /// How long each renewal extends it.
    pub ttl: Duration,
    /// When (on this machine's monotonic clock) the request that set `expires_at` was sent:
    /// the holder must assume the lease ends `ttl` after it.
    taken: tokio::time::Instant,
}

/// The lease a profile has in the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaseHolder {
    /// Who holds (or held) it.
    pub worker_id: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// When it expires (or expired).
    pub expires_at: DateTime<Utc>,
    /// How many times it was renewed.
    pub renewals: i64,
    /// Whether it has not expired yet.
    pub live: bool,
}

/// A profile a worker claimed, with its lease.
#[derive(Debug, Clone)]
pub struct ClaimedProfile {
    /// The lease; the caller keeps it ([`Store::keep_sync_lease`]) while it runs the profile.
    pub lease: SyncLease,
    /// Its schedule was due (and was moved one interval on).
    pub due: bool,
    /// Its last run was left `Running` by a holder that died; this run resumes it.
    pub resume: bool,
}

/// Why a lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else runs the profile.
    #[error(
        "sync profile '{profile}' is running on worker {worker_id} (lease until {}); wait for it to finish, or stop that worker (if it died, the lease expires then and the profile is free again)",
        .until.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Held {
        /// The profile's name.
        profile: String,
        /// The holder.
        worker_id: String,
        /// When its lease expires unless renewed.
        until: DateTime<Utc>,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// This process's worker id, `hostname:pid:random`: the same for every lease the process takes,
/// and different from every other process's, even after a restart with the same pid.
pub fn this_worker_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}:{}:{}", std::process::id(), &suffix[..6])
    })
}

/// What identifies this process's pid namespace on this machine boot (Linux), or "" when it
/// cannot be known: two processes with the same key see the same pids.
fn process_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
        let namespace = std::fs::read_link("/proc/self/ns/pid");
        match (boot, namespace) {
            (Ok(boot), Ok(ns)) => format!("{}/{}", boot.trim(), ns.display()),
            _ => String::new(),
        }
    })
}

/// Whether process `pid` of this pid namespace has ended (gone, or a zombie waiting to be
/// reaped). Unsure answers are "no": the caller then waits for the lease to expire.
fn process_gone(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
    }
}

fn this_pid() -> i64 {
    i64::from(std::process::id())
}

/// SQL that differs between the two databases.
struct Dialect {
    /// Starts a transaction that writes.
    begin: &'static str,
    /// The database clock in Unix milliseconds.
    now: &'static str,
    /// Appended to the claim's SELECT.
    lock: &'static str,
}

fn dialect(db: &Db) -> Dialect {
    match db.kind() {
        // IMMEDIATE takes the write lock first, so two claimers queue (busy_timeout) instead of
        // both reading and then failing to upgrade.
        DatabaseKind::Sqlite => Dialect {
            begin: "BEGIN IMMEDIATE",
            now: "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            lock: "",
        },
        DatabaseKind::Postgres => Dialect {
            begin: "BEGIN",
            now: "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            lock: " FOR UPDATE OF s SKIP LOCKED",
        },
    }
}

fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis())
        .unwrap_or(i64::MAX / 4)
        .max(1)
}

/// Takes (or steals, once expired) the lease row of a profile; true when this caller got it.
const TAKE: &str = "INSERT INTO sync_leases (profile_id, lease_id, worker_id, acquired_at, expires_at, renewals, holder_key, holder_pid) \
    VALUES ($1, $2, $3, $4, $5, 0, $6, $7) \
    ON CONFLICT (profile_id) DO UPDATE SET lease_id = excluded.lease_id, worker_id = excluded.worker_id, \
    acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, renewals = 0, \
    holder_key = excluded.holder_key, holder_pid = excluded.holder_pid \
    WHERE sync_leases.expires_at <= $4";

/// Replaces a live lease whose holder is gone, only if it is still that holder's.
const TAKE_OVER: &str = "UPDATE sync_leases SET lease_id = $3, worker_id = $4, acquired_at = $5, expires_at = $6, \
    renewals = 0, holder_key = $7, holder_pid = $8 WHERE profile_id = $1 AND lease_id = $2";

/// The next due time after `now`: whole intervals on from `due`, so missed ticks are not run
/// one after another and the schedule keeps its phase.
fn next_due(due: i64, every_ms: i64, now: i64) -> i64 {
    let every = every_ms.max(1000);
    if due > now {
        return due;
    }
    due + ((now - due) / every + 1) * every
}

impl Store {
    /// Claims up to `limit` profiles for `worker_id`, each with a lease of `ttl`: scheduled
    /// profiles that are due, and scheduled profiles whose last run was left `Running` by a
    /// holder whose lease expired (to resume it at once, due or not). Profiles another holder
    /// has a live lease on are skipped. A due schedule moves one interval on in the same
    /// transaction.
    pub async fn claim_sync_profiles(
        &self,
        worker_id: &str,
        ttl: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedProfile>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let d = dialect(&self.db);
        let select = sqlx::AssertSqlSafe(format!(
            "SELECT s.profile_id, c.name, s.every_secs, s.next_due, \
             EXISTS (SELECT 1 FROM sync_runs r WHERE r.profile_id = s.profile_id AND r.status = 'Running') AS interrupted \
             FROM sync_schedules s JOIN components c ON c.id = s.profile_id \
             WHERE (s.next_due <= $1 OR EXISTS (SELECT 1 FROM sync_runs r WHERE r.profile_id = s.profile_id AND r.status = 'Running')) \
             AND NOT EXISTS (SELECT 1 FROM sync_leases l WHERE l.profile_id = s.profile_id AND l.expires_at > $1) \
             ORDER BY s.next_due, s.profile_id LIMIT $2{}",
            d.lock
        ));
        let now_sql = sqlx::AssertSqlSafe(format!("SELECT {}", d.now));
        const MOVE: &str = "UPDATE sync_schedules SET next_due = $1 WHERE profile_id = $2";
        let ttl_ms = ttl_millis(ttl);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        type Row = (String, String, i64, i64, bool);
        let taken = tokio::time::Instant::now();
        let claimed = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin_with(d.begin).await?;
            let (now,): (i64,) = sqlx::query_as(now_sql).fetch_one(&mut *tx).await?;
            let rows: Vec<Row> = sqlx::query_as(select).bind(now).bind(limit).fetch_all(&mut *tx).await?;
            let mut claimed = Vec::new();
            for (profile_id, name, every_secs, due, interrupted) in rows {
                let lease_id = uuid::Uuid::new_v4().to_string();
                let got = sqlx::query(TAKE).bind(&profile_id).bind(&lease_id).bind(worker_id)
                    .bind(now).bind(now + ttl_ms).bind(process_key()).bind(this_pid())
                    .execute(&mut *tx).await?.rows_affected();
                if got == 0 {
                    // `sync run` or the web UI took it since the SELECT.
                    continue;
                }
                let is_due = due <= now;
                if is_due {
                    let next = next_due(due, every_secs.saturating_mul(1000), now);
                    sqlx::query(MOVE).bind(next).bind(&profile_id).execute(&mut *tx).await?;
                }
                claimed.push(ClaimedProfile {
                    lease: SyncLease {
                        profile_id,
                        profile_name: name,
                        lease_id,
                        worker_id: worker_id.to_string(),
                        expires_at: from_millis(now + ttl_ms),
                        took_over_from: None,
                        ttl,
                        taken,
                    },
                    due: is_due,
                    resume: interrupted,
                });
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(claimed)
        }.await)?;
        Ok(claimed)
    }

    /// Takes the lease of `profile` for `worker_id`, or says who holds it. A live lease whose
    /// holder process is provably gone (see the module docs) is taken over at once.
    pub async fn acquire_sync_lease(
        &self,
        profile: &SyncProfile,
        worker_id: &str,
        ttl: Duration,
    ) -> Result<SyncLease, LeaseError> {
        let d = dialect(&self.db);
        let now_sql = sqlx::AssertSqlSafe(format!("SELECT {}", d.now));
        const HOLDER: &str = "SELECT lease_id, worker_id, expires_at, holder_key, holder_pid FROM sync_leases WHERE profile_id = $1";
        let ttl_ms = ttl_millis(ttl);
        let lease_id = uuid::Uuid::new_v4().to_string();
        let taken = tokio::time::Instant::now();
        type Holder = (String, String, i64, String, i64);
        let outcome: Result<(i64, Option<String>), (String, i64)> = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin_with(d.begin).await?;
            let (now,): (i64,) = sqlx::query_as(now_sql).fetch_one(&mut *tx).await?;
            let got = sqlx::query(TAKE).bind(&profile.id).bind(&lease_id).bind(worker_id)
                .bind(now).bind(now + ttl_ms).bind(process_key()).bind(this_pid())
                .execute(&mut *tx).await?.rows_affected();
            let outcome = if got == 1 {
                Ok((now + ttl_ms, None))
            } else {
                let (old_lease, holder, until, key, pid): Holder =
                    sqlx::query_as(HOLDER).bind(&profile.id).fetch_one(&mut *tx).await?;
                let gone = !key.is_empty() && key == process_key() && pid != this_pid() && process_gone(pid);
                let replaced = gone && sqlx::query(TAKE_OVER).bind(&profile.id).bind(&old_lease)
                    .bind(&lease_id).bind(worker_id).bind(now).bind(now + ttl_ms)
                    .bind(process_key()).bind(this_pid())
                    .execute(&mut *tx).await?.rows_affected() == 1;
                if replaced {
                    Ok((now + ttl_ms, Some(holder)))
                } else {
                    Err((holder, until))
                }
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcome)
        }.await)
        .map_err(StoreError::from)?;
        match outcome {
            Ok((expires, took_over_from)) => Ok(SyncLease {
                profile_id: profile.id.clone(),
                profile_name: profile.name.clone(),
                lease_id,
                worker_id: worker_id.to_string(),
                expires_at: from_millis(expires),
                took_over_from,
                ttl,
                taken,
            }),
            Err((holder, until)) => Err(LeaseError::Held {
                profile: profile.name.clone(),
                worker_id: holder,
                until: from_millis(until),
            }),
        }
    }

    /// Extends `lease` by its time to live from now. `Ok(None)` when it is no longer this
    /// holder's (it expired and someone else took it, or it was released): the holder must stop
    /// at once. A lease that expired but that nobody took is still renewed.
    pub async fn renew_sync_lease(
        &self,
        lease: &SyncLease,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let d = dialect(&self.db);
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE sync_leases SET expires_at = {} + $1, renewals = renewals + 1 \
             WHERE profile_id = $2 AND lease_id = $3 RETURNING expires_at",
            d.now
        ));
        let row: Option<(i64,)> = on_pool!(&self.db, pool => sqlx::query_as(sql)
            .bind(ttl_millis(lease.ttl)).bind(&lease.profile_id).bind(&lease.lease_id)
            .fetch_optional(pool).await)?;
        Ok(row.map(|(ms,)| from_millis(ms)))
    }

    /// Gives `lease` up; false when it was no longer this holder's.
    pub async fn release_sync_lease(&self, lease: &SyncLease) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM sync_leases WHERE profile_id = $1 AND lease_id = $2";
        let affected = on_pool!(&self.db, pool => sqlx::query(SQL).bind(&lease.profile_id)
            .bind(&lease.lease_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// The lease row of a profile, live or expired; `None` when it has none.
    pub async fn sync_lease(&self, profile_id: &str) -> Result<Option<LeaseHolder>, StoreError> {
        let d = dialect(&self.db);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT worker_id, acquired_at, expires_at, renewals, expires_at > {} FROM sync_leases WHERE profile_id = $1",
            d.now
        ));
        let row: Option<(String, i64, i64, i64, bool)> = on_pool!(&self.db, pool =>
            sqlx::query_as(sql).bind(profile_id).fetch_optional(pool).await)?;
        Ok(row.map(
            |(worker_id, acquired, expires, renewals, live)| LeaseHolder {
                worker_id,
                acquired_at: from_millis(acquired),
                expires_at: from_millis(expires),
                renewals,
                live,
            },
        ))
    }

    /// Keeps `lease` alive in the background: renews it every third of its time to live and
    /// reports each outcome to `on_event`. When a renewal finds the lease taken, or when no
    /// renewal succeeded for two thirds of its time to live (the database is unreachable, so
    /// this holder can no longer show it holds the lease), the keeper reports
    /// [`LeaseEvent::Lost`] once and stops: the caller must stop its run at once, before anyone
    /// else can take the profile. Must be called inside a Tokio runtime.
    pub fn keep_sync_lease(
        &self,
        lease: SyncLease,
        on_event: impl Fn(LeaseEvent) + Send + Sync + 'static,
    ) -> LeaseKeeper {
        let lost = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(renew_until_lost(
            self.clone(),
            lease.clone(),
            lost.clone(),
            on_event,
        ));
        LeaseKeeper {
            store: self.clone(),
            lease,
            lost,
            task,
        }
    }
}

/// What happened to a kept lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    /// Renewed until this time.
    Renewed(DateTime<Utc>),
    /// A renewal failed (the database did not answer in time, or failed); the keeper tries
    /// again.
    RenewFailed(String),
    /// The lease is gone, or can no longer be shown to be held; stop now.
    Lost(String),
}

/// Renews a lease until it is lost (or the task is aborted by [`LeaseKeeper::release`]).
async fn renew_until_lost(
    store: Store,
    mut lease: SyncLease,
    lost: Arc<AtomicBool>,
    on_event: impl Fn(LeaseEvent),
) {
    let period = lease.ttl / 3;
    let fence_after = lease.ttl * 2 / 3;
    let mut last_ok = lease.taken;
    loop {
        tokio::time::sleep(period).await;
        let sent = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(period, store.renew_sync_lease(&lease)).await;
        let failure = match outcome {
            Ok(Ok(Some(until))) => {
                last_ok = sent;
                lease.expires_at = until;
                on_event(LeaseEvent::Renewed(until));
                continue;
            }
            Ok(Ok(None)) => {
                lost.store(true, Ordering::SeqCst);
                on_event(LeaseEvent::Lost(format!(
                    "the lease on sync profile '{}' expired and was taken by another worker",
                    lease.profile_name
                )));
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("the database did not answer within {period:?}"),
        };
        on_event(LeaseEvent::RenewFailed(failure.clone()));
        if last_ok.elapsed() >= fence_after {
            lost.store(true, Ordering::SeqCst);
            on_event(LeaseEvent::Lost(format!(
                "the lease on sync profile '{}' could not be renewed for {:?} ({failure}); stopping before it expires",
                lease.profile_name,
                last_ok.elapsed()
            )));
            return;
        }
    }
}

/// A lease being kept alive; [`LeaseKeeper::release`] ends it. Dropping it stops the renewals
/// without releasing (the lease then expires).
#[derive(Debug)]
pub struct LeaseKeeper {
    store: Store,
    lease: SyncLease,
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaseKeeper {
    /// The lease as it was taken.
    pub fn lease(&self) -> &SyncLease {
        &self.lease
    }

    /// Whether the lease was lost.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and gives the lease up; false when it was no longer this holder's.
    pub async fn release(self) -> Result<bool, StoreError> {
        self.task.abort();
        self.store.release_sync_lease(&self.lease).await
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_due_schedule_moves_whole_intervals_past_now() {
        assert_eq!(next_due(1_000, 60_000, 1_000), 61_000);
        assert_eq!(next_due(1_000, 60_000, 30_000), 61_000);
        // Three ticks were missed: one run, and the schedule keeps its phase.
        assert_eq!(next_due(1_000, 60_000, 200_000), 241_000);
        assert_eq!(next_due(90_000, 60_000, 30_000), 90_000, "not due yet");
    }

    #[test]
    fn this_process_is_running_and_a_reaped_child_is_gone() {
        assert!(!process_gone(this_pid()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        assert!(process_gone(pid));
        if cfg!(target_os = "linux") {
            assert!(!process_key().is_empty());
        }
    }

    #[test]
    fn worker_ids_name_the_host_and_the_process() {
        let id = this_worker_id();
        let parts: Vec<&str> = id.rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[0].len(), 6);
        assert_eq!(this_worker_id(), id, "stable within a process");
    }
}
