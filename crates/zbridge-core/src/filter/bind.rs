//! Column resolution, the one coercion rule, and value comparison, shared by rendering, planning
//! and local evaluation.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::FilterError;
use super::ast::{CmpOp, Column, Expr, Operand};
use crate::schema::{TableSchema, ValueKind};
use crate::time;
use crate::value::{Value, parse_decimal};

/// What a filter needs to know about a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column with its canonical spelling: unqualified for the base table's own fields,
    /// `Relation.Field` for a joined object's.
    pub column: Column,
    /// The kind of value it holds.
    pub kind: ValueKind,
    /// The service accepts it in a WHERE clause (describe `filterable`).
    pub filterable: bool,
    /// It belongs to a joined object, not to the base table.
    pub joined: bool,
}

/// Looks up columns for binding, rendering and planning.
pub trait ColumnResolver {
    /// Resolves a column: [`FilterError::UnknownColumn`] when there is no such column,
    /// [`FilterError::UnknownType`] when its type is outside the vocabulary.
    fn resolve(&self, column: &Column) -> Result<ColumnInfo, FilterError>;
}

impl<F: Fn(&Column) -> Result<ColumnInfo, FilterError>> ColumnResolver for F {
    fn resolve(&self, column: &Column) -> Result<ColumnInfo, FilterError> {
        self(column)
    }
}

/// A table's own fields: `Name` or `Account.Name` for table `Account`.
impl ColumnResolver for TableSchema {
    fn resolve(&self, column: &Column) -> Result<ColumnInfo, FilterError> {
        JoinedSchema {
            base: self,
            joined: Vec::new(),
        }
        .resolve(column)
    }
}

/// A base table and the schemas of the joined objects a filter may reach
/// (`BillToContact.FirstName`), keyed by relation name.
#[derive(Debug, Clone)]
pub struct JoinedSchema<'a> {
    /// The table queried.
    pub base: &'a TableSchema,
    /// `(relation name, target schema)` pairs, e.g. `("BillToContact", &contact)`.
    pub joined: Vec<(String, &'a TableSchema)>,
}

impl ColumnResolver for JoinedSchema<'_> {
    fn resolve(&self, column: &Column) -> Result<ColumnInfo, FilterError> {
        let unknown = || FilterError::UnknownColumn(column.to_string());
        let (table, relation) = match &column.relation {
            None => (self.base, None),
            Some(r) if r.eq_ignore_ascii_case(&self.base.name) => (self.base, None),
            Some(r) => {
                let (name, schema) = self
                    .joined
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(r))
                    .ok_or_else(unknown)?;
                (*schema, Some(name.clone()))
            }
        };
        let field = table.field(&column.name).ok_or_else(unknown)?;
        let kind = field
            .field_type
            .kind()
            .ok_or_else(|| FilterError::UnknownType {
                column: column.to_string(),
                type_name: field.field_type.name(),
            })?;
        Ok(ColumnInfo {
            joined: relation.is_some(),
            column: Column {
                relation,
                name: field.name.clone(),
            },
            kind,
            filterable: field.filterable,
        })
    }
}

/// The one coercion rule, used by rendering, planning and local evaluation alike: turns a
/// literal into a literal of `kind`, or fails.
///
/// | literal | text | boolean | integer / decimal | date | datetime |
/// |---|---|---|---|---|---|
/// | NULL | NULL | NULL | NULL | NULL | NULL |
/// | `'string'` | itself | `'true'`/`'false'`, any case | an integer if it fits, else an exact decimal | `YYYY-MM-DD` | any lenient datetime; no offset = UTC; a date alone = midnight UTC |
/// | number | ✗ | ✗ | itself | ✗ | ✗ |
/// | TRUE/FALSE | ✗ | itself | ✗ | ✗ | ✗ |
/// | `DATE` | ✗ | ✗ | ✗ | itself | midnight UTC |
/// | `TIMESTAMP` | ✗ | ✗ | ✗ | ✗ | itself |
///
/// Numbers are never turned into text (`Name = 5` is an error: quote the value), and a
/// timestamp is never cut to a date.
pub fn coerce_literal(literal: &Value, kind: ValueKind) -> Result<Value, FilterError> {
    let mismatch = || FilterError::TypeMismatch {
        left: kind.as_str().to_owned(),
        right: format!(
            "{} {}",
            kind_name(literal),
            super::ast::LiteralText(literal)
        ),
    };
    let invalid = |reason: String| FilterError::InvalidLiteral {
        literal: literal.to_string(),
        kind,
        reason,
    };
    match (literal, kind) {
        (Value::Null, _) => Ok(Value::Null),
        (v, k) if v.kind() == Some(k) => Ok(v.clone()),
        (Value::Integer(_), ValueKind::Decimal) | (Value::Decimal(_), ValueKind::Integer) => {
            Ok(literal.clone())
        }
        (Value::Date(d), ValueKind::DateTime) => Ok(Value::datetime(midnight_utc(*d))),
        (Value::Text(text), ValueKind::Boolean) => {
            if text.eq_ignore_ascii_case("true") {
                Ok(Value::Bool(true))
            } else if text.eq_ignore_ascii_case("false") {
                Ok(Value::Bool(false))
            } else {
                Err(invalid("expected 'true' or 'false'".into()))
            }
        }
        (Value::Text(text), ValueKind::Integer | ValueKind::Decimal) => {
            let text = text.trim();
            if let Ok(i) = text.parse::<i64>() {
                Ok(Value::Integer(i))
            } else {
                parse_decimal(text).map(Value::Decimal).map_err(invalid)
            }
        }
        (Value::Text(text), ValueKind::Date) => time::parse_date(text.trim())
            .map(Value::Date)
            .map_err(|e| invalid(e.to_string())),
        (Value::Text(text), ValueKind::DateTime) => {
            time::parse_datetime_as_written(text.trim(), chrono::FixedOffset::east_opt(0))
                .map(Value::DateTime)
                .map_err(|e| invalid(e.to_string()))
        }
        _ => Err(mismatch()),
    }
}

fn midnight_utc(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

pub(crate) fn kind_name(value: &Value) -> &'static str {
    value.kind().map_or("NULL", ValueKind::as_str)
}

/// Compares two values; `None` when either is null (SQL: the comparison is unknown). A side
/// marked as a literal is coerced to the other side's kind with [`coerce_literal`] when the
/// kinds differ. Integers and decimals compare numerically; text compares by Unicode code
/// point, case-sensitively, as Trino's `varchar` does.
pub(crate) fn compare_values(
    left: &Value,
    left_is_literal: bool,
    right: &Value,
    right_is_literal: bool,
) -> Result<Option<Ordering>, FilterError> {
    if left.is_null() || right.is_null() {
        return Ok(None);
    }
    if let Some(order) = direct_order(left, right) {
        return Ok(Some(order));
    }
    let mismatch = || FilterError::TypeMismatch {
        left: kind_name(left).to_owned(),
        right: kind_name(right).to_owned(),
    };
    // Coerce a literal side to the other side's kind; with two literals, whichever works.
    let mut first_error = None;
    let candidates = [
        (right_is_literal, right, left, false),
        (left_is_literal, left, right, true),
    ];
    for (is_literal, literal, other, literal_on_left) in candidates {
        let Some(kind) = other.kind().filter(|_| is_literal) else {
            continue;
        };
        match coerce_literal(literal, kind) {
            Ok(coerced) => {
                let order = if literal_on_left {
                    direct_order(&coerced, other)
                } else {
                    direct_order(other, &coerced)
                };
                if let Some(order) = order {
                    return Ok(Some(order));
                }
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or_else(mismatch))
}

/// The order of two values of comparable kinds, without coercion.
fn direct_order(left: &Value, right: &Value) -> Option<Ordering> {
    Some(match (left, right) {
        (Value::Text(a), Value::Text(b)) => a.as_str().cmp(b.as_str()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
        (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
        (Value::Integer(a), Value::Decimal(b)) => Decimal::from(*a).cmp(b),
        (Value::Decimal(a), Value::Integer(b)) => a.cmp(&Decimal::from(*b)),
        (Value::Date(a), Value::Date(b)) => a.cmp(b),
        (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
        _ => return None,
    })
}

/// Whether two kinds can be compared directly (column to column).
fn comparable(a: ValueKind, b: ValueKind) -> bool {
    let numeric = |k| matches!(k, ValueKind::Integer | ValueKind::Decimal);
    a == b || (numeric(a) && numeric(b))
}

/// Resolves every column, coerces every literal to the kind it is compared with, puts the column
/// on the left of column-to-literal comparisons, and checks that the expression is well typed.
///
/// The bound expression means the same as the original under local evaluation; renderers and
/// the planner work on it, and evaluation is faster on it (no per-row coercion).
pub fn bind(expr: &Expr, resolver: &dyn ColumnResolver) -> Result<Expr, FilterError> {
    Ok(match expr {
        Expr::And(parts) => Expr::And(bind_all(parts, resolver)?),
        Expr::Or(parts) => Expr::Or(bind_all(parts, resolver)?),
        Expr::Not(inner) => Expr::Not(Box::new(bind(inner, resolver)?)),
        Expr::Compare { left, op, right } => bind_compare(left, *op, right, resolver)?,
        Expr::In {
            column,
            list,
            negated,
        } => {
            let info = resolver.resolve(column)?;
            let list = list
                .iter()
                .map(|item| coerce_literal(item, info.kind))
                .collect::<Result<_, _>>()?;
            Expr::In {
                column: info.column,
                list,
                negated: *negated,
            }
        }
        Expr::Like {
            column,
            pattern,
            negated,
        } => {
            let info = resolver.resolve(column)?;
            if info.kind != ValueKind::Text {
                return Err(FilterError::TypeMismatch {
                    left: format!("{} column {}", info.kind, info.column),
                    right: "a LIKE pattern (LIKE needs a text column)".into(),
                });
            }
            Expr::Like {
                column: info.column,
                pattern: pattern.clone(),
                negated: *negated,
            }
        }
        Expr::IsNull { column, negated } => Expr::IsNull {
            column: resolver.resolve(column)?.column,
            negated: *negated,
        },
    })
}

fn bind_all(parts: &[Expr], resolver: &dyn ColumnResolver) -> Result<Vec<Expr>, FilterError> {
    parts.iter().map(|p| bind(p, resolver)).collect()
}

fn bind_compare(
    left: &Operand,
    op: CmpOp,
    right: &Operand,
    resolver: &dyn ColumnResolver,
) -> Result<Expr, FilterError> {
    match (left, right) {
        (Operand::Column(column), Operand::Literal(literal)) => {
            let info = resolver.resolve(column)?;
            Ok(Expr::compare(
                info.column,
                op,
                coerce_literal(literal, info.kind)?,
            ))
        }
        (Operand::Literal(literal), Operand::Column(column)) => {
            let info = resolver.resolve(column)?;
            Ok(Expr::compare(
                info.column,
                op.flipped(),
                coerce_literal(literal, info.kind)?,
            ))
        }
        (Operand::Column(a), Operand::Column(b)) => {
            let (a, b) = (resolver.resolve(a)?, resolver.resolve(b)?);
            if !comparable(a.kind, b.kind) {
                return Err(FilterError::TypeMismatch {
                    left: format!("{} column {}", a.kind, a.column),
                    right: format!("{} column {}", b.kind, b.column),
                });
            }
            Ok(Expr::Compare {
                left: Operand::Column(a.column),
                op,
                right: Operand::Column(b.column),
            })
        }
        (Operand::Literal(a), Operand::Literal(b)) => {
            // Checks the pair is comparable; a constant comparison stays as written.
            compare_values(a, true, b, true)?;
            let (a, b) = match (a.kind(), b.kind()) {
                (Some(ValueKind::Text), Some(kind)) => (coerce_literal(a, kind)?, b.clone()),
                (Some(kind), Some(ValueKind::Text)) => (a.clone(), coerce_literal(b, kind)?),
                _ => (a.clone(), b.clone()),
            };
            Ok(Expr::Compare {
                left: Operand::Literal(a),
                op,
                right: Operand::Literal(b),
            })
        }
    }
}
