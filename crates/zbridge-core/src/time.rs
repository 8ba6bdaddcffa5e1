//! Datetime parsing and literal formats.
