//! Where zbridge keeps its files, following `ZBRIDGE_HOME` or the XDG base directories.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::StoreError;
use crate::seal::{KeyOrigin, MasterKey};

/// The locations and settings that decide which store is opened.
#[derive(Debug, Clone)]
pub struct Home {
    /// Holds the SQLite database (and other data files).
    pub data_dir: PathBuf,
    /// Holds the master key file.
    pub config_dir: PathBuf,
    /// A PostgreSQL URL; when set, the database is PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// The master key given in the environment, if any.
    pub master_key: Option<SecretString>,
}

impl Home {
    /// Reads the environment:
    ///
    /// - `ZBRIDGE_HOME`: one directory for everything; otherwise `$XDG_DATA_HOME/zbridge`
    ///   (default `~/.local/share/zbridge`) for data and `$XDG_CONFIG_HOME/zbridge`
    ///   (default `~/.config/zbridge`) for the key file;
    /// - `ZBRIDGE_DATABASE_URL`: use PostgreSQL;
    /// - `ZBRIDGE_MASTER_KEY`: the master key (64 hex characters or base64 of 32 bytes).
    pub fn from_env() -> Result<Self, StoreError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (data_dir, config_dir) = match var("ZBRIDGE_HOME") {
            Some(home) => (PathBuf::from(&home), PathBuf::from(home)),
            None => {
                let user_home = var("HOME").map(PathBuf::from).ok_or_else(|| {
                    StoreError::MasterKey(
                        "neither ZBRIDGE_HOME nor HOME is set; set ZBRIDGE_HOME to a directory for zbridge's data".into(),
                    )
                })?;
                let data = var("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| user_home.join(".local/share"));
                let config = var("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| user_home.join(".config"));
                (data.join("zbridge"), config.join("zbridge"))
            }
        };
        Ok(Home {
            data_dir,
            config_dir,
            database_url: var("ZBRIDGE_DATABASE_URL"),
            master_key: var("ZBRIDGE_MASTER_KEY").map(SecretString::from),
        })
    }

    /// A home rooted in one directory with an explicit key; for tests and embedding.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Home {
            data_dir: dir.clone(),
            config_dir: dir,
            database_url: None,
            master_key: None,
        }
    }

    /// The key file used when no key is given in the environment.
    pub fn key_file(&self) -> PathBuf {
        self.config_dir.join("master.key")
    }

    /// The master key: from the environment, else from the key file (created on first use).
    pub fn master_key(&self) -> Result<MasterKey, StoreError> {
        match &self.master_key {
            Some(text) => MasterKey::from_text(text, KeyOrigin::Environment),
            None => MasterKey::load_or_create_file(&self.key_file()),
        }
    }
}
