//! Saved queries: a Query activity stored under a name with the connection it reads through,
//! so that the CLI (`zbridge query --save`, `query run|list|delete`), the web UI and the JSON
//! API save, list and run the same thing.
//!
//! A saved query is a store component of kind [`KIND`]; its definition is
//! `{"connection_id": ..., "query": {...}}` with the field names `zbridge query --save` has
//! always written ([`SavedQuerySpec`]). The connection is recorded as a component reference, so
//! the connection cannot be deleted while a saved query uses it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zbridge_core::{ValidationError, ZuoraService};
use zbridge_store::{ConnectionRecord, SavedComponent, Store, StoreError};

use crate::client::ZuoraClient;
use crate::discovery::CachedDiscovery;
use crate::error::ZuoraError;
use crate::query::{self, Plan, QuerySpec};

/// The component kind saved queries are stored under.
pub const KIND: &str = "query";
/// Longest name of a saved query.
pub const MAX_NAME: usize = 128;

/// What a saved query reads. Times stay as written (they are parsed when the query runs, so
/// a saved query keeps the user's text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuerySpec {
    /// The table (absent for raw SQL or ZOQL).
    #[serde(default)]
    pub table: Option<String>,
    /// Output columns; absent means every exportable field.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// A filter expression.
    #[serde(default)]
    pub filter: Option<String>,
    /// Window start (inclusive).
    #[serde(default)]
    pub since: Option<String>,
    /// Window end (exclusive).
    #[serde(default)]
    pub until: Option<String>,
    /// The field the window applies to.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most this many rows.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Include deleted rows (Data Query).
    #[serde(default)]
    pub include_deleted: bool,
    /// Read through this service instead of the connection's.
    #[serde(default)]
    pub service: Option<String>,
    /// Data Query SQL, run as written.
    #[serde(default)]
    pub sql: Option<String>,
    /// Export ZOQL, run as written (AQuA).
    #[serde(default)]
    pub zoql: Option<String>,
    /// Output format when run from the CLI: csv, jsonl, json or singer.
    #[serde(default = "default_format")]
    pub format: String,
    /// With `--state`: how long before now the window ends.
    #[serde(default = "default_lag")]
    pub lag: String,
}

fn default_format() -> String {
    "csv".into()
}

fn default_lag() -> String {
    "5m".into()
}

impl Default for SavedQuerySpec {
    fn default() -> Self {
        SavedQuerySpec {
            table: None,
            columns: None,
            filter: None,
            since: None,
            until: None,
            cursor: None,
            limit: None,
            include_deleted: false,
            service: None,
            sql: None,
            zoql: None,
            format: default_format(),
            lag: default_lag(),
        }
    }
}

fn invalid(field: &str, rule: impl Into<String>) -> ValidationError {
    ValidationError::new(field, rule)
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, ValidationError> {
    zbridge_core::time::parse_datetime(text, Some(chrono::Offset::fix(&Utc)))
        .map_err(|e| invalid(field, format!("{e}; write e.g. 2026-08-01T00:00:00Z")))
}

impl SavedQuerySpec {
    /// The raw query text, when the query is SQL or ZOQL as written.
    pub fn raw_text(&self) -> Option<&str> {
        self.sql.as_deref().or(self.zoql.as_deref())
    }

    /// What the query reads, in a few words: the table, or the raw text.
    pub fn reads(&self) -> &str {
        self.table.as_deref().or(self.raw_text()).unwrap_or("")
    }

    /// The service the query must run through, when not the connection's: raw SQL is Data
    /// Query, raw ZOQL is AQuA.
    pub fn service_override(&self) -> Result<Option<ZuoraService>, ValidationError> {
        if self.sql.is_some() {
            return Ok(Some(ZuoraService::DataQuery));
        }
        if self.zoql.is_some() {
            return Ok(Some(ZuoraService::AQuADataExport));
        }
        self.service.as_deref().map(ZuoraService::parse).transpose()
    }

    /// The query as the planner takes it; every field the planner does not check is checked
    /// here (times, the table, raw text combined with table options).
    pub fn to_spec(&self) -> Result<QuerySpec, ValidationError> {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|t| t.trim().is_empty());
        match (&self.sql, &self.zoql) {
            (Some(_), Some(_)) => return Err(invalid("SQL", "give SQL or ZOQL, not both")),
            (Some(_), None) | (None, Some(_)) => {
                let field = if self.sql.is_some() { "SQL" } else { "ZOQL" };
                if self.raw_text().is_some_and(|t| t.trim().is_empty()) {
                    return Err(invalid(field, "is empty"));
                }
                if !blank(&self.table) || self.columns.is_some() || !blank(&self.filter) {
                    return Err(invalid(
                        field,
                        "runs as written; it cannot be combined with a table, columns or a filter",
                    ));
                }
            }
            (None, None) if blank(&self.table) => {
                return Err(invalid("Table", "pick a table (or give SQL or ZOQL)"));
            }
            (None, None) => {}
        }
        self.service_override()?;
        if let Some(filter) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            zbridge_core::filter::parse(filter).map_err(|e| invalid("Filter", e.to_string()))?;
        }
        Ok(QuerySpec {
            table: self.table.as_deref().unwrap_or_default().trim().to_string(),
            columns: self.columns.clone(),
            filter: self.filter.clone().filter(|f| !f.trim().is_empty()),
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("Since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("Until", t))
                .transpose()?,
            limit: self.limit,
            include_deleted: self.include_deleted,
            cursor: self.cursor.clone(),
        })
    }

    /// Plans the read for `client` (built with [`SavedQuerySpec::service_override`]); table
    /// queries are described through the store's describe cache.
    pub async fn plan(
        &self,
        store: &Store,
        connection_id: &str,
        client: &ZuoraClient,
    ) -> Result<Plan, ZuoraError> {
        self.plan_spec(&self.to_spec()?, store, connection_id, client)
            .await
    }

    /// Plans `spec`, this query's [`SavedQuerySpec::to_spec`] with its window moved (the
    /// CLI's `--state` reads from a bookmark to shortly before now).
    pub async fn plan_spec(
        &self,
        spec: &QuerySpec,
        store: &Store,
        connection_id: &str,
        client: &ZuoraClient,
    ) -> Result<Plan, ZuoraError> {
        if let Some(text) = self.raw_text() {
            return Ok(query::plan_raw(text, client.connection().service));
        }
        let discovery = CachedDiscovery {
            store,
            connection_id,
            refresh: false,
        };
        check_table_listed(&discovery, client, &spec.table).await?;
        let schema = discovery.describe(client, &spec.table).await?;
        query::plan(spec, &schema, client.connection().service)
    }
}

/// Refuses a table that the connection's service does not list, naming the closest listed
/// table, before a describe or a job goes to Zuora. The list comes from the describe cache
/// (fetched once when the cache has none); when it cannot be had, the describe call decides.
async fn check_table_listed(
    discovery: &CachedDiscovery<'_>,
    client: &ZuoraClient,
    table: &str,
) -> Result<(), ZuoraError> {
    let Ok(tables) = discovery.tables(client).await else {
        return Ok(());
    };
    if tables.is_empty() || tables.iter().any(|t| t.eq_ignore_ascii_case(table)) {
        return Ok(());
    }
    let connection = client.connection();
    let (name, service) = (&connection.name, connection.service);
    let hint = zbridge_core::closest(table, tables.iter().map(String::as_str))
        .map(|c| format!("did you mean '{c}'? "))
        .unwrap_or_default();
    let rule = format!(
        "no table '{table}' among the {service} tables of connection '{name}'; {hint}('zbridge tables \"{name}\" --service {service}' lists them)"
    );
    Err(invalid("Table", rule).into())
}

/// The stored definition of a saved query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedQueryDef {
    /// The connection it reads through (by id, so a rename keeps it).
    pub connection_id: String,
    /// What it reads.
    pub query: SavedQuerySpec,
}

/// A saved query as listed and shown.
#[derive(Debug, Clone, Serialize)]
pub struct SavedQuery {
    /// Its name.
    pub name: String,
    /// The connection's current name; `None` if it no longer exists.
    pub connection: Option<String>,
    /// The connection's id.
    pub connection_id: String,
    /// What it reads.
    pub query: SavedQuerySpec,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// What can go wrong with a saved query.
#[derive(Debug, thiserror::Error)]
pub enum SavedQueryError {
    /// The input broke a rule; nothing was saved.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The store failed, or nothing has that name.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Zuora refused or failed while planning.
    #[error(transparent)]
    Zuora(#[from] ZuoraError),
    /// The stored definition cannot be read.
    #[error("saved query '{name}' cannot be read: {detail}")]
    Unreadable {
        /// The saved query.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// Its connection was deleted.
    #[error("the connection of saved query '{name}' no longer exists")]
    ConnectionGone {
        /// The saved query.
        name: String,
    },
}

/// The name rules every display name follows (core's `clean_name`: NFC, no invisible or
/// look-alike characters, not `.` or `..`), with up to [`MAX_NAME`] characters.
fn check_name(name: &str) -> Result<String, ValidationError> {
    zbridge_core::names::clean_name("Saved query name", name, MAX_NAME, &[])
}

/// The store's "no component" said the way a saved query's user reads it.
fn named(error: StoreError, name: &str) -> StoreError {
    match error {
        StoreError::NotFound { .. } => StoreError::NotFound {
            kind: "saved query",
            name: name.trim().to_string(),
            list_command: "query list",
        },
        other => other,
    }
}

async fn connection_names(store: &Store) -> Result<Vec<(String, String)>, StoreError> {
    Ok(store
        .list_connections()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

fn from_component(
    component: SavedComponent,
    connections: &[(String, String)],
) -> Result<SavedQuery, SavedQueryError> {
    let def: SavedQueryDef =
        serde_json::from_value(component.definition).map_err(|e| SavedQueryError::Unreadable {
            name: component.name.clone(),
            detail: e.to_string(),
        })?;
    Ok(SavedQuery {
        connection: connections
            .iter()
            .find(|(id, _)| *id == def.connection_id)
            .map(|(_, name)| name.clone()),
        connection_id: def.connection_id,
        name: component.name,
        query: def.query,
        updated_at: component.updated_at,
    })
}

/// Saves (or replaces) the query `name` reading through `connection`; the query must be
/// runnable as far as can be told without asking Zuora.
pub async fn save(
    store: &Store,
    name: &str,
    connection: &ConnectionRecord,
    query: SavedQuerySpec,
) -> Result<SavedQuery, SavedQueryError> {
    let name = check_name(name)?;
    let name = name.as_str();
    query.to_spec()?;
    let definition = serde_json::to_value(SavedQueryDef {
        connection_id: connection.id.clone(),
        query,
    })
    .map_err(|e| SavedQueryError::Unreadable {
        name: name.to_string(),
        detail: e.to_string(),
    })?;
    let component = store
        .save_component(
            KIND,
            name,
            &definition,
            std::slice::from_ref(&connection.id),
        )
        .await?;
    from_component(
        component,
        &[(connection.id.clone(), connection.def.name.to_string())],
    )
}

/// The saved query `name` (any capitalisation).
pub async fn load(store: &Store, name: &str) -> Result<SavedQuery, SavedQueryError> {
    let component = store
        .load_component(KIND, name)
        .await
        .map_err(|e| named(e, name))?;
    from_component(component, &connection_names(store).await?)
}

/// Every saved query, by name.
pub async fn list(store: &Store) -> Result<Vec<SavedQuery>, SavedQueryError> {
    let connections = connection_names(store).await?;
    store
        .list_components(KIND)
        .await?
        .into_iter()
        .map(|c| from_component(c, &connections))
        .collect()
}

/// Deletes the saved query `name`.
pub async fn delete(store: &Store, name: &str) -> Result<(), SavedQueryError> {
    Ok(store
        .delete_component(KIND, name)
        .await
        .map_err(|e| named(e, name))?)
}

/// A saved query ready to run: its client and plan.
pub struct Prepared {
    /// The client, through the service the query needs.
    pub client: ZuoraClient,
    /// The planned read.
    pub plan: Plan,
}

/// Builds the client for a saved query's connection and plans the read.
pub async fn prepare(store: &Store, saved: &SavedQuery) -> Result<Prepared, SavedQueryError> {
    let connection =
        saved
            .connection
            .as_deref()
            .ok_or_else(|| SavedQueryError::ConnectionGone {
                name: saved.name.clone(),
            })?;
    let record = store.load_connection(connection).await?;
    let scope = store.variable_scope(record.def.project.as_ref()).await?;
    let client = ZuoraClient::for_saved(store, &record, &scope, saved.query.service_override()?)?;
    let plan = saved.query.plan(store, &record.id, &client).await?;
    Ok(Prepared { client, plan })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `zbridge query Prod --table Account --columns Id,Name --where ... --save x` stores.
    const CLI_DEFINITION: &str = r#"{"connection_id":"c-1","query":{"table":"Account","columns":["Id","Name"],
        "filter":"Status = 'Active'","since":null,"until":null,"cursor":null,"limit":null,
        "include_deleted":false,"service":null,"sql":null,"zoql":null,"format":"csv","lag":"5m"}}"#;

    #[test]
    fn the_cli_definition_reads_and_writes_back_the_same() {
        let def: SavedQueryDef = serde_json::from_str(CLI_DEFINITION).unwrap();
        assert_eq!(def.query.table.as_deref(), Some("Account"));
        let spec = def.query.to_spec().unwrap();
        assert_eq!(spec.columns.unwrap(), ["Id", "Name"]);
        assert_eq!(spec.filter.as_deref(), Some("Status = 'Active'"));
        let again = serde_json::to_value(&def).unwrap();
        let original: serde_json::Value = serde_json::from_str(CLI_DEFINITION).unwrap();
        assert_eq!(again, original);
    }

    #[test]
    fn a_definition_without_the_cli_defaults_still_reads() {
        let def: SavedQueryDef =
            serde_json::from_str(r#"{"connection_id":"c","query":{"table":"Invoice"}}"#).unwrap();
        assert_eq!(def.query.format, "csv");
        assert_eq!(def.query.lag, "5m");
        assert!(def.query.to_spec().is_ok());
    }

    #[test]
    fn raw_text_picks_the_service_and_refuses_table_options() {
        let sql = SavedQuerySpec {
            sql: Some("SELECT id FROM account".into()),
            ..SavedQuerySpec::default()
        };
        assert_eq!(
            sql.service_override().unwrap(),
            Some(ZuoraService::DataQuery)
        );
        assert!(sql.to_spec().is_ok());
        let zoql = SavedQuerySpec {
            zoql: Some("select Id from Account".into()),
            ..SavedQuerySpec::default()
        };
        assert_eq!(
            zoql.service_override().unwrap(),
            Some(ZuoraService::AQuADataExport)
        );
        let mixed = SavedQuerySpec {
            table: Some("Account".into()),
            ..sql.clone()
        };
        assert_eq!(mixed.to_spec().unwrap_err().field, "SQL");
    }

    #[test]
    fn bad_input_names_the_field() {
        let field = |spec: SavedQuerySpec| spec.to_spec().unwrap_err().field;
        assert_eq!(field(SavedQuerySpec::default()), "Table");
        let table = || SavedQuerySpec {
            table: Some("Account".into()),
            ..SavedQuerySpec::default()
        };
        assert_eq!(
            field(SavedQuerySpec {
                filter: Some("Status = ".into()),
                ..table()
            }),
            "Filter"
        );
        assert_eq!(
            field(SavedQuerySpec {
                since: Some("yesterday".into()),
                ..table()
            }),
            "Since"
        );
        assert!(
            SavedQuerySpec {
                service: Some("carrier pigeon".into()),
                ..table()
            }
            .to_spec()
            .is_err()
        );
        assert_eq!(check_name("  ").unwrap_err().field, "Saved query name");
        assert_eq!(check_name(" Daily ").unwrap(), "Daily");
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        for bad in ["Dai\u{200B}ly", "..", "\u{202E}yliad"] {
            assert_eq!(check_name(bad).unwrap_err().field, "Saved query name");
        }
        assert_eq!(check_name("Cafe\u{0301}").unwrap(), "Caf\u{00E9}");
    }
}
