//! The running simulator's shared state.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use super::aqua::AquaState;
use super::clock::VirtualClock;
use super::dataquery::DqState;
use super::faults::{FaultEngine, FaultProfile};
use super::store::Store;

/// Everything that configures one simulator.
#[derive(Debug, Clone)]
pub struct ZuoraSimConfig {
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: std::net::SocketAddr,
    /// Seed of the data generator and of probabilistic faults.
    pub seed: u64,
    /// Customer accounts to generate (split across entities when multi-entity).
    pub accounts: usize,
    /// Share of accounts with a Salesforce `CrmId` (0.0–1.0).
    pub crm_share: f64,
    /// Access-token lifetime.
    pub token_lifetime: Duration,
    /// Data Query output-row cap (Live: 500,000).
    pub output_row_cap: usize,
    /// AQuA file segment size in records (500,000).
    pub segment_size: usize,
    /// Active fault profile.
    pub faults: FaultProfile,
    /// Where result files are spooled; a temporary directory (removed at shutdown) when unset.
    pub data_dir: Option<PathBuf>,
    /// Two entities: the token scope lists both and calls must send `Zuora-Entity-Ids`.
    pub multi_entity: bool,
    /// Whether some free-text values contain line breaks, as real notes do (default true).
    /// Line-based CSV readers (tap-zuora 1.6.1) cannot read those files.
    pub multiline_text: bool,
    /// The tenant's "now" at start (data is generated relative to it).
    pub start_time: DateTime<Utc>,
    /// The tenant's time zone, minutes east of UTC (default −480, US Pacific standard time).
    pub tenant_offset_minutes: i32,
    /// API requests allowed per minute before 429 (Production: 50,000).
    pub rate_limit_per_minute: u64,
    /// Concurrent requests allowed before 429 (default 40).
    pub concurrency_limit: usize,
    /// How long a job waits before it starts running.
    pub job_delay: Duration,
    /// Data Query: jobs running at once (5) and queued beyond that (10).
    pub dq_running_limit: usize,
    /// Data Query: queued jobs allowed beyond the running ones.
    pub dq_queue_limit: usize,
    /// AQuA: submitted + executing jobs per mode (50).
    pub aqua_job_limit: usize,
    /// Lifetime of a Data Query `dataFile` URL (undocumented; 15 minutes here).
    pub data_file_ttl: Duration,
    /// AQuA partner ids accepted in stateful mode; any when `None`.
    pub aqua_partners: Option<Vec<String>>,
    /// `CrmId`s to hand out (in turn) to the accounts that get one, e.g. Account ids that exist
    /// in a simulated Salesforce org; random valid ids when empty.
    pub crm_ids: Vec<String>,
    /// Rows of the feature-gated `WideRecord` object (100 fields, values computed from the row
    /// number, about 24 bytes of memory a row); 0 leaves the object off, as on most tenants.
    pub wide_rows: usize,
}

impl Default for ZuoraSimConfig {
    fn default() -> Self {
        ZuoraSimConfig {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            accounts: 200,
            crm_share: 0.8,
            token_lifetime: Duration::from_secs(3600),
            output_row_cap: 500_000,
            segment_size: 500_000,
            faults: FaultProfile::none(),
            data_dir: None,
            multi_entity: false,
            multiline_text: true,
            start_time: Utc
                .with_ymd_and_hms(2026, 11, 2, 17, 0, 0)
                .single()
                .unwrap_or_default(),
            tenant_offset_minutes: -480,
            rate_limit_per_minute: 50_000,
            concurrency_limit: 40,
            job_delay: Duration::from_millis(30),
            dq_running_limit: 5,
            dq_queue_limit: 10,
            aqua_job_limit: 50,
            data_file_ttl: Duration::from_secs(900),
            aqua_partners: None,
            crm_ids: Vec::new(),
            wide_rows: 0,
        }
    }
}

/// One entity of the tenant.
#[derive(Debug)]
pub struct Entity {
    /// 36-char entity UUID.
    pub uuid: String,
    /// Its data.
    pub store: RwLock<Store>,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub expires_ms: i64,
}

/// Fixed-window request counter for rate limiting.
#[derive(Debug)]
pub(crate) struct RateWindow {
    pub started: Instant,
    pub count: u64,
}

/// A result file kept for download.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub path: PathBuf,
    pub content_type: &'static str,
    pub size: u64,
    pub created_ms: i64,
}

/// The directory result files are spooled to.
#[derive(Debug)]
pub(crate) struct Spool {
    pub dir: PathBuf,
    temporary: bool,
}

impl Spool {
    pub fn new(data_dir: Option<&PathBuf>) -> std::io::Result<Spool> {
        static N: AtomicU64 = AtomicU64::new(0);
        let (dir, temporary) = match data_dir {
            Some(d) => (d.join("zuora-files"), false),
            None => (
                std::env::temp_dir().join(format!(
                    "zbridge-zuora-sim-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                )),
                true,
            ),
        };
        std::fs::create_dir_all(&dir)?;
        Ok(Spool { dir, temporary })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Shared state of a running simulator.
#[derive(Debug)]
pub struct Sim {
    pub(crate) cfg: ZuoraSimConfig,
    pub(crate) clock: VirtualClock,
    pub(crate) entities: Vec<Entity>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) tokens: Mutex<HashMap<String, Token>>,
    pub(crate) dq: Mutex<DqState>,
    pub(crate) aqua: Mutex<AquaState>,
    pub(crate) files: Mutex<HashMap<String, StoredFile>>,
    pub(crate) faults: Mutex<FaultEngine>,
    pub(crate) counters: Mutex<BTreeMap<String, u64>>,
    pub(crate) rate: Mutex<RateWindow>,
    pub(crate) inflight: AtomicUsize,
    pub(crate) locators: Mutex<HashMap<String, super::actions::Locator>>,
    pub(crate) base_url: String,
    pub(crate) spool: Spool,
    pub(crate) signing_key: u64,
    pub(crate) dq_slots: tokio::sync::Semaphore,
    pub(crate) mutation_seq: AtomicU64,
}

/// Locks a mutex, recovering from poisoning (a panicked handler must not wedge the simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    /// Whether the tenant has the object: feature-gated (synthetic) objects only when
    /// configured.
    pub(crate) fn object_enabled(&self, kind: super::schema::Kind) -> bool {
        !kind.def().synthetic || self.cfg.wide_rows > 0
    }

    /// The tenant's current time (milliseconds).
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A fresh 32-hex id for jobs, batches and files.
    pub(crate) fn new_hex_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Counts a call of `endpoint`.
    pub(crate) fn count(&self, endpoint: &str) {
        *lock(&self.counters)
            .entry(endpoint.to_string())
            .or_insert(0) += 1;
    }

    /// Registers a result file and returns its id.
    pub(crate) fn add_file(&self, id: String, file: StoredFile) -> String {
        lock(&self.files).insert(id.clone(), file);
        id
    }

    /// A keyed signature for pre-signed data-file URLs (not cryptographic; it only has to
    /// reject edited URLs the way S3 does).
    pub(crate) fn sign(&self, file: &str, expires: i64) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.signing_key, file, expires).hash(&mut h);
        format!("{:016x}", h.finish())
    }
}
