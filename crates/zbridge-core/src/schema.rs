//! Field types and table schemas.
