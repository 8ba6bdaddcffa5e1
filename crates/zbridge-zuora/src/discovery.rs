//! Discovery: which tables a connection can read, and their fields.
//!
//! AQuA connections use the synchronous describe API (`/v1/describe`, XML); Data Query
//! connections run `SHOW TABLES` and `DESCRIBE t`. The two services have different catalogues
//! (`orders` versus `Order`), so each keeps its own. Describe calls run with bounded
//! parallelism, and an object whose describe fails is reported, never fatal to the others.

use std::sync::Arc;

use serde::Deserialize;
use zbridge_core::ZuoraService;
use zbridge_core::schema::{Field, FieldType, RelatedObject, TableSchema};

use crate::client::{Call, ZuoraClient};
use crate::error::ZuoraError;
use crate::jobs::{self, DataQueryJob};

#[derive(Debug, Deserialize)]
struct ObjectList {
    #[serde(default, rename = "object")]
    objects: Vec<ObjectEntry>,
}

#[derive(Debug, Deserialize)]
struct ObjectEntry {
    name: String,
}

#[derive(Debug, Deserialize)]
struct ObjectXml {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    fields: FieldsXml,
    #[serde(default, rename = "related-objects")]
    related: RelatedXml,
}

#[derive(Debug, Default, Deserialize)]
struct FieldsXml {
    #[serde(default, rename = "field")]
    fields: Vec<FieldXml>,
}

#[derive(Debug, Default, Deserialize)]
struct RelatedXml {
    #[serde(default, rename = "object")]
    objects: Vec<RelatedObjectXml>,
}

#[derive(Debug, Deserialize)]
struct RelatedObjectXml {
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(rename = "@href", default)]
    href: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FieldXml {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default, rename = "type")]
    field_type: Option<String>,
    #[serde(default)]
    selectable: Option<String>,
    #[serde(default)]
    createable: Option<String>,
    #[serde(default)]
    updateable: Option<String>,
    #[serde(default)]
    filterable: Option<String>,
    #[serde(default)]
    custom: Option<String>,
    #[serde(default)]
    required: Option<String>,
    #[serde(default)]
    maxlength: Option<String>,
    #[serde(default)]
    contexts: ContextsXml,
    #[serde(default)]
    options: OptionsXml,
}

#[derive(Debug, Default, Deserialize)]
struct ContextsXml {
    #[serde(default, rename = "context")]
    contexts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct OptionsXml {
    #[serde(default, rename = "option")]
    options: Vec<String>,
}

fn flag(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Parses `GET /v1/describe` (the object list).
pub fn parse_object_list(xml: &str) -> Result<Vec<String>, String> {
    let list: ObjectList = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    Ok(list.objects.into_iter().map(|o| o.name).collect())
}

/// Parses `GET /v1/describe/{object}` into a schema. A field is exportable when its
/// `<contexts>` include `export` (describe lists fields that exports reject since WSDL 85).
pub fn parse_object(xml: &str) -> Result<TableSchema, String> {
    let object: ObjectXml = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    let fields = object
        .fields
        .fields
        .into_iter()
        .map(|f| {
            let field_type = FieldType::parse(f.field_type.as_deref().unwrap_or("text"));
            let mut field = Field::new(f.name, field_type);
            field.label = f.label.unwrap_or_default();
            field.selectable = f.selectable.is_none() || flag(&f.selectable);
            field.createable = flag(&f.createable);
            field.updateable = flag(&f.updateable);
            field.filterable = flag(&f.filterable);
            field.custom = flag(&f.custom);
            field.required = flag(&f.required);
            field.max_length = f.maxlength.as_deref().and_then(|m| m.trim().parse().ok());
            field.exportable = f
                .contexts
                .contexts
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case("export"));
            field.picklist_options = f.options.options;
            field
        })
        .collect();
    let mut schema = TableSchema::new(object.name, fields);
    schema.label = object.label.unwrap_or_default();
    schema.related = object
        .related
        .objects
        .into_iter()
        .map(|r| {
            let target = r
                .href
                .as_deref()
                .and_then(|h| h.rsplit('/').next())
                .unwrap_or(&r.name)
                .to_string();
            RelatedObject {
                name: r.name,
                path: r.path.unwrap_or_default(),
                target,
            }
        })
        .collect();
    Ok(schema)
}

/// The tables of a connection's service, sorted by name.
pub async fn list_tables(client: &ZuoraClient) -> Result<Vec<String>, ZuoraError> {
    let mut names = match client.connection().service {
        ZuoraService::AQuADataExport => {
            let xml = client.text(Call::get("/v1/describe")).await?;
            parse_object_list(&xml).map_err(|detail| protocol("/v1/describe", detail))?
        }
        ZuoraService::DataQuery => {
            let rows = jobs::run_data_query_rows(client, &DataQueryJob::new("SHOW TABLES")).await?;
            rows.into_iter()
                .filter_map(|row| row.into_iter().next().map(|(_, v)| v))
                .collect()
        }
    };
    names.sort_by_key(|n| n.to_lowercase());
    Ok(names)
}

/// The schema of one table through the connection's service.
pub async fn describe(client: &ZuoraClient, table: &str) -> Result<TableSchema, ZuoraError> {
    match client.connection().service {
        ZuoraService::AQuADataExport => {
            let path = format!("/v1/describe/{}?showRelationships=true", encode(table));
            let xml = client.text(Call::get(&path)).await?;
            parse_object(&xml).map_err(|detail| protocol(&path, detail))
        }
        ZuoraService::DataQuery => {
            let sql = format!("DESCRIBE {}", quote_identifier(table));
            let rows = jobs::run_data_query_rows(client, &DataQueryJob::new(&sql)).await?;
            Ok(schema_from_describe_rows(table, rows))
        }
    }
}

/// Describes several tables with at most `concurrency` calls at once; each result is reported
/// on its own, so one failing object does not hide the others.
pub async fn describe_many(
    client: &ZuoraClient,
    tables: &[String],
    concurrency: usize,
) -> Vec<(String, Result<TableSchema, ZuoraError>)> {
    use futures::StreamExt;
    let client = Arc::new(client.clone());
    futures::stream::iter(tables.iter().cloned())
        .map(|table| {
            let client = client.clone();
            async move {
                let result = describe(&client, &table).await;
                (table, result)
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// Builds a schema from Data Query `DESCRIBE` rows (`Column`, `Type`, `Extra`, `Comment`).
fn schema_from_describe_rows(table: &str, rows: Vec<Vec<(String, String)>>) -> TableSchema {
    let fields = rows
        .into_iter()
        .filter_map(|row| {
            let get = |key: &str| {
                row.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone())
            };
            let name = get("column")?;
            let mut field = Field::new(name, FieldType::parse(&get("type").unwrap_or_default()));
            field.filterable = true;
            field.exportable = true;
            field.selectable = true;
            Some(field)
        })
        .collect();
    TableSchema::new(table.to_lowercase(), fields)
}

/// Data Query identifiers are case-insensitive; quote only what needs it.
pub(crate) fn quote_identifier(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn protocol(path: &str, detail: String) -> ZuoraError {
    ZuoraError::Protocol {
        path: path.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The describe sample of zuora-api.md §9.
    const ACCOUNT: &str = r#"<object href="https://apisandbox-api.zuora.com/rest/api/describe/Account">
  <name>Account</name><label>Account</label>
  <fields><field><name>AccountNumber</name><label>Account Number</label>
    <selectable>true</selectable><createable>true</createable><updateable>true</updateable>
    <filterable>true</filterable><custom>false</custom><maxlength></maxlength>
    <required>false</required><type>text</type>
    <contexts><context>soap</context><context>export</context></contexts></field>
    <field><name>RolloverBalance</name><type>Decimal</type><contexts><context>soap</context></contexts></field>
    <field><name>TaxMode</name><label>Tax Mode</label><type>picklist</type>
      <options><option>TaxExclusive</option><option>TaxInclusive</option></options>
      <contexts><context>export</context></contexts></field></fields>
  <related-objects><object href="https://x/describe/Contact"><name>BillToContact</name>
    <label>Bill To</label><cardinality>TO_ONE</cardinality>
    <direct-relationship>true</direct-relationship><path>Account.BillToContact</path></object>
  </related-objects></object>"#;

    #[test]
    fn the_documented_describe_sample_parses() {
        let schema = parse_object(ACCOUNT).unwrap();
        assert_eq!(schema.name, "Account");
        let number = schema.field("accountnumber").unwrap();
        assert!(number.exportable && number.filterable && number.createable);
        assert_eq!(number.label, "Account Number");
        let rollover = schema.field("RolloverBalance").unwrap();
        assert!(!rollover.exportable, "soap-only fields are not exportable");
        assert_eq!(rollover.field_type, FieldType::parse("decimal"));
        assert_eq!(
            schema.field("TaxMode").unwrap().picklist_options,
            ["TaxExclusive", "TaxInclusive"]
        );
        assert_eq!(schema.related.len(), 1);
        assert_eq!(schema.related[0].name, "BillToContact");
        assert_eq!(schema.related[0].target, "Contact");
    }

    #[test]
    fn the_object_list_parses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<objects>
  <object href="https://x/describe/Account"><name>Account</name><label>Account</label></object>
  <object href="https://x/describe/Invoice"><name>Invoice</name><label>Invoice</label></object>
</objects>"#;
        assert_eq!(parse_object_list(xml).unwrap(), ["Account", "Invoice"]);
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(quote_identifier("account"), "account");
        assert_eq!(quote_identifier("odd name"), "\"odd name\"");
    }
}

/// Discovery through the store's cache: results are reused until they are older than the
/// connection's `DescribeCacheTTL`, unless `refresh` is set.
#[derive(Debug, Clone)]
pub struct CachedDiscovery<'a> {
    /// The store holding the cache.
    pub store: &'a zbridge_store::Store,
    /// The connection the cache belongs to.
    pub connection_id: &'a str,
    /// Ignore cached results (they are replaced).
    pub refresh: bool,
}

impl CachedDiscovery<'_> {
    /// The tables of the connection's service.
    pub async fn tables(&self, client: &ZuoraClient) -> Result<Vec<String>, ZuoraError> {
        if let Some(body) = self.cached(client, "").await?
            && let Ok(tables) = serde_json::from_str(&body)
        {
            return Ok(tables);
        }
        let tables = list_tables(client).await?;
        self.remember(
            client,
            "",
            &serde_json::to_string(&tables).unwrap_or_default(),
        )
        .await?;
        Ok(tables)
    }

    /// The schema of one table.
    pub async fn describe(
        &self,
        client: &ZuoraClient,
        table: &str,
    ) -> Result<TableSchema, ZuoraError> {
        if let Some(body) = self.cached(client, table).await?
            && let Ok(schema) = serde_json::from_str(&body)
        {
            return Ok(schema);
        }
        let schema = describe(client, table).await?;
        self.remember(
            client,
            table,
            &serde_json::to_string(&schema).unwrap_or_default(),
        )
        .await?;
        Ok(schema)
    }

    async fn cached(
        &self,
        client: &ZuoraClient,
        object: &str,
    ) -> Result<Option<String>, ZuoraError> {
        if self.refresh {
            return Ok(None);
        }
        let conn = client.connection();
        self.store
            .cached_describe(
                self.connection_id,
                conn.service.as_str(),
                object,
                conn.settings.describe_cache_ttl,
            )
            .await
            .map_err(|e| ZuoraError::Cache(e.to_string()))
    }

    async fn remember(
        &self,
        client: &ZuoraClient,
        object: &str,
        body: &str,
    ) -> Result<(), ZuoraError> {
        self.store
            .cache_describe(
                self.connection_id,
                client.connection().service.as_str(),
                object,
                body,
            )
            .await
            .map_err(|e| ZuoraError::Cache(e.to_string()))
    }
}
