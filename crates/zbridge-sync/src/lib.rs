//! The Zuora → Salesforce 360 sync engine.
//!
//! Plain composable parts: [`catalog`] (the mapping, data in TOML, validated), [`convert`]
//! (type conversion and CrmId checks), [`classify`] (DACO codes and retry classes),
//! [`options`] (a profile's options) and [`engine`] (extract per object and window →
//! transform → load through Collections or Bulk → record results, failures, history and the
//! watermark, with deletes applied children first at the end of each run).
//!
//! Behaviour follows `shared/reference/zuora360-sync.md`; where Zuora 360 is known to fail
//! (unreliable deletes, orphans past 10,000 children, lost changes) the engine does better:
//! deletes are queued durably and carried out record by record, children first, and a
//! watermark moves only with the checkpoint of an object whose window was fully written or
//! recorded as failed.

pub mod catalog;
pub mod classify;
pub mod convert;
pub mod engine;
pub mod error;
pub mod options;
pub mod service;

pub use catalog::Catalog;
pub use engine::{Engine, RunReport, RunRequest};
pub use error::SyncError;
pub use options::SyncOptions;
