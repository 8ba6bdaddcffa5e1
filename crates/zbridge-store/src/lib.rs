//! Persistence for zbridge: SQLite by default, PostgreSQL when a URL is given.
//!
//! One [`Store`] holds connections, projects, variables and saved components. Both databases
//! run the same SQL text (with `$1` placeholders) against their own migrations folder, and every
//! secret is sealed with XChaCha20-Poly1305 ([`seal`]) before it reaches either database.

mod components;
mod connection_view;
mod connections;
mod db;
mod describe_cache;
mod home;
mod leases;
pub mod seal;
mod sf_credentials;
mod sync_state;
mod tokens;
mod variables;

use std::path::{Path, PathBuf};

pub use components::{ComponentRef, SavedComponent};
pub use connection_view::{AdvancedView, ConnectionView, ProxyView, SecretState};
pub use connections::{ConnectionRecord, ConnectionSummary, Saved};
pub use db::DatabaseKind;
pub use home::Home;
pub use leases::{
    ClaimedProfile, DEFAULT_LEASE_TTL, LeaseError, LeaseEvent, LeaseHolder, LeaseKeeper, SyncLease,
    this_worker_id,
};
pub use sf_credentials::{
    CredentialStamp, SYNC_PROFILE_KIND, SecretChange, SfCredentialRecord, SyncProfile,
};
pub use sync_state::{
    KeyInfo, ObjectStats, SyncFailure, SyncKey, SyncRun, SyncSchedule, SyncVerification, csv_field,
};
pub use tokens::StoredToken;
pub use variables::VariableInfo;

use db::Db;
use seal::Sealer;

/// Everything that can go wrong in the store, each phrased for the person who must act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// User input broke a rule; nothing was written.
    #[error(transparent)]
    Invalid(#[from] zbridge_core::ValidationError),
    /// The name is taken (names are compared regardless of case).
    #[error(
        "{field}: a {kind} named '{existing}' already exists (names are unique regardless of case)"
    )]
    Duplicate {
        /// Field label.
        field: &'static str,
        /// What kind of thing.
        kind: &'static str,
        /// The name already stored.
        existing: String,
    },
    /// Nothing of that kind has that name.
    #[error("no {kind} named '{name}'; 'zbridge {list_command}' lists them")]
    NotFound {
        /// What kind of thing.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The command that lists what exists.
        list_command: &'static str,
    },
    /// The connection is referenced by saved components.
    #[error("connection '{name}' is used by {}; delete or change those first", describe_users(.users))]
    InUse {
        /// The connection.
        name: String,
        /// What uses it.
        users: Vec<ComponentRef>,
    },
    /// Someone else changed the record after it was read.
    #[error(
        "{kind} '{name}' was changed by someone else since it was read; load it again and retry"
    )]
    Conflict {
        /// What kind of thing.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The master key cannot open the stored secrets.
    #[error(
        "the master key from {origin} does not open {what}: it is not the key these secrets were sealed with; use the original key (sealed secrets cannot be recovered without it)"
    )]
    WrongMasterKey {
        /// Where the key came from.
        origin: String,
        /// What failed to open.
        what: String,
    },
    /// The master key is malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A sealed value is damaged.
    #[error("sealed secret: {0}")]
    Seal(String),
    /// A stored record cannot be read back.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// PostgreSQL could not be reached, or refused the connection, when the store was opened.
    #[error(
        "cannot connect to PostgreSQL at {address} (from ZBRIDGE_DATABASE_URL): {detail}; check that the server is running and accepts TCP connections at that host and port (firewall, listen_addresses, pg_hba.conf), and the user, password and database in the URL"
    )]
    DatabaseUnreachable {
        /// `host:port` or the socket path.
        address: String,
        /// What the attempt gave.
        detail: String,
    },
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error is the user's to fix by changing their input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StoreError::Invalid(_)
                | StoreError::Duplicate { .. }
                | StoreError::NotFound { .. }
                | StoreError::InUse { .. }
                | StoreError::MasterKey(_)
        )
    }

    /// Whether a remote service (the PostgreSQL server) failed or refused us (exit code 3).
    pub fn is_remote(&self) -> bool {
        matches!(self, StoreError::DatabaseUnreachable { .. })
    }
}

fn describe_users(users: &[ComponentRef]) -> String {
    let listed: Vec<String> = users
        .iter()
        .map(|u| format!("{} '{}'", u.kind, u.name))
        .collect();
    listed.join(", ")
}

/// The store: a database plus the sealer for its secrets.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    sealer: std::sync::Arc<Sealer>,
}

impl Store {
    /// Opens (and migrates) the store described by `home`: SQLite in its data directory, or
    /// PostgreSQL when `home.database_url` is set; the master key from `ZBRIDGE_MASTER_KEY`
    /// or the key file.
    pub async fn open(home: &Home) -> Result<Self, StoreError> {
        let postgres = home
            .database_url
            .as_deref()
            .map(db::pg_options)
            .transpose()?;
        let key = home.master_key()?;
        let db = match postgres {
            Some(options) => Db::open_postgres(options).await?,
            None => Db::open_sqlite(&home.data_dir).await?,
        };
        let store = Store {
            db,
            sealer: std::sync::Arc::new(Sealer::new(&key)),
        };
        store.check_master_key().await?;
        Ok(store)
    }

    /// Which database this store uses.
    pub fn database_kind(&self) -> DatabaseKind {
        self.db.kind()
    }

    /// Seals a known value on first use and opens it on every later open, so a wrong key is
    /// reported at once and clearly, before any secret is needed.
    async fn check_master_key(&self) -> Result<(), StoreError> {
        const AAD: &str = "meta:key_check";
        const PLAINTEXT: &[u8] = b"zbridge master key check";
        let sealed = self.sealer.seal(PLAINTEXT, AAD)?;
        self.db.insert_meta_if_absent("key_check", &sealed).await?;
        let stored = self
            .db
            .meta("key_check")
            .await?
            .ok_or_else(|| StoreError::Corrupt("the key check value is missing".into()))?;
        let opened = self
            .sealer
            .open(&stored, AAD)
            .map_err(|_| StoreError::WrongMasterKey {
                origin: self.sealer.origin().to_string(),
                what: "this database's secrets".into(),
            })?;
        if opened.as_slice() != PLAINTEXT {
            return Err(StoreError::Corrupt("the key check value is wrong".into()));
        }
        Ok(())
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
