//! Simulator of the Salesforce APIs (SOAP login, OAuth, REST, Collections, Bulk API 2.0).
