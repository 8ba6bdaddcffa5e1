//! Typed record values.
