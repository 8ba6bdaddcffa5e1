//! The Actions API side of the Execute activity: what each record must look like, how records
//! are packed into calls, and how Zuora's per-record answers are read back (zuora-api.md §8).

use serde_json::{Map, Value, json};

use super::input::kind_of;
use super::procedure::{Params, Procedure};
use super::{RecordError, RecordResult};

/// Actions create, update, delete, generate, execute and subscribe take at most 50 objects.
pub const MAX_OBJECTS: usize = 50;
/// An amend call creates at most 10 Amendment objects.
pub const MAX_AMENDMENTS: usize = 10;

const GENERATE_FIELDS: [&str; 6] = [
    "AccountId",
    "InvoiceDate",
    "TargetDate",
    "IncludesOneTime",
    "IncludesRecurring",
    "IncludesUsage",
];
const SUBSCRIBE_FIELDS: [&str; 7] = [
    "Account",
    "BillToContact",
    "SoldToContact",
    "PaymentMethod",
    "SubscriptionData",
    "SubscribeOptions",
    "PreviewOptions",
];
const AMEND_REQUEST_FIELDS: [&str; 4] = [
    "Amendments",
    "AmendOptions",
    "PreviewOptions",
    "ExternalPaymentOptions",
];
const AMENDMENT_REQUIRED: [&str; 4] = ["ContractEffectiveDate", "Name", "SubscriptionId", "Type"];

/// One record made ready for its call.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// What goes into the call: an object, or an id for delete and execute.
    pub item: Value,
    /// The id the record names, reported when Zuora's answer carries none.
    pub input_id: Option<String>,
}

/// Checks one record against the procedure's rules and turns it into its request item.
pub(crate) fn prepare(
    procedure: Procedure,
    fields: Map<String, Value>,
) -> Result<Prepared, String> {
    if fields.is_empty() {
        return Err("the record is empty".into());
    }
    match procedure {
        Procedure::CreateRecords => {
            if let Some(id) = key(&fields, "Id") {
                return Err(format!(
                    "{id} cannot be set on create (use UpdateRecords to change a record)"
                ));
            }
            flat(&fields)?;
            Ok(Prepared {
                item: Value::Object(fields),
                input_id: None,
            })
        }
        Procedure::UpdateRecords => {
            let id = required_text(&fields, "Id")?;
            flat(&fields)?;
            if fields.len() < 2 {
                return Err("has only an Id: give at least one field to change".into());
            }
            Ok(Prepared {
                item: Value::Object(fields),
                input_id: Some(id),
            })
        }
        Procedure::DeleteRecords | Procedure::SplitInvoice => {
            let id = required_text(&fields, "Id")?;
            only(&fields, &["Id"])?;
            Ok(Prepared {
                item: Value::String(id.clone()),
                input_id: Some(id),
            })
        }
        Procedure::GenerateInvoices => {
            only(&fields, &GENERATE_FIELDS)?;
            let account = required_text(&fields, "AccountId")?;
            for date in ["InvoiceDate", "TargetDate"] {
                let text = required_text(&fields, date)?;
                if chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_err() {
                    return Err(format!(
                        "{date} must be a date as yyyy-mm-dd, found {text:?}"
                    ));
                }
            }
            for flag in ["IncludesOneTime", "IncludesRecurring", "IncludesUsage"] {
                if let Some(v) = get(&fields, flag)
                    && !(v.is_boolean() || matches!(v.as_str(), Some("true" | "false")))
                {
                    return Err(format!("{flag} must be true or false"));
                }
            }
            Ok(Prepared {
                item: Value::Object(fields),
                input_id: Some(account),
            })
        }
        Procedure::Subscribe => {
            only(&fields, &SUBSCRIBE_FIELDS)?;
            for part in ["Account", "SubscriptionData"] {
                match get(&fields, part) {
                    Some(Value::Object(_)) => {}
                    Some(other) => {
                        return Err(format!(
                            "{part} must be an object, found {}",
                            kind_of(other)
                        ));
                    }
                    None => return Err(format!("{part} is required")),
                }
            }
            Ok(Prepared {
                item: Value::Object(fields),
                input_id: None,
            })
        }
        Procedure::Amend => {
            let request = amend_request(fields)?;
            let subscription = request["Amendments"][0]["SubscriptionId"]
                .as_str()
                .map(str::to_string);
            Ok(Prepared {
                item: request,
                input_id: subscription,
            })
        }
        Procedure::GetOAuthAccessToken
        | Procedure::RefreshOAuthAccessToken
        | Procedure::CreateSchema => Err(format!("{} takes no input records", procedure.name())),
    }
}

/// An AmendRequest for one subscription. A record without `Amendments` is one Amendment, with
/// any AmendOptions, PreviewOptions or ExternalPaymentOptions beside its fields (so a flat CSV
/// row can be an amendment).
fn amend_request(mut fields: Map<String, Value>) -> Result<Value, String> {
    if key(&fields, "Amendments").is_none() {
        let mut request = Map::new();
        for option in &AMEND_REQUEST_FIELDS[1..] {
            if let Some(name) = key(&fields, option).map(str::to_string)
                && let Some(value) = fields.remove(&name)
            {
                request.insert((*option).to_string(), value);
            }
        }
        request.insert(
            "Amendments".into(),
            Value::Array(vec![Value::Object(fields)]),
        );
        fields = request;
    }
    only(&fields, &AMEND_REQUEST_FIELDS)?;
    let amendments = match get(&fields, "Amendments") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "Amendments must be an array, found {}",
                kind_of(other)
            ));
        }
        None => return Err("Amendments is required".into()),
    };
    if amendments.is_empty() || amendments.len() > MAX_AMENDMENTS {
        return Err(format!(
            "has {} Amendments; an amend request holds 1 to {MAX_AMENDMENTS}",
            amendments.len()
        ));
    }
    let mut subscription: Option<String> = None;
    for (i, amendment) in amendments.iter().enumerate() {
        let Value::Object(amendment) = amendment else {
            return Err(format!(
                "Amendments[{i}] must be an object, found {}",
                kind_of(amendment)
            ));
        };
        for field in AMENDMENT_REQUIRED {
            required_text(amendment, field).map_err(|e| format!("Amendments[{i}]: {e}"))?;
        }
        let id = required_text(amendment, "SubscriptionId")?;
        match &subscription {
            Some(first) if *first != id => {
                return Err(format!(
                    "Amendments[{i}] amends subscription {id}, but an amend request amends one subscription ({first})"
                ));
            }
            _ => subscription = Some(id),
        }
    }
    Ok(Value::Object(fields))
}

/// The Actions path of a procedure and how many records one call takes.
pub(crate) fn endpoint(procedure: Procedure, params: &Params) -> (String, usize) {
    let (operation, max) = match procedure {
        Procedure::CreateRecords => ("create", MAX_OBJECTS),
        Procedure::UpdateRecords => ("update", MAX_OBJECTS),
        Procedure::DeleteRecords => ("delete", MAX_OBJECTS),
        Procedure::GenerateInvoices => ("generate", MAX_OBJECTS),
        Procedure::SplitInvoice => ("execute", MAX_OBJECTS),
        Procedure::Subscribe => ("subscribe", MAX_OBJECTS),
        // "If Zuora is unable to create an Amendment object … the entire call fails": one
        // request per call, so one bad request cannot fail the records around it.
        Procedure::Amend => ("amend", 1),
        Procedure::GetOAuthAccessToken
        | Procedure::RefreshOAuthAccessToken
        | Procedure::CreateSchema => ("", 0),
    };
    let mut path = format!("/v1/action/{operation}");
    if params.flag("rejectUnknownFields") {
        path.push_str("?rejectUnknownFields=true");
    }
    (path, max)
}

/// The body of one call.
pub(crate) fn body(procedure: Procedure, params: &Params, items: Vec<Value>) -> Value {
    let object_type = params.get("type").unwrap_or_default();
    match procedure {
        Procedure::CreateRecords | Procedure::UpdateRecords => {
            json!({"type": object_type, "objects": items})
        }
        Procedure::DeleteRecords => json!({"type": object_type, "ids": items}),
        Procedure::GenerateInvoices => json!({"type": "Invoice", "objects": items}),
        Procedure::SplitInvoice => {
            json!({"type": "InvoiceSplit", "ids": items, "synchronous": params.flag("synchronous")})
        }
        Procedure::Subscribe => json!({"subscribes": items}),
        Procedure::Amend => json!({"requests": items}),
        Procedure::GetOAuthAccessToken
        | Procedure::RefreshOAuthAccessToken
        | Procedure::CreateSchema => Value::Null,
    }
}

/// The per-record answers of a call: a SaveResult / DeleteResult / SubscribeResult array, or
/// amend's `{"results": [...]}`.
pub(crate) fn answers(response: Value) -> Result<Vec<Value>, String> {
    match response {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(format!(
                "expected an array of results, found {}",
                Value::Object(map)
            )),
        },
        other => Err(format!(
            "expected an array of results, found {}",
            kind_of(&other)
        )),
    }
}

/// Reads one per-record answer. Keys are read regardless of case: SaveResult is capitalised,
/// DeleteResult lowercase.
pub(crate) fn read_answer(line: u64, answer: &Value, input_id: Option<&str>) -> RecordResult {
    let Value::Object(map) = answer else {
        return RecordResult::failed(
            line,
            input_id.map(str::to_string),
            RecordError::new(
                None,
                format!("Zuora answered {} for this record", kind_of(answer)),
            ),
        );
    };
    let success = get(map, "Success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let id_key = ["Id", "SubscriptionId"]
        .into_iter()
        .find_map(|k| key(map, k).filter(|name| map.get(*name).is_some_and(Value::is_string)));
    let id = id_key
        .and_then(|k| map.get(k))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| input_id.map(str::to_string));
    let mut errors: Vec<RecordError> = get(map, "Errors")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(RecordError::from_json).collect())
        .unwrap_or_default();
    if !success && errors.is_empty() {
        errors.push(RecordError::new(
            None,
            "Zuora reported a failure without a reason".into(),
        ));
    }
    let details: Map<String, Value> = map
        .iter()
        .filter(|(k, v)| {
            !v.is_null()
                && Some(k.as_str()) != id_key
                && !["success", "errors"].contains(&k.to_ascii_lowercase().as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    RecordResult {
        line,
        id,
        success,
        errors,
        details,
    }
}

fn key<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

fn get<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    key(fields, name).and_then(|k| fields.get(k))
}

fn required_text(fields: &Map<String, Value>, name: &str) -> Result<String, String> {
    match get(fields, name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("{name} is required")),
        Some(other) => Err(format!("{name} must be a string, found {}", kind_of(other))),
    }
}

/// Refuses fields outside `allowed` ("more fields than allowed").
fn only(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    let extra: Vec<&str> = fields
        .keys()
        .filter(|k| !allowed.iter().any(|a| a.eq_ignore_ascii_case(k)))
        .map(String::as_str)
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "has fields this procedure does not take: {} (it takes {})",
            extra.join(", "),
            allowed.join(", ")
        ))
    }
}

/// Create and update take one level of fields.
fn flat(fields: &Map<String, Value>) -> Result<(), String> {
    match fields.iter().find(|(_, v)| v.is_object() || v.is_array()) {
        Some((name, v)) => Err(format!(
            "{name} is {}; records take plain values",
            kind_of(v)
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn error(procedure: Procedure, value: Value) -> String {
        prepare(procedure, record(value)).unwrap_err()
    }

    #[test]
    fn records_are_checked_per_procedure() {
        use Procedure::*;
        assert!(
            error(CreateRecords, json!({"id": "x", "Name": "a"}))
                .contains("cannot be set on create")
        );
        assert!(error(CreateRecords, json!({"Name": {"a": 1}})).contains("plain values"));
        assert_eq!(error(UpdateRecords, json!({"Name": "a"})), "Id is required");
        assert!(error(UpdateRecords, json!({"Id": "x"})).contains("at least one field"));
        assert_eq!(
            error(UpdateRecords, json!({"Id": 5, "Name": "a"})),
            "Id must be a string, found a number"
        );
        assert!(
            error(DeleteRecords, json!({"Id": "x", "Name": "a"})).contains("does not take: Name")
        );
        assert!(
            error(
                GenerateInvoices,
                json!({"AccountId": "a", "InvoiceDate": "2026-13-01", "TargetDate": "2026-01-01"})
            )
            .contains("yyyy-mm-dd")
        );
        assert_eq!(
            error(
                GenerateInvoices,
                json!({"AccountId": "a", "InvoiceDate": "2026-01-01"})
            ),
            "TargetDate is required"
        );
        assert_eq!(
            error(Subscribe, json!({"Account": {"Name": "a"}})),
            "SubscriptionData is required"
        );
        assert!(
            error(Subscribe, json!({"Account": "a", "SubscriptionData": {}}))
                .contains("must be an object")
        );
        assert!(
            error(
                Amend,
                json!({"Name": "n", "Type": "Renewal", "ContractEffectiveDate": "2026-01-01"})
            )
            .contains("SubscriptionId is required")
        );
        let eleven: Vec<Value> = (0..11)
            .map(|_| json!({"Name": "n", "Type": "Renewal", "ContractEffectiveDate": "2026-01-01", "SubscriptionId": "s"}))
            .collect();
        assert!(error(Amend, json!({"Amendments": eleven})).contains("1 to 10"));
        let two = json!({"Amendments": [
            {"Name": "n", "Type": "Renewal", "ContractEffectiveDate": "2026-01-01", "SubscriptionId": "s1"},
            {"Name": "n", "Type": "Renewal", "ContractEffectiveDate": "2026-01-01", "SubscriptionId": "s2"}]});
        assert!(error(Amend, two).contains("one subscription"));
    }

    #[test]
    fn a_flat_amendment_becomes_a_request_with_its_options() {
        let prepared = prepare(
            Procedure::Amend,
            record(
                json!({"Name": "n", "Type": "Renewal", "ContractEffectiveDate": "2026-01-01",
                          "SubscriptionId": "s1", "AmendOptions": {"GenerateInvoice": false}}),
            ),
        )
        .unwrap();
        assert_eq!(prepared.input_id.as_deref(), Some("s1"));
        assert_eq!(
            prepared.item["AmendOptions"],
            json!({"GenerateInvoice": false})
        );
        assert_eq!(prepared.item["Amendments"][0]["SubscriptionId"], "s1");
        assert!(prepared.item["Amendments"][0].get("AmendOptions").is_none());
    }

    #[test]
    fn save_and_delete_results_are_read_whatever_their_key_case() {
        let ok = read_answer(3, &json!({"Id": "a1", "Success": true}), None);
        assert_eq!(
            (ok.line, ok.id.as_deref(), ok.success),
            (3, Some("a1"), true)
        );
        assert!(ok.errors.is_empty() && ok.details.is_empty());
        let deleted = read_answer(
            4,
            &json!({"id": "d1", "success": false, "errors": [{"code": "INVALID_ID", "message": "gone"}]}),
            Some("d1"),
        );
        assert!(!deleted.success);
        assert_eq!(deleted.errors[0].code.as_deref(), Some("INVALID_ID"));
        assert_eq!(deleted.errors[0].message, "gone");
        let failed = read_answer(
            5,
            &json!({"Success": false, "Errors": [{"Code": "INVALID_VALUE", "Message": "bad"}]}),
            Some("u1"),
        );
        assert_eq!(failed.id.as_deref(), Some("u1"));
        let subscribed = read_answer(
            6,
            &json!({"Success": true, "SubscriptionId": "s1", "AccountNumber": "A1"}),
            None,
        );
        assert_eq!(subscribed.id.as_deref(), Some("s1"));
        assert_eq!(subscribed.details["AccountNumber"], "A1");
        assert!(subscribed.details.get("SubscriptionId").is_none());
        let silent = read_answer(7, &json!({"Success": false}), None);
        assert_eq!(silent.errors.len(), 1);
    }

    #[test]
    fn amend_answers_are_unwrapped() {
        assert_eq!(
            answers(json!({"results": [{"Success": true}]}))
                .unwrap()
                .len(),
            1
        );
        assert!(answers(json!({"Success": true})).is_err());
    }
}
