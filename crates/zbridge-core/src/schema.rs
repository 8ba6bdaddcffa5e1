//! Field types and table schemas, for both Zuora catalogues: the describe vocabulary of AQuA
//! (zuora-api.md §9) and the column types of Data Query (§6.5).
//!
//! Type names are compared case-insensitively (L21). A name outside the vocabulary becomes
//! [`FieldType::Unknown`], which every conversion reports as [`SchemaError::UnknownType`]
//! instead of guessing: callers quarantine such fields loudly ([`TableSchema::partition_unknown`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value as Json, json};

/// A schema that cannot be used as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A field whose type name is not in the vocabulary.
    #[error("field {field} has unknown type '{type_name}'; it is left out rather than guessed")]
    UnknownType {
        /// The field's name.
        field: String,
        /// The type name as given.
        type_name: String,
    },
}

/// The type of a field, as named by describe (`text`, `decimal`, …) or by Data Query
/// `DESCRIBE` (`varchar`, `decimal(18,6)`, `timestamp with time zone`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// describe `text`.
    Text,
    /// describe `picklist` (a text value from a list of options).
    Picklist,
    /// describe `longtext`.
    LongText,
    /// describe `ZOQL` (a text field holding a query).
    Zoql,
    /// `boolean` (both catalogues).
    Boolean,
    /// `integer` (both catalogues).
    Integer,
    /// Data Query `bigint`.
    BigInt,
    /// `decimal` (describe) or `decimal(p,s)` (Data Query).
    Decimal {
        /// Total digits, when given.
        precision: Option<u8>,
        /// Digits after the point, when given.
        scale: Option<u8>,
    },
    /// describe `number`.
    Number,
    /// Data Query `double`, read as an exact decimal of its printed digits.
    Double,
    /// `date` (both catalogues).
    Date,
    /// describe `datetime`.
    DateTime,
    /// describe `timestamp` (also Trino `timestamp(p)` without a zone).
    Timestamp,
    /// Data Query `timestamp with time zone`.
    TimestampWithTimeZone,
    /// Data Query `varchar` or `varchar(n)`.
    Varchar(Option<u32>),
    /// A type name outside the vocabulary, kept as given.
    Unknown(String),
}

/// The kind of [`crate::value::Value`] a field holds: what every type reduces to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Text.
    Text,
    /// true / false.
    Boolean,
    /// A 64-bit integer.
    Integer,
    /// An exact decimal.
    Decimal,
    /// A calendar date.
    Date,
    /// An instant, held in UTC.
    DateTime,
}

impl ValueKind {
    /// The lower-case name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Text => "text",
            ValueKind::Boolean => "boolean",
            ValueKind::Integer => "integer",
            ValueKind::Decimal => "decimal",
            ValueKind::Date => "date",
            ValueKind::DateTime => "datetime",
        }
    }

    /// The JSON Schema type a value of this kind is written as (decimals are written as exact
    /// JSON numbers, dates and datetimes as strings with a `format`).
    pub fn json_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            ValueKind::Text => ("string", None),
            ValueKind::Boolean => ("boolean", None),
            ValueKind::Integer => ("integer", None),
            ValueKind::Decimal => ("number", None),
            ValueKind::Date => ("string", Some("date")),
            ValueKind::DateTime => ("string", Some("date-time")),
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FieldType {
    /// Reads a type name, case-insensitively and ignoring surrounding and doubled spaces.
    pub fn parse(name: &str) -> FieldType {
        let normal = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase();
        match normal.as_str() {
            "text" => FieldType::Text,
            "picklist" => FieldType::Picklist,
            "longtext" => FieldType::LongText,
            "zoql" => FieldType::Zoql,
            "boolean" => FieldType::Boolean,
            "integer" | "int" => FieldType::Integer,
            "bigint" => FieldType::BigInt,
            "decimal" => FieldType::Decimal {
                precision: None,
                scale: None,
            },
            "number" => FieldType::Number,
            "double" => FieldType::Double,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            "timestamp" => FieldType::Timestamp,
            "timestamp with time zone" => FieldType::TimestampWithTimeZone,
            "varchar" => FieldType::Varchar(None),
            _ => {
                parse_parameterised(&normal).unwrap_or_else(|| FieldType::Unknown(name.to_owned()))
            }
        }
    }

    /// The canonical type name: describe names as Zuora spells them, Data Query names in
    /// lower case.
    pub fn name(&self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Picklist => "picklist".into(),
            FieldType::LongText => "longtext".into(),
            FieldType::Zoql => "ZOQL".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Integer => "integer".into(),
            FieldType::BigInt => "bigint".into(),
            FieldType::Decimal {
                precision: Some(p),
                scale: Some(s),
            } => format!("decimal({p},{s})"),
            FieldType::Decimal {
                precision: Some(p),
                scale: None,
            } => format!("decimal({p})"),
            FieldType::Decimal { .. } => "decimal".into(),
            FieldType::Number => "number".into(),
            FieldType::Double => "double".into(),
            FieldType::Date => "date".into(),
            FieldType::DateTime => "datetime".into(),
            FieldType::Timestamp => "timestamp".into(),
            FieldType::TimestampWithTimeZone => "timestamp with time zone".into(),
            FieldType::Varchar(Some(n)) => format!("varchar({n})"),
            FieldType::Varchar(None) => "varchar".into(),
            FieldType::Unknown(name) => name.clone(),
        }
    }

    /// The kind of value the type holds, or `None` for [`FieldType::Unknown`].
    pub fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            FieldType::Text
            | FieldType::Picklist
            | FieldType::LongText
            | FieldType::Zoql
            | FieldType::Varchar(_) => ValueKind::Text,
            FieldType::Boolean => ValueKind::Boolean,
            FieldType::Integer | FieldType::BigInt => ValueKind::Integer,
            FieldType::Decimal { .. } | FieldType::Number | FieldType::Double => ValueKind::Decimal,
            FieldType::Date => ValueKind::Date,
            FieldType::DateTime | FieldType::Timestamp | FieldType::TimestampWithTimeZone => {
                ValueKind::DateTime
            }
            FieldType::Unknown(_) => return None,
        })
    }

    /// Like [`FieldType::kind`], but an unknown type is an error naming the field.
    pub fn require_kind(&self, field: &str) -> Result<ValueKind, SchemaError> {
        self.kind().ok_or_else(|| SchemaError::UnknownType {
            field: field.to_owned(),
            type_name: self.name(),
        })
    }
}

/// `decimal(p,s)`, `decimal(p)`, `varchar(n)`, `timestamp(p)`, `timestamp(p) with time zone`.
fn parse_parameterised(normal: &str) -> Option<FieldType> {
    let (head, rest) = normal.split_once('(')?;
    let (args, tail) = rest.split_once(')')?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let tail = tail.trim();
    match (head.trim(), args.as_slice(), tail) {
        ("decimal", [p], "") => Some(FieldType::Decimal {
            precision: Some(p.parse().ok()?),
            scale: None,
        }),
        ("decimal", [p, s], "") => Some(FieldType::Decimal {
            precision: Some(p.parse().ok()?),
            scale: Some(s.parse().ok()?),
        }),
        ("varchar", [n], "") => Some(FieldType::Varchar(Some(n.parse().ok()?))),
        ("timestamp", [p], "") => p.parse::<u8>().ok().map(|_| FieldType::Timestamp),
        ("timestamp", [p], "with time zone") => p
            .parse::<u8>()
            .ok()
            .map(|_| FieldType::TimestampWithTimeZone),
        _ => None,
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for FieldType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(FieldType::parse(s))
    }
}

impl Serialize for FieldType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for FieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(FieldType::parse(&String::deserialize(deserializer)?))
    }
}

/// One field of a table, with the describe attributes zbridge acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// API name, e.g. `AccountNumber` (describe) or `accountnumber` (Data Query).
    pub name: String,
    /// Display label, e.g. `Account Number`.
    pub label: String,
    /// The declared type.
    pub field_type: FieldType,
    /// May appear in a WHERE clause.
    pub filterable: bool,
    /// Has `<context>export</context>`: usable in AQuA / Export ZOQL (L17).
    pub exportable: bool,
    /// May be selected.
    pub selectable: bool,
    /// May be set on create.
    pub createable: bool,
    /// May be set on update.
    pub updateable: bool,
    /// A custom field (`…__c`).
    pub custom: bool,
    /// Required on create.
    pub required: bool,
    /// Maximum length of a text value, when declared.
    pub max_length: Option<u32>,
    /// Options of a picklist, in describe order.
    pub picklist_options: Vec<String>,
}

impl Field {
    /// A field that is selectable, filterable and exportable, with the name as its label.
    pub fn new(name: impl Into<String>, field_type: FieldType) -> Field {
        let name = name.into();
        Field {
            label: name.clone(),
            name,
            field_type,
            filterable: true,
            exportable: true,
            selectable: true,
            createable: false,
            updateable: false,
            custom: false,
            required: false,
            max_length: None,
            picklist_options: Vec::new(),
        }
    }

    /// The kind of value the field holds; an unknown type is an error naming the field.
    pub fn kind(&self) -> Result<ValueKind, SchemaError> {
        self.field_type.require_kind(&self.name)
    }

    /// The JSON Schema of the field's values, nullable (any Zuora value may be null), for the
    /// CreateSchema procedure: e.g. `{"type": ["string", "null"], "format": "date-time"}`.
    pub fn json_schema(&self) -> Result<Json, SchemaError> {
        let (json_type, format) = self.kind()?.json_type();
        let mut schema = json!({ "type": [json_type, "null"] });
        if let Some(format) = format {
            schema["format"] = json!(format);
        }
        if self.label != self.name && !self.label.is_empty() {
            schema["title"] = json!(self.label);
        }
        if let Some(max) = self
            .max_length
            .filter(|_| json_type == "string" && format.is_none())
        {
            schema["maxLength"] = json!(max);
        }
        if !self.picklist_options.is_empty() {
            // Documentation only: Zuora has been seen returning values outside the options.
            schema["examples"] = json!(self.picklist_options);
        }
        Ok(schema)
    }

    /// The Singer (draft-04) schema of the field: `{"type": ["null", "number"]}` style, with
    /// `format` for dates and datetimes.
    pub fn singer_schema(&self) -> Result<Json, SchemaError> {
        let (json_type, format) = self.kind()?.json_type();
        let mut schema = json!({ "type": ["null", json_type] });
        if let Some(format) = format {
            schema["format"] = json!(format);
        }
        Ok(schema)
    }
}

/// A joined object reachable from a table (describe `<related-objects>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedObject {
    /// The relation name used in Export ZOQL, e.g. `BillToContact`.
    pub name: String,
    /// `Base.Relation`, e.g. `Account.BillToContact`.
    pub path: String,
    /// The target object, e.g. `Contact`.
    pub target: String,
}

/// A table (Zuora object) and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// API name, e.g. `Account`.
    pub name: String,
    /// Display label.
    pub label: String,
    /// Fields in describe order.
    pub fields: Vec<Field>,
    /// Joined objects.
    pub related: Vec<RelatedObject>,
}

impl TableSchema {
    /// A table with no related objects, labelled with its name.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> TableSchema {
        let name = name.into();
        TableSchema {
            label: name.clone(),
            name,
            fields,
            related: Vec::new(),
        }
    }

    /// Finds a field by name, case-insensitively (Zuora names are case-insensitive).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Finds a related object by relation name, case-insensitively.
    pub fn related_object(&self, name: &str) -> Option<&RelatedObject> {
        self.related
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// Splits off the fields of unknown type, so the caller can report them and go on with the
    /// rest (L21: quarantine loudly, never drop silently).
    pub fn partition_unknown(&self) -> (TableSchema, Vec<SchemaError>) {
        let mut known = self.clone();
        let mut errors = Vec::new();
        known.fields.retain(|field| match field.kind() {
            Ok(_) => true,
            Err(error) => {
                errors.push(error);
                false
            }
        });
        (known, errors)
    }

    /// The JSON Schema (draft 2020-12) of one record of the table.
    pub fn json_schema(&self) -> Result<Json, SchemaError> {
        let mut properties = serde_json::Map::new();
        for field in &self.fields {
            properties.insert(field.name.clone(), field.json_schema()?);
        }
        let required: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.as_str())
            .collect();
        let mut schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.name,
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        Ok(schema)
    }

    /// The Singer `SCHEMA` message body of the table: every property nullable.
    pub fn singer_schema(&self) -> Result<Json, SchemaError> {
        let mut properties = serde_json::Map::new();
        for field in &self.fields {
            properties.insert(field.name.clone(), field.singer_schema()?);
        }
        Ok(
            json!({ "type": ["null", "object"], "additionalProperties": false, "properties": properties }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_vocabulary_is_case_insensitive() {
        let cases = [
            ("text", FieldType::Text, ValueKind::Text),
            ("Picklist", FieldType::Picklist, ValueKind::Text),
            ("longtext", FieldType::LongText, ValueKind::Text),
            ("ZOQL", FieldType::Zoql, ValueKind::Text),
            ("zoql", FieldType::Zoql, ValueKind::Text),
            ("boolean", FieldType::Boolean, ValueKind::Boolean),
            ("integer", FieldType::Integer, ValueKind::Integer),
            (
                "Decimal",
                FieldType::Decimal {
                    precision: None,
                    scale: None,
                },
                ValueKind::Decimal,
            ),
            ("number", FieldType::Number, ValueKind::Decimal),
            ("date", FieldType::Date, ValueKind::Date),
            ("DateTime", FieldType::DateTime, ValueKind::DateTime),
            ("timestamp", FieldType::Timestamp, ValueKind::DateTime),
        ];
        for (name, expected, kind) in cases {
            let parsed = FieldType::parse(name);
            assert_eq!(parsed, expected, "{name}");
            assert_eq!(parsed.kind(), Some(kind), "{name}");
            assert_eq!(
                FieldType::parse(&parsed.name()),
                parsed,
                "{name} round trip"
            );
        }
    }

    #[test]
    fn data_query_types() {
        let cases = [
            ("bigint", FieldType::BigInt, ValueKind::Integer),
            ("double", FieldType::Double, ValueKind::Decimal),
            (
                "decimal(18,6)",
                FieldType::Decimal {
                    precision: Some(18),
                    scale: Some(6),
                },
                ValueKind::Decimal,
            ),
            (
                "DECIMAL(22, 9)",
                FieldType::Decimal {
                    precision: Some(22),
                    scale: Some(9),
                },
                ValueKind::Decimal,
            ),
            (
                "timestamp with time zone",
                FieldType::TimestampWithTimeZone,
                ValueKind::DateTime,
            ),
            (
                "timestamp(3) with time zone",
                FieldType::TimestampWithTimeZone,
                ValueKind::DateTime,
            ),
            ("varchar", FieldType::Varchar(None), ValueKind::Text),
            (
                "varchar(255)",
                FieldType::Varchar(Some(255)),
                ValueKind::Text,
            ),
        ];
        for (name, expected, kind) in cases {
            let parsed = FieldType::parse(name);
            assert_eq!(parsed, expected, "{name}");
            assert_eq!(parsed.kind(), Some(kind), "{name}");
        }
        assert_eq!(
            FieldType::Decimal {
                precision: Some(18),
                scale: Some(6)
            }
            .name(),
            "decimal(18,6)"
        );
    }

    #[test]
    fn unknown_types_fail_loudly() {
        let parsed = FieldType::parse("geography");
        assert_eq!(parsed, FieldType::Unknown("geography".into()));
        assert_eq!(parsed.kind(), None);
        let field = Field::new("Where", parsed);
        let err = field.json_schema().unwrap_err();
        assert_eq!(
            err.to_string(),
            "field Where has unknown type 'geography'; it is left out rather than guessed"
        );
        let table = TableSchema::new("T", vec![Field::new("Id", FieldType::Text), field]);
        assert!(table.json_schema().is_err());
        let (known, errors) = table.partition_unknown();
        assert_eq!(known.fields.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(known.json_schema().is_ok());
        // Malformed parameters are unknown too, not silently a decimal.
        assert!(matches!(
            FieldType::parse("decimal(x,6)"),
            FieldType::Unknown(_)
        ));
    }

    #[test]
    fn json_and_singer_schemas() {
        let mut amount = Field::new("Balance", FieldType::parse("decimal"));
        amount.required = true;
        let mut name = Field::new("Name", FieldType::Text);
        name.max_length = Some(255);
        name.label = "Account Name".into();
        let table = TableSchema::new(
            "Account",
            vec![
                amount,
                name,
                Field::new("UpdatedDate", FieldType::DateTime),
                Field::new("InvoiceDate", FieldType::Date),
                Field::new("AutoPay", FieldType::Boolean),
                Field::new("BillCycleDay", FieldType::Integer),
            ],
        );
        let schema = table.json_schema().unwrap();
        assert_eq!(
            schema["properties"]["Balance"],
            json!({"type": ["number", "null"]})
        );
        assert_eq!(
            schema["properties"]["Name"],
            json!({"type": ["string", "null"], "title": "Account Name", "maxLength": 255})
        );
        assert_eq!(
            schema["properties"]["UpdatedDate"],
            json!({"type": ["string", "null"], "format": "date-time"})
        );
        assert_eq!(schema["properties"]["InvoiceDate"]["format"], "date");
        assert_eq!(schema["properties"]["AutoPay"]["type"][0], "boolean");
        assert_eq!(schema["properties"]["BillCycleDay"]["type"][0], "integer");
        assert_eq!(schema["required"], json!(["Balance"]));
        let singer = table.singer_schema().unwrap();
        assert_eq!(
            singer["properties"]["Balance"],
            json!({"type": ["null", "number"]})
        );
        assert_eq!(
            singer["properties"]["UpdatedDate"],
            json!({"type": ["null", "string"], "format": "date-time"})
        );
    }

    #[test]
    fn lookups_ignore_case_and_serde_keeps_names() {
        let mut table = TableSchema::new(
            "Account",
            vec![Field::new("AccountNumber", FieldType::Text)],
        );
        table.related.push(RelatedObject {
            name: "BillToContact".into(),
            path: "Account.BillToContact".into(),
            target: "Contact".into(),
        });
        assert!(table.field("accountnumber").is_some());
        assert!(table.related_object("billtocontact").is_some());
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["fields"][0]["field_type"], "text");
        let back: TableSchema = serde_json::from_value(json).unwrap();
        assert_eq!(back, table);
    }
}
