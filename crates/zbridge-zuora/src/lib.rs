//! Zuora API client for zbridge.
//!
//! It is built on the public Zuora documentation (`shared/reference/zuora-api.md`) and the
//! pitfalls earlier integrations fell into (`lessons.md`). This first part is the HTTP policy:
//! which responses are errors (including errors sent with HTTP 200), which are worth retrying,
//! and how long to wait before the next attempt.

pub mod policy;
