//! The mapping catalog: which Zuora objects go to which Salesforce objects, field by field.
//!
//! It is data: an embedded TOML default (`catalog.toml`, following Zuora 360) plus a profile's
//! overrides, validated when loaded so a mistake is reported before any run starts.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::SyncError;

/// The default catalog, as shipped.
pub const DEFAULT_CATALOG: &str = include_str!("catalog.toml");

/// Which sync scope an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Billing accounts with a CrmId and their related records; incremental.
    Account,
    /// The product catalog: always a full sync; deletes are flags.
    Catalog,
}

/// How a value is converted for Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text up to `max` characters (255 by default).
    #[default]
    Text,
    /// Long text up to `max` characters (32,000 by default).
    Textarea,
    /// A decimal number.
    Number,
    /// A whole number.
    Integer,
    /// A checkbox.
    Bool,
    /// A date (`YYYY-MM-DD`), within Salesforce's range 1700–4000.
    Date,
    /// An instant, RFC 3339 in UTC.
    Datetime,
    /// A Salesforce Account id (15 or 18 characters, checksum verified, sent as 18).
    CrmId,
    /// The external id of a parent record (for `Rel__r.ExtId__c`).
    Ref,
}

/// One mapped field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// The Salesforce field, or `Rel__r.ExtId__c`.
    pub to: String,
    /// The Zuora column, `Join.Field`, `$crm_id` or `$parent_parent`.
    pub from: String,
    /// Conversion.
    #[serde(default, rename = "type")]
    pub kind: FieldType,
    /// Longest text accepted.
    #[serde(default)]
    pub max: Option<usize>,
}

impl FieldMap {
    /// The longest text this field takes.
    pub fn max_len(&self) -> usize {
        self.max.unwrap_or(match self.kind {
            FieldType::Textarea => 32_000,
            _ => 255,
        })
    }
}

/// A parent link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentLink {
    /// The parent's catalog name.
    pub object: String,
    /// The Zuora column holding the parent's id.
    pub column: String,
}

/// A row condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// The Zuora column.
    pub column: String,
    /// Accepted values (`$subscription_statuses` expands to the profile's list).
    pub values: Vec<String>,
}

/// A one-to-one join by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// The name fields use (`BillTo` in `BillTo.City`).
    pub name: String,
    /// The Zuora object read.
    pub table: String,
    /// The column of this object that holds the joined row's Id.
    pub on: String,
}

/// How one Zuora object maps to one Salesforce object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMap {
    /// Catalog name.
    pub name: String,
    /// Zuora object.
    pub source: String,
    /// Salesforce object.
    pub target: String,
    /// The Salesforce external id field used as upsert key.
    pub key: String,
    /// Sync scope.
    pub scope: Scope,
    /// `account` for the billing account itself.
    #[serde(default)]
    pub role: Option<String>,
    /// Billing accounts: the CrmId column.
    #[serde(default)]
    pub crm_id: Option<String>,
    /// Billing accounts: the status column.
    #[serde(default)]
    pub status: Option<String>,
    /// Billing accounts: statuses that take the account out of scope.
    #[serde(default)]
    pub excluded_statuses: Vec<String>,
    /// The owning parent.
    #[serde(default)]
    pub parent: Option<ParentLink>,
    /// Row condition.
    #[serde(default)]
    pub require: Option<Require>,
    /// Catalog objects: the soft-delete checkbox.
    #[serde(default)]
    pub deleted_flag: Option<String>,
    /// Joined rows.
    #[serde(default)]
    pub joins: Vec<Join>,
    /// Fields.
    pub fields: Vec<FieldMap>,
}

impl ObjectMap {
    /// Whether this is the billing account object.
    pub fn is_account(&self) -> bool {
        self.role.as_deref() == Some("account")
    }

    /// The Zuora columns an extract of this object reads (joins and `$` values excluded).
    pub fn source_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = vec!["Id".into()];
        let mut push = |c: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
                out.push(c.to_string());
            }
        };
        for c in [&self.crm_id, &self.status].into_iter().flatten() {
            push(c);
        }
        if let Some(p) = &self.parent {
            push(&p.column);
        }
        if let Some(r) = &self.require {
            push(&r.column);
        }
        for j in &self.joins {
            push(&j.on);
        }
        for f in &self.fields {
            if f.from.starts_with('$') || self.join_of(&f.from).is_some() {
                continue;
            }
            push(&f.from);
        }
        out
    }

    /// The join a `from` refers to (`BillTo.City` → the `BillTo` join, `City`).
    pub fn join_of<'a>(&'a self, from: &'a str) -> Option<(&'a Join, &'a str)> {
        let (name, field) = from.split_once('.')?;
        self.joins
            .iter()
            .find(|j| j.name.eq_ignore_ascii_case(name))
            .map(|j| (j, field))
    }

    /// The fields read from a join.
    pub fn join_columns(&self, join: &Join) -> Vec<String> {
        let mut out = vec!["Id".to_string()];
        for f in &self.fields {
            if let Some((j, field)) = self.join_of(&f.from)
                && j.name == join.name
                && !out.iter().any(|o| o.eq_ignore_ascii_case(field))
            {
                out.push(field.to_string());
            }
        }
        out
    }
}

/// The whole catalog, in run order (parents first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Objects, parents first.
    #[serde(rename = "object")]
    pub objects: Vec<ObjectMap>,
}

/// A profile's change to one object of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectOverride {
    /// A different upsert key (e.g. `Zuora__EXT_ID__c` for Payment on 360+).
    #[serde(default)]
    pub key: Option<String>,
    /// Fields added or replaced (matched by `to`).
    #[serde(default)]
    pub fields: Vec<FieldMap>,
    /// Salesforce fields no longer written.
    #[serde(default)]
    pub remove: Vec<String>,
}

fn is_api_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.ends_with('_')
}

fn is_target_field(s: &str) -> bool {
    match s.split_once('.') {
        Some((rel, field)) => rel.ends_with("__r") && is_api_name(rel) && is_api_name(field),
        None => is_api_name(s),
    }
}

impl Catalog {
    /// The default catalog.
    pub fn default_catalog() -> Result<Catalog, SyncError> {
        Catalog::parse(DEFAULT_CATALOG)
    }

    /// Parses and validates a catalog in TOML.
    pub fn parse(text: &str) -> Result<Catalog, SyncError> {
        let catalog: Catalog =
            toml::from_str(text).map_err(|e| SyncError::Catalog(e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// The default catalog with a profile's overrides applied, validated.
    pub fn with_overrides(
        overrides: &BTreeMap<String, ObjectOverride>,
    ) -> Result<Catalog, SyncError> {
        let mut catalog = Catalog::default_catalog()?;
        for (name, change) in overrides {
            let object = catalog
                .objects
                .iter_mut()
                .find(|o| o.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    SyncError::Catalog(format!("mapping override: no object named '{name}'"))
                })?;
            if let Some(key) = &change.key {
                object.key = key.clone();
            }
            for removed in &change.remove {
                let before = object.fields.len();
                object
                    .fields
                    .retain(|f| !f.to.eq_ignore_ascii_case(removed));
                if before == object.fields.len() {
                    return Err(SyncError::Catalog(format!(
                        "mapping override of {name}: no field '{removed}' to remove"
                    )));
                }
            }
            for field in &change.fields {
                match object
                    .fields
                    .iter_mut()
                    .find(|f| f.to.eq_ignore_ascii_case(&field.to))
                {
                    Some(existing) => *existing = field.clone(),
                    None => object.fields.push(field.clone()),
                }
            }
        }
        catalog.validate()?;
        Ok(catalog)
    }

    /// An object by catalog name (any case).
    pub fn object(&self, name: &str) -> Option<&ObjectMap> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// Checks every rule; the error names the object and field.
    pub fn validate(&self) -> Result<(), SyncError> {
        let fail = |object: &str, what: String| {
            Err(SyncError::Catalog(format!("object '{object}': {what}")))
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut accounts = 0;
        for o in &self.objects {
            if !is_api_name(&o.name) || !seen.insert(o.name.to_ascii_lowercase()) {
                return fail(&o.name, "the name must be unique and alphanumeric".into());
            }
            for (label, value) in [
                ("source", &o.source),
                ("target", &o.target),
                ("key", &o.key),
            ] {
                if !is_api_name(value) {
                    return fail(&o.name, format!("{label} '{value}' is not an API name"));
                }
            }
            if !o.fields.iter().any(|f| f.to.eq_ignore_ascii_case(&o.key)) {
                return fail(
                    &o.name,
                    format!("the key {} must be one of the fields", o.key),
                );
            }
            let mut targets = HashSet::new();
            for f in &o.fields {
                if !is_target_field(&f.to) {
                    return fail(&o.name, format!("'{}' is not a Salesforce field", f.to));
                }
                if !targets.insert(f.to.to_ascii_lowercase()) {
                    return fail(&o.name, format!("{} is mapped twice", f.to));
                }
                let special = matches!(f.from.as_str(), "$crm_id" | "$parent_parent");
                if f.from.starts_with('$') && !special {
                    return fail(&o.name, format!("unknown value '{}'", f.from));
                }
                if f.from.contains('.') && o.join_of(&f.from).is_none() {
                    return fail(
                        &o.name,
                        format!("'{}' names no join of this object", f.from),
                    );
                }
                if !special && !f.from.contains('.') && !is_api_name(&f.from) {
                    return fail(&o.name, format!("'{}' is not a Zuora field", f.from));
                }
                if (f.kind == FieldType::Ref) != f.to.contains('.') {
                    return fail(
                        &o.name,
                        format!("{}: type ref goes with a Rel__r.ExtId__c target", f.to),
                    );
                }
                if f.from == "$crm_id" && o.scope != Scope::Account {
                    return fail(&o.name, "$crm_id needs the account scope".into());
                }
                if f.from == "$parent_parent" && o.parent.is_none() {
                    return fail(&o.name, "$parent_parent needs a parent".into());
                }
            }
            if o.is_account() {
                accounts += 1;
                if o.crm_id.is_none() || o.scope != Scope::Account {
                    return fail(&o.name, "the account needs a crm_id column".into());
                }
            } else if o.scope == Scope::Account {
                let Some(parent) = &o.parent else {
                    return fail(&o.name, "an account-scope object needs a parent".into());
                };
                let position = self.objects.iter().position(|p| p.name == parent.object);
                let me = self.objects.iter().position(|p| p.name == o.name);
                if position.is_none() || position >= me {
                    return fail(
                        &o.name,
                        format!("the parent {} must come earlier", parent.object),
                    );
                }
            }
            if o.scope == Scope::Catalog && o.deleted_flag.is_none() {
                return fail(&o.name, "catalog objects need a deleted_flag".into());
            }
        }
        if accounts != 1 {
            return Err(SyncError::Catalog(
                "exactly one object must have role = \"account\"".into(),
            ));
        }
        Ok(())
    }

    /// Objects of the catalog in run order, restricted to `names` when given.
    pub fn select(&self, names: &[String]) -> Result<Vec<&ObjectMap>, SyncError> {
        if names.is_empty() {
            return Ok(self.objects.iter().collect());
        }
        for n in names {
            if self.object(n).is_none() {
                return Err(SyncError::Catalog(format!(
                    "no object named '{n}'; the catalog has {}",
                    self.objects
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(self
            .objects
            .iter()
            .filter(|o| names.iter().any(|n| n.eq_ignore_ascii_case(&o.name)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_is_valid_and_parents_come_first() {
        let c = Catalog::default_catalog().unwrap();
        let names: Vec<&str> = c.objects.iter().map(|o| o.name.as_str()).collect();
        let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(pos("Account") < pos("Subscription"));
        assert!(pos("Subscription") < pos("RatePlan"));
        assert!(pos("RatePlan") < pos("RatePlanCharge"));
        assert!(pos("Payment") < pos("InvoicePayment"));
        let account = c.object("account").unwrap();
        assert_eq!(account.target, "Zuora__CustomerAccount__c");
        assert!(account.source_columns().contains(&"BillToId".to_string()));
        assert!(!account.source_columns().iter().any(|c| c.contains('.')));
        let join = &account.joins[0];
        assert!(account.join_columns(join).contains(&"City".to_string()));
        assert_eq!(c.object("Invoice").unwrap().target, "Zuora__ZInvoice__c");
        assert_eq!(
            c.object("RatePlanCharge").unwrap().target,
            "Zuora__SubscriptionProductCharge__c"
        );
    }

    #[test]
    fn overrides_replace_add_and_remove_fields() {
        let mut o = BTreeMap::new();
        o.insert(
            "Payment".to_string(),
            ObjectOverride {
                key: Some("Zuora__EXT_ID__c".into()),
                fields: vec![FieldMap {
                    to: "Zuora__Comment__c".into(),
                    from: "ReferenceId".into(),
                    kind: FieldType::Text,
                    max: None,
                }],
                remove: vec!["Zuora__GatewayStatus__c".into()],
            },
        );
        let c = Catalog::with_overrides(&o).unwrap();
        let p = c.object("Payment").unwrap();
        assert_eq!(p.key, "Zuora__EXT_ID__c");
        assert!(!p.fields.iter().any(|f| f.to == "Zuora__GatewayStatus__c"));
        let comment = p
            .fields
            .iter()
            .find(|f| f.to == "Zuora__Comment__c")
            .unwrap();
        assert_eq!(comment.from, "ReferenceId");
    }

    #[test]
    fn bad_catalogs_are_refused_with_the_object_named() {
        let mut o = BTreeMap::new();
        o.insert("Nope".to_string(), ObjectOverride::default());
        assert!(
            Catalog::with_overrides(&o)
                .unwrap_err()
                .to_string()
                .contains("Nope")
        );
        let mut o = BTreeMap::new();
        o.insert(
            "Account".to_string(),
            ObjectOverride {
                remove: vec!["Zuora__External_Id__c".into()],
                ..Default::default()
            },
        );
        let e = Catalog::with_overrides(&o).unwrap_err().to_string();
        assert!(e.contains("Account") && e.contains("key"), "{e}");
        let bad = DEFAULT_CATALOG.replace(
            "parent = { object = \"Subscription\", column = \"SubscriptionId\" }",
            "parent = { object = \"RatePlanCharge\", column = \"SubscriptionId\" }",
        );
        let e = Catalog::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("must come earlier"), "{e}");
        let bad = DEFAULT_CATALOG.replace("from = \"BillTo.City\"", "from = \"Nowhere.City\"");
        assert!(
            Catalog::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("Nowhere")
        );
        assert!(Catalog::parse("[[object]]\nname = 1").is_err());
    }

    #[test]
    fn selection_keeps_run_order() {
        let c = Catalog::default_catalog().unwrap();
        let s = c
            .select(&["RatePlan".into(), "account".into()])
            .unwrap()
            .iter()
            .map(|o| o.name.clone())
            .collect::<Vec<_>>();
        assert_eq!(s, vec!["Account", "RatePlan"]);
        assert!(c.select(&["Bogus".into()]).is_err());
    }
}
