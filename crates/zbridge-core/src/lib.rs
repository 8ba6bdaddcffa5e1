//! Domain types and rules of zbridge, with no I/O.
//!
//! Everything here is pure: names, tenants, services, connection settings, variables and their
//! `[name]` expansion, Salesforce record ids, values and schemas, datetime formats, and the
//! filter-expression language. The other crates build on these types; none of them
//! re-implements a rule that lives here.

pub mod advanced;
pub mod connection;
pub mod error;
pub mod filter;
pub mod names;
pub mod schema;
pub mod sfid;
pub mod tenant;
pub mod time;
pub mod value;
pub mod variables;

pub use error::{ValidationError, Warning, closest};
pub use names::{ConnectionName, ProjectName, VariableName};
pub use tenant::{Region, Tenant, ZuoraService};
