//! Preflight: the sync user requirements (zuora360-sync.md §11.3; salesforce-api.md §12).
//!
//! Describe is evaluated for the running user, so a mapped field that is missing from the
//! describe, or present but neither createable nor updateable, means field-level security is
//! not Visible/Edit (Zuora's DACO-903303). The upsert key must be an External ID. A non-admin
//! sync user also needs Customize Application.

use serde::Serialize;

use crate::client::SalesforceClient;
use crate::error::Result;

/// One object the sync writes: its upsert key and the fields it fills.
#[derive(Debug, Clone, Serialize)]
pub struct MappedObject {
    /// API name of the object.
    pub object: String,
    /// The External ID field used as the upsert key.
    pub external_id_field: String,
    /// The other fields written.
    pub fields: Vec<String>,
}

impl MappedObject {
    fn new(object: &str, key: &str, fields: &[&str]) -> Self {
        MappedObject {
            object: object.to_string(),
            external_id_field: key.to_string(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// The key fields of the Zuora 360 core objects (zuora360-sync.md §4 and Appendix A).
///
/// **Provisional:** the mapping catalog belongs to the sync engine (issue 7), which passes its
/// own list to [`preflight`]; this list lets the preflight run before that exists.
pub fn default_objects() -> Vec<MappedObject> {
    const KEY: &str = "Zuora__External_Id__c";
    vec![
        MappedObject::new(
            "Zuora__CustomerAccount__c",
            KEY,
            &[
                "Name",
                "Zuora__Zuora_Id__c",
                "Zuora__AccountNumber__c",
                "Zuora__Account__c",
                "Zuora__Balance__c",
                "Zuora__Currency__c",
                "Zuora__Status__c",
                "Zuora__Notes__c",
            ],
        ),
        MappedObject::new(
            "Zuora__Subscription__c",
            KEY,
            &[
                "Name",
                "Zuora__Zuora_Id__c",
                "Zuora__SubscriptionNumber__c",
                "Zuora__Status__c",
                "Zuora__Version__c",
                "Zuora__CustomerAccount__c",
                "Zuora__MRR__c",
                "Zuora__Notes__c",
            ],
        ),
        MappedObject::new(
            "Zuora__SubscriptionProductCharge__c",
            KEY,
            &[
                "Name",
                "Zuora__Zuora_Id__c",
                "Zuora__ChargeNumber__c",
                "Zuora__Subscription__c",
                "Zuora__Price__c",
            ],
        ),
        MappedObject::new(
            "Zuora__ZInvoice__c",
            KEY,
            &[
                "Name",
                "Zuora__Zuora_Id__c",
                "Zuora__BillingAccount__c",
                "Zuora__TotalAmount__c",
                "Zuora__Balance2__c",
                "Zuora__Description__c",
            ],
        ),
    ]
}

/// Something the sync user lacks, and how to grant it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The object concerned (empty for user permissions).
    pub object: String,
    /// The field concerned, if any.
    pub field: Option<String>,
    /// What is missing.
    pub problem: String,
    /// How to grant it.
    pub fix: String,
}

/// The result of a preflight.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    /// Username checked, when known.
    pub username: Option<String>,
    /// The user has Customize Application.
    pub customize_application: bool,
    /// The user has Modify All Data (an admin).
    pub modify_all_data: bool,
    /// What is missing; empty when everything is in place.
    pub findings: Vec<Finding>,
}

impl PreflightReport {
    /// Whether the user meets every requirement.
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn finding(object: &str, field: Option<&str>, problem: &str, fix: &str) -> Finding {
    Finding {
        object: object.to_string(),
        field: field.map(str::to_string),
        problem: problem.to_string(),
        fix: fix.to_string(),
    }
}

/// Checks the sync user against `objects`.
pub async fn preflight(
    client: &SalesforceClient,
    objects: &[MappedObject],
) -> Result<PreflightReport> {
    let mut findings = Vec::new();
    for mapped in objects {
        let object = mapped.object.as_str();
        let Some(describe) = client.describe(object).await? else {
            findings.push(finding(
                object,
                None,
                "object not found or not visible",
                "install the Zuora 360 package, and give the sync user's profile Read, Create, Edit and Delete on the object",
            ));
            continue;
        };
        if !describe.createable || !describe.updateable {
            findings.push(finding(
                object,
                None,
                "the user cannot create or edit records",
                "give the sync user's profile Read, Create, Edit and Delete on the object",
            ));
        }
        match describe.field(&mapped.external_id_field) {
            None => findings.push(finding(
                object,
                Some(&mapped.external_id_field),
                "upsert key not visible",
                "set field-level security of the field to Visible (Read and Edit) for the sync user's profile",
            )),
            Some(f) if !f.external_id || !f.id_lookup => findings.push(finding(
                object,
                Some(&f.name),
                "upsert key is not an External ID field",
                "mark the field External ID in Setup > Object Manager, or map another External ID field",
            )),
            Some(_) => {}
        }
        for field in &mapped.fields {
            match describe.field(field) {
                None => findings.push(finding(
                    object,
                    Some(field),
                    "field not visible (DACO-903303)",
                    "set field-level security of the field to Visible (Read and Edit) for the sync user's profile",
                )),
                Some(f) if !f.createable && !f.updateable => findings.push(finding(
                    object,
                    Some(&f.name),
                    "field is read-only for the user",
                    "set field-level security of the field to Edit (not Read-Only) for the sync user's profile",
                )),
                Some(_) => {}
            }
        }
    }
    let permissions = client
        .query("SELECT PermissionsCustomizeApplication, PermissionsModifyAllData FROM UserPermissionAccess")
        .await?;
    let flag = |name: &str| {
        permissions
            .first()
            .and_then(|r| r.get(name))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let customize_application = flag("PermissionsCustomizeApplication");
    let modify_all_data = flag("PermissionsModifyAllData");
    if !customize_application {
        findings.push(finding(
            "",
            None,
            "the user lacks the Customize Application system permission",
            "grant Customize Application in the sync user's profile or a permission set (needed by the Zuora 360 package data migration)",
        ));
    }
    let username = client.identity().await.ok().map(|i| i.username);
    Ok(PreflightReport {
        username,
        customize_application,
        modify_all_data,
        findings,
    })
}
