//! The two databases behind one small interface.
//!
//! SQLite and PostgreSQL run the same SQL text; [`on_pool!`] expands one block of sqlx code for
//! each, so the queries are written once and type-checked against both drivers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;
use crate::seal::create_private_dir;

/// Which database a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// SQLite in the data directory.
    Sqlite,
    /// PostgreSQL at `ZBRIDGE_DATABASE_URL`.
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same block against whichever pool `db` holds.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Whether an error is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

impl Db {
    pub(crate) async fn open_sqlite(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join("zbridge.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        // sqlx takes no lock while migrating SQLite, so concurrent first runs would race to
        // create the tables; a file lock makes them take turns.
        let lock_path = dir.join("zbridge.db.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .map_err(|e| StoreError::io(&lock_path, std::io::Error::other(e)))?
            .map_err(|e| StoreError::io(&lock_path, e))?;
        let migrated = sqlx::migrate!("./migrations/sqlite").run(&pool).await;
        drop(lock);
        migrated?;
        Ok(Db::Sqlite(pool))
    }

    pub(crate) async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        // sqlx holds a PostgreSQL advisory lock while it migrates.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Db::Postgres(pool))
    }

    pub(crate) fn kind(&self) -> DatabaseKind {
        match self {
            Db::Sqlite(_) => DatabaseKind::Sqlite,
            Db::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    pub(crate) async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    pub(crate) async fn insert_meta_if_absent(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
        on_pool!(self, pool => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub(crate) async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        const SQL: &str = "SELECT value FROM meta WHERE key = $1";
        let row: Option<(Vec<u8>,)> =
            on_pool!(self, pool => sqlx::query_as(SQL).bind(key).fetch_optional(pool).await)?;
        Ok(row.map(|(v,)| v))
    }
}
