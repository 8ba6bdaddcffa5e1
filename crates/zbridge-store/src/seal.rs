//! Sealing secrets at rest with XChaCha20-Poly1305, and the master key they are sealed with.
//!
//! A sealed value is `version ‖ nonce ‖ ciphertext`: one key-version byte, a fresh random 24-byte
//! nonce, and the ciphertext with its tag. The associated data binds it to `<record>/<field>`, so
//! a ciphertext moved to another row or field fails to open instead of yielding another secret.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::StoreError;

/// The current layout of sealed values.
const KEY_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Where the master key came from; named in errors so the user knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The `ZBRIDGE_MASTER_KEY` environment variable.
    Environment,
    /// A key file.
    File(PathBuf),
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Environment => f.write_str("ZBRIDGE_MASTER_KEY"),
            KeyOrigin::File(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// The 32-byte master key, wiped from memory on drop.
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    origin: KeyOrigin,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Parses a key given as 64 hex characters or as base64 of 32 bytes.
    pub fn from_text(text: &SecretString, origin: KeyOrigin) -> Result<Self, StoreError> {
        let text = text.expose_secret().trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        };
        let decoded = Zeroizing::new(decoded.unwrap_or_default());
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
            StoreError::MasterKey(format!(
                "{origin}: must be 32 bytes written as 64 hex characters or as base64"
            ))
        })?;
        Ok(MasterKey {
            bytes: Zeroizing::new(bytes),
            origin,
        })
    }

    /// Reads the key file, or creates it (mode 0600) with a random key when it does not exist.
    ///
    /// Creation is race-free: the key is written to a private temporary file that is then
    /// hard-linked into place, so concurrent first runs agree on one key and never read a
    /// half-written file.
    pub fn load_or_create_file(path: &Path) -> Result<Self, StoreError> {
        let origin = KeyOrigin::File(path.to_path_buf());
        match fs::read_to_string(path) {
            Ok(text) => return Self::from_text(&SecretString::from(text), origin),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let key = Zeroizing::new(hex::encode(<[u8; 32]>::generate()));
        let temp = dir.join(format!(".master.key.{}.tmp", uuid::Uuid::new_v4()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(key.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        };
        write().map_err(|e| StoreError::io(&temp, e))?;
        let linked = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
        let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
        Self::from_text(&SecretString::from(text), origin)
    }

    /// Where the key came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }
}

/// Creates a directory (and parents) readable only by the owner.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| StoreError::io(dir, e))
}

/// Seals and opens secrets with the master key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    origin: KeyOrigin,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for `key`.
    pub fn new(key: &MasterKey) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(&(*key.bytes).into()),
            origin: key.origin.clone(),
        }
    }

    /// Where the key came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// Seals `plaintext`, bound to `aad` (`<record>/<field>`).
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, StoreError> {
        let nonce = XNonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Seal(format!("could not seal {aad}")))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Seals a secret string.
    pub fn seal_secret(&self, secret: &SecretString, aad: &str) -> Result<Vec<u8>, StoreError> {
        self.seal(secret.expose_secret().as_bytes(), aad)
    }

    /// Opens a sealed value; a wrong key, a tampered value or a moved value is an error.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let (version, rest) = sealed
            .split_first()
            .ok_or_else(|| StoreError::Seal(format!("sealed value of {aad} is empty")))?;
        if *version != KEY_VERSION || rest.len() < NONCE_LEN {
            return Err(StoreError::Seal(format!(
                "sealed value of {aad} has an unknown layout"
            )));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce)
            .map_err(|_| StoreError::Seal(format!("sealed value of {aad} has a bad nonce")))?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::WrongMasterKey {
                origin: self.origin.to_string(),
                what: aad.to_string(),
            })
    }

    /// Opens a sealed UTF-8 secret.
    pub fn open_secret(&self, sealed: &[u8], aad: &str) -> Result<SecretString, StoreError> {
        let bytes = self.open(sealed, aad)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| StoreError::Seal(format!("sealed value of {aad} is not UTF-8")))?;
        Ok(SecretString::from(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_text(
            &SecretString::from(hex::encode([byte; 32])),
            KeyOrigin::Environment,
        )
        .unwrap()
    }

    #[test]
    fn seal_and_open_round_trip_and_nonces_differ() {
        let sealer = Sealer::new(&key(7));
        let a = sealer
            .seal(b"hunter2", "connection:1/client_secret")
            .unwrap();
        let b = sealer
            .seal(b"hunter2", "connection:1/client_secret")
            .unwrap();
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(!a.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            &*sealer.open(&a, "connection:1/client_secret").unwrap(),
            b"hunter2"
        );
    }

    #[test]
    fn moved_tampered_or_foreign_values_do_not_open() {
        let sealer = Sealer::new(&key(7));
        let mut sealed = sealer
            .seal(b"hunter2", "connection:1/client_secret")
            .unwrap();
        assert!(sealer.open(&sealed, "connection:2/client_secret").is_err());
        assert!(sealer.open(&sealed, "connection:1/refresh_token").is_err());
        let other = Sealer::new(&key(8));
        let err = other
            .open(&sealed, "connection:1/client_secret")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ZBRIDGE_MASTER_KEY"), "{err}");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(sealer.open(&sealed, "connection:1/client_secret").is_err());
        assert!(sealer.open(&[], "x").is_err());
        assert!(sealer.open(&[1, 2, 3], "x").is_err());
    }

    #[test]
    fn keys_parse_from_hex_or_base64_only() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
        assert!(MasterKey::from_text(&SecretString::from(b64), KeyOrigin::Environment).is_ok());
        let err = MasterKey::from_text(
            &SecretString::from("short".to_string()),
            KeyOrigin::Environment,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "master key: ZBRIDGE_MASTER_KEY: must be 32 bytes written as 64 hex characters or as base64"
        );
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/master.key");
        let first = MasterKey::load_or_create_file(&path).unwrap();
        let second = MasterKey::load_or_create_file(&path).unwrap();
        assert_eq!(*first.bytes, *second.bytes);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| *MasterKey::load_or_create_file(&path).unwrap().bytes))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }
}
