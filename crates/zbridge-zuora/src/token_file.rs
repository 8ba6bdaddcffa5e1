//! The token cache file named by `OAuthSettingsLocation`.
//!
//! The file holds JSON with the token sealed by the store's key (bound to the connection and its
//! credentials) and its expiry. It is created with mode 0600, written under an exclusive lock
//! on a side file, and replaced atomically by a rename, so readers never see half a token.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use zbridge_store::{Store, StoredToken};

use crate::error::ZuoraError;

#[derive(Serialize, Deserialize)]
struct TokenFile {
    connection_id: String,
    sealed: String,
    scope: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

fn aad(connection_id: &str, binding: &str) -> String {
    format!("tokenfile:{connection_id}/{binding}")
}

fn cache_error(path: &Path, e: impl std::fmt::Display) -> ZuoraError {
    ZuoraError::Cache(format!("{}: {e}", path.display()))
}

/// Reads the cached token; a missing, unreadable or foreign file is a cache miss.
pub(crate) fn load(
    store: &Store,
    connection_id: &str,
    binding: &str,
    path: &Path,
) -> Result<Option<StoredToken>, ZuoraError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cache_error(path, e)),
    };
    let Ok(file) = serde_json::from_str::<TokenFile>(&text) else {
        return Ok(None);
    };
    if file.connection_id != connection_id {
        return Ok(None);
    }
    let Ok(sealed) = base64::engine::general_purpose::STANDARD.decode(&file.sealed) else {
        return Ok(None);
    };
    Ok(store
        .sealer()
        .open_secret(&sealed, &aad(connection_id, binding))
        .ok()
        .map(|access_token| StoredToken {
            access_token,
            scope: file.scope,
            expires_at: file.expires_at,
        }))
}

/// Writes the token: lock, write a private temporary file, rename it into place.
pub(crate) fn save(
    store: &Store,
    connection_id: &str,
    binding: &str,
    path: &Path,
    token: &StoredToken,
) -> Result<(), ZuoraError> {
    let sealed = store
        .sealer()
        .seal_secret(&token.access_token, &aad(connection_id, binding))
        .map_err(|e| cache_error(path, e))?;
    let file = TokenFile {
        connection_id: connection_id.to_string(),
        sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        scope: token.scope.clone(),
        expires_at: token.expires_at,
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| cache_error(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| cache_error(dir, e))?;
    }
    let lock_path = path.with_extension("lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| cache_error(&lock_path, e))?;
    lock.lock().map_err(|e| cache_error(&lock_path, e))?;
    let temp = path.with_extension(format!("tmp.{}", uuid::Uuid::new_v4().simple()));
    let written = (|| -> std::io::Result<()> {
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(&json)?;
        out.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    drop(lock);
    written.map_err(|e| cache_error(path, e))
}

/// Removes the cached token.
pub(crate) fn remove(path: &Path) -> Result<(), ZuoraError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(cache_error(path, e)),
    }
}
