//! The procedures of the Execute activity, their parameters, and the JSON Schemas of what they
//! take and give.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use zbridge_core::ValidationError;

/// A procedure the Execute activity can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Procedure {
    /// Actions create: new records of one object type.
    CreateRecords,
    /// Actions update: changes to records of one object type, by Id.
    UpdateRecords,
    /// Actions delete: records of one object type, by Id.
    DeleteRecords,
    /// Actions generate (type Invoice): one invoice per account.
    GenerateInvoices,
    /// Actions execute (type InvoiceSplit): splits draft invoices.
    SplitInvoice,
    /// Actions subscribe: an account and its subscription per record.
    Subscribe,
    /// Actions amend: up to 10 amendments of one subscription per record.
    Amend,
    /// Shows the connection's access token: expiry and scope (the token only on request).
    GetOAuthAccessToken,
    /// Renews the access token now.
    RefreshOAuthAccessToken,
    /// Writes a table's schema as JSON Schema.
    CreateSchema,
}

/// A parameter a procedure takes as `--param name=value`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ParamSpec {
    /// The name.
    pub name: &'static str,
    /// Whether the procedure needs it.
    pub required: bool,
    /// What it does.
    pub description: &'static str,
}

const TYPE: ParamSpec = ParamSpec {
    name: "type",
    required: true,
    description: "the Zuora object, e.g. Account",
};
const REJECT_UNKNOWN: ParamSpec = ParamSpec {
    name: "rejectUnknownFields",
    required: false,
    description: "true: Zuora refuses the whole call when a record has a field it does not know (default false: unknown fields are silently ignored)",
};
const SYNCHRONOUS: ParamSpec = ParamSpec {
    name: "synchronous",
    required: false,
    description: "true: wait for the split to finish (default false)",
};
const TABLE: ParamSpec = ParamSpec {
    name: "table",
    required: true,
    description: "the table to describe, e.g. Account",
};

impl Procedure {
    /// Every procedure, in the order they are listed.
    pub const ALL: [Procedure; 10] = [
        Procedure::CreateRecords,
        Procedure::UpdateRecords,
        Procedure::DeleteRecords,
        Procedure::GenerateInvoices,
        Procedure::SplitInvoice,
        Procedure::Subscribe,
        Procedure::Amend,
        Procedure::GetOAuthAccessToken,
        Procedure::RefreshOAuthAccessToken,
        Procedure::CreateSchema,
    ];

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Procedure::CreateRecords => "CreateRecords",
            Procedure::UpdateRecords => "UpdateRecords",
            Procedure::DeleteRecords => "DeleteRecords",
            Procedure::GenerateInvoices => "GenerateInvoices",
            Procedure::SplitInvoice => "SplitInvoice",
            Procedure::Subscribe => "Subscribe",
            Procedure::Amend => "Amend",
            Procedure::GetOAuthAccessToken => "GetOAuthAccessToken",
            Procedure::RefreshOAuthAccessToken => "RefreshOAuthAccessToken",
            Procedure::CreateSchema => "CreateSchema",
        }
    }

    /// Finds a procedure by name, regardless of case.
    pub fn parse(name: &str) -> Result<Procedure, ValidationError> {
        Procedure::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Procedure::ALL.iter().map(|p| p.name()).collect();
                ValidationError::new(
                    "Procedure",
                    format!(
                        "unknown procedure '{name}'; the procedures are {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// One sentence on what it does.
    pub fn description(self) -> &'static str {
        match self {
            Procedure::CreateRecords => {
                "Creates records of one object type (Actions create, 50 per call)."
            }
            Procedure::UpdateRecords => {
                "Updates records of one object type by Id (Actions update, 50 per call)."
            }
            Procedure::DeleteRecords => {
                "Deletes records of one object type by Id (Actions delete, 50 per call)."
            }
            Procedure::GenerateInvoices => {
                "Generates an invoice per account (Actions generate, type Invoice, 50 per call)."
            }
            Procedure::SplitInvoice => {
                "Splits draft invoices by InvoiceSplit Id (Actions execute, type InvoiceSplit, 50 per call)."
            }
            Procedure::Subscribe => {
                "Creates an account with its contacts, payment method and subscription per record (Actions subscribe, 50 per call)."
            }
            Procedure::Amend => {
                "Amends one subscription per record with up to 10 amendments (Actions amend, one request per call)."
            }
            Procedure::GetOAuthAccessToken => {
                "Shows the connection's OAuth access token: its expiry and scope; the token itself only with --show-secret."
            }
            Procedure::RefreshOAuthAccessToken => "Renews the connection's OAuth access token now.",
            Procedure::CreateSchema => "Writes a table's schema as a JSON Schema document.",
        }
    }

    /// Whether the procedure reads input records.
    pub fn takes_input(self) -> bool {
        !matches!(
            self,
            Procedure::GetOAuthAccessToken
                | Procedure::RefreshOAuthAccessToken
                | Procedure::CreateSchema
        )
    }

    /// What one input record holds, in a few words (the input schema says it exactly).
    pub fn input_summary(self) -> &'static str {
        match self {
            Procedure::CreateRecords => "the fields of a new record",
            Procedure::UpdateRecords => "Id and the fields to change",
            Procedure::DeleteRecords => "Id",
            Procedure::GenerateInvoices => "AccountId, InvoiceDate, TargetDate",
            Procedure::SplitInvoice => "Id (of an InvoiceSplit)",
            Procedure::Subscribe => "a SubscribeRequest (Account, SubscriptionData, …)",
            Procedure::Amend => "an AmendRequest, or one Amendment",
            Procedure::GetOAuthAccessToken
            | Procedure::RefreshOAuthAccessToken
            | Procedure::CreateSchema => "no input",
        }
    }

    /// What it gives back, in a few words (the output schema says it exactly).
    pub fn output_summary(self) -> &'static str {
        match self {
            Procedure::GetOAuthAccessToken | Procedure::RefreshOAuthAccessToken => {
                "expiry and scope (the token with --show-secret)"
            }
            Procedure::CreateSchema => "a JSON Schema document",
            _ => "per record: line, id, success, errors",
        }
    }

    /// The `--param`s it takes.
    pub fn params(self) -> &'static [ParamSpec] {
        match self {
            Procedure::CreateRecords | Procedure::UpdateRecords => &[TYPE, REJECT_UNKNOWN],
            Procedure::DeleteRecords => &[TYPE],
            Procedure::GenerateInvoices | Procedure::Subscribe | Procedure::Amend => {
                &[REJECT_UNKNOWN]
            }
            Procedure::SplitInvoice => &[SYNCHRONOUS],
            Procedure::CreateSchema => &[TABLE],
            Procedure::GetOAuthAccessToken | Procedure::RefreshOAuthAccessToken => &[],
        }
    }

    /// The JSON Schema of one input record (null for procedures without input).
    pub fn input_schema(self) -> Value {
        let scalar = json!({"type": ["string", "number", "boolean", "null"]});
        let id = json!({"type": "string", "minLength": 1});
        let date = json!({"type": "string", "format": "date"});
        let schema = match self {
            Procedure::CreateRecords => json!({
                "description": "the fields of one new record; Id cannot be set",
                "type": "object", "minProperties": 1,
                "not": {"required": ["Id"]},
                "additionalProperties": scalar,
            }),
            Procedure::UpdateRecords => json!({
                "description": "the Id of a record and the fields to change",
                "type": "object", "required": ["Id"], "minProperties": 2,
                "properties": {"Id": id},
                "additionalProperties": scalar,
            }),
            Procedure::DeleteRecords | Procedure::SplitInvoice => json!({
                "type": "object", "required": ["Id"],
                "properties": {"Id": id},
                "additionalProperties": false,
            }),
            Procedure::GenerateInvoices => json!({
                "type": "object", "required": ["AccountId", "InvoiceDate", "TargetDate"],
                "properties": {
                    "AccountId": id, "InvoiceDate": date, "TargetDate": date,
                    "IncludesOneTime": {"type": "boolean"},
                    "IncludesRecurring": {"type": "boolean"},
                    "IncludesUsage": {"type": "boolean"},
                },
                "additionalProperties": false,
            }),
            Procedure::Subscribe => json!({
                "description": "a SubscribeRequest",
                "type": "object", "required": ["Account", "SubscriptionData"],
                "properties": {
                    "Account": {"type": "object"},
                    "BillToContact": {"type": "object"},
                    "SoldToContact": {"type": "object"},
                    "PaymentMethod": {"type": "object"},
                    "SubscriptionData": {"type": "object", "properties": {
                        "Subscription": {"type": "object"},
                        "RatePlanData": {"type": "array", "items": {"type": "object"}},
                    }},
                    "SubscribeOptions": {"type": "object"},
                    "PreviewOptions": {"type": "object"},
                },
                "additionalProperties": false,
            }),
            Procedure::Amend => {
                let amendment = json!({
                    "type": "object",
                    "required": ["ContractEffectiveDate", "Name", "SubscriptionId", "Type"],
                    "properties": {"ContractEffectiveDate": date, "Name": {"type": "string"},
                                   "SubscriptionId": id, "Type": {"type": "string"}},
                });
                json!({
                    "description": "an AmendRequest for one subscription; a record without Amendments is one Amendment (AmendOptions and PreviewOptions may sit beside its fields)",
                    "oneOf": [
                        {"type": "object", "required": ["Amendments"],
                         "properties": {
                             "Amendments": {"type": "array", "minItems": 1, "maxItems": 10, "items": amendment},
                             "AmendOptions": {"type": "object"},
                             "PreviewOptions": {"type": "object"},
                             "ExternalPaymentOptions": {"type": "object"},
                         },
                         "additionalProperties": false},
                        amendment,
                    ],
                })
            }
            Procedure::GetOAuthAccessToken
            | Procedure::RefreshOAuthAccessToken
            | Procedure::CreateSchema => return Value::Null,
        };
        with_meta(schema, &format!("{} input record", self.name()))
    }

    /// The JSON Schema of one line of output.
    pub fn output_schema(self) -> Value {
        let schema = match self {
            Procedure::GetOAuthAccessToken | Procedure::RefreshOAuthAccessToken => json!({
                "type": "object",
                "required": ["expires_at", "scope", "renewable"],
                "properties": {
                    "expires_at": {"type": ["string", "null"], "format": "date-time"},
                    "scope": {"type": "string"},
                    "renewable": {"type": "boolean", "description": "false when InitiateOAuth=OFF"},
                    "renewed": {"type": "boolean"},
                    "access_token": {"type": "string", "description": "only with --show-secret"},
                },
            }),
            Procedure::CreateSchema => json!({
                "description": "a JSON Schema (draft 2020-12) document of one record of the table",
                "type": "object",
            }),
            _ => json!({
                "description": "the result of one input record, in input order",
                "type": "object",
                "required": ["line", "id", "success", "errors"],
                "properties": {
                    "line": {"type": "integer", "description": "the input line of the record"},
                    "id": {"type": ["string", "null"]},
                    "success": {"type": "boolean"},
                    "errors": {"type": "array", "items": {
                        "type": "object", "required": ["message"],
                        "properties": {"code": {"type": ["string", "null"]}, "message": {"type": "string"}},
                    }},
                    "details": {"type": "object", "description": "other result fields Zuora returned, e.g. SubscriptionNumber"},
                },
            }),
        };
        with_meta(schema, &format!("{} output", self.name()))
    }
}

fn with_meta(mut schema: Value, title: &str) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("title".into(), json!(title));
    }
    schema
}

/// The `--param`s of one call, checked against the procedure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses `name=value` pairs; refuses unknown names, repeats, missing required ones and
    /// malformed values.
    pub fn parse<S: AsRef<str>>(
        procedure: Procedure,
        pairs: &[S],
    ) -> Result<Params, ValidationError> {
        let specs = procedure.params();
        let mut values = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                ValidationError::new("--param", format!("'{pair}' is not name=value"))
            })?;
            let spec = specs
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                    let known = if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    };
                    ValidationError::new(
                        "--param",
                        format!(
                            "{} takes no parameter '{}' (it takes: {known})",
                            procedure.name(),
                            name.trim()
                        ),
                    )
                })?;
            let value = value.trim().to_string();
            check_value(spec, &value)?;
            if values.insert(spec.name.to_string(), value).is_some() {
                return Err(ValidationError::new(
                    "--param",
                    format!("{} is given twice", spec.name),
                ));
            }
        }
        if let Some(missing) = specs
            .iter()
            .find(|s| s.required && !values.contains_key(s.name))
        {
            return Err(ValidationError::new(
                "--param",
                format!(
                    "{} needs --param {}=… ({})",
                    procedure.name(),
                    missing.name,
                    missing.description
                ),
            ));
        }
        Ok(Params { values })
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A boolean parameter (validated at parse time), false when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn check_value(spec: &ParamSpec, value: &str) -> Result<(), ValidationError> {
    let bad = |rule: String| Err(ValidationError::new(format!("--param {}", spec.name), rule));
    match spec.name {
        "type" | "table" => {
            let ok = !value.is_empty()
                && value.len() <= 100
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if ok {
                Ok(())
            } else {
                bad(format!(
                    "'{value}' is not an object name (letters, digits and _)"
                ))
            }
        }
        _ => {
            if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                bad(format!("expected true or false, found '{value}'"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedures_are_found_by_name_regardless_of_case() {
        assert_eq!(
            Procedure::parse("createrecords").unwrap(),
            Procedure::CreateRecords
        );
        let error = Procedure::parse("Launch").unwrap_err().to_string();
        assert!(error.contains("unknown procedure 'Launch'"), "{error}");
        assert!(error.contains("GetOAuthAccessToken"), "{error}");
        for p in Procedure::ALL {
            assert_eq!(Procedure::parse(p.name()).unwrap(), p);
        }
    }

    #[test]
    fn params_are_checked_against_the_procedure() {
        let p = Params::parse(
            Procedure::CreateRecords,
            &["type=Account", "rejectUnknownFields=TRUE"],
        )
        .unwrap();
        assert_eq!(p.get("type"), Some("Account"));
        assert!(p.flag("rejectUnknownFields"));
        let missing = Params::parse::<&str>(Procedure::DeleteRecords, &[]).unwrap_err();
        assert!(
            missing.to_string().contains("needs --param type="),
            "{missing}"
        );
        let unknown = Params::parse(Procedure::Subscribe, &["type=Account"]).unwrap_err();
        assert!(
            unknown.to_string().contains("takes no parameter 'type'"),
            "{unknown}"
        );
        assert!(Params::parse(Procedure::CreateRecords, &["type=Acc'ount"]).is_err());
        assert!(Params::parse(Procedure::SplitInvoice, &["synchronous=yes"]).is_err());
        assert!(Params::parse(Procedure::CreateSchema, &["table"]).is_err());
        assert!(Params::parse(Procedure::CreateRecords, &["type=A", "type=B"]).is_err());
    }

    #[test]
    fn every_procedure_has_schemas_and_input_procedures_have_an_input_schema() {
        for p in Procedure::ALL {
            assert_eq!(p.output_schema()["title"], format!("{} output", p.name()));
            assert_eq!(p.input_schema().is_null(), !p.takes_input(), "{}", p.name());
        }
    }
}
