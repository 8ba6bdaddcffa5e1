//! Runs store tests against real SQLite and, when `PG_URL` is set, real PostgreSQL.

#![allow(dead_code)]

use secrecy::SecretString;
use sqlx::Connection;
use zbridge_store::{Home, Store};

/// A store under test, with what is needed to inspect its raw storage afterwards.
pub struct Backend {
    pub name: &'static str,
    pub home: Home,
    pub dir: tempfile::TempDir,
    pub pg_url: Option<String>,
}

impl Backend {
    pub async fn open(&self) -> Store {
        Store::open(&self.home).await.expect("open store")
    }
}

pub fn test_key() -> SecretString {
    SecretString::from("11".repeat(32))
}

/// SQLite always; PostgreSQL when `PG_URL` names a server (each call gets a fresh database).
/// Under CI (`CI` set) a missing `PG_URL` is a failure, so the PostgreSQL half cannot be
/// skipped silently.
pub async fn backends() -> Vec<Backend> {
    let mut out = vec![sqlite_backend()];
    match std::env::var("PG_URL") {
        Ok(url) if !url.is_empty() => out.push(postgres_backend(&url).await),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PG_URL is not: the PostgreSQL tests must run")
        }
        _ => eprintln!("PG_URL is not set: PostgreSQL half of the store tests skipped"),
    }
    out
}

pub fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(test_key());
    Backend {
        name: "sqlite",
        home,
        dir,
        pg_url: None,
    }
}

pub async fn postgres_backend(admin_url: &str) -> Backend {
    let db = format!("zbt_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PG_URL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => panic!("PG_URL must end with a database name"),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(test_key());
    home.database_url = Some(url.clone());
    Backend {
        name: "postgres",
        home,
        dir,
        pg_url: Some(url),
    }
}
