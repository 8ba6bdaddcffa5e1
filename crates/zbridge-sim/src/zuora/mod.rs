//! Simulator of the Zuora REST API (OAuth, Data Query, AQuA, Actions, describe, files).

pub mod clock;
pub mod format;
pub mod generate;
pub mod query;
pub mod schema;
pub mod store;
