//! Sync profiles and their Salesforce sync credentials.
//!
//! A sync profile pairs one Zuora connection with one Salesforce org. It is a saved component
//! (kind [`SYNC_PROFILE_KIND`]), so the connection it uses cannot be deleted under it. Its
//! credentials live in their own table keyed by profile: at most one of each kind, exactly one
//! of them active. The store knows nothing about what the fields mean (zbridge-salesforce
//! validates them); it keeps the non-secret fields as JSON, seals every secret, bumps a version
//! on each change a person makes, and provides the lease that makes an OAuth refresh
//! single-flight across processes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use zbridge_core::{ConnectionName, ValidationError};

use crate::db::on_pool;
use crate::{Store, StoreError, from_millis, now_millis};

/// The component kind of sync profiles.
pub const SYNC_PROFILE_KIND: &str = "sync profile";
const PROFILE_FIELD: &str = "Sync Profile Name";
const LIST_PROFILES: &str = "sync profile list";

/// A sync profile: a name, the Zuora connection it reads from, and options (JSON, owned by
/// the sync engine).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncProfile {
    /// Stable id (the component id); credentials are keyed by it.
    pub id: String,
    /// Name as written.
    pub name: String,
    /// Id of the Zuora connection.
    pub connection_id: String,
    /// Options for the sync engine.
    pub options: serde_json::Value,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// One stored credential of a profile, secrets opened.
#[derive(Debug, Clone)]
pub struct SfCredentialRecord {
    /// The kind (`password`, `oauth`, `jwt`; the store does not interpret it).
    pub kind: String,
    /// Whether this is the profile's active credential.
    pub active: bool,
    /// Non-secret fields.
    pub config: serde_json::Value,
    /// Sealed fields, opened.
    pub secrets: BTreeMap<String, SecretString>,
    /// Changes with every edit or switch.
    pub version: i64,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A change to one secret field: set it, or remove it.
#[derive(Debug, Clone)]
pub enum SecretChange<'a> {
    /// Seal and store this value.
    Set(&'a SecretString),
    /// Remove the stored value.
    Clear,
}

/// What identifies the active credential's current settings: when it changes, a running sync
/// must authenticate again at its next batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialStamp {
    /// Kind of the active credential.
    pub kind: String,
    /// Its version.
    pub version: i64,
}

fn secret_aad(profile_id: &str, kind: &str, field: &str) -> String {
    format!("sf_credential:{profile_id}.{kind}/{field}")
}

fn profile_name(input: &str) -> Result<String, StoreError> {
    ConnectionName::parse(input)
        .map(|n| n.as_str().to_string())
        .map_err(|e| ValidationError::new(PROFILE_FIELD, e.rule).into())
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        kind: "sync profile",
        name: name.trim().to_string(),
        list_command: LIST_PROFILES,
    }
}

impl Store {
    /// Creates a sync profile that reads from the Zuora connection named `connection`.
    pub async fn create_sync_profile(
        &self,
        name: &str,
        connection: &str,
        options: serde_json::Value,
    ) -> Result<SyncProfile, StoreError> {
        let name = profile_name(name)?;
        match self.load_component(SYNC_PROFILE_KIND, &name).await {
            Ok(existing) => {
                return Err(StoreError::Duplicate {
                    field: PROFILE_FIELD,
                    kind: "sync profile",
                    existing: existing.name,
                });
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let connection = self.load_connection(connection).await?;
        let definition = serde_json::json!({"connection_id": connection.id, "options": options});
        // The check above names the existing profile; the insert itself decides races.
        let saved = self
            .create_component(SYNC_PROFILE_KIND, &name, &definition, &[connection.id])
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => StoreError::Duplicate {
                    field: PROFILE_FIELD,
                    kind: "sync profile",
                    existing: name.clone(),
                },
                other => other,
            })?;
        profile_from_component(saved)
    }

    /// Reads a sync profile by name (any capitalisation).
    pub async fn load_sync_profile(&self, name: &str) -> Result<SyncProfile, StoreError> {
        match self.load_component(SYNC_PROFILE_KIND, name).await {
            Ok(c) => profile_from_component(c),
            Err(StoreError::NotFound { .. }) => Err(not_found(name)),
            Err(e) => Err(e),
        }
    }

    /// Lists sync profiles by name.
    pub async fn list_sync_profiles(&self) -> Result<Vec<SyncProfile>, StoreError> {
        const SQL: &str = "SELECT name FROM components WHERE kind = $1 ORDER BY name_key";
        let names: Vec<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(SYNC_PROFILE_KIND).fetch_all(pool).await)?;
        let mut out = Vec::with_capacity(names.len());
        for (name,) in names {
            out.push(self.load_sync_profile(&name).await?);
        }
        Ok(out)
    }

    /// Deletes a sync profile and its credentials (revoke tokens first: this only forgets).
    pub async fn delete_sync_profile(&self, name: &str) -> Result<(), StoreError> {
        match self.delete_component(SYNC_PROFILE_KIND, name).await {
            Err(StoreError::NotFound { .. }) => Err(not_found(name)),
            other => other,
        }
    }

    /// Creates or changes the `kind` credential of a profile in one transaction: its non-secret
    /// fields are replaced by `config`, and each listed secret is set or cleared (unlisted
    /// secrets are kept). The first credential of a profile becomes the active one.
    pub async fn save_sf_credential(
        &self,
        profile_id: &str,
        kind: &str,
        config: &serde_json::Value,
        secrets: &[(&str, SecretChange<'_>)],
    ) -> Result<SfCredentialRecord, StoreError> {
        let mut sealed: Vec<(&str, Option<Vec<u8>>)> = Vec::with_capacity(secrets.len());
        for (field, change) in secrets {
            let value = match change {
                SecretChange::Set(secret) => Some(
                    self.sealer
                        .seal_secret(secret, &secret_aad(profile_id, kind, field))?,
                ),
                SecretChange::Clear => None,
            };
            sealed.push((field, value));
        }
        let config_text = config.to_string();
        let now = now_millis();
        const ANY: &str =
            "SELECT COUNT(*) FROM sf_credentials WHERE profile_id = $1 AND kind <> $2";
        const UPSERT: &str = "INSERT INTO sf_credentials (profile_id, kind, active, config, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (profile_id, kind) DO UPDATE SET \
             config = excluded.config, version = CASE WHEN sf_credentials.version >= excluded.version \
             THEN sf_credentials.version + 1 ELSE excluded.version END, updated_at = excluded.updated_at";
        const DELETE_SECRET: &str =
            "DELETE FROM sf_credential_secrets WHERE profile_id = $1 AND kind = $2 AND field = $3";
        const INSERT_SECRET: &str = "INSERT INTO sf_credential_secrets (profile_id, kind, field, sealed) VALUES ($1, $2, $3, $4)";
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let (others,): (i64,) = sqlx::query_as(ANY).bind(profile_id).bind(kind).fetch_one(&mut *tx).await?;
            sqlx::query(UPSERT).bind(profile_id).bind(kind).bind(others == 0).bind(&config_text).bind(now)
                .execute(&mut *tx).await?;
            for (field, value) in &sealed {
                sqlx::query(DELETE_SECRET).bind(profile_id).bind(kind).bind(*field).execute(&mut *tx).await?;
                if let Some(value) = value {
                    sqlx::query(INSERT_SECRET).bind(profile_id).bind(kind).bind(*field).bind(value)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await
        }.await)?;
        self.load_sf_credential(profile_id, kind)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the credential just saved is missing".into()))
    }

    /// Every credential of a profile, active first.
    pub async fn load_sf_credentials(
        &self,
        profile_id: &str,
    ) -> Result<Vec<SfCredentialRecord>, StoreError> {
        const SQL: &str = "SELECT kind, active, config, version, updated_at FROM sf_credentials \
             WHERE profile_id = $1 ORDER BY active DESC, kind";
        let rows: Vec<(String, bool, String, i64, i64)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).fetch_all(pool).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for (kind, active, config, version, updated_at) in rows {
            let secrets = self.load_sf_secrets(profile_id, &kind).await?;
            out.push(SfCredentialRecord {
                config: serde_json::from_str(&config)
                    .map_err(|e| StoreError::Corrupt(format!("credential settings: {e}")))?,
                kind,
                active,
                secrets,
                version,
                updated_at: from_millis(updated_at),
            });
        }
        Ok(out)
    }

    /// One credential of a profile, if it exists.
    pub async fn load_sf_credential(
        &self,
        profile_id: &str,
        kind: &str,
    ) -> Result<Option<SfCredentialRecord>, StoreError> {
        let all = self.load_sf_credentials(profile_id).await?;
        Ok(all.into_iter().find(|c| c.kind == kind))
    }

    async fn load_sf_secrets(
        &self,
        profile_id: &str,
        kind: &str,
    ) -> Result<BTreeMap<String, SecretString>, StoreError> {
        const SQL: &str =
            "SELECT field, sealed FROM sf_credential_secrets WHERE profile_id = $1 AND kind = $2";
        let rows: Vec<(String, Vec<u8>)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(kind).fetch_all(pool).await)?;
        let mut out = BTreeMap::new();
        for (field, sealed) in rows {
            let secret = self
                .sealer
                .open_secret(&sealed, &secret_aad(profile_id, kind, &field))?;
            out.insert(field, secret);
        }
        Ok(out)
    }

    /// The kind and version of the active credential, cheap enough to read before every batch.
    pub async fn sf_credential_stamp(
        &self,
        profile_id: &str,
    ) -> Result<Option<CredentialStamp>, StoreError> {
        const SQL: &str =
            "SELECT kind, version FROM sf_credentials WHERE profile_id = $1 AND active = $2";
        let row: Option<(String, i64)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(profile_id).bind(true).fetch_optional(pool).await)?;
        Ok(row.map(|(kind, version)| CredentialStamp { kind, version }))
    }

    /// Makes `kind` the active credential of a profile (the others become inactive).
    pub async fn activate_sf_credential(
        &self,
        profile_id: &str,
        kind: &str,
    ) -> Result<(), StoreError> {
        const DEACTIVATE: &str =
            "UPDATE sf_credentials SET active = $1 WHERE profile_id = $2 AND kind <> $3";
        const ACTIVATE: &str = "UPDATE sf_credentials SET active = $1, version = version + 1, updated_at = $2 \
             WHERE profile_id = $3 AND kind = $4";
        let updated = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(ACTIVATE).bind(true).bind(now_millis()).bind(profile_id).bind(kind)
                .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                sqlx::query(DEACTIVATE).bind(false).bind(profile_id).bind(kind).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Ok::<u64, sqlx::Error>(n)
        }.await)?;
        if updated == 0 {
            return Err(StoreError::NotFound {
                kind: "credential",
                name: kind.to_string(),
                list_command: "sf-credentials show PROFILE",
            });
        }
        Ok(())
    }

    /// Removes the `kind` credential and its secrets. If it was active, the remaining credential
    /// (if any) becomes active. Returns whether anything was removed.
    pub async fn delete_sf_credential(
        &self,
        profile_id: &str,
        kind: &str,
    ) -> Result<bool, StoreError> {
        const DELETE_SECRETS: &str =
            "DELETE FROM sf_credential_secrets WHERE profile_id = $1 AND kind = $2";
        const DELETE: &str = "DELETE FROM sf_credentials WHERE profile_id = $1 AND kind = $2";
        const PROMOTE: &str = "UPDATE sf_credentials SET active = $1, version = version + 1, updated_at = $2 \
             WHERE profile_id = $3 AND kind = (SELECT MIN(s.kind) FROM sf_credentials s WHERE s.profile_id = $3) \
             AND NOT EXISTS (SELECT 1 FROM sf_credentials s WHERE s.profile_id = $3 AND s.active = $1)";
        let deleted = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(DELETE_SECRETS).bind(profile_id).bind(kind).execute(&mut *tx).await?;
            let n = sqlx::query(DELETE).bind(profile_id).bind(kind).execute(&mut *tx).await?.rows_affected();
            sqlx::query(PROMOTE).bind(true).bind(now_millis()).bind(profile_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        }.await)?;
        Ok(deleted > 0)
    }

    /// Takes the refresh lease of a profile for `holder` until `ttl` has passed, unless another
    /// holder has an unexpired lease. Returns whether the lease is now held by `holder`.
    pub async fn try_lease_sf_refresh(
        &self,
        profile_id: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let expires = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        const SQL: &str = "INSERT INTO sf_refresh_leases (profile_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (profile_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE sf_refresh_leases.expires_at < $4 OR sf_refresh_leases.holder = excluded.holder";
        let n = on_pool!(&self.db, pool => sqlx::query(SQL).bind(profile_id).bind(holder).bind(expires).bind(now)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Ends a refresh: in one transaction, stores the rotated refresh token of the `kind`
    /// credential (when Salesforce issued one) and releases `holder`'s lease, so no other process
    /// can refresh with the old token in between.
    pub async fn finish_sf_refresh(
        &self,
        profile_id: &str,
        kind: &str,
        holder: &str,
        rotated: Option<(&str, &SecretString)>,
    ) -> Result<(), StoreError> {
        let sealed = match rotated {
            Some((field, secret)) => Some((
                field,
                self.sealer
                    .seal_secret(secret, &secret_aad(profile_id, kind, field))?,
            )),
            None => None,
        };
        const UPDATE: &str = "UPDATE sf_credential_secrets SET sealed = $1 WHERE profile_id = $2 AND kind = $3 AND field = $4";
        const RELEASE: &str = "DELETE FROM sf_refresh_leases WHERE profile_id = $1 AND holder = $2";
        on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            if let Some((field, sealed)) = &sealed {
                sqlx::query(UPDATE).bind(sealed).bind(profile_id).bind(kind).bind(*field).execute(&mut *tx).await?;
            }
            sqlx::query(RELEASE).bind(profile_id).bind(holder).execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }
}

fn profile_from_component(c: crate::SavedComponent) -> Result<SyncProfile, StoreError> {
    let connection_id = c
        .definition
        .get("connection_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| c.connection_ids.first().cloned())
        .ok_or_else(|| {
            StoreError::Corrupt(format!("sync profile '{}' has no connection", c.name))
        })?;
    Ok(SyncProfile {
        id: c.id,
        name: c.name,
        connection_id,
        options: c
            .definition
            .get("options")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
        updated_at: c.updated_at,
    })
}
