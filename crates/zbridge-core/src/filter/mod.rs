//! The filter-expression language of the Query activity.
//!
//! A filter is SQL-like text, parsed once into an [`Expr`]:
//!
//! ```text
//! Status = 'Active' AND (Balance > 100.5 OR BillToContact.Country IN ('US', 'CA'))
//!   AND UpdatedDate >= TIMESTAMP '2026-08-01T00:00:00Z' AND Name NOT LIKE 'Test%'
//!   AND ParentId IS NULL
//! ```
//!
//! See [`parse()`] for the grammar. One expression then serves three paths, with one meaning:
//! - [`to_trino_sql`] renders Data Query SQL, [`to_export_zoql`] renders Export ZOQL;
//! - [`split`] decides which part each service can evaluate and keeps the rest for local
//!   evaluation, such that `pushed AND local` means exactly the original filter;
//! - [`eval`] evaluates locally.
//!
//! # Semantics (zbridge's, which is Trino's)
//! - Three-valued logic: a comparison with NULL is UNKNOWN; `NOT UNKNOWN` is UNKNOWN; `AND`
//!   and `OR` follow SQL; a row passes only if the filter is TRUE.
//! - `IN` is TRUE when some item is equal, else UNKNOWN when the value or an item is NULL,
//!   else FALSE. `NOT IN` is its negation.
//! - A quoted string compared with a typed column is converted to the column's type by
//!   [`coerce_literal`] (its table lists every case); other type mixes are errors, found by
//!   [`bind`] before anything is sent.
//! - Text compares case-sensitively by Unicode code point. `LIKE` is case-sensitive, `%` is any
//!   run and `_` one character, with no escape character.
//! - Integers and decimals compare exactly as numbers; datetimes as instants (to the
//!   nanosecond); a `DATE` literal compared with a datetime column means midnight UTC.

mod ast;
mod bind;
mod eval;
mod parse;
mod plan;
mod render;

#[cfg(test)]
mod tests;

pub use ast::{CmpOp, Column, Expr, Operand};
pub use bind::{ColumnInfo, ColumnResolver, JoinedSchema, bind, coerce_literal};
pub use eval::{Record, eval, eval3, like};
pub use parse::parse;
pub use plan::{Dialect, Split, split};
pub use render::{to_export_zoql, to_trino_sql};

use crate::schema::ValueKind;

/// Why a filter cannot be parsed, bound, rendered or evaluated. One line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text is not a filter.
    #[error("syntax error at column {column}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based character column.
        column: usize,
        /// What would have been accepted there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// The table has no such column.
    #[error("unknown column {0}")]
    UnknownColumn(String),
    /// The column's type is outside the describe vocabulary.
    #[error("column {column} has unknown type '{type_name}' and cannot be filtered on")]
    UnknownType {
        /// The column.
        column: String,
        /// The type name as described.
        type_name: String,
    },
    /// Two things of incomparable types are compared.
    #[error("cannot compare {left} with {right}")]
    TypeMismatch {
        /// The left side's description.
        left: String,
        /// The right side's description.
        right: String,
    },
    /// A quoted string does not read as the column's type.
    #[error("literal {literal:?} is not a valid {kind}: {reason}")]
    InvalidLiteral {
        /// The literal's text.
        literal: String,
        /// The kind it should have read as.
        kind: ValueKind,
        /// Why not.
        reason: String,
    },
    /// The record being evaluated lacks a column the filter uses.
    #[error("the record has no column {0}")]
    MissingColumn(String),
    /// The dialect cannot express part of the filter (the planner keeps such parts local).
    #[error("{dialect} cannot express {what}")]
    Unsupported {
        /// The target dialect.
        dialect: Dialect,
        /// What could not be expressed.
        what: String,
    },
}
