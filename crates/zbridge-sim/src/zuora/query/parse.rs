//! Tokenizer and parser for Data Query SQL (a Trino subset) and for ZOQL / Export ZOQL.
//!
//! One grammar serves the three dialects; [`Dialect`] rejects what a dialect does not have
//! (ZOQL has no joins, no `IN`, no `TIMESTAMP` literals; plain ZOQL has no `*` and no `ORDER BY`).

use std::fmt;

/// Which language a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Data Query (Trino SQL).
    Sql,
    /// AQuA `zoqlexport`.
    ZoqlExport,
    /// AQuA `zoql` and `/v1/action/query`.
    Zoql,
}

/// A syntax error, with the position in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Character offset.
    pub pos: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line 1:{}: {}", self.pos + 1, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
    Eof,
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, m: &str| ParseError {
        pos,
        message: m.to_string(),
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push((Tok::Num(chars[start..i].iter().collect()), start));
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let quote = c;
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(err(start, "unterminated quoted text")),
                    Some(&q) if q == quote => {
                        if chars.get(i + 1) == Some(&quote) {
                            s.push(quote);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push((
                if quote == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                },
                start,
            ));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = match two.as_str() {
            "!=" => Some("!="),
            "<>" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            _ => None,
        };
        if let Some(s) = sym {
            out.push((Tok::Sym(s), start));
            i += 2;
            continue;
        }
        let one = match c {
            ',' => ",",
            '(' => "(",
            ')' => ")",
            '.' => ".",
            '*' => "*",
            '=' => "=",
            '<' => "<",
            '>' => ">",
            ';' => ";",
            '-' => "-",
            '+' => "+",
            _ => return Err(err(start, &format!("unexpected character '{c}'"))),
        };
        out.push((Tok::Sym(one), start));
        i += 1;
    }
    out.push((Tok::Eof, chars.len()));
    Ok(out)
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An expression as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a`, `t.a`, `BillToContact.FirstName`.
    Column(Vec<String>),
    /// `'text'`.
    Str(String),
    /// `12`, `-1.5`.
    Num(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `TIMESTAMP '…'` (SQL only).
    Timestamp(String),
    /// `DATE '…'` (SQL only).
    Date(String),
    /// `a < b`.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `a AND b`.
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`.
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `a IS [NOT] NULL` (the flag is true for NOT).
    IsNull(Box<Expr>, bool),
    /// `a [NOT] IN (…)`.
    In(Box<Expr>, Vec<Expr>, bool),
    /// `a [NOT] LIKE 'p'`.
    Like(Box<Expr>, String, bool),
    /// `a [NOT] BETWEEN x AND y`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `count(*)` and other calls.
    Call(String, Vec<Expr>),
    /// `*` as a call argument.
    Star,
}

/// One item of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`.
    Star,
    /// `t.*` or `BillToContact.*`.
    QualifiedStar(String),
    /// An expression with an optional alias.
    Expr(Expr, Option<String>),
}

/// A table in FROM or JOIN.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    /// Table or object name.
    pub name: String,
    /// Alias.
    pub alias: Option<String>,
}

/// `[LEFT] JOIN t ON …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// LEFT (OUTER) join.
    pub left: bool,
    /// Joined table.
    pub table: TableRef,
    /// Join condition.
    pub on: Expr,
}

/// A SELECT statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// Select list.
    pub items: Vec<SelectItem>,
    /// Base table.
    pub from: TableRef,
    /// Joins (SQL only).
    pub joins: Vec<Join>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// ORDER BY, true = descending.
    pub order_by: Vec<(Expr, bool)>,
    /// LIMIT.
    pub limit: Option<u64>,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// SELECT.
    Select(Select),
    /// `SHOW TABLES`.
    ShowTables,
    /// `DESCRIBE t`, `DESC t`, `SHOW COLUMNS FROM t`.
    Describe(String),
}

/// Parses one statement.
pub fn parse(src: &str, dialect: Dialect) -> Result<Statement, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        dialect,
    };
    let stmt = p.statement()?;
    if p.peek_sym(";") {
        p.i += 1;
    }
    match p.peek() {
        Tok::Eof => Ok(stmt),
        other => Err(p.error(&format!("mismatched input '{}'", show(other)))),
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Num(s) => s.clone(),
        Tok::Quoted(s) => format!("\"{s}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Sym(s) => (*s).to_string(),
        Tok::Eof => "<EOF>".into(),
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    dialect: Dialect,
}

const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "order", "by", "limit", "join", "left", "inner",
    "outer", "on", "as", "is", "null", "in", "like", "between", "asc", "desc", "group", "having",
    "right", "full", "cross",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn pos(&self) -> usize {
        self.toks[self.i].1
    }

    fn error(&self, m: &str) -> ParseError {
        ParseError {
            pos: self.pos(),
            message: m.to_string(),
        }
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn peek_kw_at(&self, offset: usize, kw: &str) -> bool {
        matches!(self.toks.get(self.i + offset), Some((Tok::Ident(s), _)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), ParseError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error(&format!(
                "expected {} but found '{}'",
                kw.to_uppercase(),
                show(self.peek())
            )))
        }
    }

    fn peek_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.peek_sym(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), ParseError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{s}' but found '{}'", show(self.peek()))))
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&s)) => {
                self.i += 1;
                Ok(s)
            }
            Tok::Quoted(s) => {
                self.i += 1;
                Ok(s)
            }
            other => Err(self.error(&format!("expected a name but found '{}'", show(&other)))),
        }
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        if self.dialect == Dialect::Sql {
            if self.eat_kw("show") {
                if self.eat_kw("tables") {
                    return Ok(Statement::ShowTables);
                }
                self.expect_kw("columns")?;
                if !self.eat_kw("from") {
                    self.expect_kw("in")?;
                }
                return Ok(Statement::Describe(self.name()?));
            }
            if self.eat_kw("describe") || self.eat_kw("desc") {
                return Ok(Statement::Describe(self.name()?));
            }
        }
        self.select().map(Statement::Select)
    }

    fn select(&mut self) -> Result<Select, ParseError> {
        if !self.eat_kw("select") {
            return Err(self.error("You must specify a select."));
        }
        let mut items = Vec::new();
        loop {
            items.push(self.select_item()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_kw("from")?;
        let from = self.table_ref()?;
        let mut joins = Vec::new();
        loop {
            let left = if self.peek_kw("left") {
                self.i += 1;
                self.eat_kw("outer");
                true
            } else if self.peek_kw("inner") {
                self.i += 1;
                false
            } else {
                false
            };
            if !self.eat_kw("join") {
                if left {
                    return Err(self.error("expected JOIN"));
                }
                break;
            }
            if self.dialect != Dialect::Sql {
                return Err(
                    self.error("JOIN is not supported; use dot notation for joined objects")
                );
            }
            let table = self.table_ref()?;
            self.expect_kw("on")?;
            let on = self.expr()?;
            joins.push(Join { left, table, on });
        }
        let filter = if self.eat_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        if self.peek_kw("group") {
            return Err(self.error("GROUP BY is not supported by this simulator"));
        }
        let mut order_by = Vec::new();
        if self.eat_kw("order") {
            if self.dialect == Dialect::Zoql {
                return Err(self.error("ORDER BY is not supported in ZOQL"));
            }
            self.expect_kw("by")?;
            loop {
                let e = self.expr()?;
                let desc = if self.eat_kw("desc") {
                    true
                } else {
                    self.eat_kw("asc");
                    false
                };
                order_by.push((e, desc));
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let limit = if self.eat_kw("limit") {
            match self.peek().clone() {
                Tok::Num(n) => {
                    self.i += 1;
                    Some(
                        n.parse::<u64>()
                            .map_err(|_| self.error("LIMIT needs a whole number"))?,
                    )
                }
                other => {
                    return Err(
                        self.error(&format!("LIMIT needs a number, found '{}'", show(&other)))
                    );
                }
            }
        } else {
            None
        };
        Ok(Select {
            items,
            from,
            joins,
            filter,
            order_by,
            limit,
        })
    }

    fn select_item(&mut self) -> Result<SelectItem, ParseError> {
        if self.eat_sym("*") {
            if self.dialect == Dialect::Zoql {
                return Err(self.error("'*' is not supported in ZOQL"));
            }
            return Ok(SelectItem::Star);
        }
        // `name.*`
        if matches!(self.peek(), Tok::Ident(_) | Tok::Quoted(_))
            && matches!(self.toks.get(self.i + 1), Some((Tok::Sym("."), _)))
            && matches!(self.toks.get(self.i + 2), Some((Tok::Sym("*"), _)))
        {
            if self.dialect == Dialect::Zoql {
                return Err(self.error("'*' is not supported in ZOQL"));
            }
            let q = self.name()?;
            self.i += 2;
            return Ok(SelectItem::QualifiedStar(q));
        }
        let e = self.expr()?;
        let alias = if self.eat_kw("as") {
            Some(match self.peek().clone() {
                Tok::Str(s) => {
                    self.i += 1;
                    s
                }
                _ => self.name()?,
            })
        } else if matches!(self.peek(), Tok::Ident(s) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)))
            || matches!(self.peek(), Tok::Quoted(_))
        {
            Some(self.name()?)
        } else {
            None
        };
        Ok(SelectItem::Expr(e, alias))
    }

    fn table_ref(&mut self) -> Result<TableRef, ParseError> {
        let mut name = self.name()?;
        // Qualified names such as `zuora.account` keep the last part.
        while self.eat_sym(".") {
            name = self.name()?;
        }
        let alias = if self.eat_kw("as")
            || self.dialect == Dialect::Sql
                && matches!(self.peek(), Tok::Ident(s) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)))
        {
            Some(self.name()?)
        } else {
            None
        };
        Ok(TableRef { name, alias })
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("or") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not_expr()?;
        while self.eat_kw("and") {
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, ParseError> {
        let left = self.primary()?;
        if self.eat_kw("is") {
            let neg = self.eat_kw("not");
            self.expect_kw("null")?;
            return Ok(Expr::IsNull(Box::new(left), neg));
        }
        let neg = self.peek_kw("not")
            && (self.peek_kw_at(1, "in")
                || self.peek_kw_at(1, "like")
                || self.peek_kw_at(1, "between"));
        if neg {
            self.i += 1;
        }
        if self.eat_kw("in") {
            if self.dialect != Dialect::Sql {
                return Err(self.error("the IN operator is not supported in ZOQL"));
            }
            self.expect_sym("(")?;
            let mut list = Vec::new();
            loop {
                list.push(self.primary()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            return Ok(Expr::In(Box::new(left), list, neg));
        }
        if self.eat_kw("like") {
            let pattern = match self.peek().clone() {
                Tok::Str(s) => {
                    self.i += 1;
                    s
                }
                other => {
                    return Err(self.error(&format!(
                        "LIKE needs a quoted pattern, found '{}'",
                        show(&other)
                    )));
                }
            };
            if self.dialect != Dialect::Sql {
                let wildcards = pattern.matches('%').count();
                if wildcards > 1
                    || (wildcards == 1 && !pattern.starts_with('%') && !pattern.ends_with('%'))
                {
                    return Err(self.error(
                        "'%' may appear only once, at the start or the end of a LIKE pattern",
                    ));
                }
            }
            return Ok(Expr::Like(Box::new(left), pattern, neg));
        }
        if self.eat_kw("between") {
            let lo = self.primary()?;
            self.expect_kw("and")?;
            let hi = self.primary()?;
            return Ok(Expr::Between(
                Box::new(left),
                Box::new(lo),
                Box::new(hi),
                neg,
            ));
        }
        if neg {
            return Err(self.error("expected IN, LIKE or BETWEEN after NOT"));
        }
        let op = match self.peek() {
            Tok::Sym("=") => CmpOp::Eq,
            Tok::Sym("!=") => CmpOp::Ne,
            Tok::Sym("<") => CmpOp::Lt,
            Tok::Sym("<=") => CmpOp::Le,
            Tok::Sym(">") => CmpOp::Gt,
            Tok::Sym(">=") => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.i += 1;
        let right = self.primary()?;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let tok = self.peek().clone();
        match tok {
            Tok::Sym("(") => {
                self.i += 1;
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Sym("-") => {
                self.i += 1;
                match self.peek().clone() {
                    Tok::Num(n) => {
                        self.i += 1;
                        Ok(Expr::Num(format!("-{n}")))
                    }
                    other => Err(self.error(&format!(
                        "expected a number after '-', found '{}'",
                        show(&other)
                    ))),
                }
            }
            Tok::Sym("*") => {
                self.i += 1;
                Ok(Expr::Star)
            }
            Tok::Str(s) => {
                self.i += 1;
                Ok(Expr::Str(s))
            }
            Tok::Num(n) => {
                self.i += 1;
                Ok(Expr::Num(n))
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("null") => {
                self.i += 1;
                Ok(Expr::Null)
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                self.i += 1;
                Ok(Expr::Bool(w.eq_ignore_ascii_case("true")))
            }
            Tok::Ident(w)
                if (w.eq_ignore_ascii_case("timestamp") || w.eq_ignore_ascii_case("date"))
                    && matches!(self.toks.get(self.i + 1), Some((Tok::Str(_), _))) =>
            {
                if self.dialect != Dialect::Sql {
                    return Err(self.error(&format!(
                        "{} literals are not supported in ZOQL",
                        w.to_uppercase()
                    )));
                }
                self.i += 1;
                let Tok::Str(s) = self.peek().clone() else {
                    return Err(self.error("expected a quoted literal"));
                };
                self.i += 1;
                Ok(if w.eq_ignore_ascii_case("date") {
                    Expr::Date(s)
                } else {
                    Expr::Timestamp(s)
                })
            }
            Tok::Ident(_) | Tok::Quoted(_) => {
                let first = self.name()?;
                if self.eat_sym("(") {
                    let mut args = Vec::new();
                    if !self.eat_sym(")") {
                        loop {
                            args.push(self.expr()?);
                            if !self.eat_sym(",") {
                                break;
                            }
                        }
                        self.expect_sym(")")?;
                    }
                    return Ok(Expr::Call(first.to_ascii_lowercase(), args));
                }
                let mut parts = vec![first];
                while self.peek_sym(".")
                    && !matches!(self.toks.get(self.i + 1), Some((Tok::Sym("*"), _)))
                {
                    self.i += 1;
                    parts.push(self.name()?);
                }
                Ok(Expr::Column(parts))
            }
            other => Err(self.error(&format!("unexpected '{}'", show(&other)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_data_query_example() {
        let s = parse(
            "SELECT accountnumber, balance FROM Account WHERE Account.balance > 100",
            Dialect::Sql,
        )
        .unwrap();
        let Statement::Select(sel) = s else { panic!() };
        assert_eq!(sel.items.len(), 2);
        assert_eq!(sel.from.name, "Account");
        assert!(matches!(sel.filter, Some(Expr::Cmp(CmpOp::Gt, _, _))));
    }

    #[test]
    fn parses_joins_in_like_timestamps_order_and_limit() {
        let q = "select a.name, s.name as sub from account a left join subscription s on s.accountid = a.id \
                 where a.status in ('Active','Draft') and a.name like 'Blue%' and a.updateddate >= TIMESTAMP '2026-01-01 00:00:00 +00:00' \
                 and not (a.crmid is null) order by a.name desc, s.name limit 10";
        let Statement::Select(sel) = parse(q, Dialect::Sql).unwrap() else {
            panic!()
        };
        assert_eq!(sel.joins.len(), 1);
        assert!(sel.joins[0].left);
        assert_eq!(sel.order_by.len(), 2);
        assert!(sel.order_by[0].1);
        assert_eq!(sel.limit, Some(10));
    }

    #[test]
    fn show_and_describe() {
        assert_eq!(
            parse("SHOW TABLES", Dialect::Sql).unwrap(),
            Statement::ShowTables
        );
        assert_eq!(
            parse("describe account", Dialect::Sql).unwrap(),
            Statement::Describe("account".into())
        );
        assert_eq!(
            parse("SHOW COLUMNS FROM invoice;", Dialect::Sql).unwrap(),
            Statement::Describe("invoice".into())
        );
    }

    #[test]
    fn zoql_rejects_what_it_lacks() {
        assert!(
            parse(
                "select Id from Account where Id in ('a')",
                Dialect::ZoqlExport
            )
            .is_err()
        );
        assert!(
            parse(
                "select Id from Account where UpdatedDate > TIMESTAMP '2026-01-01 00:00:00'",
                Dialect::ZoqlExport
            )
            .is_err()
        );
        assert!(parse("select * from Account", Dialect::Zoql).is_err());
        assert!(parse("select Id from Account order by Id", Dialect::Zoql).is_err());
        assert!(
            parse(
                "select Id from Account where Name like 'a%b'",
                Dialect::ZoqlExport
            )
            .is_err()
        );
        assert!(
            parse(
                "select Account.Id, BillToContact.* from Account where Name like '%Labs'",
                Dialect::ZoqlExport
            )
            .is_ok()
        );
    }

    #[test]
    fn doubled_quotes_escape() {
        let Statement::Select(sel) = parse(
            "select Id from Contact where LastName = 'O''Brien'",
            Dialect::Zoql,
        )
        .unwrap() else {
            panic!()
        };
        assert!(
            matches!(sel.filter, Some(Expr::Cmp(_, _, r)) if *r == Expr::Str("O'Brien".into()))
        );
    }

    proptest! {
        #[test]
        fn string_literals_round_trip(s in "[ -~]{0,20}") {
            let q = format!("select Id from Account where Name = '{}'", s.replace('\'', "''"));
            let Statement::Select(sel) = parse(&q, Dialect::ZoqlExport).unwrap() else { panic!() };
            prop_assert!(matches!(sel.filter, Some(Expr::Cmp(_, _, r)) if *r == Expr::Str(s.clone())));
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,60}") {
            let _ = parse(&s, Dialect::Sql);
            let _ = parse(&s, Dialect::ZoqlExport);
        }
    }
}
