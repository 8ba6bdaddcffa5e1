//! Local simulators of the Zuora and Salesforce APIs.
//!
//! Each simulator implements the public API from its documentation (see `shared/reference/`),
//! with its own wire types. This crate never depends on zbridge's API clients, so a mistake in a
//! client cannot be mirrored here and pass unnoticed. Both simulators bind to loopback, can be
//! started on port 0 from a test through a builder, and expose a simulator-only control API under
//! `/sim/`.

pub mod salesforce;
pub mod zuora;
