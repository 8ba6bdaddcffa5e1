//! Local evaluation with SQL three-valued logic.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::FilterError;
use super::ast::{CmpOp, Column, Expr, Operand};
use super::bind::{compare_values, kind_name};
use crate::value::Value;

/// A record a filter can be evaluated against.
pub trait Record {
    /// The value of a column, `None` if the record has no such column (an error, unlike a
    /// [`Value::Null`]).
    fn value(&self, column: &Column) -> Option<&Value>;
}

/// Keys are [`Column::key`]s: lower-case `name` or `relation.name`.
impl Record for HashMap<String, Value> {
    fn value(&self, column: &Column) -> Option<&Value> {
        self.get(&column.key())
    }
}

/// Keys are [`Column::key`]s: lower-case `name` or `relation.name`.
impl Record for BTreeMap<String, Value> {
    fn value(&self, column: &Column) -> Option<&Value> {
        self.get(&column.key())
    }
}

/// Whether the record passes the filter: true only when the filter is TRUE; FALSE and UNKNOWN
/// (a comparison with NULL) both filter the row out, as in a SQL WHERE clause.
///
/// String literals compared with typed columns are coerced with
/// [`coerce_literal`](super::coerce_literal) per row; [`bind`](super::bind) the expression first
/// to do that once.
pub fn eval(expr: &Expr, record: &dyn Record) -> Result<bool, FilterError> {
    Ok(eval3(expr, record)? == Some(true))
}

/// The three-valued result: `None` is UNKNOWN.
pub fn eval3(expr: &Expr, record: &dyn Record) -> Result<Option<bool>, FilterError> {
    match expr {
        Expr::And(parts) => {
            let mut result = Some(true);
            for part in parts {
                match eval3(part, record)? {
                    Some(false) => return Ok(Some(false)),
                    None => result = None,
                    Some(true) => {}
                }
            }
            Ok(result)
        }
        Expr::Or(parts) => {
            let mut result = Some(false);
            for part in parts {
                match eval3(part, record)? {
                    Some(true) => return Ok(Some(true)),
                    None => result = None,
                    Some(false) => {}
                }
            }
            Ok(result)
        }
        Expr::Not(inner) => Ok(eval3(inner, record)?.map(|b| !b)),
        Expr::Compare { left, op, right } => {
            let (l, l_literal) = operand(left, record)?;
            let (r, r_literal) = operand(right, record)?;
            Ok(compare_values(l, l_literal, r, r_literal)?.map(|order| holds(*op, order)))
        }
        Expr::In {
            column,
            list,
            negated,
        } => {
            let value = lookup(column, record)?;
            let found = in_list(value, list)?;
            Ok(if *negated { found.map(|b| !b) } else { found })
        }
        Expr::Like {
            column,
            pattern,
            negated,
        } => match lookup(column, record)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(like(text, pattern) != *negated)),
            other => Err(FilterError::TypeMismatch {
                left: format!("{} value of {column}", kind_name(other)),
                right: "a LIKE pattern (LIKE needs text)".into(),
            }),
        },
        Expr::IsNull { column, negated } => Ok(Some(lookup(column, record)?.is_null() != *negated)),
    }
}

fn operand<'a>(
    operand: &'a Operand,
    record: &'a dyn Record,
) -> Result<(&'a Value, bool), FilterError> {
    match operand {
        Operand::Column(column) => Ok((lookup(column, record)?, false)),
        Operand::Literal(value) => Ok((value, true)),
    }
}

fn lookup<'a>(column: &Column, record: &'a dyn Record) -> Result<&'a Value, FilterError> {
    record
        .value(column)
        .ok_or_else(|| FilterError::MissingColumn(column.to_string()))
}

fn holds(op: CmpOp, order: Ordering) -> bool {
    match op {
        CmpOp::Eq => order == Ordering::Equal,
        CmpOp::Ne => order != Ordering::Equal,
        CmpOp::Lt => order == Ordering::Less,
        CmpOp::Le => order != Ordering::Greater,
        CmpOp::Gt => order == Ordering::Greater,
        CmpOp::Ge => order != Ordering::Less,
    }
}

/// SQL IN: TRUE if some item equals the value; else UNKNOWN if the value or an item is NULL;
/// else FALSE.
fn in_list(value: &Value, list: &[Value]) -> Result<Option<bool>, FilterError> {
    let mut result = Some(false);
    for item in list {
        match compare_values(value, false, item, true)? {
            Some(Ordering::Equal) => return Ok(Some(true)),
            None => result = None,
            Some(_) => {}
        }
    }
    Ok(result)
}

/// SQL LIKE without an escape character, as Trino evaluates it: case-sensitive, `%` matches
/// any run of characters (also none), `_` exactly one character, everything else itself.
/// (Export ZOQL documents `%` and `_` the same way; whether Zuora compares case-insensitively is
/// unconfirmed, which is why the planner re-checks a pushed ZOQL LIKE locally.)
pub fn like(text: &str, pattern: &str) -> bool {
    // Byte-wise when both are ASCII (the common case, no allocation); by character otherwise,
    // so that `_` matches one character, not one byte.
    if text.is_ascii() && pattern.is_ascii() {
        like_slices(text.as_bytes(), pattern.as_bytes(), b'%', b'_')
    } else {
        let text: Vec<char> = text.chars().collect();
        let pattern: Vec<char> = pattern.chars().collect();
        like_slices(&text, &pattern, '%', '_')
    }
}

/// Wildcard matching with one backtracking point: linear in practice, O(n·m) at worst.
fn like_slices<T: PartialEq + Copy>(text: &[T], pattern: &[T], percent: T, underscore: T) -> bool {
    let (mut t, mut p) = (0, 0);
    // The position after the last '%' seen, and the text position it was tried from.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == percent => {
                p += 1;
                backtrack = Some((p, t));
            }
            Some(&c) if c == underscore || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((after_percent, tried_from)) => {
                    p = after_percent;
                    t = tried_from + 1;
                    backtrack = Some((after_percent, t));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == percent)
}
