//! Global and project variables. Secret values are sealed; plain ones are stored as text.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use zbridge_core::variables::{Scope, Variable, VariableScope};
use zbridge_core::{ProjectName, VariableName};

use crate::db::on_pool;
use crate::{Store, StoreError, from_millis, now_millis};

/// A variable as listed: a secret one never shows its value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VariableInfo {
    /// Name.
    pub name: String,
    /// Project, or `None` for a global variable.
    pub project: Option<String>,
    /// Whether the value is secret.
    pub secret: bool,
    /// The value, for a variable that is not secret.
    pub value: Option<String>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VariableRow {
    id: String,
    name: String,
    project_name: Option<String>,
    secret: bool,
    plain_value: Option<String>,
    sealed_value: Option<Vec<u8>>,
    updated_at: i64,
}

const SELECT_VARIABLE: &str = "SELECT v.id, v.name, p.name AS project_name, v.secret, v.plain_value, \
     v.sealed_value, v.updated_at FROM variables v LEFT JOIN projects p ON p.id = v.project_id";

/// Which variables a query returns.
enum Visible<'a> {
    /// Every variable of every scope (for listing).
    All,
    /// Global variables only (what a connection outside any project sees).
    GlobalOnly,
    /// Global variables and one project's.
    GlobalAnd(&'a ProjectName),
}

fn aad(id: &str) -> String {
    format!("variable:{id}/value")
}

impl Store {
    /// Creates or replaces a variable.
    pub async fn set_variable(
        &self,
        name: &VariableName,
        project: Option<&ProjectName>,
        value: &SecretString,
        secret: bool,
    ) -> Result<(), StoreError> {
        let project_id = self.ensure_project(project).await?;
        let scope_key = project_id.clone().unwrap_or_default();
        // The sealed value is bound to the row id, so the id must be known before writing; a
        // concurrent first set of the same name makes the conditional upsert touch no row, and
        // the loop then seals again for the id that won.
        for _ in 0..5 {
            let id = self
                .variable_id(&scope_key, &name.key())
                .await?
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let (plain, sealed) = if secret {
                (None, Some(self.sealer.seal_secret(value, &aad(&id))?))
            } else {
                (Some(value.expose_secret().to_string()), None)
            };
            const UPSERT: &str = "INSERT INTO variables (id, project_id, scope_key, name, name_key, secret, \
                 plain_value, sealed_value, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (scope_key, name_key) DO UPDATE SET name = excluded.name, secret = excluded.secret, \
                 plain_value = excluded.plain_value, sealed_value = excluded.sealed_value, \
                 updated_at = excluded.updated_at WHERE variables.id = excluded.id";
            let written = on_pool!(&self.db, pool => sqlx::query(UPSERT)
                .bind(&id).bind(&project_id).bind(&scope_key).bind(name.as_str()).bind(name.key())
                .bind(secret).bind(&plain).bind(&sealed).bind(now_millis())
                .execute(pool).await.map(|r| r.rows_affected()))?;
            if written == 1 {
                return Ok(());
            }
        }
        Err(StoreError::Conflict {
            kind: "variable",
            name: name.to_string(),
        })
    }

    async fn variable_id(
        &self,
        scope_key: &str,
        name_key: &str,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT id FROM variables WHERE scope_key = $1 AND name_key = $2";
        let row: Option<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(scope_key).bind(name_key).fetch_optional(pool).await)?;
        Ok(row.map(|(id,)| id))
    }

    /// Lists variables: all of them, or the global ones plus one project's.
    pub async fn list_variables(
        &self,
        project: Option<&ProjectName>,
    ) -> Result<Vec<VariableInfo>, StoreError> {
        let filter = match project {
            Some(p) => Visible::GlobalAnd(p),
            None => Visible::All,
        };
        let rows = self.variable_rows(filter).await?;
        Ok(rows
            .into_iter()
            .map(|row| VariableInfo {
                name: row.name,
                project: row.project_name,
                secret: row.secret,
                value: if row.secret { None } else { row.plain_value },
                updated_at: from_millis(row.updated_at),
            })
            .collect())
    }

    /// Deletes a variable of the given scope.
    pub async fn delete_variable(
        &self,
        name: &VariableName,
        project: Option<&ProjectName>,
    ) -> Result<(), StoreError> {
        let scope_key = match project {
            Some(p) => self.project_id(p).await?.unwrap_or_default(),
            None => String::new(),
        };
        const SQL: &str = "DELETE FROM variables WHERE scope_key = $1 AND name_key = $2";
        let deleted = on_pool!(&self.db, pool =>
            sqlx::query(SQL).bind(&scope_key).bind(name.key()).execute(pool).await.map(|r| r.rows_affected()))?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                kind: "variable",
                name: match project {
                    Some(p) => format!("{name}' in project '{p}"),
                    None => name.to_string(),
                },
                list_command: "variable list",
            });
        }
        Ok(())
    }

    /// The variables a connection of `project` sees, values opened.
    pub async fn variable_scope(
        &self,
        project: Option<&ProjectName>,
    ) -> Result<VariableScope, StoreError> {
        let filter = match project {
            Some(p) => Visible::GlobalAnd(p),
            None => Visible::GlobalOnly,
        };
        let rows = self.variable_rows(filter).await?;
        let mut variables = Vec::with_capacity(rows.len());
        for row in rows {
            let value = match (&row.sealed_value, row.plain_value) {
                (Some(sealed), _) => self.sealer.open_secret(sealed, &aad(&row.id))?,
                (None, Some(plain)) => SecretString::from(plain),
                (None, None) => {
                    return Err(StoreError::Corrupt(format!(
                        "variable {} has no value",
                        row.name
                    )));
                }
            };
            let scope = match row.project_name.as_deref() {
                Some(p) => Scope::Project(
                    ProjectName::from_stored(p).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
                None => Scope::Global,
            };
            variables.push(Variable {
                name: VariableName::parse(&row.name)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                scope,
                value,
                secret: row.secret,
            });
        }
        Ok(VariableScope::new(variables))
    }

    async fn variable_rows(&self, filter: Visible<'_>) -> Result<Vec<VariableRow>, StoreError> {
        let rows: Vec<VariableRow> = match filter {
            Visible::All | Visible::GlobalOnly => {
                let only_global = if matches!(filter, Visible::GlobalOnly) {
                    "WHERE v.scope_key = ''"
                } else {
                    ""
                };
                let sql =
                    format!("{SELECT_VARIABLE} {only_global} ORDER BY v.scope_key, v.name_key");
                on_pool!(&self.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?
            }
            Visible::GlobalAnd(project) => {
                let sql = format!(
                    "{SELECT_VARIABLE} WHERE v.scope_key = '' OR p.name_key = $1 ORDER BY v.scope_key, v.name_key"
                );
                on_pool!(&self.db, pool =>
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project.key()).fetch_all(pool).await)?
            }
        };
        Ok(rows)
    }

    async fn project_id(&self, project: &ProjectName) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(&self.db, pool =>
            sqlx::query_as("SELECT id FROM projects WHERE name_key = $1").bind(project.key()).fetch_optional(pool).await)?;
        Ok(row.map(|(id,)| id))
    }
}
