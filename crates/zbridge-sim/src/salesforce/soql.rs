//! The SOQL subset a sync needs: `SELECT` fields (including parent relationship paths and
//! `COUNT()`) `FROM` one object, `WHERE` with comparisons, `LIKE`, `IN`/`NOT IN`, `AND`, `OR`,
//! `NOT` and parentheses, `ORDER BY`, `LIMIT` and `OFFSET`. `UserPermissionAccess` answers the
//! running user's system permissions (salesforce-api.md §12.2).

use std::cmp::Ordering;

use chrono::DateTime;

use super::ids::SfId;
use super::org::{FieldAccess, Org};
use super::schema::{FieldType, SystemField};
use super::store::{RECYCLE_BIN_MS, Record, Value};
use super::write::parse_datetime;

/// A query error, with the REST `errorCode` to report.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

fn malformed(msg: impl Into<String>) -> QueryError {
    QueryError {
        code: "MALFORMED_QUERY",
        message: msg.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    DateLit(String),
    Punct(&'static str),
}

fn tokenize(q: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated string literal")),
                    Some('\\') => {
                        let escaped = chars.get(i + 1).ok_or_else(|| malformed("bad escape"))?;
                        s.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => *other,
                        });
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Token::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            let is_date = chars.len() >= start + 10 && chars[start + 4] == '-' && c != '-';
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || (is_date && matches!(chars[i], '-' | ':' | 'T' | 'Z' | '+')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            if is_date {
                out.push(Token::DateLit(text));
            } else {
                let n = text
                    .parse()
                    .map_err(|_| malformed(format!("bad number {text}")))?;
                out.push(Token::Num(n));
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let p = match two.as_str() {
                "!=" => Some("!="),
                "<>" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(p) = p {
                out.push(Token::Punct(p));
                i += 2;
                continue;
            }
            let p = match c {
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '=' => "=",
                '<' => "<",
                '>' => ">",
                _ => return Err(malformed(format!("unexpected character '{c}'"))),
            };
            out.push(Token::Punct(p));
            i += 1;
        }
    }
    Ok(out)
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Date(String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

/// A WHERE expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        path: String,
        op: Op,
        value: Literal,
    },
    In {
        path: String,
        negated: bool,
        values: Vec<Literal>,
    },
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub fields: Vec<String>,
    pub count: bool,
    pub object: String,
    pub filter: Option<Expr>,
    pub order: Vec<(String, bool, bool)>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(malformed(format!("expecting {kw}")))
        }
    }

    fn punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            other => Err(malformed(format!("unexpected token {other:?}"))),
        }
    }

    fn number(&mut self) -> Result<usize, QueryError> {
        match self.next() {
            Some(Token::Num(n)) if n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
            _ => Err(malformed("expecting a non-negative integer")),
        }
    }

    fn literal(&mut self) -> Result<Literal, QueryError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Num(n)) => Ok(Literal::Num(n)),
            Some(Token::DateLit(d)) => Ok(Literal::Date(d)),
            Some(Token::Ident(s)) if s.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Ident(s)) if s.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Ident(s)) if s.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            other => Err(malformed(format!("unexpected token {other:?}"))),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and_expr()?;
        while self.keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.punct("(") {
            let e = self.or_expr()?;
            if !self.punct(")") {
                return Err(malformed("expecting ')'"));
            }
            return Ok(e);
        }
        let path = self.ident()?;
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            if !self.punct("(") {
                return Err(malformed("expecting '(' after IN"));
            }
            let mut values = vec![self.literal()?];
            while self.punct(",") {
                values.push(self.literal()?);
            }
            if !self.punct(")") {
                return Err(malformed("expecting ')'"));
            }
            return Ok(Expr::In {
                path,
                negated,
                values,
            });
        }
        if negated {
            return Err(malformed("expecting IN after NOT"));
        }
        let op = if self.keyword("LIKE") {
            Op::Like
        } else {
            match self.next() {
                Some(Token::Punct("=")) => Op::Eq,
                Some(Token::Punct("!=")) => Op::Ne,
                Some(Token::Punct("<")) => Op::Lt,
                Some(Token::Punct("<=")) => Op::Le,
                Some(Token::Punct(">")) => Op::Gt,
                Some(Token::Punct(">=")) => Op::Ge,
                other => return Err(malformed(format!("unexpected token {other:?}"))),
            }
        };
        let value = self.literal()?;
        Ok(Expr::Cmp { path, op, value })
    }
}

/// Parses a query.
pub fn parse(q: &str) -> Result<Query, QueryError> {
    let mut p = Parser {
        tokens: tokenize(q)?,
        pos: 0,
    };
    p.expect_keyword("SELECT")?;
    let mut fields = Vec::new();
    let mut count = false;
    loop {
        let name = p.ident()?;
        if name.eq_ignore_ascii_case("COUNT") && p.punct("(") {
            if !p.punct(")") {
                return Err(malformed("only COUNT() is supported"));
            }
            count = true;
        } else {
            fields.push(name);
        }
        if !p.punct(",") {
            break;
        }
    }
    p.expect_keyword("FROM")?;
    let object = p.ident()?;
    let filter = if p.keyword("WHERE") {
        Some(p.or_expr()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.keyword("ORDER") {
        p.expect_keyword("BY")?;
        loop {
            let path = p.ident()?;
            let desc = if p.keyword("DESC") {
                true
            } else {
                p.keyword("ASC");
                false
            };
            let nulls_last = if p.keyword("NULLS") {
                if p.keyword("LAST") {
                    true
                } else {
                    p.expect_keyword("FIRST")?;
                    false
                }
            } else {
                desc
            };
            order.push((path, desc, nulls_last));
            if !p.punct(",") {
                break;
            }
        }
    }
    let limit = if p.keyword("LIMIT") {
        Some(p.number()?)
    } else {
        None
    };
    let offset = if p.keyword("OFFSET") {
        Some(p.number()?)
    } else {
        None
    };
    if let Some(t) = p.peek() {
        return Err(malformed(format!("unexpected token {t:?}")));
    }
    if count && !fields.is_empty() {
        return Err(malformed(
            "COUNT() must be the only element of the SELECT list",
        ));
    }
    Ok(Query {
        fields,
        count,
        object,
        filter,
        order,
        limit,
        offset,
    })
}

/// A field path resolved against the schema: the chain of `(object, field)` hops.
#[derive(Debug, Clone)]
struct Path {
    hops: Vec<(usize, usize)>,
}

/// The `INVALID_FIELD` error for a column the user cannot see or that does not exist.
pub fn invalid_field(name: &str, object: &str) -> QueryError {
    QueryError {
        code: "INVALID_FIELD",
        message: format!(
            "No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    }
}

fn resolve_path(org: &Org, user: usize, object: usize, path: &str) -> Result<Path, QueryError> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut hops = Vec::new();
    let mut current = object;
    for (i, part) in parts.iter().enumerate() {
        let def = &org.schema.objects[current];
        let last = i + 1 == parts.len();
        let field = if last {
            def.field(part)
        } else {
            def.relationship(part)
        };
        let field = field
            .filter(|&f| org.field_access(user, current, f) != FieldAccess::Hidden)
            .ok_or_else(|| invalid_field(part, &def.name))?;
        hops.push((current, field));
        if !last {
            current = def.fields[field]
                .reference_to
                .as_deref()
                .and_then(|t| org.schema.object(t))
                .ok_or_else(|| invalid_field(part, &def.name))?;
        }
    }
    Ok(Path { hops })
}

/// The value of one field of a record, including the platform-maintained fields.
pub fn field_value(org: &Org, object: usize, record: &Record, field: usize) -> Option<Value> {
    let def = &org.schema.objects[object].fields[field];
    let stamp = |ms: i64| {
        DateTime::from_timestamp_millis(ms).map(|_| Value::Text(super::org::stamp(ms).into()))
    };
    let user_id = |u: u16| org.users.get(u as usize).map(|u| Value::Ref(u.id));
    match def.system {
        SystemField::No => record.get(field).cloned(),
        SystemField::Id => Some(Value::Ref(record.id)),
        SystemField::IsDeleted => Some(Value::Bool(record.deleted)),
        SystemField::CreatedDate => stamp(record.created_ms),
        SystemField::LastModifiedDate | SystemField::SystemModstamp => stamp(record.modified_ms),
        SystemField::CreatedById => user_id(record.created_by),
        SystemField::LastModifiedById => user_id(record.modified_by),
    }
}

fn follow<'a>(org: &'a Org, record: &'a Record, path: &Path) -> Option<Value> {
    let mut current = record;
    for (i, &(object, field)) in path.hops.iter().enumerate() {
        let value = field_value(org, object, current, field)?;
        if i + 1 == path.hops.len() {
            return Some(value);
        }
        let Value::Ref(id) = value else { return None };
        let next_object = path.hops[i + 1].0;
        current = org.tables[next_object].get(&id)?;
    }
    None
}

fn like(value: &str, pattern: &str) -> bool {
    fn matches(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| matches(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && matches(&v[1..], rest),
            Some((c, rest)) => v.first().is_some_and(|x| x == c) && matches(&v[1..], rest),
        }
    }
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    matches(&v, &p)
}

fn compare(value: &Value, ftype: FieldType, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Value::Ref(id), Literal::Str(s)) => {
            let other = SfId::parse(s)?;
            Some(id.cmp(&other))
        }
        (Value::Text(t), Literal::Str(s)) | (Value::Text(t), Literal::Date(s)) => {
            if ftype == FieldType::DateTime {
                let lit = parse_datetime(s)?
                    .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
                    .to_string();
                Some(t.as_ref().cmp(lit.as_str()))
            } else {
                Some(t.to_lowercase().cmp(&s.to_lowercase()))
            }
        }
        (Value::Number(n), Literal::Num(m)) => n.partial_cmp(m),
        (Value::Bool(b), Literal::Bool(c)) => Some(b.cmp(c)),
        _ => None,
    }
}

fn eval(org: &Org, record: &Record, expr: &Expr, paths: &[(String, Path)]) -> bool {
    let lookup = |name: &str| paths.iter().find(|(n, _)| n == name).map(|(_, p)| p);
    let ftype_of = |p: &Path| {
        let (o, f) = *p.hops.last().unwrap_or(&(0, 0));
        org.schema.objects[o].fields[f].ftype
    };
    match expr {
        Expr::And(a, b) => eval(org, record, a, paths) && eval(org, record, b, paths),
        Expr::Or(a, b) => eval(org, record, a, paths) || eval(org, record, b, paths),
        Expr::Not(a) => !eval(org, record, a, paths),
        Expr::Cmp { path, op, value } => {
            let Some(p) = lookup(path) else { return false };
            let actual = follow(org, record, p);
            match (actual, value) {
                (None, Literal::Null) => *op == Op::Eq,
                (Some(_), Literal::Null) => *op == Op::Ne,
                (None, _) => *op == Op::Ne,
                (Some(v), lit) => {
                    if *op == Op::Like {
                        let (Value::Text(t), Literal::Str(pat)) = (&v, lit) else {
                            return false;
                        };
                        return like(t, pat);
                    }
                    match compare(&v, ftype_of(p), lit) {
                        None => *op == Op::Ne,
                        Some(ord) => match op {
                            Op::Eq => ord == Ordering::Equal,
                            Op::Ne => ord != Ordering::Equal,
                            Op::Lt => ord == Ordering::Less,
                            Op::Le => ord != Ordering::Greater,
                            Op::Gt => ord == Ordering::Greater,
                            Op::Ge => ord != Ordering::Less,
                            Op::Like => false,
                        },
                    }
                }
            }
        }
        Expr::In {
            path,
            negated,
            values,
        } => {
            let Some(p) = lookup(path) else { return false };
            let found = follow(org, record, p).is_some_and(|v| {
                values
                    .iter()
                    .any(|lit| compare(&v, ftype_of(p), lit) == Some(Ordering::Equal))
            });
            found != *negated
        }
    }
}

fn collect_paths(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            collect_paths(a, out);
            collect_paths(b, out);
        }
        Expr::Not(a) => collect_paths(a, out),
        Expr::Cmp { path, .. } | Expr::In { path, .. } => out.push(path.clone()),
    }
}

/// The result of running a query: every matching row as JSON, or only the count.
pub struct QueryResult {
    pub total: usize,
    pub rows: Vec<serde_json::Value>,
}

/// A query resolved against the schema for one user: the object and every field path it uses.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub object: usize,
    paths: Vec<(String, Path)>,
    select: Vec<Path>,
}

/// Which records a query sees: `query` sees live records, `queryAll` also the recycle bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Live,
    All,
}

fn unsupported_type(name: &str) -> QueryError {
    QueryError {
        code: "INVALID_TYPE",
        message: format!(
            "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name."
        ),
    }
}

/// Resolves the object and every path of a query (FLS applies: hidden fields do not exist).
pub fn prepare(org: &Org, user: usize, query: &Query) -> Result<Prepared, QueryError> {
    let object = org
        .schema
        .object(&query.object)
        .ok_or_else(|| unsupported_type(&query.object))?;
    let mut names: Vec<String> = query.fields.clone();
    if let Some(f) = &query.filter {
        collect_paths(f, &mut names);
    }
    names.extend(query.order.iter().map(|(p, _, _)| p.clone()));
    let mut paths: Vec<(String, Path)> = Vec::new();
    for name in names {
        if !paths.iter().any(|(n, _)| *n == name) {
            let p = resolve_path(org, user, object, &name)?;
            paths.push((name, p));
        }
    }
    let select = query
        .fields
        .iter()
        .filter_map(|n| paths.iter().find(|(m, _)| m == n).map(|(_, p)| p.clone()))
        .collect();
    Ok(Prepared {
        object,
        paths,
        select,
    })
}

/// Runs a parsed query for a user in the given scope.
pub fn run_in(
    org: &Org,
    user: usize,
    query: &Query,
    version: u32,
    scope: Scope,
) -> Result<QueryResult, QueryError> {
    if query.object.eq_ignore_ascii_case("UserPermissionAccess") {
        return user_permission_access(org, user, query);
    }
    let prepared = prepare(org, user, query)?;
    let selected = matching(org, &prepared, query, scope);
    if query.count {
        return Ok(QueryResult {
            total: selected.len(),
            rows: Vec::new(),
        });
    }
    let rows: Vec<serde_json::Value> = selected
        .into_iter()
        .map(|r| render_row(org, prepared.object, r, &prepared.select, version))
        .collect();
    Ok(QueryResult {
        total: rows.len(),
        rows,
    })
}

/// The records a prepared query selects, filtered, ordered, offset and limited.
pub fn matching<'a>(
    org: &'a Org,
    prepared: &Prepared,
    query: &Query,
    scope: Scope,
) -> Vec<&'a Record> {
    let object = prepared.object;
    let paths = &prepared.paths;
    let keep = |r: &&Record| query.filter.as_ref().is_none_or(|f| eval(org, r, f, paths));
    let indexed = query
        .filter
        .as_ref()
        .and_then(|f| indexed_candidates(org, object, f, paths));
    let mut matched: Vec<&Record> = match indexed {
        Some(ids) => ids
            .iter()
            .filter_map(|id| org.tables[object].get(id))
            .filter(keep)
            .collect(),
        None => org.tables[object].iter().filter(keep).collect(),
    };
    if scope == Scope::All {
        matched.extend(recycle_bin(org, object).filter(keep));
    }
    sort_records(org, prepared, query, &mut matched);
    let offset = query.offset.unwrap_or(0);
    matched
        .into_iter()
        .skip(offset)
        .take(query.limit.unwrap_or(usize::MAX))
        .collect()
}

/// The soft-deleted records of an object still in the recycle bin (deleted < 15 days ago).
pub fn recycle_bin(org: &Org, object: usize) -> impl Iterator<Item = &Record> {
    let cutoff = org.clock_ms() - RECYCLE_BIN_MS;
    org.tables[object]
        .binned()
        .filter(move |b| b.deleted_ms >= cutoff)
        .filter_map(|b| b.record.as_ref())
}

fn sort_records(org: &Org, prepared: &Prepared, query: &Query, matched: &mut [&Record]) {
    if query.order.is_empty() {
        return;
    }
    let find = |name: &str| {
        prepared
            .paths
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
    };
    let keys: Vec<(Path, bool, bool)> = query
        .order
        .iter()
        .filter_map(|(n, desc, nulls_last)| find(n).map(|p| (p, *desc, *nulls_last)))
        .collect();
    matched.sort_by(|a, b| {
        for (p, desc, nulls_last) in &keys {
            let ord = order_values(follow(org, a, p), follow(org, b, p), *nulls_last);
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

impl Prepared {
    /// Column names of the selected fields as Bulk query results spell them: the API names,
    /// with relationship names for parent fields (`Rel__r.Field__c`).
    pub fn column_names(&self, org: &Org) -> Vec<String> {
        self.select
            .iter()
            .map(|p| {
                let last = p.hops.len().saturating_sub(1);
                p.hops
                    .iter()
                    .enumerate()
                    .map(|(i, &(o, f))| {
                        let def = &org.schema.objects[o].fields[f];
                        if i < last {
                            def.relationship_name.clone().unwrap_or_default()
                        } else {
                            def.name.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    /// The selected values of a record as CSV cells; a null is an empty cell.
    pub fn csv_cells(&self, org: &Org, record: &Record) -> Vec<String> {
        self.select
            .iter()
            .map(|p| follow(org, record, p).map(csv_text).unwrap_or_default())
            .collect()
    }
}

fn csv_text(v: Value) -> String {
    match v {
        Value::Text(s) => s.into_string(),
        Value::Bool(b) => b.to_string(),
        Value::Ref(id) => id.to_string(),
        Value::Number(_) => v.to_json().to_string(),
    }
}

/// Records that can possibly match, found through the id or an external-id index when the
/// filter (or one side of a top-level AND) is `Field = 'v'` or `Field IN (…)` on such a field.
/// Lets the ext-id → Id lookups a sync runs stay cheap on million-row tables.
fn indexed_candidates(
    org: &Org,
    object: usize,
    filter: &Expr,
    paths: &[(String, Path)],
) -> Option<Vec<SfId>> {
    let (path, values): (&str, Vec<&str>) = match filter {
        Expr::And(a, b) => {
            return indexed_candidates(org, object, a, paths)
                .or_else(|| indexed_candidates(org, object, b, paths));
        }
        Expr::Cmp {
            path,
            op: Op::Eq,
            value: Literal::Str(v),
        } => (path, vec![v.as_str()]),
        Expr::In {
            path,
            negated: false,
            values,
        } => {
            let texts: Option<Vec<&str>> = values
                .iter()
                .map(|v| match v {
                    Literal::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            (path, texts?)
        }
        _ => return None,
    };
    let hops = &paths.iter().find(|(n, _)| n == path)?.1.hops;
    let &[(o, field)] = hops.as_slice() else {
        return None;
    };
    let def = &org.schema.objects[o].fields[field];
    let mut ids: Vec<SfId> = if def.system == SystemField::Id {
        values.iter().filter_map(|v| SfId::parse(v)).collect()
    } else if def.external_id {
        values
            .iter()
            .flat_map(|v| org.tables[object].find_by_external_id(field, v))
            .collect()
    } else {
        return None;
    };
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

fn order_values(a: Option<Value>, b: Option<Value>, nulls_last: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => {
            if nulls_last {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(_), None) => {
            if nulls_last {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Some(x), Some(y)) => match (x, y) {
            (Value::Number(m), Value::Number(n)) => m.partial_cmp(&n).unwrap_or(Ordering::Equal),
            (Value::Bool(m), Value::Bool(n)) => m.cmp(&n),
            (Value::Ref(m), Value::Ref(n)) => m.cmp(&n),
            (Value::Text(m), Value::Text(n)) => m.to_lowercase().cmp(&n.to_lowercase()),
            _ => Ordering::Equal,
        },
    }
}

/// `attributes` of a record in REST JSON.
pub fn attributes(object: &str, id: &SfId, version: u32) -> serde_json::Value {
    serde_json::json!({"type": object, "url": format!("/services/data/v{version}.0/sobjects/{object}/{id}")})
}

fn render_row(
    org: &Org,
    object: usize,
    record: &Record,
    select: &[Path],
    version: u32,
) -> serde_json::Value {
    let def = &org.schema.objects[object];
    let mut row = serde_json::Map::new();
    row.insert(
        "attributes".into(),
        attributes(&def.name, &record.id, version),
    );
    for path in select {
        insert_path(org, &mut row, record, &path.hops, version);
    }
    serde_json::Value::Object(row)
}

fn insert_path(
    org: &Org,
    row: &mut serde_json::Map<String, serde_json::Value>,
    record: &Record,
    hops: &[(usize, usize)],
    version: u32,
) {
    let Some(&(object, field)) = hops.first() else {
        return;
    };
    let fdef = &org.schema.objects[object].fields[field];
    if hops.len() == 1 {
        let v = field_value(org, object, record, field)
            .map(|v| v.to_json())
            .unwrap_or(serde_json::Value::Null);
        row.insert(fdef.name.clone(), v);
        return;
    }
    let rel = fdef.relationship_name.clone().unwrap_or_default();
    let next_object = hops[1].0;
    let parent = match field_value(org, object, record, field) {
        Some(Value::Ref(id)) => org.tables[next_object].get(&id),
        _ => None,
    };
    let Some(parent) = parent else {
        row.entry(rel).or_insert(serde_json::Value::Null);
        return;
    };
    let entry = row.entry(rel).or_insert_with(|| {
        let mut m = serde_json::Map::new();
        m.insert(
            "attributes".into(),
            attributes(&org.schema.objects[next_object].name, &parent.id, version),
        );
        serde_json::Value::Object(m)
    });
    if let serde_json::Value::Object(nested) = entry {
        insert_path(org, nested, parent, &hops[1..], version);
    }
}

const USER_PERMISSIONS: &[&str] = &[
    "PermissionsCustomizeApplication",
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsViewSetup",
    "PermissionsApiEnabled",
];

fn user_permission_access(
    org: &Org,
    user: usize,
    query: &Query,
) -> Result<QueryResult, QueryError> {
    let perms = org.perms(user);
    let mut row = serde_json::Map::new();
    row.insert(
        "attributes".into(),
        serde_json::json!({"type": "UserPermissionAccess"}),
    );
    for f in &query.fields {
        let value = match USER_PERMISSIONS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(f))
            .copied()
        {
            Some("PermissionsCustomizeApplication") => perms.customize_application,
            Some("PermissionsModifyAllData") => perms.modify_all_data,
            Some("PermissionsViewAllData") => perms.view_all_data,
            Some("PermissionsViewSetup") => perms.view_setup,
            Some("PermissionsApiEnabled") => perms.api_enabled,
            _ => return Err(invalid_field(f, "UserPermissionAccess")),
        };
        row.insert(f.clone(), serde_json::Value::Bool(value));
    }
    if query.count {
        return Ok(QueryResult {
            total: 1,
            rows: Vec::new(),
        });
    }
    Ok(QueryResult {
        total: 1,
        rows: vec![serde_json::Value::Object(row)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_sync_queries() {
        let q = parse(
            "SELECT Id, Zuora__External_Id__c, Zuora__CustomerAccount__r.Zuora__External_Id__c FROM Zuora__Subscription__c \
             WHERE (Zuora__External_Id__c IN ('a','b') OR Name LIKE 'A-%') AND Zuora__Version__c >= 2 \
             AND CreatedDate > 2024-01-01T00:00:00Z ORDER BY Name DESC NULLS LAST LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(q.fields.len(), 3);
        assert_eq!(q.object, "Zuora__Subscription__c");
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, Some(5));
        assert_eq!(q.order, vec![("Name".to_string(), true, true)]);
        assert!(parse("select count() from Account").unwrap().count);
    }

    #[test]
    fn rejects_malformed_queries() {
        assert_eq!(
            parse("SELECT FROM Account").unwrap_err().code,
            "MALFORMED_QUERY"
        );
        assert!(parse("SELECT Id FROM Account WHERE Name = 'x").is_err());
        assert!(parse("SELECT Id FROM Account LIMIT").is_err());
        assert!(parse("SELECT Id FROM Account garbage").is_err());
    }

    #[test]
    fn like_matches_case_insensitively() {
        assert!(like("A-S00001", "a-s%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
    }

    proptest! {
        #[test]
        fn string_literals_round_trip(s in "[a-zA-Z0-9 %_-]{0,20}") {
            let escaped = s.replace('\\', "\\\\").replace('\'', "\\'");
            let q = parse(&format!("SELECT Id FROM Account WHERE Name = '{escaped}'")).unwrap();
            prop_assert_eq!(q.filter, Some(Expr::Cmp { path: "Name".into(), op: Op::Eq, value: Literal::Str(s) }));
        }

        #[test]
        fn tokenizer_never_panics(s in "\\PC{0,60}") {
            let _ = parse(&s);
        }
    }
}
