//! The two databases behind one small interface.
//!
//! SQLite and PostgreSQL run the same SQL text; [`on_pool!`] expands one block of sqlx code for
//! each, so the queries are written once and type-checked against both drivers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use zbridge_core::ValidationError;

use crate::StoreError;
use crate::seal::create_private_dir;

/// The setting that selects PostgreSQL, as users see it in errors.
const DATABASE_URL: &str = "ZBRIDGE_DATABASE_URL";

/// How long opening PostgreSQL waits for its first connection before it reports where it
/// tried: long enough for a distant server and a TLS handshake, short enough that a wrong host
/// or port is reported while the user still waits.
pub(crate) const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses `ZBRIDGE_DATABASE_URL`: only `postgres://` (or `postgresql://`) is supported, and
/// any other scheme is refused by name before anything is opened or written.
pub(crate) fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let scheme = url.trim().split_once("://").map(|(scheme, _)| scheme);
    let plain = |s: &str| {
        s.len() <= 20
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    };
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql") => {}
        Some(s) if !s.is_empty() && plain(s) => {
            let rule =
                format!("unsupported scheme '{s}'; use postgres:// (or unset it for SQLite)");
            return Err(ValidationError::new(DATABASE_URL, rule).into());
        }
        _ => {
            let rule =
                "must be a URL such as postgres://user@host/database (or unset it for SQLite)";
            return Err(ValidationError::new(DATABASE_URL, rule).into());
        }
    }
    PgConnectOptions::from_str(url.trim()).map_err(|e| {
        ValidationError::new(DATABASE_URL, format!("is not a valid PostgreSQL URL: {e}")).into()
    })
}

/// Where `options` points, for errors: `host:port`, or the socket path.
fn pg_address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Makes one connection with a short timeout, so that an unreachable or refusing server is
/// reported at once with its address (the pool retries a refused connection until its acquire
/// timeout and then says only that it timed out).
async fn probe_postgres(options: &PgConnectOptions) -> Result<(), StoreError> {
    let address = pg_address(options);
    let attempt = tokio::time::timeout(PG_CONNECT_TIMEOUT, PgConnection::connect_with(options));
    let detail = match attempt.await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            return Ok(());
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {} s", PG_CONNECT_TIMEOUT.as_secs()),
    };
    Err(StoreError::DatabaseUnreachable { address, detail })
}

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

    pub(crate) async fn open_postgres(options: PgConnectOptions) -> Result<Self, StoreError> {
        probe_postgres(&options).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_urls_are_accepted() {
        for ok in [
            "postgres://u@db/zbridge",
            "postgresql://u:p@127.0.0.1:5433/z",
        ] {
            assert!(pg_options(ok).is_ok(), "{ok}");
        }
        let cases = [
            (
                "mysql://u:pw@db/zbridge",
                "ZBRIDGE_DATABASE_URL: unsupported scheme 'mysql'; use postgres:// (or unset it for SQLite)",
            ),
            (
                "sqlite:///tmp/z.db",
                "ZBRIDGE_DATABASE_URL: unsupported scheme 'sqlite'; use postgres:// (or unset it for SQLite)",
            ),
            (
                "u:secret@db/zbridge",
                "ZBRIDGE_DATABASE_URL: must be a URL such as postgres://user@host/database (or unset it for SQLite)",
            ),
        ];
        for (url, expected) in cases {
            let err = pg_options(url).unwrap_err();
            assert!(err.is_bad_input(), "{url}");
            assert_eq!(err.to_string(), expected);
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_quickly() {
        let options = pg_options("postgres://u@127.0.0.1:1/db").unwrap();
        let started = std::time::Instant::now();
        let err = Db::open_postgres(options).await.unwrap_err();
        assert!(started.elapsed() <= PG_CONNECT_TIMEOUT + Duration::from_secs(1));
        assert!(err.is_remote(), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "cannot connect to PostgreSQL at 127.0.0.1:1 (from ZBRIDGE_DATABASE_URL): "
            ),
            "{text}"
        );
        assert!(text.contains("check that the server is running"), "{text}");
    }

    #[tokio::test]
    async fn a_refused_url_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::Home::in_dir(dir.path().join("home"));
        home.database_url = Some("mysql://u@db/zbridge".into());
        let err = crate::Store::open(&home).await.unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        assert!(!dir.path().join("home").exists(), "no key file, no folder");
    }
}
