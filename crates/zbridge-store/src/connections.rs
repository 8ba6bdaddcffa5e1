//! Zuora connections: create, read, list, edit and delete, with secrets sealed per field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use zbridge_core::connection::{PublicConfig, ZuoraConnectionDef};
use zbridge_core::names::lookup_key;
use zbridge_core::{ConnectionName, ProjectName, Warning};

use crate::components::ComponentRef;
use crate::db::{is_unique_violation, on_pool};
use crate::{Store, StoreError, from_millis, now_millis};

const KIND: &str = "zuora";
const LIST_COMMAND: &str = "connection list";

/// A saved value with the warnings its validation produced.
#[derive(Debug)]
pub struct Saved<T> {
    /// What was saved.
    pub value: T,
    /// Non-fatal findings, e.g. variables that are not defined yet.
    pub warnings: Vec<Warning>,
}

/// A stored connection with its secrets opened.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    /// Stable id; secrets are bound to it, so a rename keeps them valid.
    pub id: String,
    /// The definition.
    pub def: ZuoraConnectionDef,
    /// Incremented by every edit; an edit names the version it started from.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A line of the connection list; no secrets are opened to produce it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionSummary {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Project, if any.
    pub project: Option<String>,
    /// The non-secret settings.
    pub config: PublicConfig,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    id: String,
    name: String,
    project_name: Option<String>,
    config: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

const SELECT_CONNECTION: &str = "SELECT c.id, c.name, p.name AS project_name, c.config, c.version, \
     c.created_at, c.updated_at FROM connections c LEFT JOIN projects p ON p.id = c.project_id";

fn aad(id: &str, field: &str) -> String {
    format!("connection:{id}/{field}")
}

impl Store {
    /// Validates `def` and saves it as a new connection.
    pub async fn create_connection(
        &self,
        def: &ZuoraConnectionDef,
    ) -> Result<Saved<ConnectionRecord>, StoreError> {
        let scope = self.variable_scope(def.project.as_ref()).await?;
        let warnings = def.validate(&scope)?;
        let project_id = self.ensure_project(def.project.as_ref()).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let config = serde_json::to_string(&def.public_config())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = self.seal_connection_secrets(&id, def)?;
        let now = now_millis();
        const INSERT: &str = "INSERT INTO connections (id, kind, name, name_key, project_id, config, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)";
        let result: Result<(), sqlx::Error> = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT)
                .bind(&id).bind(KIND).bind(def.name.as_str()).bind(def.name.key())
                .bind(&project_id).bind(&config).bind(now)
                .execute(&mut *tx).await?;
            for (field, blob) in &sealed {
                sqlx::query("INSERT INTO connection_secrets (connection_id, field, sealed) VALUES ($1, $2, $3)")
                    .bind(&id).bind(field).bind(blob)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await);
        if let Err(error) = result {
            return Err(self.explain_name_conflict(error, &def.name).await);
        }
        let value = self.load_connection(def.name.as_str()).await?;
        Ok(Saved { value, warnings })
    }

    /// Reads a connection by name (any capitalisation), secrets opened.
    pub async fn load_connection(&self, name: &str) -> Result<ConnectionRecord, StoreError> {
        let key = lookup_key(name);
        let sql = format!("{SELECT_CONNECTION} WHERE c.kind = $1 AND c.name_key = $2");
        let row: Option<ConnectionRow> = on_pool!(&self.db, pool =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(KIND).bind(&key).fetch_optional(pool).await)?;
        let row = row.ok_or_else(|| StoreError::NotFound {
            kind: "connection",
            name: name.trim().to_string(),
            list_command: LIST_COMMAND,
        })?;
        self.record_from_row(row).await
    }

    /// Lists connections by name, without opening secrets.
    pub async fn list_connections(&self) -> Result<Vec<ConnectionSummary>, StoreError> {
        let sql = format!("{SELECT_CONNECTION} WHERE c.kind = $1 ORDER BY c.name_key");
        let rows: Vec<ConnectionRow> = on_pool!(&self.db, pool =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(KIND).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|row| {
                Ok(ConnectionSummary {
                    config: parse_config(&row.config)?,
                    id: row.id,
                    name: row.name,
                    project: row.project_name,
                    updated_at: from_millis(row.updated_at),
                })
            })
            .collect()
    }

    /// Replaces connection `id` with `def` when it is still at `expected_version`: the whole
    /// definition is validated first, and the row and its secrets change in one transaction.
    pub async fn update_connection(
        &self,
        id: &str,
        expected_version: i64,
        def: &ZuoraConnectionDef,
    ) -> Result<Saved<ConnectionRecord>, StoreError> {
        let scope = self.variable_scope(def.project.as_ref()).await?;
        let warnings = def.validate(&scope)?;
        let project_id = self.ensure_project(def.project.as_ref()).await?;
        let config = serde_json::to_string(&def.public_config())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = self.seal_connection_secrets(id, def)?;
        const UPDATE: &str = "UPDATE connections SET name = $1, name_key = $2, project_id = $3, \
             config = $4, version = version + 1, updated_at = $5 WHERE id = $6 AND version = $7";
        let now = now_millis();
        let result: Result<u64, sqlx::Error> = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(UPDATE)
                .bind(def.name.as_str()).bind(def.name.key()).bind(&project_id)
                .bind(&config).bind(now).bind(id).bind(expected_version)
                .execute(&mut *tx).await?
                .rows_affected();
            if updated == 1 {
                sqlx::query("DELETE FROM connection_secrets WHERE connection_id = $1")
                    .bind(id).execute(&mut *tx).await?;
                for (field, blob) in &sealed {
                    sqlx::query("INSERT INTO connection_secrets (connection_id, field, sealed) VALUES ($1, $2, $3)")
                        .bind(id).bind(field).bind(blob)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(updated)
        }.await);
        match result {
            Ok(1) => {}
            Ok(_) => {
                return Err(StoreError::Conflict {
                    kind: "connection",
                    name: def.name.to_string(),
                });
            }
            Err(error) => return Err(self.explain_name_conflict(error, &def.name).await),
        }
        let value = self.load_connection(def.name.as_str()).await?;
        Ok(Saved { value, warnings })
    }

    /// Deletes a connection, unless saved components use it (they are listed in the error).
    pub async fn delete_connection(&self, name: &str) -> Result<(), StoreError> {
        let record = self.load_connection(name).await?;
        let users = self.components_using(&record.id).await?;
        if !users.is_empty() {
            return Err(StoreError::InUse {
                name: record.def.name.to_string(),
                users,
            });
        }
        let deleted: Result<_, sqlx::Error> = on_pool!(&self.db, pool =>
            sqlx::query("DELETE FROM connections WHERE id = $1").bind(&record.id).execute(pool).await.map(|r| r.rows_affected()));
        match deleted {
            Ok(_) => Ok(()),
            // A component that started using the connection after the check above; the
            // foreign key refused the delete.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::InUse {
                    name: record.def.name.to_string(),
                    users: self.components_using(&record.id).await?,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    fn seal_connection_secrets(
        &self,
        id: &str,
        def: &ZuoraConnectionDef,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        def.secrets()
            .into_iter()
            .map(|(field, value)| {
                let sealed = self.sealer.seal_secret(value, &aad(id, &field))?;
                Ok((field, sealed))
            })
            .collect()
    }

    async fn record_from_row(&self, row: ConnectionRow) -> Result<ConnectionRecord, StoreError> {
        let sealed: Vec<(String, Vec<u8>)> = on_pool!(&self.db, pool =>
            sqlx::query_as("SELECT field, sealed FROM connection_secrets WHERE connection_id = $1")
                .bind(&row.id).fetch_all(pool).await)?;
        let mut secrets: BTreeMap<String, SecretString> = BTreeMap::new();
        for (field, blob) in sealed {
            let value = self.sealer.open_secret(&blob, &aad(&row.id, &field))?;
            secrets.insert(field, value);
        }
        let name = ConnectionName::from_stored(&row.name)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let project = row
            .project_name
            .as_deref()
            .map(ProjectName::from_stored)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let def =
            ZuoraConnectionDef::from_parts(name, project, parse_config(&row.config)?, secrets);
        Ok(ConnectionRecord {
            id: row.id,
            def,
            version: row.version,
            created_at: from_millis(row.created_at),
            updated_at: from_millis(row.updated_at),
        })
    }

    /// Turns a unique violation on the name into the duplicate-name error.
    async fn explain_name_conflict(&self, error: sqlx::Error, name: &ConnectionName) -> StoreError {
        if !is_unique_violation(&error) {
            return error.into();
        }
        const SQL: &str = "SELECT name FROM connections WHERE kind = $1 AND name_key = $2";
        let existing: Result<Option<(String,)>, sqlx::Error> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(KIND).bind(name.key()).fetch_optional(pool).await);
        StoreError::Duplicate {
            field: ConnectionName::FIELD,
            kind: "connection",
            existing: existing
                .ok()
                .flatten()
                .map_or_else(|| name.to_string(), |(n,)| n),
        }
    }

    /// The id of a project, creating it on first use.
    pub(crate) async fn ensure_project(
        &self,
        project: Option<&ProjectName>,
    ) -> Result<Option<String>, StoreError> {
        let Some(project) = project else {
            return Ok(None);
        };
        const INSERT: &str = "INSERT INTO projects (id, name, name_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name_key) DO NOTHING";
        const SELECT: &str = "SELECT id FROM projects WHERE name_key = $1";
        let id = uuid::Uuid::new_v4().to_string();
        let (id,): (String,) = on_pool!(&self.db, pool => async {
            sqlx::query(INSERT).bind(&id).bind(project.as_str()).bind(project.key()).bind(now_millis())
                .execute(pool).await?;
            sqlx::query_as(SELECT).bind(project.key()).fetch_one(pool).await
        }.await)?;
        Ok(Some(id))
    }

    /// The saved components that reference connection `id`.
    pub async fn components_using(
        &self,
        connection_id: &str,
    ) -> Result<Vec<ComponentRef>, StoreError> {
        const SQL: &str = "SELECT c.kind, c.name FROM component_refs r JOIN components c ON c.id = r.component_id \
             WHERE r.connection_id = $1 ORDER BY c.kind, c.name_key";
        let rows: Vec<(String, String)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(connection_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(kind, name)| ComponentRef { kind, name })
            .collect())
    }
}

fn parse_config(json: &str) -> Result<PublicConfig, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("connection settings: {e}")))
}
