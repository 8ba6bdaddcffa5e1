//! The filter AST and its canonical text form.

use std::fmt;

use crate::time;
use crate::value::Value;

/// A column reference, optionally qualified by a relation (`BillToContact.FirstName`).
/// Names are matched case-insensitively; the spelling is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// The relation (joined object) or table qualifier, if any.
    pub relation: Option<String>,
    /// The field name.
    pub name: String,
}

impl Column {
    /// An unqualified column.
    pub fn new(name: impl Into<String>) -> Column {
        Column {
            relation: None,
            name: name.into(),
        }
    }

    /// A column qualified by a relation or table name.
    pub fn qualified(relation: impl Into<String>, name: impl Into<String>) -> Column {
        Column {
            relation: Some(relation.into()),
            name: name.into(),
        }
    }

    /// The lower-case lookup key: `name` or `relation.name`.
    pub fn key(&self) -> String {
        match &self.relation {
            Some(relation) => format!("{relation}.{}", self.name).to_ascii_lowercase(),
            None => self.name.to_ascii_lowercase(),
        }
    }
}

/// A comparison operator. `<>` is read as [`CmpOp::Ne`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator's text (`!=` for not-equal).
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped: `a < b` ≡ `b > a`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// One side of a comparison. Literals are [`Value`]s; a [`Value::Text`] literal is a quoted
/// string, which is coerced to the type of what it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A column.
    Column(Column),
    /// A literal.
    Literal(Value),
}

/// A filter expression. `And` and `Or` hold at least two operands.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All operands hold.
    And(Vec<Expr>),
    /// At least one operand holds.
    Or(Vec<Expr>),
    /// Negation (three-valued: NOT unknown is unknown).
    Not(Box<Expr>),
    /// `left op right`.
    Compare {
        /// Left operand.
        left: Operand,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        right: Operand,
    },
    /// `column [NOT] IN (literal, …)`.
    In {
        /// The column tested.
        column: Column,
        /// The literals, at least one.
        list: Vec<Value>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `column [NOT] LIKE 'pattern'` with `%` (any run) and `_` (one character).
    Like {
        /// The column tested.
        column: Column,
        /// The pattern.
        pattern: String,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The column tested.
        column: Column,
        /// `IS NOT NULL`.
        negated: bool,
    },
}

impl Expr {
    /// `left op right` with a column on the left and a literal on the right.
    pub fn compare(column: Column, op: CmpOp, literal: Value) -> Expr {
        Expr::Compare {
            left: Operand::Column(column),
            op,
            right: Operand::Literal(literal),
        }
    }

    /// The conjunction of `parts`: `None` when empty, the part itself when single.
    pub fn and_all(mut parts: Vec<Expr>) -> Option<Expr> {
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(parts)),
        }
    }

    /// Every column the expression mentions, in order of appearance (with repeats).
    pub fn columns(&self) -> Vec<&Column> {
        let mut out = Vec::new();
        self.visit_columns(&mut |c| out.push(c));
        out
    }

    fn visit_columns<'a>(&'a self, f: &mut impl FnMut(&'a Column)) {
        match self {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| p.visit_columns(f)),
            Expr::Not(inner) => inner.visit_columns(f),
            Expr::Compare { left, right, .. } => {
                for side in [left, right] {
                    if let Operand::Column(c) = side {
                        f(c);
                    }
                }
            }
            Expr::In { column, .. } | Expr::Like { column, .. } | Expr::IsNull { column, .. } => {
                f(column)
            }
        }
    }
}

/// Words that must be double-quoted when used as identifiers.
pub(crate) const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "DATE",
    "TIMESTAMP",
];

pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write_identifier(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_plain_identifier(name) && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        f.write_str(name)
    } else {
        write!(f, "\"{}\"", name.replace('"', "\"\""))
    }
}

/// Writes `'text'` with single quotes doubled.
pub(crate) fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(relation) = &self.relation {
            write_identifier(f, relation)?;
            f.write_str(".")?;
        }
        write_identifier(f, &self.name)
    }
}

/// A literal in the zbridge filter syntax.
pub(crate) struct LiteralText<'a>(pub &'a Value);

impl fmt::Display for LiteralText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Null => f.write_str("NULL"),
            Value::Bool(true) => f.write_str("TRUE"),
            Value::Bool(false) => f.write_str("FALSE"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Decimal(d) => {
                // Always with a point, so that it reads back as a decimal, not an integer.
                let text = d.to_string();
                if text.contains('.') {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
            Value::Text(t) => f.write_str(&quote_string(t)),
            Value::Date(d) => write!(f, "DATE '{}'", d.format("%Y-%m-%d")),
            Value::DateTime(t) => write!(f, "TIMESTAMP '{}'", time::to_rfc3339(t.to_utc())),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Column(c) => c.fmt(f),
            Operand::Literal(v) => LiteralText(v).fmt(f),
        }
    }
}

/// The canonical form: upper-case keywords, `!=`, parentheses exactly where the structure
/// needs them (an `AND` or `OR` inside `AND`, an `OR` inside `OR`, either inside `NOT`), so
/// that parsing the text gives back the same tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(parts) => write_joined(f, parts, " AND ", |p| {
                matches!(p, Expr::And(_) | Expr::Or(_))
            }),
            Expr::Or(parts) => write_joined(f, parts, " OR ", |p| matches!(p, Expr::Or(_))),
            Expr::Not(inner) => {
                f.write_str("NOT ")?;
                write_maybe_parenthesised(f, inner, matches!(**inner, Expr::And(_) | Expr::Or(_)))
            }
            Expr::Compare { left, op, right } => write!(f, "{left} {} {right}", op.as_str()),
            Expr::In {
                column,
                list,
                negated,
            } => {
                write!(f, "{column} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    LiteralText(item).fmt(f)?;
                }
                f.write_str(")")
            }
            Expr::Like {
                column,
                pattern,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{column} {not}LIKE {}", quote_string(pattern))
            }
            Expr::IsNull { column, negated } => {
                write!(f, "{column} IS {}NULL", if *negated { "NOT " } else { "" })
            }
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    parts: &[Expr],
    separator: &str,
    needs_parentheses: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write_maybe_parenthesised(f, part, needs_parentheses(part))?;
    }
    Ok(())
}

fn write_maybe_parenthesised(
    f: &mut fmt::Formatter<'_>,
    expr: &Expr,
    parenthesise: bool,
) -> fmt::Result {
    if parenthesise {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}
