//! Rendering a filter as Data Query SQL (Trino) or Export ZOQL.
//!
//! Both renderers bind the expression first ([`bind`]), so literals appear in the type of the
//! column they are compared with. They render what they are given or fail: deciding what to push
//! down is the planner's job ([`split`](super::split)), and everything the planner pushes renders.

use super::FilterError;
use super::ast::{CmpOp, Column, Expr, Operand, quote_string};
use super::bind::{ColumnResolver, bind};
use super::plan::{Dialect, zoql_like_pattern_ok, zoql_string_ok};
use crate::time;
use crate::value::Value;

/// Renders the expression as a Data Query (Trino 351) WHERE clause body.
///
/// Columns are lower case, double-quoted when not plain identifiers or when reserved; strings
/// are single-quoted with `''`; datetimes are `TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.f] +00:00'`;
/// dates `DATE 'YYYY-MM-DD'`. A column of a joined object is an error: a Data Query is over
/// one table.
pub fn to_trino_sql(expr: &Expr, resolver: &dyn ColumnResolver) -> Result<String, FilterError> {
    let bound = bind(expr, resolver)?;
    let mut out = String::new();
    Trino { resolver }.expr(&bound, &mut out)?;
    Ok(out)
}

/// Renders the expression as an Export ZOQL WHERE clause body (also valid plain ZOQL when no
/// joined column is used).
///
/// `IN` becomes an `or` chain of `=`, `NOT IN` an `and` chain of `!=`; datetimes are
/// `'YYYY-MM-DDTHH:MM:SSZ'` (never space-separated); `LIKE` only when `%` appears at most once,
/// at the start or the end. Errors for what ZOQL cannot express faithfully: NULL literals in
/// comparisons, fractional seconds, other LIKE patterns, comparisons between two literals,
/// strings with backslashes or control characters (ZOQL's escaping of them is undocumented).
pub fn to_export_zoql(expr: &Expr, resolver: &dyn ColumnResolver) -> Result<String, FilterError> {
    let bound = bind(expr, resolver)?;
    let mut out = String::new();
    Zoql { resolver }.expr(&bound, &mut out)?;
    Ok(out)
}

/// Trino words that must be quoted as identifiers (reserved keywords of Trino 351).
const TRINO_RESERVED: &[&str] = &[
    "alter",
    "and",
    "as",
    "between",
    "by",
    "case",
    "cast",
    "constraint",
    "create",
    "cross",
    "cube",
    "current_date",
    "current_path",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "deallocate",
    "delete",
    "describe",
    "distinct",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "execute",
    "exists",
    "extract",
    "false",
    "for",
    "from",
    "full",
    "group",
    "grouping",
    "having",
    "in",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "left",
    "like",
    "listagg",
    "localtime",
    "localtimestamp",
    "natural",
    "normalize",
    "not",
    "null",
    "on",
    "or",
    "order",
    "outer",
    "prepare",
    "recursive",
    "right",
    "rollup",
    "select",
    "skip",
    "table",
    "then",
    "true",
    "uescape",
    "union",
    "unnest",
    "using",
    "values",
    "when",
    "where",
    "with",
];

struct Trino<'a> {
    resolver: &'a dyn ColumnResolver,
}

impl Trino<'_> {
    fn unsupported(what: String) -> FilterError {
        FilterError::Unsupported {
            dialect: Dialect::DataQuery,
            what,
        }
    }

    fn expr(&self, expr: &Expr, out: &mut String) -> Result<(), FilterError> {
        match expr {
            Expr::And(parts) => self.joined(parts, " AND ", out),
            Expr::Or(parts) => self.joined(parts, " OR ", out),
            Expr::Not(inner) => {
                out.push_str("NOT (");
                self.expr(inner, out)?;
                out.push(')');
                Ok(())
            }
            Expr::Compare { left, op, right } => {
                self.operand(left, out)?;
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                self.operand(right, out)
            }
            Expr::In {
                column,
                list,
                negated,
            } => {
                self.column(column, out)?;
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&trino_literal(item));
                }
                out.push(')');
                Ok(())
            }
            Expr::Like {
                column,
                pattern,
                negated,
            } => {
                self.column(column, out)?;
                out.push_str(if *negated { " NOT LIKE " } else { " LIKE " });
                out.push_str(&quote_string(pattern));
                Ok(())
            }
            Expr::IsNull { column, negated } => {
                self.column(column, out)?;
                out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
                Ok(())
            }
        }
    }

    fn joined(&self, parts: &[Expr], separator: &str, out: &mut String) -> Result<(), FilterError> {
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(separator);
            }
            let nested = matches!(part, Expr::And(_) | Expr::Or(_));
            if nested {
                out.push('(');
            }
            self.expr(part, out)?;
            if nested {
                out.push(')');
            }
        }
        Ok(())
    }

    fn operand(&self, operand: &Operand, out: &mut String) -> Result<(), FilterError> {
        match operand {
            Operand::Column(column) => self.column(column, out),
            Operand::Literal(value) => {
                out.push_str(&trino_literal(value));
                Ok(())
            }
        }
    }

    fn column(&self, column: &Column, out: &mut String) -> Result<(), FilterError> {
        let info = self.resolver.resolve(column)?;
        if info.joined {
            return Err(Self::unsupported(format!(
                "the joined column {column} (a Data Query filter is over one table)"
            )));
        }
        let name = info.column.name.to_lowercase();
        let plain =
            super::ast::is_plain_identifier(&name) && !TRINO_RESERVED.contains(&name.as_str());
        if plain {
            out.push_str(&name);
        } else {
            out.push('"');
            out.push_str(&name.replace('"', "\"\""));
            out.push('"');
        }
        Ok(())
    }
}

fn trino_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Integer(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) => quote_string(t),
        Value::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
        Value::DateTime(t) => time::data_query_literal(t.to_utc()),
    }
}

struct Zoql<'a> {
    resolver: &'a dyn ColumnResolver,
}

impl Zoql<'_> {
    fn unsupported(what: String) -> FilterError {
        FilterError::Unsupported {
            dialect: Dialect::ExportZoql,
            what,
        }
    }

    fn expr(&self, expr: &Expr, out: &mut String) -> Result<(), FilterError> {
        match expr {
            Expr::And(parts) => self.joined(parts, " and ", out),
            Expr::Or(parts) => self.joined(parts, " or ", out),
            Expr::Not(inner) => {
                out.push_str("not (");
                self.expr(inner, out)?;
                out.push(')');
                Ok(())
            }
            Expr::Compare { left, op, right } => match (left, right) {
                (Operand::Column(column), Operand::Literal(value)) => {
                    self.comparison(column, *op, value, out)
                }
                (Operand::Column(a), Operand::Column(b)) => {
                    self.column(a, out)?;
                    out.push_str(&format!(" {} ", op.as_str()));
                    self.column(b, out)
                }
                _ => Err(Self::unsupported(format!(
                    "a comparison without a column: {expr}"
                ))),
            },
            Expr::In {
                column,
                list,
                negated,
            } => {
                let (op, separator) = if *negated {
                    (CmpOp::Ne, " and ")
                } else {
                    (CmpOp::Eq, " or ")
                };
                if list.len() > 1 {
                    out.push('(');
                }
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    self.comparison(column, op, item, out)?;
                }
                if list.len() > 1 {
                    out.push(')');
                }
                Ok(())
            }
            Expr::Like {
                column,
                pattern,
                negated,
            } => {
                if !zoql_like_pattern_ok(pattern) || !zoql_string_ok(pattern) {
                    return Err(Self::unsupported(format!(
                        "the LIKE pattern {} (% only once, at the start or the end)",
                        quote_string(pattern)
                    )));
                }
                if *negated {
                    out.push_str("not (");
                }
                self.column(column, out)?;
                out.push_str(" like ");
                out.push_str(&quote_string(pattern));
                if *negated {
                    out.push(')');
                }
                Ok(())
            }
            Expr::IsNull { column, negated } => {
                self.column(column, out)?;
                out.push_str(if *negated { " is not null" } else { " is null" });
                Ok(())
            }
        }
    }

    fn joined(&self, parts: &[Expr], separator: &str, out: &mut String) -> Result<(), FilterError> {
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(separator);
            }
            let nested = matches!(part, Expr::And(_) | Expr::Or(_));
            if nested {
                out.push('(');
            }
            self.expr(part, out)?;
            if nested {
                out.push(')');
            }
        }
        Ok(())
    }

    fn comparison(
        &self,
        column: &Column,
        op: CmpOp,
        value: &Value,
        out: &mut String,
    ) -> Result<(), FilterError> {
        let literal = zoql_literal(value).map_err(Self::unsupported)?;
        self.column(column, out)?;
        out.push(' ');
        out.push_str(op.as_str());
        out.push(' ');
        out.push_str(&literal);
        Ok(())
    }

    fn column(&self, column: &Column, out: &mut String) -> Result<(), FilterError> {
        let info = self.resolver.resolve(column)?;
        // ZOQL names are identifiers; anything else cannot be written in ZOQL at all.
        let parts = info
            .column
            .relation
            .iter()
            .chain(std::iter::once(&info.column.name));
        for (i, part) in parts.enumerate() {
            if !super::ast::is_plain_identifier(part) {
                return Err(Self::unsupported(format!("the column name {column}")));
            }
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
        Ok(())
    }
}

fn zoql_literal(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::Null => return Err("a comparison with NULL (use IS NULL)".into()),
        Value::Bool(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) if zoql_string_ok(t) => quote_string(t),
        Value::Text(t) => {
            return Err(format!(
                "the string {} (backslashes and control characters)",
                quote_string(t)
            ));
        }
        Value::Date(d) => format!("'{}'", d.format("%Y-%m-%d")),
        Value::DateTime(t) => time::export_zoql_literal(t.to_utc()).map_err(|e| e.to_string())?,
    })
}
