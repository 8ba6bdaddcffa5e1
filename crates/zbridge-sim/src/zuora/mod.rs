//! Simulator of the Zuora REST API: OAuth, describe, Data Query, AQuA, result files, the Actions
//! API, rate limits and fault injection, over a seeded, deterministic tenant.
//!
//! It is written from `shared/reference/zuora-api.md` and never imports zbridge's Zuora client.
//! Start it in a test on port 0:
//!
//! ```no_run
//! # async fn demo() -> Result<(), zbridge_sim::zuora::ZuoraSimError> {
//! use zbridge_sim::zuora::ZuoraSim;
//! let sim = ZuoraSim::builder().seed(42).accounts(200).fault_profile("none")?.start().await?;
//! println!("{} {} {}", sim.base_url(), sim.client_id(), sim.client_secret());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! See `crates/zbridge-sim/ZUORA.md` for endpoints, behaviour, fault profiles and every choice
//! made where Zuora's behaviour is undocumented.

pub mod clock;
pub mod faults;
pub mod format;
pub mod generate;
pub mod output;
pub mod query;
pub mod schema;
pub mod store;
pub mod synthetic;

mod actions;
mod aqua;
mod auth;
mod control;
mod dataquery;
mod describe;
mod files;
mod http;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use aqua::{NO_DELETED_SUPPORT, SYNTAX_ERROR};
pub use control::{ControlError, Mutation};
pub use faults::{FaultKind, FaultProfile, FaultRule, PROFILE_NAMES, Trigger, UnknownProfile};
pub use state::ZuoraSimConfig;

use clock::VirtualClock;
use faults::FaultEngine;
use generate::{GenConfig, generate};
use state::{Entity, RateWindow, Sim, Spool, lock};
use store::{IdCodec, Store};

/// Errors starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum ZuoraSimError {
    /// The listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The spool directory for result files could not be created.
    #[error("cannot create the result directory: {0}")]
    Spool(std::io::Error),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An unknown fault profile name.
    #[error(transparent)]
    Profile(#[from] UnknownProfile),
    /// A control operation failed.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// Entry point: `ZuoraSim::builder()…start().await`.
#[derive(Debug, Clone, Default)]
pub struct ZuoraSim {
    cfg: ZuoraSimConfig,
}

/// Builder of a [`ZuoraSim`].
#[derive(Debug, Clone, Default)]
pub struct ZuoraSimBuilder {
    cfg: ZuoraSimConfig,
}

impl ZuoraSim {
    /// A builder with the defaults of [`ZuoraSimConfig`].
    pub fn builder() -> ZuoraSimBuilder {
        ZuoraSimBuilder::default()
    }

    /// A simulator from a complete configuration.
    pub fn from_config(cfg: ZuoraSimConfig) -> Self {
        ZuoraSim { cfg }
    }

    /// Generates the tenant, binds and starts serving.
    pub async fn start(self) -> Result<RunningZuoraSim, ZuoraSimError> {
        start(self.cfg).await
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {
        $(#[$doc] pub fn $name(mut self, value: $ty) -> Self { self.cfg.$name = value; self })*
    };
}

impl ZuoraSimBuilder {
    setter! {
        /// Address to bind (default `127.0.0.1:0`).
        bind: SocketAddr,
        /// Seed of the data and of probabilistic faults.
        seed: u64,
        /// Number of customer accounts.
        accounts: usize,
        /// Share of accounts carrying a `CrmId` (0.0–1.0).
        crm_share: f64,
        /// Access-token lifetime.
        token_lifetime: Duration,
        /// Data Query output-row cap.
        output_row_cap: usize,
        /// AQuA segment size in records.
        segment_size: usize,
        /// Fault profile.
        faults: FaultProfile,
        /// Two entities instead of one.
        multi_entity: bool,
        /// Whether some notes contain line breaks (default true).
        multiline_text: bool,
        /// The tenant's "now" at start.
        start_time: DateTime<Utc>,
        /// Tenant time zone, minutes east of UTC.
        tenant_offset_minutes: i32,
        /// API requests per minute before 429.
        rate_limit_per_minute: u64,
        /// Concurrent requests before 429.
        concurrency_limit: usize,
        /// Delay before a job starts running.
        job_delay: Duration,
        /// Data Query jobs running at once.
        dq_running_limit: usize,
        /// Data Query jobs queued beyond the running ones.
        dq_queue_limit: usize,
        /// AQuA active jobs per mode.
        aqua_job_limit: usize,
        /// Lifetime of Data Query `dataFile` URLs.
        data_file_ttl: Duration,
        /// `CrmId`s handed out in turn to the accounts that get one (random when empty).
        crm_ids: Vec<String>,
        /// Rows of the feature-gated, 100-field `WideRecord` object (0: the object is off).
        wide_rows: usize,
    }

    /// Selects a fault profile by name; the error lists the valid names.
    pub fn fault_profile(mut self, name: &str) -> Result<Self, UnknownProfile> {
        self.cfg.faults = name.parse()?;
        Ok(self)
    }

    /// Spools result files under `dir/zuora-files` (kept at shutdown) instead of a temporary
    /// directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cfg.data_dir = Some(dir.into());
        self
    }

    /// Accept only these AQuA partner ids in stateful mode (any by default).
    pub fn aqua_partners(mut self, partners: Vec<String>) -> Self {
        self.cfg.aqua_partners = Some(partners);
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &ZuoraSimConfig {
        &self.cfg
    }

    /// Finishes the builder.
    pub fn build(self) -> ZuoraSim {
        ZuoraSim { cfg: self.cfg }
    }

    /// Builds and starts the simulator.
    pub async fn start(self) -> Result<RunningZuoraSim, ZuoraSimError> {
        start(self.cfg).await
    }
}

/// Replaces the generated `CrmId`s with `ids`, in turn, so they name records of a real org.
fn assign_crm_ids(store: &mut Store, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let field = schema::Kind::Account.def().idx("CrmId");
    let table = store.table_mut(schema::Kind::Account);
    let mut next = 0;
    for row in 0..table.len() as store::Row {
        if !table.get(row, field).is_null() {
            table.set_text(row, field, Arc::from(ids[next % ids.len()].as_str()));
            next += 1;
        }
    }
}

/// Deterministic credentials and entity ids from the seed.
fn identities(seed: u64, entities: usize) -> (String, String, Vec<String>, u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC1E7);
    let uuid = |rng: &mut ChaCha8Rng| {
        uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string()
    };
    let client_id = uuid(&mut rng);
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let secret: String = (0..40)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect();
    let ids = (0..entities).map(|_| uuid(&mut rng)).collect();
    let prefix = 0x2c92_0000 | (rng.random::<u32>() & 0xffff);
    (client_id, secret, ids, prefix)
}

async fn start(cfg: ZuoraSimConfig) -> Result<RunningZuoraSim, ZuoraSimError> {
    if !(0.0..=1.0).contains(&cfg.crm_share) {
        return Err(ZuoraSimError::Config(format!(
            "crm_share must be within 0..1, got {}",
            cfg.crm_share
        )));
    }
    if cfg.segment_size == 0 || cfg.dq_running_limit == 0 {
        return Err(ZuoraSimError::Config(
            "segment_size and dq_running_limit must be positive".into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .map_err(|source| ZuoraSimError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ZuoraSimError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let n_entities = if cfg.multi_entity { 2 } else { 1 };
    let (client_id, client_secret, entity_ids, prefix) = identities(cfg.seed, n_entities);
    let clock = VirtualClock::new(cfg.start_time);
    let now = clock.start_ms();
    let gen_cfg = cfg.clone();
    let stores = tokio::task::spawn_blocking(move || {
        (0..n_entities)
            .map(|e| {
                let share =
                    gen_cfg.accounts / n_entities + usize::from(e < gen_cfg.accounts % n_entities);
                let mut store = Store::new(IdCodec::new(prefix, e as u8));
                generate(
                    &mut store,
                    &GenConfig {
                        seed: gen_cfg.seed.wrapping_add(e as u64 * 7919),
                        accounts: share,
                        crm_share: gen_cfg.crm_share,
                        now_ms: now,
                        number_offset: e * 10_000_000,
                        multiline_text: gen_cfg.multiline_text,
                    },
                );
                assign_crm_ids(&mut store, &gen_cfg.crm_ids);
                if gen_cfg.wide_rows > 0 {
                    let rows = gen_cfg.wide_rows / n_entities
                        + usize::from(e < gen_cfg.wide_rows % n_entities);
                    synthetic::fill(
                        &mut store,
                        store::Row::try_from(rows).unwrap_or(store::NO_ROW - 1),
                        gen_cfg.seed.wrapping_add(e as u64),
                        now,
                    );
                }
                store
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ZuoraSimError::Config(format!("data generation failed: {e}")))?;
    let entities = stores
        .into_iter()
        .zip(entity_ids)
        .map(|(store, uuid)| Entity {
            uuid,
            store: RwLock::new(store),
        })
        .collect();
    let spool = Spool::new(cfg.data_dir.as_ref()).map_err(ZuoraSimError::Spool)?;
    let sim = Arc::new(Sim {
        faults: Mutex::new(FaultEngine::new(cfg.faults.clone(), cfg.seed)),
        dq_slots: tokio::sync::Semaphore::new(cfg.dq_running_limit),
        cfg,
        clock,
        entities,
        client_id,
        client_secret,
        tokens: Mutex::new(HashMap::new()),
        dq: Mutex::default(),
        aqua: Mutex::default(),
        files: Mutex::new(HashMap::new()),
        counters: Mutex::new(BTreeMap::new()),
        rate: Mutex::new(RateWindow {
            started: Instant::now(),
            count: 0,
        }),
        inflight: AtomicUsize::new(0),
        locators: Mutex::new(HashMap::new()),
        base_url: format!("http://{addr}"),
        spool,
        signing_key: rand::random(),
        mutation_seq: AtomicU64::new(0),
    });
    let app = http::router(sim.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningZuoraSim {
        sim,
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningZuoraSim {
    sim: Arc<Sim>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningZuoraSim {
    /// `http://127.0.0.1:<port>`: use it as the tenant's REST base URL.
    pub fn base_url(&self) -> &str {
        &self.sim.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// OAuth client id (36 characters).
    pub fn client_id(&self) -> &str {
        &self.sim.client_id
    }

    /// OAuth client secret.
    pub fn client_secret(&self) -> &str {
        &self.sim.client_secret
    }

    /// Entity UUIDs (two when multi-entity).
    pub fn entity_ids(&self) -> Vec<String> {
        self.sim.entities.iter().map(|e| e.uuid.clone()).collect()
    }

    /// Row counts per object and entity (deleted rows included).
    pub fn row_counts(&self) -> Vec<BTreeMap<String, usize>> {
        self.sim
            .entities
            .iter()
            .map(|e| {
                let store = e.store.read().unwrap_or_else(|p| p.into_inner());
                store
                    .counts()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect()
            })
            .collect()
    }

    /// The tenant's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    /// Moves the tenant clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.sim
            .clock
            .advance(i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 1000));
    }

    /// Updates, cancels or deletes `count` random rows of `object` in entity `entity`.
    pub fn mutate(
        &self,
        entity: usize,
        object: &str,
        count: usize,
        action: Mutation,
    ) -> Result<Vec<String>, ZuoraSimError> {
        Ok(control::mutate(&self.sim, entity, object, count, action)?)
    }

    /// The object kind, the entity's store (locked for writing) and the row of record `id`.
    fn record(
        &self,
        entity: usize,
        object: &str,
        id: &str,
    ) -> Result<
        (
            schema::Kind,
            std::sync::RwLockWriteGuard<'_, store::Store>,
            store::Row,
        ),
        ZuoraSimError,
    > {
        let fail = |m: String| ZuoraSimError::Control(ControlError(m));
        let kind = schema::catalog()
            .object(object)
            .map(|o| o.kind)
            .ok_or_else(|| fail(format!("unknown object {object}")))?;
        let e = self
            .sim
            .entities
            .get(entity)
            .ok_or_else(|| fail(format!("no entity {entity}")))?;
        let store = e.store.write().unwrap_or_else(|p| p.into_inner());
        let row = store
            .resolve(kind, id)
            .ok_or_else(|| fail(format!("no {object} {id}")))?;
        Ok((kind, store, row))
    }

    /// Sets (or, with `None`, clears) one field of the row `id` of `object` and stamps its
    /// `UpdatedDate`, as an edit in Zuora's UI would (e.g. removing an account's `CrmId`).
    pub fn set_field(
        &self,
        entity: usize,
        object: &str,
        id: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<(), ZuoraSimError> {
        let fail = |m: String| ZuoraSimError::Control(ControlError(m));
        let (kind, mut store, row) = self.record(entity, object, id)?;
        let fi = kind
            .def()
            .field_index(field)
            .ok_or_else(|| fail(format!("{object} has no field {field}")))?;
        let codec = store.codec;
        let value = match value {
            Some(v) => store::Value::Str(std::borrow::Cow::Owned(v.to_string())),
            None => store::Value::Null,
        };
        let now = self.sim.now_ms();
        let table = store.table_mut(kind);
        table
            .set_value(row, fi, &value, &codec)
            .map_err(|e| fail(format!("{}: {}", e.field, e.reason)))?;
        table.touch(row, now);
        Ok(())
    }

    /// Adds `count` copies of the record `id` of `object` (same fields, same parents, new ids,
    /// created now) and returns their ids: a parent with very many children on demand (e.g.
    /// past Salesforce's 10,000-child cascade limit).
    pub fn copy_record(
        &self,
        entity: usize,
        object: &str,
        id: &str,
        count: usize,
    ) -> Result<Vec<String>, ZuoraSimError> {
        let (kind, mut store, row) = self.record(entity, object, id)?;
        let now = self.sim.now_ms();
        let table = store.table_mut(kind);
        let copies: Vec<store::Row> = (0..count).map(|_| table.push_copy(row, now)).collect();
        Ok(copies
            .into_iter()
            .map(|r| store.codec.encode(kind, r))
            .collect())
    }

    /// Switches the fault profile (schedules restart).
    pub fn set_faults(&self, profile: FaultProfile) {
        lock(&self.sim.faults).set(profile);
    }

    /// Requests per endpoint name since start.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.sim.counters).clone()
    }

    /// Revokes every access token.
    pub fn revoke_tokens(&self) {
        lock(&self.sim.tokens).clear();
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningZuoraSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
