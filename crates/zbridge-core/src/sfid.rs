//! Salesforce record ids.
