//! Splitting a filter into the part a Zuora service evaluates and the part evaluated locally.

use std::fmt;

use super::FilterError;
use super::ast::{CmpOp, Expr, Operand};
use super::bind::{ColumnResolver, bind};
use crate::schema::ValueKind;
use crate::value::Value;

/// The query language a filter is pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Data Query SQL (Trino 351).
    DataQuery,
    /// Export ZOQL (AQuA `zoqlexport`): joins through relations allowed.
    ExportZoql,
    /// Plain ZOQL (AQuA `zoql`, Actions query): one object, at most 200 conditions.
    Zoql,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::DataQuery => "Data Query",
            Dialect::ExportZoql => "Export ZOQL",
            Dialect::Zoql => "ZOQL",
        })
    }
}

/// The result of [`split`]: `pushed AND local` means exactly the original filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// What the service evaluates (render it with `to_trino_sql` or `to_export_zoql`); `None`
    /// when nothing can be pushed.
    pub pushed: Option<Expr>,
    /// What zbridge evaluates on each returned record; `None` when nothing is left.
    pub local: Option<Expr>,
}

/// Plain ZOQL accepts at most 200 WHERE conditions (zuora-api.md §7.11).
const ZOQL_MAX_CONDITIONS: usize = 200;

/// Splits a filter for a dialect (the expression is bound first, so unknown columns and type
/// errors are reported here).
///
/// The top-level `AND` is split into its conjuncts, and each conjunct is classified:
/// - **exact**: the service evaluates it exactly as zbridge does; it is pushed only;
/// - **superset**: the service's reading may also let through rows zbridge's would not (an
///   undocumented case-insensitivity, second-granularity datetimes); a weakened form is pushed
///   *and* the conjunct is kept locally, so the result stays exact;
/// - **local**: kept locally only.
///
/// An `AND` nested under `OR` pushes the conjuncts it can (dropping one only weakens it); an
/// `OR` is pushed only if every branch is; a `NOT` only if what it negates is exact (Data
/// Query), and never in ZOQL, whose NULL handling under `not` is undocumented.
///
/// Data Query rules: everything is exact except columns of joined objects (a Data Query is over
/// one table) and columns describe marks as not filterable, which stay local.
///
/// ZOQL rules (Export ZOQL; plain ZOQL also keeps joined columns local and caps the pushed
/// conditions at 200):
/// - only `column op literal` comparisons are pushed: field-to-field comparisons (whose type
///   coercions ZOQL does not document) and constant comparisons stay local;
/// - NULL literals, strings with backslashes or control characters stay local;
/// - text: `=` is superset (Zuora may compare case-insensitively); `!=`, `<`, `>`… stay local,
///   because a case-insensitive reading is not a superset of them;
/// - boolean: `=` exact, `!=` superset (ZOQL may keep NULLs), ordering stays local (ZOQL allows
///   only `=` and `!=` on booleans);
/// - numbers and dates: `=`, `<`, `<=`, `>`, `>=` exact, `!=` superset;
/// - datetimes (ZOQL compares whole seconds): a literal with a fraction stays local; `>=` and
///   `<` are exact; `<=` and `=` superset; `>` is pushed as `>=` (superset); `!=` stays local;
/// - `IN` is pushed (as an `or` chain) when every `=` is, `NOT IN` (an `and` chain of `!=`)
///   when every `!=` is; lists containing NULL stay local;
/// - `LIKE` is superset when `%` appears at most once, at the start or the end; otherwise, and
///   `NOT LIKE` always, local;
/// - `IS NULL` is exact except on text, where it is superset (`""` versus NULL) and
///   `IS NOT NULL` stays local;
/// - `IN`, `LIKE` and `IS NULL` on joined objects stay local ("beyond simple comparisons",
///   zuora-api.md §11); describe's non-filterable columns stay local.
pub fn split(
    expr: &Expr,
    dialect: Dialect,
    resolver: &dyn ColumnResolver,
) -> Result<Split, FilterError> {
    let bound = bind(expr, resolver)?;
    let planner = Planner { dialect, resolver };
    let mut pushed = Vec::new();
    let mut local = Vec::new();
    let mut conditions = 0;
    for conjunct in flatten_and(bound) {
        let mut push = planner.classify(&conjunct)?;
        if dialect == Dialect::Zoql {
            let count = match &push {
                Push::Exact(p) | Push::Superset(p) => count_conditions(p),
                Push::Local => 0,
            };
            if conditions + count > ZOQL_MAX_CONDITIONS {
                push = Push::Local;
            } else {
                conditions += count;
            }
        }
        match push {
            Push::Exact(p) => pushed.push(p),
            Push::Superset(p) => {
                pushed.push(p);
                local.push(conjunct);
            }
            Push::Local => local.push(conjunct),
        }
    }
    Ok(Split {
        pushed: Expr::and_all(pushed),
        local: Expr::and_all(local),
    })
}

fn flatten_and(expr: Expr) -> Vec<Expr> {
    match expr {
        Expr::And(parts) => parts.into_iter().flat_map(flatten_and).collect(),
        other => vec![other],
    }
}

fn count_conditions(expr: &Expr) -> usize {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().map(count_conditions).sum(),
        Expr::Not(inner) => count_conditions(inner),
        Expr::In { list, .. } => list.len(),
        _ => 1,
    }
}

/// How a (sub)expression can be pushed.
enum Push {
    Exact(Expr),
    Superset(Expr),
    Local,
}

impl Push {
    fn expr(self) -> Option<(Expr, bool)> {
        match self {
            Push::Exact(e) => Some((e, true)),
            Push::Superset(e) => Some((e, false)),
            Push::Local => None,
        }
    }

    fn from(expr: Expr, exact: bool) -> Push {
        if exact {
            Push::Exact(expr)
        } else {
            Push::Superset(expr)
        }
    }
}

/// A rule for one ZOQL comparison.
enum Rule {
    Exact,
    Superset(CmpOp),
    Local,
}

struct Planner<'a> {
    dialect: Dialect,
    resolver: &'a dyn ColumnResolver,
}

impl Planner<'_> {
    fn classify(&self, expr: &Expr) -> Result<Push, FilterError> {
        match expr {
            Expr::And(parts) => {
                let mut pushed = Vec::new();
                let mut exact = true;
                for part in parts {
                    match self.classify(part)?.expr() {
                        Some((p, part_exact)) => {
                            exact &= part_exact;
                            pushed.push(p);
                        }
                        None => exact = false,
                    }
                }
                Ok(Expr::and_all(pushed).map_or(Push::Local, |p| Push::from(p, exact)))
            }
            Expr::Or(parts) => {
                let mut pushed = Vec::new();
                let mut exact = true;
                for part in parts {
                    let Some((p, part_exact)) = self.classify(part)?.expr() else {
                        return Ok(Push::Local);
                    };
                    exact &= part_exact;
                    pushed.push(p);
                }
                Ok(Push::from(Expr::Or(pushed), exact))
            }
            Expr::Not(inner) => Ok(match (self.dialect, self.classify(inner)?) {
                (Dialect::DataQuery, Push::Exact(p)) => Push::Exact(Expr::Not(Box::new(p))),
                _ => Push::Local,
            }),
            leaf => self.classify_leaf(leaf),
        }
    }

    fn classify_leaf(&self, leaf: &Expr) -> Result<Push, FilterError> {
        let mut joined = false;
        for column in leaf.columns() {
            let info = self.resolver.resolve(column)?;
            if !info.filterable {
                return Ok(Push::Local);
            }
            joined |= info.joined;
        }
        match self.dialect {
            Dialect::DataQuery if joined => Ok(Push::Local),
            Dialect::DataQuery => Ok(Push::Exact(leaf.clone())),
            Dialect::Zoql if joined => Ok(Push::Local),
            Dialect::ExportZoql | Dialect::Zoql => self.classify_zoql_leaf(leaf, joined),
        }
    }

    fn classify_zoql_leaf(&self, leaf: &Expr, joined: bool) -> Result<Push, FilterError> {
        let local = Ok(Push::Local);
        match leaf {
            Expr::Compare {
                left: Operand::Column(column),
                op,
                right: Operand::Literal(value),
            } => {
                let kind = self.resolver.resolve(column)?.kind;
                Ok(match zoql_comparison(kind, *op, value) {
                    Rule::Exact => Push::Exact(leaf.clone()),
                    Rule::Superset(op) => {
                        Push::Superset(Expr::compare(column.clone(), op, value.clone()))
                    }
                    Rule::Local => Push::Local,
                })
            }
            Expr::Compare { .. } => local,
            _ if joined => local,
            Expr::In {
                column,
                list,
                negated,
            } => {
                if list.iter().any(Value::is_null) {
                    return local;
                }
                let kind = self.resolver.resolve(column)?.kind;
                let op = if *negated { CmpOp::Ne } else { CmpOp::Eq };
                let mut exact = true;
                for item in list {
                    match zoql_comparison(kind, op, item) {
                        Rule::Exact => {}
                        // = and != are never rewritten to another operator.
                        Rule::Superset(_) => exact = false,
                        Rule::Local => return local,
                    }
                }
                Ok(Push::from(leaf.clone(), exact))
            }
            Expr::Like {
                pattern,
                negated: false,
                ..
            } if zoql_like_pattern_ok(pattern) && zoql_string_ok(pattern) => {
                Ok(Push::Superset(leaf.clone()))
            }
            Expr::Like { .. } => local,
            Expr::IsNull { column, negated } => {
                let text = self.resolver.resolve(column)?.kind == ValueKind::Text;
                Ok(match (text, negated) {
                    (false, _) => Push::Exact(leaf.clone()),
                    (true, false) => Push::Superset(leaf.clone()),
                    (true, true) => Push::Local,
                })
            }
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) => local,
        }
    }
}

/// The ZOQL rule for `column op literal` on a column of `kind` (see [`split`]).
fn zoql_comparison(kind: ValueKind, op: CmpOp, literal: &Value) -> Rule {
    use CmpOp::*;
    match literal {
        Value::Null => return Rule::Local,
        Value::Text(text) if !zoql_string_ok(text) => return Rule::Local,
        Value::DateTime(t) if chrono::Timelike::nanosecond(t) != 0 => return Rule::Local,
        _ => {}
    }
    match (kind, op) {
        (ValueKind::Text, Eq) => Rule::Superset(Eq),
        (ValueKind::Text, _) => Rule::Local,
        (ValueKind::Boolean, Eq) => Rule::Exact,
        (ValueKind::Boolean, Ne) => Rule::Superset(Ne),
        (ValueKind::Boolean, _) => Rule::Local,
        (ValueKind::Integer | ValueKind::Decimal | ValueKind::Date, Ne) => Rule::Superset(Ne),
        (ValueKind::Integer | ValueKind::Decimal | ValueKind::Date, _) => Rule::Exact,
        (ValueKind::DateTime, Ge | Lt) => Rule::Exact,
        (ValueKind::DateTime, Le | Eq) => Rule::Superset(op),
        (ValueKind::DateTime, Gt) => Rule::Superset(Ge),
        (ValueKind::DateTime, Ne) => Rule::Local,
    }
}

/// Export ZOQL LIKE: `%` at most once, and then at the start or the end; `_` anywhere.
pub(crate) fn zoql_like_pattern_ok(pattern: &str) -> bool {
    match pattern.matches('%').count() {
        0 => true,
        1 => pattern.starts_with('%') || pattern.ends_with('%'),
        _ => false,
    }
}

/// Strings ZOQL is known to read back unchanged: no backslash, no control character.
pub(crate) fn zoql_string_ok(text: &str) -> bool {
    !text.chars().any(|c| c == '\\' || c.is_control())
}
