//! Saved components (saved queries, sync profiles, ...) and the connections they depend on.
//!
//! The dependency check is general: any component saved through [`Store::save_component`] with
//! the connections it uses blocks those connections from being deleted.

use chrono::{DateTime, Utc};
use zbridge_core::names::lookup_key;

use crate::db::{is_unique_violation, on_pool};
use crate::{Store, StoreError, from_millis, now_millis};

/// A component that uses a connection, as listed when a delete is refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentRef {
    /// The kind of component (`query`, `sync profile`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// A stored component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SavedComponent {
    /// Stable id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// The component's own settings.
    pub definition: serde_json::Value,
    /// Ids of the connections it uses.
    pub connection_ids: Vec<String>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// What saving does when the name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnTaken {
    Replace,
    Refuse,
}

impl Store {
    /// Creates or replaces the component `kind`/`name` and records the connections it uses.
    pub async fn save_component(
        &self,
        kind: &str,
        name: &str,
        definition: &serde_json::Value,
        connection_ids: &[String],
    ) -> Result<SavedComponent, StoreError> {
        self.write_component(kind, name, definition, connection_ids, OnTaken::Replace)
            .await
    }

    /// Creates the component `kind`/`name`, or fails with [`StoreError::Conflict`] when the
    /// name is taken, decided by the database in one statement: of concurrent creations with
    /// one name exactly one succeeds, and a refused one writes nothing.
    pub async fn create_component(
        &self,
        kind: &str,
        name: &str,
        definition: &serde_json::Value,
        connection_ids: &[String],
    ) -> Result<SavedComponent, StoreError> {
        self.write_component(kind, name, definition, connection_ids, OnTaken::Refuse)
            .await
    }

    async fn write_component(
        &self,
        kind: &str,
        name: &str,
        definition: &serde_json::Value,
        connection_ids: &[String],
        on_taken: OnTaken,
    ) -> Result<SavedComponent, StoreError> {
        let name = name.trim();
        let key = lookup_key(name);
        let definition_text = definition.to_string();
        let new_id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        const UPSERT: &str = "INSERT INTO components (id, kind, name, name_key, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (kind, name_key) DO UPDATE SET \
             name = excluded.name, definition = excluded.definition, updated_at = excluded.updated_at";
        const INSERT: &str = "INSERT INTO components (id, kind, name, name_key, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)";
        let write = match on_taken {
            OnTaken::Replace => UPSERT,
            OnTaken::Refuse => INSERT,
        };
        const SELECT_ID: &str = "SELECT id FROM components WHERE kind = $1 AND name_key = $2";
        let result: Result<String, sqlx::Error> = on_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(write).bind(&new_id).bind(kind).bind(name).bind(&key).bind(&definition_text).bind(now)
                .execute(&mut *tx).await?;
            let (id,): (String,) = sqlx::query_as(SELECT_ID).bind(kind).bind(&key).fetch_one(&mut *tx).await?;
            sqlx::query("DELETE FROM component_refs WHERE component_id = $1").bind(&id).execute(&mut *tx).await?;
            for connection_id in connection_ids {
                sqlx::query("INSERT INTO component_refs (component_id, connection_id) VALUES ($1, $2)")
                    .bind(&id).bind(connection_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(id)
        }.await);
        let id = result.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict {
                    kind: "component",
                    name: name.to_string(),
                }
            } else {
                e.into()
            }
        })?;
        Ok(SavedComponent {
            id,
            kind: kind.to_string(),
            name: name.to_string(),
            definition: definition.clone(),
            connection_ids: connection_ids.to_vec(),
            updated_at: from_millis(now),
        })
    }

    /// Reads a component by kind and name (any capitalisation).
    pub async fn load_component(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<SavedComponent, StoreError> {
        const SQL: &str = "SELECT id, name, definition, updated_at FROM components WHERE kind = $1 AND name_key = $2";
        let row: Option<(String, String, String, i64)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(kind).bind(lookup_key(name)).fetch_optional(pool).await)?;
        let (id, name, definition, updated_at) = row.ok_or_else(|| StoreError::NotFound {
            kind: "component",
            name: name.trim().to_string(),
            list_command: "query list",
        })?;
        let refs: Vec<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as("SELECT connection_id FROM component_refs WHERE component_id = $1 ORDER BY connection_id")
                .bind(&id).fetch_all(pool).await)?;
        Ok(SavedComponent {
            definition: serde_json::from_str(&definition)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            connection_ids: refs.into_iter().map(|(c,)| c).collect(),
            kind: kind.to_string(),
            id,
            name,
            updated_at: from_millis(updated_at),
        })
    }

    /// Every component of a kind, by name.
    pub async fn list_components(&self, kind: &str) -> Result<Vec<SavedComponent>, StoreError> {
        const SQL: &str = "SELECT name FROM components WHERE kind = $1 ORDER BY name_key";
        let names: Vec<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(kind).fetch_all(pool).await)?;
        let mut out = Vec::with_capacity(names.len());
        for (name,) in names {
            out.push(self.load_component(kind, &name).await?);
        }
        Ok(out)
    }

    /// Deletes a component; its references go with it.
    pub async fn delete_component(&self, kind: &str, name: &str) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM components WHERE kind = $1 AND name_key = $2";
        let deleted = on_pool!(&self.db, pool =>
            sqlx::query(SQL).bind(kind).bind(lookup_key(name)).execute(pool).await.map(|r| r.rows_affected()))?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                kind: "component",
                name: name.trim().to_string(),
                list_command: "query list",
            });
        }
        Ok(())
    }
}
