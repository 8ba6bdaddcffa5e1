//! The objects installed in a simulated org: the standard `Account`, `User`, `Profile` and
//! `Product2`, the Zuora 360 (`Zuora__`) objects and the Zuora Quotes (`zqu__`) catalog objects,
//! with their fields, external ids, lookups and master-detail relations (zuora360-sync.md §3, §4
//! and Appendix A).
//!
//! Field types and lengths are not published for the managed packages; the choices made here are
//! listed in SALESFORCE.md. Field specs are written as compact codes so the tables stay readable:
//! `s255` text, `t32000` long text, `p` picklist, `b` checkbox, `c` currency, `n18.0` number,
//! `%` percent, `d` date, `dt` datetime, `e` email, `ph` phone, `u` url, `x` external id (text 255),
//! `r:Object` lookup, `m:Object` master-detail.

use std::collections::HashMap;

/// The type of a field, with the names describe reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Id,
    String,
    TextArea,
    Picklist,
    Email,
    Phone,
    Url,
    Boolean,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Reference,
}

impl FieldType {
    /// The `type` value in describe.
    pub fn describe_name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::String => "string",
            FieldType::TextArea => "textarea",
            FieldType::Picklist => "picklist",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Boolean => "boolean",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Reference => "reference",
        }
    }

    /// Text-like types hold a string with a maximum length.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::TextArea
                | FieldType::Picklist
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
        )
    }

    /// Numeric types hold an `f64` with a precision and scale.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            FieldType::Double | FieldType::Currency | FieldType::Percent
        )
    }
}

/// How a field's value is set by the platform rather than by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemField {
    /// A normal, writable field.
    No,
    Id,
    CreatedDate,
    CreatedById,
    LastModifiedDate,
    LastModifiedById,
    SystemModstamp,
    IsDeleted,
}

/// One field of an object.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub ftype: FieldType,
    pub length: u32,
    pub precision: u8,
    pub scale: u8,
    /// `nillable: false` and not defaulted: a create without a value fails.
    pub required: bool,
    pub external_id: bool,
    pub unique: bool,
    pub name_field: bool,
    /// Custom-object `Name`: when omitted on create, the platform fills in the record id.
    pub defaulted_on_create: bool,
    pub reference_to: Option<String>,
    pub relationship_name: Option<String>,
    pub master_detail: bool,
    pub system: SystemField,
    /// False for the platform's read-only objects (User, Profile) and system fields.
    pub writable: bool,
}

impl FieldDef {
    fn new(name: &str, ftype: FieldType) -> FieldDef {
        FieldDef {
            name: name.to_string(),
            label: label_of(name),
            ftype,
            length: 0,
            precision: 0,
            scale: 0,
            required: false,
            external_id: false,
            unique: false,
            name_field: false,
            defaulted_on_create: false,
            reference_to: None,
            relationship_name: None,
            master_detail: false,
            system: SystemField::No,
            writable: true,
        }
    }

    /// Whether the field can be referenced in upserts (describe `idLookup`).
    pub fn id_lookup(&self) -> bool {
        self.external_id || self.system == SystemField::Id
    }

    /// Whether a null is allowed (describe `nillable`).
    pub fn nillable(&self) -> bool {
        !(self.required
            || self.defaulted_on_create
            || self.ftype == FieldType::Boolean
            || self.system != SystemField::No)
    }
}

/// One object (sObject type) of the org.
#[derive(Clone, Debug)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub custom: bool,
    pub key_prefix: String,
    pub fields: Vec<FieldDef>,
    /// Whether records can be created, updated and deleted through the API.
    pub writable: bool,
    field_index: HashMap<String, usize>,
    relationship_index: HashMap<String, usize>,
}

impl ObjectDef {
    /// Finds a field by API name, case-insensitively (Salesforce API names are).
    pub fn field(&self, name: &str) -> Option<usize> {
        self.field_index.get(&name.to_ascii_lowercase()).copied()
    }

    /// Finds the reference field behind a relationship name (`Zuora__Account__r`, `Profile`).
    pub fn relationship(&self, name: &str) -> Option<usize> {
        self.relationship_index
            .get(&name.to_ascii_lowercase())
            .copied()
    }

    /// Indices of the fields marked External ID.
    pub fn external_id_fields(&self) -> impl Iterator<Item = usize> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.external_id)
            .map(|(i, _)| i)
    }

    /// Index of the `Name` field if the object has one.
    pub fn name_field(&self) -> Option<usize> {
        self.fields.iter().position(|f| f.name_field)
    }
}

/// Every object of an org, with org-specific key prefixes for the custom objects.
#[derive(Clone, Debug)]
pub struct Schema {
    pub objects: Vec<ObjectDef>,
    index: HashMap<String, usize>,
    prefix_index: HashMap<String, usize>,
}

impl Schema {
    /// Finds an object by API name, case-insensitively.
    pub fn object(&self, name: &str) -> Option<usize> {
        self.index.get(&name.to_ascii_lowercase()).copied()
    }

    /// Finds the object that owns a key prefix.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<usize> {
        self.prefix_index.get(prefix).copied()
    }

    fn build_base(custom_prefix_seed: u64) -> Schema {
        let mut objects: Vec<ObjectDef> = Vec::new();
        let mut used_prefixes: Vec<String> = Vec::new();
        for (i, spec) in OBJECTS.iter().enumerate() {
            let custom = spec.name.ends_with("__c");
            let key_prefix = match spec.prefix {
                Some(p) => p.to_string(),
                None => custom_prefix(custom_prefix_seed, i as u64, &used_prefixes),
            };
            used_prefixes.push(key_prefix.clone());
            objects.push(build_object(spec, custom, key_prefix));
        }
        let index = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.to_ascii_lowercase(), i))
            .collect();
        let prefix_index = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.key_prefix.clone(), i))
            .collect();
        Schema {
            objects,
            index,
            prefix_index,
        }
    }
}

fn custom_prefix(seed: u64, object_index: u64, used: &[String]) -> String {
    let mut n = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(object_index.wrapping_mul(1442695040888963407));
    loop {
        let candidate = format!("a{}", super::ids::base62(n % (62 * 62), 2));
        if !used.contains(&candidate) {
            return candidate;
        }
        n = n.wrapping_add(1);
    }
}

fn label_of(name: &str) -> String {
    let base = name
        .strip_suffix("__c")
        .unwrap_or(name)
        .rsplit("__")
        .next()
        .unwrap_or(name);
    base.replace('_', " ")
}

fn relationship_name_of(field: &str) -> String {
    match field.strip_suffix("__c") {
        Some(stem) => format!("{stem}__r"),
        None => field.strip_suffix("Id").unwrap_or(field).to_string(),
    }
}

struct ObjectSpec {
    name: &'static str,
    label: &'static str,
    prefix: Option<&'static str>,
    /// `Some(required)` when the object has a `Name` field.
    name_field: Option<NameKind>,
    writable: bool,
    fields: &'static [(&'static str, &'static str)],
}

#[derive(Clone, Copy)]
enum NameKind {
    /// Standard objects: Name is required.
    Required,
    /// Custom objects: Name defaults to the record id when omitted.
    Defaulted,
}

fn build_object(spec: &ObjectSpec, custom: bool, key_prefix: String) -> ObjectDef {
    let mut fields = system_fields();
    if let Some(kind) = spec.name_field {
        let mut name = FieldDef::new("Name", FieldType::String);
        name.length = if custom { 80 } else { 255 };
        name.name_field = true;
        match kind {
            NameKind::Required => name.required = true,
            NameKind::Defaulted => name.defaulted_on_create = true,
        }
        fields.push(name);
    }
    if custom {
        let mut currency = FieldDef::new("CurrencyIsoCode", FieldType::Picklist);
        currency.label = "Currency ISO Code".into();
        currency.length = 3;
        fields.push(currency);
    }
    for (name, code) in spec.fields {
        fields.push(parse_field(name, code));
    }
    if !spec.writable {
        for f in &mut fields {
            f.writable = false;
        }
    }
    let field_index = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
        .collect();
    let relationship_index = fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.relationship_name
                .as_ref()
                .map(|r| (r.to_ascii_lowercase(), i))
        })
        .collect();
    ObjectDef {
        name: spec.name.to_string(),
        label: spec.label.to_string(),
        custom,
        key_prefix,
        fields,
        writable: spec.writable,
        field_index,
        relationship_index,
    }
}

fn system_fields() -> Vec<FieldDef> {
    let mut out = Vec::new();
    let mut add = |name: &str, ftype: FieldType, system: SystemField, to: Option<&str>| {
        let mut f = FieldDef::new(name, ftype);
        f.system = system;
        f.writable = false;
        if ftype == FieldType::Id {
            f.length = 18;
        }
        if let Some(target) = to {
            f.length = 18;
            f.reference_to = Some(target.to_string());
            f.relationship_name = Some(relationship_name_of(name));
        }
        out.push(f);
    };
    add("Id", FieldType::Id, SystemField::Id, None);
    add(
        "IsDeleted",
        FieldType::Boolean,
        SystemField::IsDeleted,
        None,
    );
    add(
        "CreatedDate",
        FieldType::DateTime,
        SystemField::CreatedDate,
        None,
    );
    add(
        "CreatedById",
        FieldType::Reference,
        SystemField::CreatedById,
        Some("User"),
    );
    add(
        "LastModifiedDate",
        FieldType::DateTime,
        SystemField::LastModifiedDate,
        None,
    );
    add(
        "LastModifiedById",
        FieldType::Reference,
        SystemField::LastModifiedById,
        Some("User"),
    );
    add(
        "SystemModstamp",
        FieldType::DateTime,
        SystemField::SystemModstamp,
        None,
    );
    out
}

fn parse_field(name: &str, code: &str) -> FieldDef {
    let (ftype, rest) = if let Some(target) = code.strip_prefix("r:") {
        (FieldType::Reference, Some(("r", target)))
    } else if let Some(target) = code.strip_prefix("m:") {
        (FieldType::Reference, Some(("m", target)))
    } else {
        let t = match code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.') {
            "s" => FieldType::String,
            "t" => FieldType::TextArea,
            "p" => FieldType::Picklist,
            "b" => FieldType::Boolean,
            "c" => FieldType::Currency,
            "n" => FieldType::Double,
            "%" => FieldType::Percent,
            "d" => FieldType::Date,
            "dt" => FieldType::DateTime,
            "e" => FieldType::Email,
            "ph" => FieldType::Phone,
            "u" => FieldType::Url,
            "x" => FieldType::String,
            _ => FieldType::String,
        };
        (t, None)
    };
    let mut f = FieldDef::new(name, ftype);
    let digits = code.trim_start_matches(|c: char| !c.is_ascii_digit());
    match ftype {
        FieldType::String | FieldType::TextArea => {
            f.length = digits.parse().unwrap_or(255);
        }
        FieldType::Picklist | FieldType::Url => f.length = 255,
        FieldType::Email => f.length = 80,
        FieldType::Phone => f.length = 40,
        FieldType::Currency => (f.precision, f.scale) = (18, 2),
        FieldType::Percent => (f.precision, f.scale) = (5, 2),
        FieldType::Double => {
            let mut parts = digits.split('.');
            f.precision = parts.next().and_then(|p| p.parse().ok()).unwrap_or(18);
            f.scale = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        }
        _ => {}
    }
    if code == "x" {
        f.external_id = true;
        f.length = 255;
    }
    if let Some((kind, target)) = rest {
        f.length = 18;
        f.reference_to = Some(target.to_string());
        f.relationship_name = Some(relationship_name_of(name));
        if kind == "m" {
            f.master_detail = true;
            f.required = true;
        }
    }
    f
}

const S: &str = "s255";

/// Bill-to and sold-to contact fields flattened onto the billing account.
const CONTACT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__BillToAddress1__c", S),
    ("Zuora__BillToAddress2__c", S),
    ("Zuora__BillToCity__c", S),
    ("Zuora__BillToState__c", S),
    ("Zuora__BillToPostalCode__c", S),
    ("Zuora__BillToCountry__c", S),
    ("Zuora__BillToContact__c", S),
    ("Zuora__BillToId__c", S),
    ("Zuora__BillToName__c", S),
    ("Zuora__BillToFax__c", "ph"),
    ("Zuora__BillToWorkEmail__c", "e"),
    ("Zuora__BillToWorkPhone__c", "ph"),
    ("Zuora__SoldToAddress1__c", S),
    ("Zuora__SoldToAddress2__c", S),
    ("Zuora__SoldToCity__c", S),
    ("Zuora__SoldToState__c", S),
    ("Zuora__SoldToPostalCode__c", S),
    ("Zuora__SoldToCountry__c", S),
    ("Zuora__SoldToContact__c", S),
    ("Zuora__SoldToId__c", S),
    ("Zuora__SoldToName__c", S),
    ("Zuora__SoldToFax__c", "ph"),
    ("Zuora__SoldToWorkEmail__c", "e"),
    ("Zuora__SoldToWorkPhone__c", "ph"),
];

const CUSTOMER_ACCOUNT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Zuora_Id__c", S),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__AccountNumber__c", S),
    ("Zuora__AdditionalEmailAddresses__c", "t1000"),
    ("Zuora__AllowInvoiceEdit__c", "b"),
    ("Zuora__AutoPay__c", "b"),
    ("Zuora__Batch__c", S),
    ("Zuora__BcdSettingOption__c", S),
    ("Zuora__BillCycleDay__c", S),
    ("Zuora__Balance__c", "c"),
    ("Zuora__MRR__c", "c"),
    ("Zuora__Communication_Profile_Id__c", S),
    ("Zuora__Credit_Balance__c", "c"),
    ("Zuora__Currency__c", S),
    ("Zuora__CustomerServiceRepName__c", S),
    ("Zuora__DefaultPaymentMethod__c", S),
    (
        "Zuora__Default_Payment_Method__c",
        "r:Zuora__PaymentMethod__c",
    ),
    ("Zuora__EntityID__c", S),
    ("Zuora__InvoiceDeliveryPrefsEmail__c", "b"),
    ("Zuora__InvoiceDeliveryPrefsPrint__c", "b"),
    ("Zuora__InvoiceTemplateId__c", S),
    ("Zuora__Is_Crm_Id_Change_Processed__c", "b"),
    ("Zuora__LastInvoiceDate__c", "d"),
    ("Zuora__Notes__c", "t32000"),
    ("Zuora__Parent__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__PaymentGateway__c", S),
    ("Zuora__PaymentTerm__c", S),
    ("Zuora__Payment_Term__c", "r:Zuora__PaymentTerm__c"),
    ("Zuora__PurchaseOrderNumber__c", S),
    ("Zuora__SalesRepName__c", S),
    ("Zuora__Status__c", S),
    ("Zuora__TaxExemptCertificateID__c", S),
    ("Zuora__TaxExemptCertificateType__c", S),
    ("Zuora__TaxExemptDescription__c", S),
    ("Zuora__TaxExemptEffectiveDate__c", "d"),
    ("Zuora__TaxExemptExpirationDate__c", "d"),
    ("Zuora__TaxExemptIssuingJurisdiction__c", S),
    ("Zuora__TaxExemptStatus__c", S),
    ("Zuora__TotalInvoiceBalance__c", "c"),
    ("Zuora__VAT_Id__c", S),
    ("Zuora__CreditCard_Expiration__c", S),
    ("Zuora__CreditCard_Number__c", S),
    ("Zuora__CreditCardType__c", S),
    ("Zuora__PaymentMethod_Type__c", S),
];

const SUBSCRIPTION_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Zuora_Id__c", S),
    ("Zuora__SubscriptionNumber__c", "x"),
    ("Zuora__Status__c", S),
    ("Zuora__Version__c", "n18.0"),
    ("Zuora__OriginalId__c", S),
    ("Zuora__PreviousSubscriptionId__c", S),
    ("Zuora__OriginalCreated_Date__c", "dt"),
    ("Zuora__AutoRenew__c", "b"),
    ("Zuora__CancelledDate__c", "d"),
    ("Zuora__ContractAcceptanceDate__c", "d"),
    ("Zuora__ContractEffectiveDate__c", "d"),
    ("Zuora__ServiceActivationDate__c", "d"),
    ("Zuora__SubscriptionStartDate__c", "d"),
    ("Zuora__SubscriptionEndDate__c", "d"),
    ("Zuora__TermStartDate__c", "d"),
    ("Zuora__TermEndDate__c", "d"),
    ("Zuora__NextRenewalDate__c", "d"),
    ("Zuora__TermSettingType__c", S),
    ("Zuora__InitialTerm__c", S),
    ("Zuora__InitialTermPeriodType__c", S),
    ("Zuora__CurrentTerm__c", S),
    ("Zuora__CurrentTermPeriodType__c", S),
    ("Zuora__RenewalTerm__c", S),
    ("Zuora__RenewalTermPeriodType__c", S),
    ("Zuora__InvoiceOwner__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__CustomerAccount__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__MRR__c", "c"),
    ("Zuora__TCV__c", "c"),
    ("Zuora__NextChargeDate__c", "d"),
    ("Zuora__Notes__c", "t32000"),
    ("Zuora__OpportunityCloseDate__c", "d"),
    ("Zuora__OpportunityName__c", S),
    ("Zuora__QuoteBusinessType__c", S),
    ("Zuora__QuoteNumber__c", S),
    ("Zuora__QuoteType__c", S),
];

const RATE_PLAN_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Subscription__c", "m:Zuora__Subscription__c"),
    ("Zuora__ProductRatePlanId__c", S),
    ("Zuora__AmendmentId__c", S),
    ("Zuora__AmendmentSubscriptionRatePlanId__c", S),
    ("Zuora__AmendmentType__c", S),
];

const CHARGE_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Zuora_Id__c", S),
    ("Zuora__ChargeNumber__c", S),
    ("Zuora__SubscriptionChargeNumber__c", "x"),
    ("Zuora__Description__c", "t32000"),
    ("Zuora__Model__c", S),
    ("Zuora__Type__c", S),
    ("Zuora__Price__c", "c"),
    ("Zuora__Quantity__c", "n16.2"),
    ("Zuora__UOM__c", S),
    ("Zuora__PriceTable__c", "t32000"),
    ("Zuora__MonthlyRecurringRevenue__c", "c"),
    ("Zuora__TotalContractValue__c", "c"),
    ("Zuora__DMRC__c", "c"),
    ("Zuora__DTCV__c", "c"),
    ("Zuora__ExtendedAmount__c", "c"),
    ("Zuora__EffectiveStartDate__c", "d"),
    ("Zuora__EffectiveEndDate__c", "d"),
    ("Zuora__ChargedThroughDate__c", "d"),
    ("Zuora__ProcessedThroughDate__c", "d"),
    ("Zuora__BillCycleDay__c", S),
    ("Zuora__BillCycleType__c", S),
    ("Zuora__BillingPeriod__c", S),
    ("Zuora__BillingPeriodAlignment__c", S),
    ("Zuora__BillingTiming__c", S),
    ("Zuora__WeeklyBillCycleDay__c", S),
    ("Zuora__TriggerDate__c", "d"),
    ("Zuora__TriggerEvent__c", S),
    ("Zuora__EndDateCondition__c", S),
    ("Zuora__UpToPeriods__c", S),
    ("Zuora__UpToPeriodsType__c", S),
    ("Zuora__NumberOfPeriods__c", "n18.0"),
    ("Zuora__SpecificEndDate__c", "d"),
    ("Zuora__DiscountAmount__c", "c"),
    ("Zuora__DiscountLevel__c", S),
    ("Zuora__DiscountPercentage__c", "%"),
    ("Zuora__ApplyDiscountTo__c", S),
    ("Zuora__IncludedUnits__c", "n16.2"),
    ("Zuora__OveragePrice__c", "c"),
    ("Zuora__OverageCalculationOption__c", S),
    ("Zuora__OverageUnusedUnitsCreditOption__c", S),
    ("Zuora__UnusedUnitsCreditRates__c", S),
    ("Zuora__UsageRecordRatingOption__c", S),
    ("Zuora__AccountingCode__c", S),
    ("Zuora__RevRecCode__c", S),
    ("Zuora__RevRecTriggerCondition__c", S),
    ("Zuora__UseDiscountSpecificAccountingCode__c", "b"),
    ("Zuora__ListPriceBase__c", S),
    ("Zuora__PriceIncreasePercentage__c", "%"),
    ("Zuora__BillingPeriodStartDay__c", S),
    ("Zuora__OriginalId__c", S),
    ("Zuora__Segment__c", "n18.0"),
    ("Zuora__IsLastSegment__c", "b"),
    ("Zuora__Version__c", "n18.0"),
    ("Zuora__ProductRatePlanChargeId__c", S),
    ("Zuora__RatePlanId__c", S),
    ("Zuora__ProductName__c", S),
    ("Zuora__ProductSKU__c", S),
    ("Zuora__ProductEffectiveEndDate__c", "d"),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__Subscription__c", "m:Zuora__Subscription__c"),
];

const INVOICE_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Zuora_Id__c", S),
    ("Zuora__ZuoraId__c", S),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__BillingAccount__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__InvoiceDate__c", "d"),
    ("Zuora__DueDate__c", "d"),
    ("Zuora__TargetDate__c", "d"),
    ("Zuora__PostedDate__c", "d"),
    ("Zuora__Generated_Date__c", "dt"),
    ("Zuora__TotalAmount__c", "c"),
    ("Zuora__AmountWithoutTax__c", "c"),
    ("Zuora__TaxAmount__c", "c"),
    ("Zuora__TaxExemptAmount__c", "c"),
    ("Zuora__Balance2__c", "c"),
    ("Zuora__PaymentAmount__c", "c"),
    ("Zuora__RefundedAmount__c", "c"),
    ("Zuora__AdjustmentAmount__c", "c"),
    ("Zuora__CreditBalanceAdjustmentAmount__c", "c"),
    ("Zuora__Status__c", S),
    ("Zuora__Description__c", "t32000"),
    ("Zuora__Age_Bucket__c", S),
    ("Zuora__PaymentTerm__c", S),
    ("Zuora__Payment_Term__c", "r:Zuora__PaymentTerm__c"),
    ("Zuora__BillToId__c", S),
    ("Zuora__SoldToId__c", S),
    ("Zuora__CreatedDate__c", "dt"),
    ("Zuora__UpdatedDate__c", "dt"),
];

const AUDIT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__CreatedById__c", S),
    ("Zuora__CreatedDate__c", "dt"),
    ("Zuora__UpdatedById__c", S),
    ("Zuora__UpdatedDate__c", "dt"),
];

const PAYMENT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__EXT_ID__c", "x"),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__BillingAccount__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__Payment_Method__c", "r:Zuora__PaymentMethod__c"),
    ("Zuora__PaymentMethodId__c", S),
    ("Zuora__PaymentNumber__c", S),
    ("Zuora__Amount__c", "c"),
    ("Zuora__AppliedAmount__c", "c"),
    ("Zuora__AppliedCreditBalanceAmount__c", "c"),
    ("Zuora__AppliedInvoiceAmount__c", "c"),
    ("Zuora__UnappliedAmount__c", "c"),
    ("Zuora__RefundAmount__c", "c"),
    ("Zuora__RefundedAmount__c", "c"),
    ("Zuora__Status__c", S),
    ("Zuora__Type__c", S),
    ("Zuora__Effective_Date__c", "d"),
    ("Zuora__SubmittedOn__c", "dt"),
    ("Zuora__SettledOn__c", "dt"),
    ("Zuora__CancelledOn__c", "dt"),
    ("Zuora__MarkedForSubmissionOn__c", "dt"),
    ("Zuora__GatewayOrderId__c", S),
    ("Zuora__GatewayResponse__c", S),
    ("Zuora__GatewayResponseCode__c", S),
    ("Zuora__GatewayStatus__c", S),
    ("Zuora__AuthTransactionId__c", S),
    ("Zuora__ReferenceId__c", S),
    ("Zuora__SecondPaymentReferenceId__c", S),
    ("Zuora__SoftDescriptor__c", S),
    ("Zuora__SoftDescriptorPhone__c", S),
    ("Zuora__BankIdentificationNumber__c", S),
    ("Zuora__AccountingCode__c", S),
    ("Zuora__Comment__c", "t32000"),
    ("Zuora__TransferedToAccounting__c", S),
    ("Zuora__InvoiceNumber__c", S),
    ("Zuora__Invoice__c", "r:Zuora__ZInvoice__c"),
];

const PAYMENT_INVOICE_FIELDS: &[(&str, &str)] = &[
    ("Zuora__EXT_ID__c", "x"),
    ("Zuora__ApplyAmount__c", "c"),
    ("Zuora__RefundAmount__c", "c"),
    ("Zuora__Payment__c", "m:Zuora__Payment__c"),
    ("Zuora__Invoice__c", "r:Zuora__ZInvoice__c"),
];

const PAYMENT_METHOD_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__BillingAccount__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__Type__c", S),
    ("Zuora__Name__c", S),
    ("Zuora__DefaultPaymentMethod__c", "b"),
    ("Zuora__Active__c", "b"),
    ("Zuora__PaymentMethodStatus__c", S),
    ("Zuora__CreditCardMaskNumber__c", S),
    ("Zuora__CreditCardType__c", S),
    ("Zuora__CreditCardHolderName__c", S),
    ("Zuora__CreditCardExpirationMonth__c", S),
    ("Zuora__CreditCardExpirationYear__c", S),
    ("Zuora__CreditCardAddress1__c", S),
    ("Zuora__CreditCardAddress2__c", S),
    ("Zuora__CreditCardCity__c", S),
    ("Zuora__CreditCardState__c", S),
    ("Zuora__CreditCardPostalCode__c", S),
    ("Zuora__CreditCardCountry__c", S),
    ("Zuora__AchAbaCode__c", S),
    ("Zuora__AchAccountName__c", S),
    ("Zuora__AchAccountNumberMask__c", S),
    ("Zuora__AchAccountType__c", S),
    ("Zuora__AchBankName__c", S),
    ("Zuora__BankName__c", S),
    ("Zuora__BankCode__c", S),
    ("Zuora__BankBranchCode__c", S),
    ("Zuora__IBAN__c", S),
    ("Zuora__BankTransferType__c", S),
    ("Zuora__BankTransferAccountName__c", S),
    ("Zuora__BankTransferAccountNumber__c", S),
    ("Zuora__MandateID__c", S),
    ("Zuora__MandateReceived__c", S),
    ("Zuora__MandateCreation_Date__c", "d"),
    ("Zuora__PaypalBaid__c", S),
    ("Zuora__PaypalEmail__c", "e"),
    ("Zuora__LastTransactionDateTime__c", "dt"),
    ("Zuora__LastTransactionStatus__c", S),
    ("Zuora__NumConsecutiveFailures__c", "n18.0"),
    ("Zuora__TotalNumberOfProcessedPayments__c", "n18.0"),
    ("Zuora__TotalNumberOfErrorPayments__c", "n18.0"),
];

const REFUND_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Account__c", "r:Account"),
    ("Zuora__BillingAccount__c", "r:Zuora__CustomerAccount__c"),
    ("Zuora__Payment__c", "r:Zuora__Payment__c"),
    ("Zuora__PaymentMethod__c", "r:Zuora__PaymentMethod__c"),
    ("Zuora__Amount__c", "c"),
    ("Zuora__Type__c", S),
    ("Zuora__RefundMethodType__c", S),
    ("Zuora__SourceType__c", S),
    ("Zuora__Status__c", S),
    ("Zuora__Refund_Date__c", "d"),
    ("Zuora__RefundTransactionTime__c", "dt"),
    ("Zuora__ReasonCodeName__c", S),
    ("Zuora__ReferenceId__c", S),
    ("Zuora__GatewayResponse__c", S),
    ("Zuora__GatewayResponseCode__c", S),
    ("Zuora__SoftDescriptor__c", S),
    ("Zuora__SoftDescriptorPhone__c", S),
    ("Zuora__AccountingCode__c", S),
    ("Zuora__Comment__c", "t32000"),
    ("Zuora__TransferredToAccounting__c", S),
];

const REFUND_INVOICE_PAYMENT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__EXT_ID__c", "x"),
    ("Zuora__Refund__c", "m:Zuora__Refund__c"),
    ("Zuora__InvoicePayment__c", "r:Zuora__PaymentInvoice__c"),
    ("Zuora__RefundAmount__c", "c"),
];

const ZUORA_PRODUCT_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__SKU__c", S),
    ("Zuora__Category__c", S),
    ("Zuora__Description__c", "t32000"),
    ("Zuora__EffectiveStartDate__c", "d"),
    ("Zuora__EffectiveEndDate__c", "d"),
    ("Zuora__EntityID__c", S),
    ("Zuora__CreatedDate__c", "dt"),
    ("Zuora__UpdatedDate__c", "dt"),
];

const SYNC_HISTORY_FIELDS: &[(&str, &str)] = &[
    ("Zuora__External_Id__c", "x"),
    ("Zuora__Failure_Log__c", "t32000"),
    ("Zuora__Finished_On__c", "dt"),
    ("Zuora__Is_Async__c", "b"),
    ("Zuora__Is_Cancel__c", "b"),
    ("Zuora__Is_Incremental__c", "b"),
    ("Zuora__Is_Success__c", "b"),
    ("Zuora__Job_State_Id__c", S),
    ("Zuora__Process_For_CrmId_Change__c", "b"),
    ("Zuora__Sync_By__c", S),
    ("Zuora__Sync_Error__c", "t32000"),
    ("Zuora__Sync_On__c", "dt"),
    ("Zuora__Sync_Target__c", S),
    ("Zuora__Sync_To__c", S),
    ("Zuora__Target_Id__c", S),
    ("Zuora__Tenant_Id__c", S),
    ("Zuora__Zuora_Hostname__c", S),
];

const PRODUCT2_FIELDS: &[(&str, &str)] = &[
    ("ProductCode", S),
    ("Description", "t4000"),
    ("IsActive", "b"),
    ("Family", "p"),
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__SKU__c", S),
    ("zqu__EffectiveStartDate__c", "d"),
    ("zqu__EffectiveEndDate__c", "d"),
];

const ZPRODUCT_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__SKU__c", S),
    ("zqu__Category__c", S),
    ("zqu__Description__c", "t32000"),
    ("zqu__EffectiveStartDate__c", "d"),
    ("zqu__EffectiveEndDate__c", "d"),
    ("zqu__EntityID__c", S),
    ("zqu__Product__c", "r:Product2"),
];

const PRODUCT_RATE_PLAN_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__Product__c", "r:Product2"),
    ("zqu__ZProduct__c", "r:zqu__ZProduct__c"),
    ("zqu__Description__c", "t32000"),
    ("zqu__ProductRatePlanFullName__c", S),
    ("zqu__ActiveCurrencies__c", S),
    ("zqu__Default__c", "b"),
    ("zqu__EntityID__c", S),
    ("zqu__Price_Summary__c", "t32000"),
    ("zqu__EffectiveStartDate__c", "d"),
    ("zqu__EffectiveEndDate__c", "d"),
    ("zqu__EffectiveStartDateTEXT__c", S),
    ("zqu__EffectiveEndDateTEXT__c", S),
    ("zqu__SyncStatus__c", S),
    ("zqu__SyncMessage__c", "t32000"),
    ("zqu__Catalog_Sync_History__c", S),
];

const PRODUCT_RATE_PLAN_CHARGE_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__ProductRatePlan__c", "m:zqu__ProductRatePlan__c"),
    ("zqu__Description__c", "t32000"),
    ("zqu__Model__c", S),
    ("zqu__Type__c", S),
    ("zqu__UOM__c", S),
    ("zqu__ListPrice__c", "c"),
    ("zqu__DefaultQuantity__c", "n16.2"),
    ("zqu__RecurringPeriod__c", S),
    ("zqu__Taxable__c", "b"),
    ("zqu__TaxCode__c", S),
    ("zqu__EntityID__c", S),
];

const PRODUCT_RATE_PLAN_CHARGE_TIER_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    (
        "zqu__ProductRatePlanCharge__c",
        "m:zqu__ProductRatePlanCharge__c",
    ),
    ("zqu__Tier__c", "n18.0"),
    ("zqu__StartingUnit__c", "n16.2"),
    ("zqu__EndingUnit__c", "n16.2"),
    ("zqu__Price__c", "c"),
    ("zqu__PriceFormat__c", S),
    ("zqu__Currency__c", S),
];

const ZFEATURE_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__Code__c", S),
    ("zqu__Description__c", "t32000"),
    ("zqu__Status__c", S),
];

const ZPRODUCT_FEATURE_FIELDS: &[(&str, &str)] = &[
    ("zqu__ZuoraId__c", "x"),
    ("zqu__Deleted__c", "b"),
    ("zqu__ZProduct__c", "r:zqu__ZProduct__c"),
    ("zqu__ZFeature__c", "r:zqu__ZFeature__c"),
];

const ACCOUNT_FIELDS: &[(&str, &str)] = &[
    ("AccountNumber", "s40"),
    ("Type", "p"),
    ("Industry", "p"),
    ("Phone", "ph"),
    ("Website", "u"),
    ("BillingStreet", "t255"),
    ("BillingCity", "s40"),
    ("BillingState", "s80"),
    ("BillingPostalCode", "s20"),
    ("BillingCountry", "s80"),
    ("Description", "t32000"),
    ("NumberOfEmployees", "n8.0"),
    ("AnnualRevenue", "c"),
    ("ParentId", "r:Account"),
];

const USER_FIELDS: &[(&str, &str)] = &[
    ("Username", "s80"),
    ("FirstName", "s40"),
    ("LastName", "s80"),
    ("Email", "e"),
    ("Alias", "s8"),
    ("ProfileId", "r:Profile"),
    ("IsActive", "b"),
    ("UserType", "p"),
    ("TimeZoneSidKey", "p"),
    ("LocaleSidKey", "p"),
    ("LanguageLocaleKey", "p"),
];

const PROFILE_FIELDS: &[(&str, &str)] = &[
    ("UserType", "p"),
    ("PermissionsCustomizeApplication", "b"),
    ("PermissionsModifyAllData", "b"),
    ("PermissionsViewSetup", "b"),
    ("PermissionsApiEnabled", "b"),
];

macro_rules! object {
    ($name:expr, $label:expr, $prefix:expr, $nk:expr, $fields:expr) => {
        ObjectSpec {
            name: $name,
            label: $label,
            prefix: $prefix,
            name_field: $nk,
            writable: true,
            fields: $fields,
        }
    };
}

const D: Option<NameKind> = Some(NameKind::Defaulted);
const R: Option<NameKind> = Some(NameKind::Required);

static OBJECTS: &[ObjectSpec] = &[
    object!("Account", "Account", Some("001"), R, ACCOUNT_FIELDS),
    ObjectSpec {
        name: "User",
        label: "User",
        prefix: Some("005"),
        name_field: R,
        writable: false,
        fields: USER_FIELDS,
    },
    ObjectSpec {
        name: "Profile",
        label: "Profile",
        prefix: Some("00e"),
        name_field: R,
        writable: false,
        fields: PROFILE_FIELDS,
    },
    object!("Product2", "Product", Some("01t"), R, PRODUCT2_FIELDS),
    object!(
        "Zuora__PaymentTerm__c",
        "Payment Term",
        None,
        D,
        // Only `Name` is documented; no external id (zuora360-sync.md §4).
        &[]
    ),
    object!(
        "Zuora__CustomerAccount__c",
        "Billing Account",
        None,
        D,
        CUSTOMER_ACCOUNT_FIELDS
    ),
    object!(
        "Zuora__PaymentMethod__c",
        "Payment Method",
        None,
        D,
        PAYMENT_METHOD_FIELDS
    ),
    object!(
        "Zuora__Subscription__c",
        "Subscription",
        None,
        D,
        SUBSCRIPTION_FIELDS
    ),
    object!(
        "Zuora__SubscriptionRatePlan__c",
        "Subscription Rate Plan",
        None,
        D,
        RATE_PLAN_FIELDS
    ),
    object!(
        "Zuora__SubscriptionProductCharge__c",
        "Subscription Product & Charge",
        None,
        D,
        CHARGE_FIELDS
    ),
    object!("Zuora__ZInvoice__c", "Invoice", None, D, INVOICE_FIELDS),
    object!("Zuora__Payment__c", "Payment", None, D, PAYMENT_FIELDS),
    object!(
        "Zuora__PaymentInvoice__c",
        "Invoice Payment",
        None,
        D,
        PAYMENT_INVOICE_FIELDS
    ),
    object!("Zuora__Refund__c", "Refund", None, D, REFUND_FIELDS),
    object!(
        "Zuora__RefundInvoicePayment__c",
        "Refund Invoice Payment",
        None,
        D,
        REFUND_INVOICE_PAYMENT_FIELDS
    ),
    object!(
        "Zuora__Product__c",
        "Product",
        None,
        D,
        ZUORA_PRODUCT_FIELDS
    ),
    object!(
        "Zuora__Sync_History__c",
        "Sync History",
        None,
        D,
        SYNC_HISTORY_FIELDS
    ),
    object!("zqu__ZProduct__c", "ZProduct", None, D, ZPRODUCT_FIELDS),
    object!(
        "zqu__ProductRatePlan__c",
        "Product Rate Plan",
        None,
        D,
        PRODUCT_RATE_PLAN_FIELDS
    ),
    object!(
        "zqu__ProductRatePlanCharge__c",
        "Product Rate Plan Charge",
        None,
        D,
        PRODUCT_RATE_PLAN_CHARGE_FIELDS
    ),
    object!(
        "zqu__ProductRatePlanChargeTier__c",
        "Product Rate Plan Charge Tier",
        None,
        D,
        PRODUCT_RATE_PLAN_CHARGE_TIER_FIELDS
    ),
    object!("zqu__ZFeature__c", "ZFeature", None, D, ZFEATURE_FIELDS),
    object!(
        "zqu__ZProductFeature__c",
        "ZProduct Feature",
        None,
        D,
        ZPRODUCT_FEATURE_FIELDS
    ),
];

/// The audit fields (`Zuora__CreatedDate__c` …) carried by several Zuora objects; appended at
/// build time so the tables above stay close to the reference's lists.
fn audit_objects() -> &'static [&'static str] {
    &[
        "Zuora__PaymentMethod__c",
        "Zuora__Payment__c",
        "Zuora__Refund__c",
    ]
}

impl Schema {
    /// Builds the schema; `custom_prefix_seed` makes custom-object key prefixes org-specific,
    /// as they are in real orgs (salesforce-api.md §5.4).
    pub fn build(custom_prefix_seed: u64) -> Schema {
        let mut schema = Schema::build_base(custom_prefix_seed);
        for obj in &mut schema.objects {
            let mut extra: Vec<FieldDef> = Vec::new();
            if obj.name == "Zuora__CustomerAccount__c" {
                extra.extend(CONTACT_FIELDS.iter().map(|(n, c)| parse_field(n, c)));
            }
            if audit_objects().contains(&obj.name.as_str()) {
                extra.extend(AUDIT_FIELDS.iter().map(|(n, c)| parse_field(n, c)));
            }
            for f in extra {
                let i = obj.fields.len();
                obj.field_index.insert(f.name.to_ascii_lowercase(), i);
                obj.fields.push(f);
            }
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zuora_objects_are_installed_with_keys_and_relations() {
        let schema = Schema::build(7);
        let sub = &schema.objects[schema.object("zuora__subscription__c").unwrap()];
        let ext = &sub.fields[sub.field("Zuora__External_Id__c").unwrap()];
        assert!(ext.external_id && ext.id_lookup());
        let ca = &sub.fields[sub.relationship("Zuora__CustomerAccount__r").unwrap()];
        assert_eq!(
            ca.reference_to.as_deref(),
            Some("Zuora__CustomerAccount__c")
        );
        let pi = &schema.objects[schema.object("Zuora__PaymentInvoice__c").unwrap()];
        let master = &pi.fields[pi.field("Zuora__Payment__c").unwrap()];
        assert!(master.master_detail && master.required);
        let billing = &schema.objects[schema.object("Zuora__CustomerAccount__c").unwrap()];
        assert!(billing.field("Zuora__BillToCity__c").is_some());
        assert_eq!(
            schema.objects[schema.object("Account").unwrap()].key_prefix,
            "001"
        );
    }

    #[test]
    fn custom_prefixes_are_unique_and_org_specific() {
        let a = Schema::build(1);
        let b = Schema::build(2);
        let prefixes: std::collections::HashSet<_> =
            a.objects.iter().map(|o| o.key_prefix.clone()).collect();
        assert_eq!(prefixes.len(), a.objects.len());
        let i = a.object("Zuora__Subscription__c").unwrap();
        assert_ne!(a.objects[i].key_prefix, b.objects[i].key_prefix);
    }
}
