//! Salesforce API client for zbridge: SOAP `login()`, OAuth (web-server flow with PKCE,
//! refresh with rotation, JWT bearer, revoke), identity, describe and preflight, upsert and
//! delete by external id through sObject Collections and Bulk API 2.0, API limits and budget,
//! and the sync credentials service behind `zbridge sf-credentials`.
//!
//! Written from `shared/reference/salesforce-api.md` and `zuora360-sync.md` §11. Secrets are
//! [`secrecy::SecretString`] from the moment they are read or received and never appear in
//! logs or errors: URLs are logged through [`redact::scrub_url`] and headers never.

pub mod bulk;
pub mod bulk_query;
pub mod client;
pub mod collections;
pub mod credentials;
pub mod error;
pub mod limits;
pub mod login;
pub mod loopback;
pub mod oauth;
pub mod preflight;
pub mod redact;
pub mod service;
pub mod session;

pub use client::{ClientOptions, SalesforceClient};
pub use collections::{RecordError, RecordOutcome, RecordResult};
pub use credentials::{Credential, CredentialKind};
pub use error::SalesforceError;
pub use service::SyncCredentials;
pub use session::Authenticator;
