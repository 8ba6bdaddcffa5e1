//! Domain types and rules of zbridge, with no I/O.
//!
//! Everything here is pure: names, tenants, services, connection settings, variables and their
//! `[name]` expansion, Salesforce record ids, values and schemas, datetime formats, and the
//! filter-expression language. The other crates build on these types; none of them
//! re-implements a rule that lives here.

pub mod filter;
pub mod schema;
pub mod sfid;
pub mod time;
pub mod value;
