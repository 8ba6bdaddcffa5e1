//! The simulated tenant's object catalogue: objects, fields, types, labels and the relations that
//! Export ZOQL reaches with dot notation. Describe XML, Data Query's `SHOW TABLES`/`DESCRIBE`, the
//! query engines and the generator are all driven from this one table.

use std::sync::OnceLock;

/// Every object the simulated tenant stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Kind {
    Account = 1,
    Contact,
    PaymentMethod,
    Product,
    ProductRatePlan,
    ProductRatePlanCharge,
    ProductRatePlanChargeTier,
    Subscription,
    Amendment,
    RatePlan,
    RatePlanCharge,
    RatePlanChargeTier,
    Invoice,
    InvoiceItem,
    Payment,
    InvoicePayment,
    Refund,
    Usage,
    WideRecord,
}

impl Kind {
    /// All stored kinds, in generation (parent-first) order.
    pub const ALL: [Kind; 19] = [
        Kind::Account,
        Kind::Contact,
        Kind::PaymentMethod,
        Kind::Product,
        Kind::ProductRatePlan,
        Kind::ProductRatePlanCharge,
        Kind::ProductRatePlanChargeTier,
        Kind::Subscription,
        Kind::Amendment,
        Kind::RatePlan,
        Kind::RatePlanCharge,
        Kind::RatePlanChargeTier,
        Kind::Invoice,
        Kind::InvoiceItem,
        Kind::Payment,
        Kind::InvoicePayment,
        Kind::Refund,
        Kind::Usage,
        Kind::WideRecord,
    ];

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// The kind with this numeric code, if any.
    pub fn from_code(code: u16) -> Option<Kind> {
        Kind::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The object definition.
    pub fn def(self) -> &'static ObjectDef {
        &catalog().objects[self.index()]
    }
}

/// A field's storage and wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The row's own 32-hex id (derived from the row number, not stored).
    Id,
    /// A 32-hex id of a row of another (or the same) object.
    Ref(Kind),
    /// Free text.
    Text,
    /// One of a fixed set of values.
    Picklist(&'static [&'static str]),
    /// true / false.
    Bool,
    /// A whole number.
    Int,
    /// A fixed-point number with two decimals.
    Decimal,
    /// A calendar date.
    Date,
    /// An instant (millisecond precision).
    DateTime,
}

impl FieldType {
    /// The `<type>` of describe XML.
    pub fn describe_name(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Ref(_) | FieldType::Text => "text",
            FieldType::Picklist(_) => "picklist",
            FieldType::Bool => "boolean",
            FieldType::Int => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
        }
    }

    /// The Data Query (Trino) column type.
    pub fn sql_name(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Ref(_) | FieldType::Text | FieldType::Picklist(_) => {
                "varchar"
            }
            FieldType::Bool => "boolean",
            FieldType::Int => "bigint",
            FieldType::Decimal => "decimal(18,6)",
            FieldType::Date => "date",
            FieldType::DateTime => "timestamp(3) with time zone",
        }
    }
}

/// One field of an object.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// API name, e.g. `AccountNumber`.
    pub name: &'static str,
    /// Lowercase name used by Data Query.
    pub sql_name: String,
    /// Display label, e.g. `Account Number`.
    pub label: String,
    /// Storage and wire type.
    pub ty: FieldType,
    /// Whether describe lists the `export` context (AQuA can select it).
    pub exportable: bool,
    /// A custom field (`__c`).
    pub custom: bool,
    /// Whether the Actions API may set it.
    pub writable: bool,
}

/// A relation reachable from an object with dot notation in Export ZOQL.
#[derive(Debug, Clone)]
pub struct Relation {
    /// Relation name, e.g. `BillToContact`.
    pub name: &'static str,
    /// Display label, e.g. `Bill To`.
    pub label: String,
    /// The related object.
    pub target: Kind,
    /// Chain of reference fields followed from the base object to reach the target.
    pub path: &'static [&'static str],
}

/// One object of the catalogue.
#[derive(Debug, Clone)]
pub struct ObjectDef {
    /// The kind.
    pub kind: Kind,
    /// API name, e.g. `InvoiceItem`.
    pub name: &'static str,
    /// Data Query table name, e.g. `invoiceitem`.
    pub sql_name: String,
    /// Display label, e.g. `Invoice Item`.
    pub label: String,
    /// Fields, `Id` first.
    pub fields: Vec<FieldDef>,
    /// Joined objects for Export ZOQL.
    pub relations: Vec<Relation>,
    /// A simulator-only object whose values are computed from the row number rather than
    /// stored (see [`super::synthetic`]).
    pub synthetic: bool,
}

impl ObjectDef {
    /// Index of a field by case-insensitive API name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Index of a field by its exact API name; for names fixed in this crate.
    pub fn idx(&self, name: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("catalogue bug: {}.{name} is not declared", self.name))
    }

    /// Relation by case-insensitive name.
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// The whole catalogue.
#[derive(Debug)]
pub struct Catalog {
    /// Objects indexed by [`Kind::index`].
    pub objects: Vec<ObjectDef>,
    /// Objects that describe lists but that cannot be exported (their `Id` lacks the `export`
    /// context), as real tenants have (`BillingPreviewRun`, `archived_*`).
    pub describe_only: Vec<ObjectDef>,
}

impl Catalog {
    /// Object by case-insensitive API name (or Data Query table name).
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }
}

/// The catalogue, built once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(build_catalog)
}

/// Splits a CamelCase API name into a label: `AccountNumber` → `Account Number`, `Id` → `ID`.
pub fn label_of(name: &str) -> String {
    let base = name.strip_suffix("__c").unwrap_or(name);
    let mut out = String::with_capacity(base.len() + 4);
    let chars: Vec<char> = base.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())
                    && chars[i - 1].is_ascii_uppercase());
        if boundary {
            out.push(' ');
        }
        out.push(if c == '_' { ' ' } else { c });
    }
    match out.as_str() {
        "Id" => "ID".into(),
        s if s.ends_with(" Id") => format!("{}ID", &s[..s.len() - 2]),
        _ => out,
    }
}

const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CAD"];
const PRICE_FORMATS: &[&str] = &["Flat Fee", "Per Unit"];
const CHARGE_TYPES: &[&str] = &["Recurring", "OneTime", "Usage"];
const CHARGE_MODELS: &[&str] = &["Flat Fee Pricing", "Per Unit Pricing", "Tiered Pricing"];
const BILLING_PERIODS: &[&str] = &["Month", "Quarter", "Annual"];

/// Shorthand used by the catalogue table below.
struct F(&'static str, FieldType);

fn object(
    kind: Kind,
    name: &'static str,
    fields: Vec<F>,
    relations: &[(&'static str, Kind, &'static [&'static str])],
) -> ObjectDef {
    let mut defs = vec![field("Id", FieldType::Id)];
    defs.extend(fields.into_iter().map(|F(n, t)| field(n, t)));
    for (n, t) in [
        ("CreatedDate", FieldType::DateTime),
        ("UpdatedDate", FieldType::DateTime),
        ("CreatedById", FieldType::Text),
        ("UpdatedById", FieldType::Text),
    ] {
        let mut f = field(n, t);
        f.writable = false;
        defs.push(f);
    }
    let relations = relations
        .iter()
        .map(|&(name, target, path)| Relation {
            name,
            label: relation_label(name),
            target,
            path,
        })
        .collect();
    ObjectDef {
        kind,
        name,
        sql_name: name.to_ascii_lowercase(),
        label: label_of(name),
        fields: defs,
        relations,
        synthetic: false,
    }
}

fn relation_label(name: &str) -> String {
    match name {
        "BillToContact" => "Bill To".into(),
        "SoldToContact" => "Sold To".into(),
        _ => label_of(name),
    }
}

fn field(name: &'static str, ty: FieldType) -> FieldDef {
    let label = match name {
        "CrmId" => "CRM Account ID".to_string(),
        _ => label_of(name),
    };
    FieldDef {
        name,
        sql_name: name.to_ascii_lowercase(),
        label,
        ty,
        exportable: !SOAP_ONLY.contains(&name),
        custom: name.ends_with("__c"),
        writable: ty != FieldType::Id,
    }
}

/// Fields that describe lists without the `export` context (WSDL 85+ behaviour).
const SOAP_ONLY: &[&str] = &["RolloverBalance", "LastMetricsUpdate"];

fn build_catalog() -> Catalog {
    use FieldType::*;
    use Kind as K;
    let objects = vec![
        object(
            K::Account,
            "Account",
            vec![
                F("AccountNumber", Text),
                F("Name", Text),
                F("Balance", Decimal),
                F("CreditBalance", Decimal),
                F("TotalInvoiceBalance", Decimal),
                F("Currency", Picklist(CURRENCIES)),
                F("Status", Picklist(&["Draft", "Active", "Canceled"])),
                F("AutoPay", Bool),
                F("BillCycleDay", Int),
                F(
                    "PaymentTerm",
                    Picklist(&["Due Upon Receipt", "Net 15", "Net 30", "Net 60"]),
                ),
                F(
                    "TaxExemptStatus",
                    Picklist(&["No", "Yes", "PendingVerification"]),
                ),
                F("CrmId", Text),
                F("BillToId", Ref(K::Contact)),
                F("SoldToId", Ref(K::Contact)),
                F("DefaultPaymentMethodId", Ref(K::PaymentMethod)),
                F("ParentId", Ref(K::Account)),
                F(
                    "Batch",
                    Picklist(&["Batch1", "Batch2", "Batch3", "Batch4", "Batch5"]),
                ),
                F("SalesRepName", Text),
                F("Notes", Text),
                F("LastInvoiceDate", Date),
                F("LastMetricsUpdate", DateTime),
                F("Region__c", Picklist(&["AMER", "EMEA", "APAC"])),
                F("Segment__c", Text),
            ],
            &[
                ("BillToContact", K::Contact, &["BillToId"]),
                ("SoldToContact", K::Contact, &["SoldToId"]),
                (
                    "DefaultPaymentMethod",
                    K::PaymentMethod,
                    &["DefaultPaymentMethodId"],
                ),
                ("ParentAccount", K::Account, &["ParentId"]),
            ],
        ),
        object(
            K::Contact,
            "Contact",
            vec![
                F("AccountId", Ref(K::Account)),
                F("FirstName", Text),
                F("LastName", Text),
                F("WorkEmail", Text),
                F("WorkPhone", Text),
                F("Address1", Text),
                F("City", Text),
                F("State", Text),
                F("PostalCode", Text),
                F("Country", Text),
                F("Description", Text),
            ],
            &[("Account", K::Account, &["AccountId"])],
        ),
        object(
            K::PaymentMethod,
            "PaymentMethod",
            vec![
                F("AccountId", Ref(K::Account)),
                F(
                    "Type",
                    Picklist(&["CreditCard", "ACH", "PayPal", "BankTransfer"]),
                ),
                F(
                    "CreditCardType",
                    Picklist(&["Visa", "MasterCard", "AmericanExpress", "Discover"]),
                ),
                F("CreditCardMaskNumber", Text),
                F("CreditCardExpirationMonth", Int),
                F("CreditCardExpirationYear", Int),
                F("PaymentMethodStatus", Picklist(&["Active", "Closed"])),
                F("LastTransactionDateTime", DateTime),
                F("NumConsecutiveFailures", Int),
            ],
            &[("Account", K::Account, &["AccountId"])],
        ),
        object(
            K::Product,
            "Product",
            vec![
                F("Name", Text),
                F("SKU", Text),
                F("Description", Text),
                F(
                    "Category",
                    Picklist(&["Base Products", "Add On Services", "Miscellaneous Products"]),
                ),
                F("EffectiveStartDate", Date),
                F("EffectiveEndDate", Date),
            ],
            &[],
        ),
        object(
            K::ProductRatePlan,
            "ProductRatePlan",
            vec![
                F("ProductId", Ref(K::Product)),
                F("Name", Text),
                F("Description", Text),
                F("EffectiveStartDate", Date),
                F("EffectiveEndDate", Date),
            ],
            &[("Product", K::Product, &["ProductId"])],
        ),
        object(
            K::ProductRatePlanCharge,
            "ProductRatePlanCharge",
            vec![
                F("ProductRatePlanId", Ref(K::ProductRatePlan)),
                F("Name", Text),
                F("ChargeType", Picklist(CHARGE_TYPES)),
                F("ChargeModel", Picklist(CHARGE_MODELS)),
                F("BillingPeriod", Picklist(BILLING_PERIODS)),
                F("UOM", Text),
                F("DefaultQuantity", Decimal),
            ],
            &[
                (
                    "ProductRatePlan",
                    K::ProductRatePlan,
                    &["ProductRatePlanId"],
                ),
                ("Product", K::Product, &["ProductRatePlanId", "ProductId"]),
            ],
        ),
        object(
            K::ProductRatePlanChargeTier,
            "ProductRatePlanChargeTier",
            vec![
                F("ProductRatePlanChargeId", Ref(K::ProductRatePlanCharge)),
                F("Currency", Picklist(CURRENCIES)),
                F("Tier", Int),
                F("StartingUnit", Decimal),
                F("EndingUnit", Decimal),
                F("Price", Decimal),
                F("PriceFormat", Picklist(PRICE_FORMATS)),
            ],
            &[(
                "ProductRatePlanCharge",
                K::ProductRatePlanCharge,
                &["ProductRatePlanChargeId"],
            )],
        ),
        object(
            K::Subscription,
            "Subscription",
            vec![
                F("AccountId", Ref(K::Account)),
                F("Name", Text),
                F("Version", Int),
                F("OriginalId", Ref(K::Subscription)),
                F("PreviousSubscriptionId", Ref(K::Subscription)),
                F(
                    "Status",
                    Picklist(&[
                        "Draft",
                        "PendingActivation",
                        "PendingAcceptance",
                        "Active",
                        "Cancelled",
                        "Expired",
                        "Suspended",
                    ]),
                ),
                F("TermType", Picklist(&["TERMED", "EVERGREEN"])),
                F("InitialTerm", Int),
                F("RenewalTerm", Int),
                F("AutoRenew", Bool),
                F("TermStartDate", Date),
                F("TermEndDate", Date),
                F("SubscriptionStartDate", Date),
                F("SubscriptionEndDate", Date),
                F("ContractEffectiveDate", Date),
                F("ServiceActivationDate", Date),
                F("ContractAcceptanceDate", Date),
                F("CancelledDate", Date),
                F("Notes", Text),
            ],
            &[
                ("Account", K::Account, &["AccountId"]),
                ("BillToContact", K::Contact, &["AccountId", "BillToId"]),
                ("SoldToContact", K::Contact, &["AccountId", "SoldToId"]),
                (
                    "DefaultPaymentMethod",
                    K::PaymentMethod,
                    &["AccountId", "DefaultPaymentMethodId"],
                ),
            ],
        ),
        object(
            K::Amendment,
            "Amendment",
            vec![
                F("SubscriptionId", Ref(K::Subscription)),
                F("Code", Text),
                F("Name", Text),
                F(
                    "Type",
                    Picklist(&[
                        "NewProduct",
                        "UpdateProduct",
                        "RemoveProduct",
                        "TermsAndConditions",
                        "Renewal",
                        "Cancellation",
                        "OwnerTransfer",
                    ]),
                ),
                F(
                    "Status",
                    Picklist(&[
                        "Draft",
                        "PendingActivation",
                        "PendingAcceptance",
                        "Completed",
                    ]),
                ),
                F("ContractEffectiveDate", Date),
                F("EffectiveDate", Date),
                F("ServiceActivationDate", Date),
                F("CustomerAcceptanceDate", Date),
                F("Description", Text),
            ],
            &[
                ("Subscription", K::Subscription, &["SubscriptionId"]),
                ("Account", K::Account, &["SubscriptionId", "AccountId"]),
            ],
        ),
        object(
            K::RatePlan,
            "RatePlan",
            vec![
                F("SubscriptionId", Ref(K::Subscription)),
                F("ProductRatePlanId", Ref(K::ProductRatePlan)),
                F("AmendmentId", Ref(K::Amendment)),
                F("Name", Text),
                F(
                    "AmendmentType",
                    Picklist(&["NewProduct", "UpdateProduct", "RemoveProduct"]),
                ),
            ],
            &[
                ("Subscription", K::Subscription, &["SubscriptionId"]),
                ("Account", K::Account, &["SubscriptionId", "AccountId"]),
                (
                    "ProductRatePlan",
                    K::ProductRatePlan,
                    &["ProductRatePlanId"],
                ),
                ("Product", K::Product, &["ProductRatePlanId", "ProductId"]),
                ("Amendment", K::Amendment, &["AmendmentId"]),
            ],
        ),
        object(
            K::RatePlanCharge,
            "RatePlanCharge",
            vec![
                F("RatePlanId", Ref(K::RatePlan)),
                F("ProductRatePlanChargeId", Ref(K::ProductRatePlanCharge)),
                F("Name", Text),
                F("ChargeNumber", Text),
                F("ChargeType", Picklist(CHARGE_TYPES)),
                F("ChargeModel", Picklist(CHARGE_MODELS)),
                F("BillingPeriod", Picklist(BILLING_PERIODS)),
                F("Quantity", Decimal),
                F("UOM", Text),
                F("MRR", Decimal),
                F("TCV", Decimal),
                F("DMRC", Decimal),
                F("DTCV", Decimal),
                F("EffectiveStartDate", Date),
                F("EffectiveEndDate", Date),
                F("ChargedThroughDate", Date),
                F("Version", Int),
                F("Segment", Int),
                F("IsLastSegment", Bool),
                F("RolloverBalance", Decimal),
            ],
            &[
                ("RatePlan", K::RatePlan, &["RatePlanId"]),
                (
                    "Subscription",
                    K::Subscription,
                    &["RatePlanId", "SubscriptionId"],
                ),
                (
                    "Account",
                    K::Account,
                    &["RatePlanId", "SubscriptionId", "AccountId"],
                ),
                (
                    "ProductRatePlanCharge",
                    K::ProductRatePlanCharge,
                    &["ProductRatePlanChargeId"],
                ),
                (
                    "ProductRatePlan",
                    K::ProductRatePlan,
                    &["ProductRatePlanChargeId", "ProductRatePlanId"],
                ),
                (
                    "Product",
                    K::Product,
                    &["ProductRatePlanChargeId", "ProductRatePlanId", "ProductId"],
                ),
            ],
        ),
        object(
            K::RatePlanChargeTier,
            "RatePlanChargeTier",
            vec![
                F("RatePlanChargeId", Ref(K::RatePlanCharge)),
                F("Currency", Picklist(CURRENCIES)),
                F("Tier", Int),
                F("StartingUnit", Decimal),
                F("EndingUnit", Decimal),
                F("Price", Decimal),
                F("PriceFormat", Picklist(PRICE_FORMATS)),
            ],
            &[
                ("RatePlanCharge", K::RatePlanCharge, &["RatePlanChargeId"]),
                (
                    "Subscription",
                    K::Subscription,
                    &["RatePlanChargeId", "RatePlanId", "SubscriptionId"],
                ),
                (
                    "Account",
                    K::Account,
                    &[
                        "RatePlanChargeId",
                        "RatePlanId",
                        "SubscriptionId",
                        "AccountId",
                    ],
                ),
            ],
        ),
        object(
            K::Invoice,
            "Invoice",
            vec![
                F("AccountId", Ref(K::Account)),
                F("InvoiceNumber", Text),
                F("InvoiceDate", Date),
                F("DueDate", Date),
                F("TargetDate", Date),
                F("PostedDate", DateTime),
                F("PostedBy", Text),
                F("Amount", Decimal),
                F("AmountWithoutTax", Decimal),
                F("TaxAmount", Decimal),
                F("Balance", Decimal),
                F("PaymentAmount", Decimal),
                F("RefundAmount", Decimal),
                F(
                    "Status",
                    Picklist(&["Draft", "Posted", "Canceled", "Error"]),
                ),
                F("Source", Picklist(&["BillRun", "API"])),
                F("IncludesOneTime", Bool),
                F("IncludesRecurring", Bool),
                F("IncludesUsage", Bool),
                F("Comments", Text),
            ],
            &[
                ("Account", K::Account, &["AccountId"]),
                ("BillToContact", K::Contact, &["AccountId", "BillToId"]),
                ("SoldToContact", K::Contact, &["AccountId", "SoldToId"]),
                (
                    "DefaultPaymentMethod",
                    K::PaymentMethod,
                    &["AccountId", "DefaultPaymentMethodId"],
                ),
            ],
        ),
        object(
            K::InvoiceItem,
            "InvoiceItem",
            vec![
                F("InvoiceId", Ref(K::Invoice)),
                F("RatePlanChargeId", Ref(K::RatePlanCharge)),
                F("SubscriptionId", Ref(K::Subscription)),
                F("ChargeAmount", Decimal),
                F("ChargeDate", DateTime),
                F("ChargeName", Text),
                F("ChargeNumber", Text),
                F("Quantity", Decimal),
                F("UnitPrice", Decimal),
                F("UOM", Text),
                F("ServiceStartDate", Date),
                F("ServiceEndDate", Date),
                F("ProcessingType", Picklist(&["Charge", "Discount", "Tax"])),
                F("TaxAmount", Decimal),
                F("SKU", Text),
            ],
            &[
                ("Invoice", K::Invoice, &["InvoiceId"]),
                ("Account", K::Account, &["InvoiceId", "AccountId"]),
                (
                    "BillToContact",
                    K::Contact,
                    &["InvoiceId", "AccountId", "BillToId"],
                ),
                ("Subscription", K::Subscription, &["SubscriptionId"]),
                ("RatePlanCharge", K::RatePlanCharge, &["RatePlanChargeId"]),
                ("RatePlan", K::RatePlan, &["RatePlanChargeId", "RatePlanId"]),
                (
                    "ProductRatePlanCharge",
                    K::ProductRatePlanCharge,
                    &["RatePlanChargeId", "ProductRatePlanChargeId"],
                ),
                (
                    "ProductRatePlan",
                    K::ProductRatePlan,
                    &[
                        "RatePlanChargeId",
                        "ProductRatePlanChargeId",
                        "ProductRatePlanId",
                    ],
                ),
                (
                    "Product",
                    K::Product,
                    &[
                        "RatePlanChargeId",
                        "ProductRatePlanChargeId",
                        "ProductRatePlanId",
                        "ProductId",
                    ],
                ),
            ],
        ),
        object(
            K::Payment,
            "Payment",
            vec![
                F("AccountId", Ref(K::Account)),
                F("PaymentNumber", Text),
                F("Amount", Decimal),
                F("AppliedAmount", Decimal),
                F("UnappliedAmount", Decimal),
                F("RefundAmount", Decimal),
                F("EffectiveDate", Date),
                F(
                    "Status",
                    Picklist(&[
                        "Draft",
                        "Processing",
                        "Processed",
                        "Error",
                        "Canceled",
                        "Posted",
                    ]),
                ),
                F("Type", Picklist(&["External", "Electronic"])),
                F("PaymentMethodId", Ref(K::PaymentMethod)),
                F("ReferenceId", Text),
                F(
                    "GatewayState",
                    Picklist(&["NotSubmitted", "Submitted", "Settled", "FailedToSettle"]),
                ),
                F("Comment", Text),
            ],
            &[
                ("Account", K::Account, &["AccountId"]),
                ("BillToContact", K::Contact, &["AccountId", "BillToId"]),
                ("SoldToContact", K::Contact, &["AccountId", "SoldToId"]),
                (
                    "DefaultPaymentMethod",
                    K::PaymentMethod,
                    &["AccountId", "DefaultPaymentMethodId"],
                ),
                ("PaymentMethod", K::PaymentMethod, &["PaymentMethodId"]),
            ],
        ),
        object(
            K::InvoicePayment,
            "InvoicePayment",
            vec![
                F("InvoiceId", Ref(K::Invoice)),
                F("PaymentId", Ref(K::Payment)),
                F("Amount", Decimal),
                F("RefundAmount", Decimal),
            ],
            &[
                ("Invoice", K::Invoice, &["InvoiceId"]),
                ("Payment", K::Payment, &["PaymentId"]),
                ("Account", K::Account, &["InvoiceId", "AccountId"]),
            ],
        ),
        object(
            K::Refund,
            "Refund",
            vec![
                F("AccountId", Ref(K::Account)),
                F("PaymentMethodId", Ref(K::PaymentMethod)),
                F("RefundNumber", Text),
                F("Amount", Decimal),
                F("RefundDate", Date),
                F(
                    "Status",
                    Picklist(&["Processing", "Processed", "Canceled", "Error"]),
                ),
                F("Type", Picklist(&["Electronic", "External"])),
                F("SourceType", Picklist(&["Payment", "CreditBalance"])),
                F("ReasonCode", Text),
                F("Comment", Text),
                F("RefundTransactionTime", DateTime),
            ],
            &[
                ("Account", K::Account, &["AccountId"]),
                ("BillToContact", K::Contact, &["AccountId", "BillToId"]),
                ("PaymentMethod", K::PaymentMethod, &["PaymentMethodId"]),
            ],
        ),
        object(
            K::Usage,
            "Usage",
            vec![
                F("AccountId", Ref(K::Account)),
                F("SubscriptionId", Ref(K::Subscription)),
                F("ChargeId", Ref(K::RatePlanCharge)),
                F("AccountNumber", Text),
                F("Quantity", Decimal),
                F("UOM", Text),
                F("StartDateTime", DateTime),
                F("EndDateTime", DateTime),
                F("SubmissionDateTime", DateTime),
                F("Status", Picklist(&["Importing", "Pending", "Processed"])),
                F("Description", Text),
            ],
            &[
                ("Account", K::Account, &["AccountId"]),
                ("Subscription", K::Subscription, &["SubscriptionId"]),
                ("RatePlanCharge", K::RatePlanCharge, &["ChargeId"]),
            ],
        ),
    ];
    let mut objects = objects;
    objects.push(wide_record());
    for (i, o) in objects.iter().enumerate() {
        debug_assert_eq!(o.kind.index(), i, "catalogue out of order");
    }
    let mut preview = object(
        K::Account,
        "BillingPreviewRun",
        vec![F("Status", Text)],
        &[],
    );
    for f in &mut preview.fields {
        f.exportable = false;
    }
    Catalog {
        objects,
        describe_only: vec![preview],
    }
}

/// Options of the wide object's `Status` and tier picklists.
const WIDE_STATUSES: &[&str] = &["Active", "Inactive", "Pending"];
const WIDE_TIERS: &[&str] = &["Bronze", "Silver", "Gold", "Platinum"];

/// Number of `CustomNN__c` fields of `WideRecord`.
pub const WIDE_CUSTOM_FIELDS: usize = 90;

/// `WideRecord`: a feature-gated, simulator-only object of exactly 100 fields (Id, five standard
/// fields, 90 custom fields of every type, the four audit fields), standing in for the
/// custom-field-heavy objects of real tenants. Its values are computed from the row number.
fn wide_record() -> ObjectDef {
    use FieldType::*;
    let mut fields = vec![
        F("AccountId", Ref(Kind::Account)),
        F("Name", Text),
        F("RecordNumber", Text),
        F("Status", Picklist(WIDE_STATUSES)),
        F("Currency", Picklist(CURRENCIES)),
    ];
    for i in 1..=WIDE_CUSTOM_FIELDS {
        let name: &'static str = Box::leak(format!("Custom{i:02}__c").into_boxed_str());
        let ty = match (i - 1) % 10 {
            1 | 8 => Decimal,
            2 => Int,
            3 => Date,
            4 => DateTime,
            5 => Bool,
            6 => Picklist(WIDE_TIERS),
            _ => Text,
        };
        fields.push(F(name, ty));
    }
    let mut def = object(
        Kind::WideRecord,
        "WideRecord",
        fields,
        &[("Account", Kind::Account, &["AccountId"])],
    );
    def.synthetic = true;
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_camel_case_and_spell_id_in_capitals() {
        assert_eq!(label_of("AccountNumber"), "Account Number");
        assert_eq!(label_of("Id"), "ID");
        assert_eq!(label_of("BillToId"), "Bill To ID");
        assert_eq!(label_of("MRR"), "MRR");
        assert_eq!(label_of("Region__c"), "Region");
        assert_eq!(label_of("UOM"), "UOM");
    }

    #[test]
    fn the_wide_object_has_one_hundred_fields() {
        let def = Kind::WideRecord.def();
        assert_eq!(def.fields.len(), 100);
        assert!(def.synthetic);
        assert_eq!(
            def.fields.iter().filter(|f| f.custom).count(),
            WIDE_CUSTOM_FIELDS
        );
    }

    #[test]
    fn every_relation_path_ends_at_its_target() {
        for o in &catalog().objects {
            for r in &o.relations {
                let mut kind = o.kind;
                for step in r.path {
                    let def = kind.def();
                    let f = &def.fields[def.field_index(step).expect("path field exists")];
                    match f.ty {
                        FieldType::Ref(k) => kind = k,
                        other => panic!("{}.{} is {other:?}, not a reference", o.name, step),
                    }
                }
                assert_eq!(kind, r.target, "{}.{}", o.name, r.name);
            }
        }
    }
}
