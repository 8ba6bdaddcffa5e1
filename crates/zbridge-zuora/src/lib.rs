//! Zuora API client for zbridge.
//!
//! It is built on the public Zuora documentation (`shared/reference/zuora-api.md`) and avoids
//! the pitfalls earlier integrations fell into (`lessons.md`):
//!
//! - [`token`]: one token manager per connection, single-flight renewal, a sealed cache that
//!   connections never share;
//! - [`client`]: every call with its track id, idempotency key, entity and version headers,
//!   bounded retries with backoff, and errors sent with HTTP 200 recognised ([`policy`]);
//! - [`clock`]: Zuora's time from its answers, so windows end on Zuora's clock;
//! - [`test`]: the connection Test.

pub mod client;
pub mod clock;
pub mod discovery;
pub mod error;
pub mod execute;
mod fast;
pub mod jobs;
pub mod policy;
pub mod query;
pub mod reader;
pub mod saved;
pub mod sink;
pub mod test;
pub mod token;
mod token_file;
mod transport;

pub use client::{Call, ZuoraClient};
pub use error::ZuoraError;
pub use token::{TokenCache, TokenManager};
