//! Binds a parsed statement to the catalogue and runs it over a [`Store`].
//!
//! Execution yields row tuples (one row number per table slot), not rendered rows: the writers
//! in [`super::super::output`] render each tuple straight into the result file, so a million-row
//! result costs a few bytes per row in memory.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::parse::{CmpOp, Dialect, Expr, ParseError, Select, SelectItem, Statement};
use crate::zuora::format::{ZoqlDateTimeLiteral, classify_zoql_datetime, parse_sql_timestamp};
use crate::zuora::schema::{FieldType, Kind, ObjectDef, catalog};
use crate::zuora::store::{NO_ROW, Row, Store, Value, compare, order, parse_date, parse_decimal};

/// Soft-deleted rows stay readable this long.
pub const DELETED_RETENTION_MS: i64 = 30 * 86_400_000;

/// Why a statement could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The text does not parse, or names an unknown object.
    #[error("{0}")]
    Syntax(String),
    /// It parses, but names an unknown or unusable column, or mixes types.
    #[error("{0}")]
    Semantic(String),
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> Self {
        QueryError::Syntax(e.to_string())
    }
}

/// Which rows are visible with respect to soft deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedMode {
    /// Live rows only (the default everywhere).
    Exclude,
    /// Deleted rows only (Data Query `readDeleted`).
    Only,
    /// Both (Data Query `deleted` column selected, AQuA stateful incremental).
    Both,
}

/// How an AQuA `deleted` column renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedFormat {
    /// `true` / `false`.
    Boolean,
    /// `1` / `0`.
    Numeric,
}

/// Options that are not part of the statement text.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Language.
    pub dialect: Dialect,
    /// Deleted-row visibility requested by the caller.
    pub deleted: DeletedMode,
    /// Stateful AQuA: only base rows updated at or after this instant.
    pub since: Option<i64>,
    /// Stateful AQuA: extra deleted column (name, format).
    pub deleted_column: Option<(String, DeletedFormat)>,
    /// The tenant's zone, minutes east of UTC.
    pub tenant_offset_minutes: i32,
    /// The tenant's "now", for the 30-day retention of deleted rows.
    pub now_ms: i64,
}

/// What an output column holds, for rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutType {
    /// A catalogue field of this type.
    Field(FieldType),
    /// A boolean (predicates, the `deleted` column).
    Bool,
    /// The AQuA deleted column in numeric form.
    DeletedNumeric,
    /// A count.
    Int,
    /// Text (SHOW / DESCRIBE results).
    Text,
}

/// One output column.
#[derive(Debug, Clone)]
pub struct Output {
    /// Data Query name (lowercase) or alias.
    pub sql_name: String,
    /// AQuA API-name header (`Account.Name`, `BillToContact.FirstName`) or alias.
    pub api_name: String,
    /// AQuA label header (`Account: Name`, `Bill To: First Name`) or alias.
    pub label: String,
    /// Bare field name, for Actions records.
    pub field_name: String,
    /// Rendering type.
    pub ty: OutType,
    expr: B,
}

#[derive(Debug, Clone)]
enum SlotSource {
    Base,
    Path {
        from: usize,
        steps: Vec<(Kind, usize)>,
    },
    Join {
        left: bool,
        on: B,
        strategy: JoinStrategy,
    },
}

#[derive(Debug, Clone)]
enum JoinStrategy {
    ById(B),
    ByRef(usize, B),
    Scan,
}

#[derive(Debug, Clone)]
struct Slot {
    kind: Kind,
    names: Vec<String>,
    source: SlotSource,
}

#[derive(Debug, Clone)]
enum B {
    Field(usize, usize),
    Deleted(usize),
    Lit(Value<'static>),
    Cmp(CmpOp, Box<B>, Box<B>, bool),
    And(Box<B>, Box<B>),
    Or(Box<B>, Box<B>),
    Not(Box<B>),
    IsNull(Box<B>, bool),
    // Boxed: `B` stays small, and binding a long OR chain recurses once per item.
    In(Box<B>, Box<InList>, bool),
    Like(Box<B>, String, bool),
    True,
}

/// The literals of an `IN (…)`, with the ids among them hashed: a reference column tested
/// against thousands of ids (`AccountId IN (…)`) is one lookup a row, not one comparison an
/// item.
#[derive(Debug, Clone)]
struct InList {
    values: Vec<Value<'static>>,
    ids: HashSet<(Kind, Row)>,
    all_ids: bool,
}

impl InList {
    fn new(values: Vec<Value<'static>>) -> InList {
        let ids = values
            .iter()
            .filter_map(|v| match v {
                Value::Id(k, r) => Some((*k, *r)),
                _ => None,
            })
            .collect();
        let all_ids = values.iter().all(|v| matches!(v, Value::Id(..)));
        InList {
            values,
            ids,
            all_ids,
        }
    }

    fn contains(&self, v: &Value<'_>) -> bool {
        match v {
            Value::Id(k, r) if self.all_ids => self.ids.contains(&(*k, *r)),
            _ => self
                .values
                .iter()
                .any(|item| compare(v, item) == Some(Ordering::Equal)),
        }
    }
}

/// A statement bound to the catalogue, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Output columns.
    pub outputs: Vec<Output>,
    /// The FROM object.
    pub base: Kind,
    slots: Vec<Slot>,
    filter: Option<B>,
    order: Vec<(B, bool)>,
    limit: Option<usize>,
    deleted: DeletedMode,
    since: Option<i64>,
    retention_cutoff: i64,
    count_only: bool,
}

/// A statement ready to run: a plan over the data, or a fixed answer (SHOW TABLES, DESCRIBE).
#[derive(Debug, Clone)]
pub enum Prepared {
    /// SELECT over the data.
    Select(Box<Plan>),
    /// Fixed rows of text.
    Fixed {
        /// Column names.
        headers: Vec<String>,
        /// Rows.
        rows: Vec<Vec<String>>,
    },
}

/// Parses and binds `src`.
pub fn prepare(src: &str, opts: &QueryOptions, store: &Store) -> Result<Prepared, QueryError> {
    match super::parse::parse(src, opts.dialect)? {
        Statement::ShowTables => {
            let mut names: Vec<String> = catalog()
                .objects
                .iter()
                .filter(|o| store.enabled(o.kind))
                .map(|o| o.sql_name.clone())
                .collect();
            names.sort();
            Ok(Prepared::Fixed {
                headers: vec!["Table".into()],
                rows: names.into_iter().map(|n| vec![n]).collect(),
            })
        }
        Statement::Describe(t) => {
            let obj = find_object(&t, opts.dialect, store)?;
            let rows = obj
                .fields
                .iter()
                .map(|f| {
                    vec![
                        f.sql_name.clone(),
                        f.ty.sql_name().to_string(),
                        String::new(),
                        String::new(),
                    ]
                })
                .collect();
            Ok(Prepared::Fixed {
                headers: vec![
                    "Column".into(),
                    "Type".into(),
                    "Extra".into(),
                    "Comment".into(),
                ],
                rows,
            })
        }
        Statement::Select(sel) => Binder {
            opts,
            store,
            slots: Vec::new(),
        }
        .bind(sel)
        .map(|p| Prepared::Select(Box::new(p))),
    }
}

fn find_object(
    name: &str,
    dialect: Dialect,
    store: &Store,
) -> Result<&'static ObjectDef, QueryError> {
    store.object(name).ok_or_else(|| match dialect {
        Dialect::Sql => QueryError::Semantic(format!(
            "Table zuora.{} does not exist",
            name.to_ascii_lowercase()
        )),
        _ => QueryError::Syntax(format!("invalid object: {name}")),
    })
}

struct Binder<'a> {
    opts: &'a QueryOptions,
    store: &'a Store,
    slots: Vec<Slot>,
}

impl Binder<'_> {
    fn sql(&self) -> bool {
        self.opts.dialect == Dialect::Sql
    }

    fn bind(mut self, sel: Select) -> Result<Plan, QueryError> {
        let base = find_object(&sel.from.name, self.opts.dialect, self.store)?;
        let mut names = vec![base.name.to_ascii_lowercase()];
        if let Some(a) = &sel.from.alias {
            names.push(a.to_ascii_lowercase());
        }
        self.slots.push(Slot {
            kind: base.kind,
            names,
            source: SlotSource::Base,
        });
        for j in &sel.joins {
            let obj = find_object(&j.table.name, self.opts.dialect, self.store)?;
            let mut names = vec![obj.name.to_ascii_lowercase()];
            if let Some(a) = &j.table.alias {
                names.push(a.to_ascii_lowercase());
            }
            let k = self.slots.len();
            // Placeholder so the ON clause can name the new slot.
            self.slots.push(Slot {
                kind: obj.kind,
                names,
                source: SlotSource::Base,
            });
            let on = self.predicate(&j.on)?;
            let strategy = join_strategy(&on, k, obj);
            self.slots[k].source = SlotSource::Join {
                left: j.left,
                on,
                strategy,
            };
        }
        let mut uses_deleted_column = false;
        let mut outputs = Vec::new();
        let mut count_only = false;
        for (i, item) in sel.items.iter().enumerate() {
            match item {
                SelectItem::Star => {
                    let slots: Vec<usize> = if self.sql() {
                        (0..self.slots.len()).collect()
                    } else {
                        vec![0]
                    };
                    for s in slots {
                        self.star(s, None, &mut outputs);
                    }
                }
                SelectItem::QualifiedStar(q) => {
                    let (slot, rel_name) = self.qualifier(q)?;
                    self.star(slot, rel_name, &mut outputs);
                }
                SelectItem::Expr(Expr::Call(name, args), alias) if name == "count" => {
                    if sel.items.len() != 1 || !matches!(args.as_slice(), [Expr::Star]) {
                        return Err(QueryError::Semantic(
                            "only a lone count(*) is supported".into(),
                        ));
                    }
                    count_only = true;
                    let n = alias.clone().unwrap_or_else(|| "_col0".into());
                    outputs.push(Output {
                        sql_name: n.clone(),
                        api_name: n.clone(),
                        label: n.clone(),
                        field_name: n,
                        ty: OutType::Int,
                        expr: B::True,
                    });
                }
                SelectItem::Expr(e, alias) => {
                    let out = self.output(e, alias.as_deref(), i)?;
                    uses_deleted_column |= matches!(out.expr, B::Deleted(_));
                    outputs.push(out);
                }
            }
        }
        if let Some((column, format)) = &self.opts.deleted_column {
            outputs.push(Output {
                sql_name: column.to_ascii_lowercase(),
                api_name: format!("{}.{column}", base.name),
                label: format!("{}: {column}", base.label),
                field_name: column.clone(),
                ty: if *format == DeletedFormat::Boolean {
                    OutType::Bool
                } else {
                    OutType::DeletedNumeric
                },
                expr: B::Deleted(0),
            });
        }
        let filter = match &sel.filter {
            Some(f) => {
                let b = self.predicate(f)?;
                if self.sql() && mentions_deleted(&b) && !uses_deleted_column {
                    return Err(QueryError::Semantic(
                        "Column 'deleted' must be selected to be used in the WHERE clause".into(),
                    ));
                }
                Some(b)
            }
            None => None,
        };
        let mut order_by = Vec::new();
        for (e, desc) in &sel.order_by {
            order_by.push((self.value(e)?, *desc));
        }
        let deleted = if uses_deleted_column && self.opts.deleted == DeletedMode::Exclude {
            DeletedMode::Both
        } else {
            self.opts.deleted
        };
        Ok(Plan {
            outputs,
            base: base.kind,
            slots: self.slots,
            filter,
            order: order_by,
            limit: sel.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            deleted,
            since: self.opts.since,
            retention_cutoff: self.opts.now_ms - DELETED_RETENTION_MS,
            count_only,
        })
    }

    /// Resolves `q` of `q.*` or `q.field` to a slot, creating relation slots in ZOQL.
    fn qualifier(&mut self, q: &str) -> Result<(usize, Option<&'static str>), QueryError> {
        let lower = q.to_ascii_lowercase();
        if let Some(i) = self.slots.iter().position(|s| s.names.contains(&lower)) {
            return Ok((i, None));
        }
        if self.sql() || self.opts.dialect == Dialect::Zoql {
            return Err(QueryError::Semantic(format!(
                "Column '{q}' cannot be resolved"
            )));
        }
        let base = self.slots[0].kind.def();
        let rel = base.relation(q).ok_or_else(|| {
            QueryError::Semantic(format!(
                "There is no joined object named {q} for {}",
                base.name
            ))
        })?;
        let mut steps = Vec::new();
        let mut kind = base.kind;
        for step in rel.path {
            let def = kind.def();
            let fi = def.idx(step);
            steps.push((kind, fi));
            if let FieldType::Ref(k) = def.fields[fi].ty {
                kind = k;
            }
        }
        self.slots.push(Slot {
            kind: rel.target,
            names: vec![lower],
            source: SlotSource::Path { from: 0, steps },
        });
        Ok((self.slots.len() - 1, Some(rel.name)))
    }

    fn star(&mut self, slot: usize, rel_name: Option<&'static str>, out: &mut Vec<Output>) {
        let def = self.slots[slot].kind.def();
        for (fi, f) in def.fields.iter().enumerate() {
            if !self.sql() && !f.exportable {
                continue;
            }
            out.push(self.field_output(slot, fi, None, rel_name));
        }
    }

    fn relation_of(&self, slot: usize) -> Option<&'static str> {
        if slot == 0 || self.sql() {
            return None;
        }
        let base = self.slots[0].kind.def();
        base.relations
            .iter()
            .find(|r| {
                self.slots[slot]
                    .names
                    .first()
                    .is_some_and(|n| r.name.eq_ignore_ascii_case(n))
            })
            .map(|r| r.name)
    }

    fn field_output(
        &self,
        slot: usize,
        fi: usize,
        alias: Option<&str>,
        rel_name: Option<&'static str>,
    ) -> Output {
        let def = self.slots[slot].kind.def();
        let f = &def.fields[fi];
        let rel = rel_name.or_else(|| self.relation_of(slot));
        let (prefix, prefix_label) = match rel {
            Some(r) => {
                let base = self.slots[0].kind.def();
                let label = base
                    .relation(r)
                    .map_or_else(|| r.to_string(), |x| x.label.clone());
                (r.to_string(), label)
            }
            None => (def.name.to_string(), def.label.clone()),
        };
        Output {
            sql_name: alias.map_or_else(|| f.sql_name.clone(), str::to_string),
            api_name: alias.map_or_else(|| format!("{prefix}.{}", f.name), str::to_string),
            label: alias.map_or_else(|| format!("{prefix_label}: {}", f.label), str::to_string),
            field_name: alias.map_or_else(|| f.name.to_string(), str::to_string),
            ty: OutType::Field(f.ty),
            expr: B::Field(slot, fi),
        }
    }

    fn output(
        &mut self,
        e: &Expr,
        alias: Option<&str>,
        position: usize,
    ) -> Result<Output, QueryError> {
        let b = self.value(e)?;
        match b {
            B::Field(slot, fi) => {
                let def = self.slots[slot].kind.def();
                if self.opts.dialect == Dialect::ZoqlExport && !def.fields[fi].exportable {
                    return Err(QueryError::Semantic(format!(
                        "The field {}.{} is not available for export",
                        def.name, def.fields[fi].name
                    )));
                }
                Ok(self.field_output(slot, fi, alias, None))
            }
            B::Deleted(_) => {
                let n = alias.unwrap_or("deleted").to_string();
                Ok(Output {
                    sql_name: n.clone(),
                    api_name: n.clone(),
                    label: n.clone(),
                    field_name: n,
                    ty: OutType::Bool,
                    expr: b,
                })
            }
            other => {
                let n = alias.map_or_else(|| format!("_col{position}"), str::to_string);
                let ty = match &other {
                    B::Lit(Value::Int(_)) => OutType::Int,
                    B::Lit(Value::Str(_)) => OutType::Text,
                    B::Lit(Value::Dec(_)) => OutType::Field(FieldType::Decimal),
                    B::Lit(Value::Ts(_)) => OutType::Field(FieldType::DateTime),
                    B::Lit(Value::Date(_)) => OutType::Field(FieldType::Date),
                    _ => OutType::Bool,
                };
                Ok(Output {
                    sql_name: n.clone(),
                    api_name: n.clone(),
                    label: n.clone(),
                    field_name: n,
                    ty,
                    expr: other,
                })
            }
        }
    }

    fn column(&mut self, parts: &[String]) -> Result<B, QueryError> {
        let unknown =
            |name: &str| QueryError::Semantic(format!("Column '{name}' cannot be resolved"));
        let zoql_unknown = |obj: &str, name: &str| {
            QueryError::Semantic(format!("There is no field named {name} on {obj}"))
        };
        match parts {
            [name] => {
                if self.sql() && name.eq_ignore_ascii_case("deleted") {
                    return Ok(B::Deleted(0));
                }
                if self.sql() {
                    let hits: Vec<(usize, usize)> = self
                        .slots
                        .iter()
                        .enumerate()
                        .filter_map(|(si, s)| s.kind.def().field_index(name).map(|fi| (si, fi)))
                        .collect();
                    match hits.as_slice() {
                        [(s, f)] => Ok(B::Field(*s, *f)),
                        [] => Err(unknown(&name.to_ascii_lowercase())),
                        _ => Err(QueryError::Semantic(format!(
                            "Column '{}' is ambiguous",
                            name.to_ascii_lowercase()
                        ))),
                    }
                } else {
                    let def = self.slots[0].kind.def();
                    def.field_index(name)
                        .map(|fi| B::Field(0, fi))
                        .ok_or_else(|| zoql_unknown(def.name, name))
                }
            }
            [q, name] => {
                if self.opts.dialect == Dialect::Zoql
                    && !self.slots[0].names.contains(&q.to_ascii_lowercase())
                {
                    return Err(QueryError::Semantic(
                        "ZOQL does not support joined objects; use Export ZOQL".into(),
                    ));
                }
                let (slot, _) = self.qualifier(q)?;
                if self.sql() && name.eq_ignore_ascii_case("deleted") {
                    return Ok(B::Deleted(slot));
                }
                let def = self.slots[slot].kind.def();
                def.field_index(name)
                    .map(|fi| B::Field(slot, fi))
                    .ok_or_else(|| {
                        if self.sql() {
                            unknown(&format!("{q}.{name}").to_ascii_lowercase())
                        } else {
                            zoql_unknown(def.name, name)
                        }
                    })
            }
            _ => Err(QueryError::Semantic(format!(
                "Column '{}' cannot be resolved",
                parts.join(".")
            ))),
        }
    }

    fn value(&mut self, e: &Expr) -> Result<B, QueryError> {
        Ok(match e {
            Expr::Column(parts) => self.column(parts)?,
            Expr::Str(s) => B::Lit(Value::Str(s.clone().into())),
            Expr::Num(n) => B::Lit(number(n)?),
            Expr::Bool(b) => B::Lit(Value::Bool(*b)),
            Expr::Null => B::Lit(Value::Null),
            Expr::Timestamp(s) => B::Lit(Value::Ts(
                parse_sql_timestamp(s, self.opts.tenant_offset_minutes).ok_or_else(|| {
                    QueryError::Semantic(format!("Value cannot be cast to timestamp: {s}"))
                })?,
            )),
            Expr::Date(s) => B::Lit(Value::Date(parse_date(s).ok_or_else(|| {
                QueryError::Semantic(format!("Value cannot be cast to date: {s}"))
            })?)),
            Expr::Star | Expr::Call(..) => {
                return Err(QueryError::Semantic(
                    "functions are not supported by this simulator".into(),
                ));
            }
            other => self.predicate(other)?,
        })
    }

    fn ty(&self, b: &B) -> Option<FieldType> {
        match b {
            B::Field(s, f) => Some(self.slots[*s].kind.def().fields[*f].ty),
            B::Deleted(_) => Some(FieldType::Bool),
            _ => None,
        }
    }

    /// Converts a literal to the type of the column it is compared with, following the dialect.
    fn coerce(&self, lit: Value<'static>, ty: FieldType, op: &str) -> Result<Coerced, QueryError> {
        let mismatch = |what: &str| {
            QueryError::Semantic(format!(
                "Cannot apply operator: {} {op} {what}",
                ty.sql_name()
            ))
        };
        let Value::Str(s) = &lit else {
            return Ok(Coerced::Value(lit));
        };
        let sql = self.sql();
        Ok(Coerced::Value(match ty {
            FieldType::Id | FieldType::Ref(_) => match self.store.codec.decode(s) {
                Some((k, r)) => Value::Id(k, r),
                None => lit,
            },
            FieldType::DateTime if sql => {
                return Err(mismatch(&format!("varchar({})", s.chars().count())));
            }
            FieldType::DateTime => match classify_zoql_datetime(s, self.opts.tenant_offset_minutes)
            {
                ZoqlDateTimeLiteral::Instant(ms) | ZoqlDateTimeLiteral::Date(ms) => Value::Ts(ms),
                ZoqlDateTimeLiteral::SpaceSeparated => return Ok(Coerced::Dropped),
                ZoqlDateTimeLiteral::Invalid => {
                    return Err(QueryError::Syntax(format!("invalid datetime value '{s}'")));
                }
            },
            FieldType::Date if sql => {
                return Err(mismatch(&format!("varchar({})", s.chars().count())));
            }
            FieldType::Date => Value::Date(
                parse_date(s.get(..10).unwrap_or(s))
                    .ok_or_else(|| QueryError::Syntax(format!("invalid date value '{s}'")))?,
            ),
            FieldType::Bool
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Value::Bool(s.eq_ignore_ascii_case("true"))
            }
            FieldType::Int | FieldType::Decimal if sql => {
                return Err(mismatch(&format!("varchar({})", s.chars().count())));
            }
            FieldType::Int | FieldType::Decimal => Value::Dec(
                parse_decimal(s)
                    .ok_or_else(|| QueryError::Syntax(format!("invalid number '{s}'")))?,
            ),
            _ => lit,
        }))
    }

    fn predicate(&mut self, e: &Expr) -> Result<B, QueryError> {
        Ok(match e {
            Expr::And(a, b) => B::And(Box::new(self.predicate(a)?), Box::new(self.predicate(b)?)),
            Expr::Or(a, b) => B::Or(Box::new(self.predicate(a)?), Box::new(self.predicate(b)?)),
            Expr::Not(a) => B::Not(Box::new(self.predicate(a)?)),
            Expr::IsNull(a, neg) => B::IsNull(Box::new(self.value(a)?), *neg),
            Expr::Cmp(op, a, b) => self.comparison(*op, a, b)?,
            Expr::Between(a, lo, hi, neg) => {
                let both = B::And(
                    Box::new(self.comparison(CmpOp::Ge, a, lo)?),
                    Box::new(self.comparison(CmpOp::Le, a, hi)?),
                );
                if *neg { B::Not(Box::new(both)) } else { both }
            }
            Expr::In(a, list, neg) => {
                let target = self.value(a)?;
                let ty = self.ty(&target);
                let mut values = Vec::new();
                for item in list {
                    let B::Lit(v) = self.value(item)? else {
                        return Err(QueryError::Semantic("IN lists must hold literals".into()));
                    };
                    match ty {
                        Some(t) => match self.coerce(v, t, "IN")? {
                            Coerced::Value(v) => values.push(v),
                            Coerced::Dropped => {}
                        },
                        None => values.push(v),
                    }
                }
                B::In(Box::new(target), Box::new(InList::new(values)), *neg)
            }
            Expr::Like(a, pattern, neg) => B::Like(Box::new(self.value(a)?), pattern.clone(), *neg),
            Expr::Bool(true) => B::True,
            Expr::Column(_) => {
                let v = self.value(e)?;
                if self.ty(&v) != Some(FieldType::Bool) {
                    return Err(QueryError::Semantic(
                        "WHERE clause must evaluate to a boolean".into(),
                    ));
                }
                B::Cmp(
                    CmpOp::Eq,
                    Box::new(v),
                    Box::new(B::Lit(Value::Bool(true))),
                    false,
                )
            }
            other => {
                let v = self.value(other)?;
                if matches!(v, B::Lit(_) | B::Field(..) | B::Deleted(_)) {
                    return Err(QueryError::Semantic(
                        "WHERE clause must evaluate to a boolean".into(),
                    ));
                }
                v
            }
        })
    }

    fn comparison(&mut self, op: CmpOp, a: &Expr, b: &Expr) -> Result<B, QueryError> {
        let (l, r) = (self.value(a)?, self.value(b)?);
        let sym = match op {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        let (l, r) = match (&l, &r, self.ty(&l), self.ty(&r)) {
            (_, B::Lit(v), Some(t), _) => match self.coerce(v.clone(), t, sym)? {
                Coerced::Value(v) => (l, B::Lit(v)),
                Coerced::Dropped => return Ok(B::True),
            },
            (B::Lit(v), _, _, Some(t)) => match self.coerce(v.clone(), t, sym)? {
                Coerced::Value(v) => (B::Lit(v), r),
                Coerced::Dropped => return Ok(B::True),
            },
            _ => (l, r),
        };
        // Export ZOQL compares instants at whole seconds (stored values carry milliseconds).
        let seconds = !self.sql()
            && (self.ty(&l) == Some(FieldType::DateTime)
                || self.ty(&r) == Some(FieldType::DateTime));
        Ok(B::Cmp(op, Box::new(l), Box::new(r), seconds))
    }
}

enum Coerced {
    Value(Value<'static>),
    /// The documented quirk: a space-separated datetime literal silently drops the predicate.
    Dropped,
}

fn number(n: &str) -> Result<Value<'static>, QueryError> {
    if !n.contains('.')
        && let Ok(i) = n.parse::<i64>()
    {
        return Ok(Value::Int(i));
    }
    parse_decimal(n)
        .map(Value::Dec)
        .ok_or_else(|| QueryError::Syntax(format!("invalid number {n}")))
}

fn mentions_deleted(b: &B) -> bool {
    match b {
        B::Deleted(_) => true,
        B::Cmp(_, x, y, _) | B::And(x, y) | B::Or(x, y) => {
            mentions_deleted(x) || mentions_deleted(y)
        }
        B::Not(x) | B::IsNull(x, _) | B::In(x, _, _) | B::Like(x, _, _) => mentions_deleted(x),
        _ => false,
    }
}

fn refers_only_below(b: &B, k: usize) -> bool {
    match b {
        B::Field(s, _) | B::Deleted(s) => *s < k,
        B::Lit(_) | B::True => true,
        B::Cmp(_, x, y, _) | B::And(x, y) | B::Or(x, y) => {
            refers_only_below(x, k) && refers_only_below(y, k)
        }
        B::Not(x) | B::IsNull(x, _) | B::In(x, _, _) | B::Like(x, _, _) => refers_only_below(x, k),
    }
}

/// Picks an index lookup for `right.id = expr` or `right.ref = expr`, else a scan.
fn join_strategy(on: &B, k: usize, obj: &ObjectDef) -> JoinStrategy {
    let mut conjuncts = Vec::new();
    flatten_and(on, &mut conjuncts);
    for c in conjuncts {
        if let B::Cmp(CmpOp::Eq, l, r, _) = c {
            for (mine, other) in [(l, r), (r, l)] {
                if let B::Field(s, f) = **mine
                    && s == k
                    && refers_only_below(other, k)
                {
                    match obj.fields[f].ty {
                        FieldType::Id => return JoinStrategy::ById((**other).clone()),
                        FieldType::Ref(_) => return JoinStrategy::ByRef(f, (**other).clone()),
                        _ => {}
                    }
                }
            }
        }
    }
    JoinStrategy::Scan
}

fn flatten_and<'b>(b: &'b B, out: &mut Vec<&'b B>) {
    if let B::And(x, y) = b {
        flatten_and(x, out);
        flatten_and(y, out);
    } else {
        out.push(b);
    }
}

/// The rows a plan selected: one row number per slot per result row.
#[derive(Debug)]
pub struct ResultRows {
    /// Flattened tuples.
    pub tuples: Vec<Row>,
    /// Slots per tuple.
    pub stride: usize,
    /// For `count(*)`: the count instead of rows.
    pub count: Option<usize>,
}

impl ResultRows {
    /// Number of result rows.
    pub fn len(&self) -> usize {
        if self.count.is_some() {
            1
        } else {
            self.tuples.len() / self.stride.max(1)
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The i-th tuple.
    pub fn tuple(&self, i: usize) -> &[Row] {
        &self.tuples[i * self.stride..(i + 1) * self.stride]
    }
}

impl Plan {
    fn visible(&self, store: &Store, kind: Kind, row: Row, mode: DeletedMode) -> bool {
        let t = store.table(kind);
        let d = t.deleted_at[row as usize];
        let deleted = d != i64::MIN;
        if deleted && d < self.retention_cutoff {
            return false;
        }
        match mode {
            DeletedMode::Exclude => !deleted,
            DeletedMode::Only => deleted,
            DeletedMode::Both => true,
        }
    }

    /// Runs the plan. `stop` is polled now and then so a cancelled job ends early.
    pub fn run(&self, store: &Store, stop: &dyn Fn() -> bool) -> ResultRows {
        let stride = self.slots.len();
        let mut tuples: Vec<Row> = Vec::new();
        let indexes = self.join_indexes(store);
        let base = store.table(self.base);
        let limit = if self.order.is_empty() && !self.count_only {
            self.limit
        } else {
            None
        };
        let mut count = 0usize;
        let mut tuple = vec![NO_ROW; stride];
        let candidates: Box<dyn Iterator<Item = Row>> = match self.id_lookup() {
            Some(rows) => Box::new(rows.into_iter()),
            None => Box::new(0..base.len() as Row),
        };
        for row in candidates {
            if row % 65_536 == 0 && stop() {
                break;
            }
            if !self.visible(store, self.base, row, self.deleted) {
                continue;
            }
            if let Some(since) = self.since
                && base.updated(row) < since
            {
                continue;
            }
            tuple[0] = row;
            self.expand(store, &indexes, 1, &mut tuple, &mut |t| {
                if self
                    .filter
                    .as_ref()
                    .is_none_or(|f| truth(f, store, &self.slots, t) == Some(true))
                {
                    count += 1;
                    if !self.count_only {
                        tuples.extend_from_slice(t);
                    }
                }
            });
            if limit.is_some_and(|l| tuples.len() / stride.max(1) >= l) {
                break;
            }
        }
        if self.count_only {
            return ResultRows {
                tuples,
                stride,
                count: Some(count),
            };
        }
        if !self.order.is_empty() {
            tuples = self.sort(store, tuples, stride);
        }
        if let Some(l) = self.limit {
            tuples.truncate(l.saturating_mul(stride));
        }
        ResultRows {
            tuples,
            stride,
            count: None,
        }
    }

    /// The base rows named by a top-level conjunct `Id IN (…)`, `Id = …` or `Id = … OR Id = …`
    /// (ZOQL's spelling of IN), in row order: an index lookup, as Zuora does for ids, instead
    /// of a scan that compares every row with every listed id. The whole filter is still
    /// checked on each of them; anything else (a text that is no id) falls back to the scan.
    fn id_lookup(&self) -> Option<Vec<Row>> {
        let filter = self.filter.as_ref()?;
        let mut conjuncts = Vec::new();
        flatten_and(filter, &mut conjuncts);
        let mut rows = conjuncts.iter().find_map(|c| self.listed_ids(c))?;
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// The base rows a predicate names by Id, when it names them in no other way.
    fn listed_ids(&self, b: &B) -> Option<Vec<Row>> {
        let is_base_id = |b: &B| {
            matches!(b, B::Field(0, f)
                if self.base.def().fields.get(*f).is_some_and(|d| d.ty == FieldType::Id))
        };
        let row_of = |v: &Value<'static>| match v {
            Value::Id(k, r) if *k == self.base => Some(*r),
            _ => None,
        };
        match b {
            B::In(x, list, false) if is_base_id(x) => list.values.iter().map(row_of).collect(),
            B::Cmp(CmpOp::Eq, x, v, _) if is_base_id(x) => match &**v {
                B::Lit(v) => row_of(v).map(|r| vec![r]),
                _ => None,
            },
            B::Or(x, y) => {
                let mut rows = self.listed_ids(x)?;
                rows.extend(self.listed_ids(y)?);
                Some(rows)
            }
            _ => None,
        }
    }

    fn sort(&self, store: &Store, tuples: Vec<Row>, stride: usize) -> Vec<Row> {
        let n = tuples.len() / stride.max(1);
        let keys: Vec<Vec<Value<'_>>> = (0..n)
            .map(|i| {
                let t = &tuples[i * stride..(i + 1) * stride];
                self.order
                    .iter()
                    .map(|(e, _)| eval(e, store, &self.slots, t))
                    .collect()
            })
            .collect();
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| {
            for (i, (_, desc)) in self.order.iter().enumerate() {
                let o = order(&keys[a][i], &keys[b][i]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let mut out = Vec::with_capacity(tuples.len());
        for i in idx {
            out.extend_from_slice(&tuples[i * stride..(i + 1) * stride]);
        }
        out
    }

    fn join_indexes(&self, store: &Store) -> HashMap<usize, HashMap<Row, Vec<Row>>> {
        let mut out = HashMap::new();
        for (k, slot) in self.slots.iter().enumerate() {
            if let SlotSource::Join {
                strategy: JoinStrategy::ByRef(f, _),
                ..
            } = &slot.source
            {
                let t = store.table(slot.kind);
                let mut idx: HashMap<Row, Vec<Row>> = HashMap::new();
                for r in 0..t.len() as Row {
                    if let Some(target) = t.get_ref(r, *f) {
                        idx.entry(target).or_default().push(r);
                    }
                }
                out.insert(k, idx);
            }
        }
        out
    }

    fn expand(
        &self,
        store: &Store,
        indexes: &HashMap<usize, HashMap<Row, Vec<Row>>>,
        k: usize,
        tuple: &mut Vec<Row>,
        emit: &mut dyn FnMut(&[Row]),
    ) {
        if k == self.slots.len() {
            emit(tuple);
            return;
        }
        let slot = &self.slots[k];
        let joined_mode = if self.deleted == DeletedMode::Only {
            DeletedMode::Both
        } else {
            self.deleted
        };
        match &slot.source {
            SlotSource::Base => {
                tuple[k] = NO_ROW;
                self.expand(store, indexes, k + 1, tuple, emit);
            }
            SlotSource::Path { from, steps } => {
                let mut cur = Some(tuple[*from]).filter(|&r| r != NO_ROW);
                for (kind, fi) in steps {
                    cur = cur.and_then(|r| store.table(*kind).get_ref(r, *fi));
                }
                tuple[k] = cur
                    .filter(|&r| self.visible(store, slot.kind, r, DeletedMode::Exclude))
                    .unwrap_or(NO_ROW);
                self.expand(store, indexes, k + 1, tuple, emit);
            }
            SlotSource::Join { left, on, strategy } => {
                let candidates: Vec<Row> = match strategy {
                    JoinStrategy::ById(other) => match eval(other, store, &self.slots, tuple) {
                        Value::Id(kind, r) if kind == slot.kind => vec![r],
                        Value::Str(s) => store.resolve(slot.kind, &s).into_iter().collect(),
                        _ => Vec::new(),
                    },
                    JoinStrategy::ByRef(_, other) => match eval(other, store, &self.slots, tuple) {
                        Value::Id(_, r) => indexes
                            .get(&k)
                            .and_then(|ix| ix.get(&r))
                            .cloned()
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    },
                    JoinStrategy::Scan => (0..store.table(slot.kind).len() as Row).collect(),
                };
                let mut matched = false;
                for c in candidates {
                    if (c as usize) >= store.table(slot.kind).len()
                        || !self.visible(store, slot.kind, c, joined_mode)
                    {
                        continue;
                    }
                    tuple[k] = c;
                    if truth(on, store, &self.slots, tuple) == Some(true) {
                        matched = true;
                        self.expand(store, indexes, k + 1, tuple, emit);
                    }
                }
                if !matched && *left {
                    tuple[k] = NO_ROW;
                    self.expand(store, indexes, k + 1, tuple, emit);
                }
            }
        }
    }

    /// Evaluates output column `i` for a tuple.
    pub fn output_value<'s>(&self, i: usize, store: &'s Store, tuple: &[Row]) -> Value<'s> {
        eval(&self.outputs[i].expr, store, &self.slots, tuple)
    }

    /// Whether the plan is a lone `count(*)`.
    pub fn is_count(&self) -> bool {
        self.count_only
    }
}

fn eval<'s>(b: &B, store: &'s Store, slots: &[Slot], tuple: &[Row]) -> Value<'s> {
    match b {
        B::Field(s, f) => match tuple.get(*s) {
            Some(&r) if r != NO_ROW => store.table(slots[*s].kind).get(r, *f),
            _ => Value::Null,
        },
        B::Deleted(s) => match tuple.get(*s) {
            Some(&r) if r != NO_ROW => Value::Bool(store.table(slots[*s].kind).is_deleted(r)),
            _ => Value::Null,
        },
        B::Lit(v) => v.clone(),
        other => truth(other, store, slots, tuple).map_or(Value::Null, Value::Bool),
    }
}

fn truth(b: &B, store: &Store, slots: &[Slot], tuple: &[Row]) -> Option<bool> {
    match b {
        B::True => Some(true),
        B::And(x, y) => match (truth(x, store, slots, tuple), truth(y, store, slots, tuple)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        B::Or(x, y) => match (truth(x, store, slots, tuple), truth(y, store, slots, tuple)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        B::Not(x) => truth(x, store, slots, tuple).map(|v| !v),
        B::IsNull(x, neg) => Some(eval(x, store, slots, tuple).is_null() != *neg),
        B::Cmp(op, x, y, seconds) => {
            let (mut a, mut c) = (eval(x, store, slots, tuple), eval(y, store, slots, tuple));
            if *seconds {
                a = truncate_seconds(a);
                c = truncate_seconds(c);
            }
            // Ids are strings at Zuora: a literal that is not an id of the column's kind (a
            // range bound such as '8000…') compares with the id's text.
            let o = match (&a, &c) {
                (Value::Id(k, r), Value::Str(s)) => {
                    store.codec.encode(*k, *r).as_str().cmp(s.as_ref())
                }
                (Value::Str(s), Value::Id(k, r)) => {
                    s.as_ref().cmp(store.codec.encode(*k, *r).as_str())
                }
                _ => compare(&a, &c)?,
            };
            Some(match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
            })
        }
        B::In(x, list, neg) => {
            let v = eval(x, store, slots, tuple);
            if v.is_null() {
                return None;
            }
            Some(list.contains(&v) != *neg)
        }
        B::Like(x, pattern, neg) => {
            let v = eval(x, store, slots, tuple);
            let text = match &v {
                Value::Null => return None,
                Value::Str(s) => s.to_string(),
                Value::Id(k, r) => store.codec.encode(*k, *r),
                other => crate::zuora::store::value_text(other, &store.codec),
            };
            Some(like(&text, pattern) != *neg)
        }
        other => match eval(other, store, slots, tuple) {
            Value::Bool(v) => Some(v),
            _ => None,
        },
    }
}

fn truncate_seconds(v: Value<'_>) -> Value<'_> {
    match v {
        Value::Ts(ms) => Value::Ts(ms.div_euclid(1000) * 1000),
        other => other,
    }
}

/// SQL LIKE with `%` (any run) and `_` (one character).
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zuora::generate::{GenConfig, generate};
    use crate::zuora::store::IdCodec;

    const NOW: i64 = 1_793_491_200_000;

    fn store() -> Store {
        let mut s = Store::new(IdCodec::new(0x2c92_c0f8, 0));
        generate(
            &mut s,
            &GenConfig {
                seed: 3,
                accounts: 120,
                crm_share: 0.5,
                now_ms: NOW,
                number_offset: 0,
                multiline_text: true,
            },
        );
        s
    }

    fn opts(dialect: Dialect) -> QueryOptions {
        QueryOptions {
            dialect,
            deleted: DeletedMode::Exclude,
            since: None,
            deleted_column: None,
            tenant_offset_minutes: 0,
            now_ms: NOW,
        }
    }

    fn run(s: &Store, q: &str, o: &QueryOptions) -> (Plan, ResultRows) {
        match prepare(q, o, s).unwrap() {
            Prepared::Select(p) => {
                let r = p.run(s, &|| false);
                (*p, r)
            }
            Prepared::Fixed { .. } => panic!("not a select"),
        }
    }

    #[test]
    fn ids_listed_in_the_filter_are_looked_up_and_give_what_a_scan_gives() {
        let s = store();
        let ids: Vec<String> = [40u32, 3, 77, 3]
            .iter()
            .map(|&r| s.codec.encode(Kind::Contact, r))
            .collect();
        let quoted: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
        let sql = format!("SELECT id FROM contact WHERE id IN ({})", quoted.join(", "));
        let (plan, r) = run(&s, &sql, &opts(Dialect::Sql));
        assert_eq!(plan.id_lookup(), Some(vec![3, 40, 77]));
        assert_eq!(r.tuples, [3, 40, 77]);
        let ors: Vec<String> = quoted.iter().map(|q| format!("Id = {q}")).collect();
        let zoql = format!("select Id from Contact where {}", ors.join(" or "));
        let (plan, r) = run(&s, &zoql, &opts(Dialect::Zoql));
        assert_eq!(plan.id_lookup(), Some(vec![3, 40, 77]));
        assert_eq!(r.tuples, [3, 40, 77]);
        // Not only ids: a scan, with the same answer.
        let mixed = format!("{sql} OR firstname = 'nobody'");
        let (plan, r) = run(&s, &mixed, &opts(Dialect::Sql));
        assert_eq!(plan.id_lookup(), None);
        assert_eq!(r.tuples, [3, 40, 77]);
    }

    #[test]
    fn where_filters_like_a_reference_scan() {
        let s = store();
        let (_, r) = run(
            &s,
            "select id, balance from account where balance > 100 and status = 'Active'",
            &opts(Dialect::Sql),
        );
        let t = s.table(Kind::Account);
        let def = Kind::Account.def();
        let expected = (0..t.len() as Row)
            .filter(|&row| {
                !t.is_deleted(row)
                    && matches!(t.get(row, def.idx("Balance")), Value::Dec(b) if b > 10_000)
                    && t.get(row, def.idx("Status")) == Value::Str("Active".into())
            })
            .count();
        assert_eq!(r.len(), expected);
        assert!(expected > 0);
    }

    #[test]
    fn joins_follow_references_and_left_join_keeps_unmatched() {
        let s = store();
        let o = opts(Dialect::Sql);
        let (_, inner) = run(
            &s,
            "select a.id, s.id from account a join subscription s on s.accountid = a.id",
            &o,
        );
        let subs = (0..s.table(Kind::Subscription).len() as Row)
            .filter(|&r| !s.table(Kind::Subscription).is_deleted(r))
            .count();
        assert_eq!(inner.len(), subs);
        let (_, left) = run(
            &s,
            "select a.id, s.id from account a left join subscription s on s.accountid = a.id",
            &o,
        );
        assert!(
            left.len() > inner.len(),
            "accounts without subscriptions appear once with NULLs"
        );
        let (_, scan) = run(
            &s,
            "select a.id from account a join contact c on c.accountid = a.id and c.lastname = c.lastname",
            &o,
        );
        let (_, by_id) = run(
            &s,
            "select a.id from contact c join account a on a.id = c.accountid",
            &o,
        );
        assert_eq!(scan.len(), by_id.len());
    }

    #[test]
    fn order_by_and_limit() {
        let s = store();
        let (p, r) = run(
            &s,
            "select name from account order by name desc limit 5",
            &opts(Dialect::Sql),
        );
        assert_eq!(r.len(), 5);
        let names: Vec<String> = (0..5)
            .map(|i| format!("{:?}", p.output_value(0, &s, r.tuple(i))))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(names, sorted);
    }

    #[test]
    fn sql_rejects_string_literals_for_timestamps_but_takes_timestamp_literals() {
        let s = store();
        let o = opts(Dialect::Sql);
        let e = prepare(
            "select id from account where updateddate > '2026-01-01'",
            &o,
            &s,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Cannot apply operator"));
        let (_, r) = run(
            &s,
            "select id from account where updateddate >= TIMESTAMP '1970-01-02 00:00:00 +00:00'",
            &o,
        );
        assert_eq!(
            r.len(),
            (0..120)
                .filter(|&row| !s.table(Kind::Account).is_deleted(row))
                .count()
        );
    }

    #[test]
    fn zoql_space_separated_datetime_drops_the_predicate() {
        let s = store();
        let o = opts(Dialect::ZoqlExport);
        let (_, all) = run(&s, "select Id from Account", &o);
        let (_, quirk) = run(
            &s,
            "select Id from Account where UpdatedDate >= '2099-01-01 00:00:00'",
            &o,
        );
        let (_, iso) = run(
            &s,
            "select Id from Account where UpdatedDate >= '2099-01-01T00:00:00Z'",
            &o,
        );
        assert_eq!(quirk.len(), all.len());
        assert_eq!(iso.len(), 0);
    }

    #[test]
    fn zoql_dot_notation_reaches_joined_objects() {
        let s = store();
        let (p, r) = run(
            &s,
            "select Account.Name, BillToContact.FirstName, Invoice.InvoiceNumber from InvoiceItem where Account.Status = 'Active'",
            &opts(Dialect::ZoqlExport),
        );
        assert!(!r.is_empty());
        assert_eq!(p.outputs[0].api_name, "Account.Name");
        assert_eq!(p.outputs[1].label, "Bill To: First Name");
        assert_eq!(p.outputs[2].api_name, "Invoice.InvoiceNumber");
    }

    #[test]
    fn zoql_star_returns_only_exportable_fields() {
        let s = store();
        let (p, _) = run(
            &s,
            "select * from RatePlanCharge limit 1",
            &opts(Dialect::ZoqlExport),
        );
        assert!(p.outputs.iter().all(|o| o.field_name != "RolloverBalance"));
        assert!(
            prepare(
                "select RolloverBalance from RatePlanCharge",
                &opts(Dialect::ZoqlExport),
                &s
            )
            .is_err()
        );
        assert!(
            prepare(
                "select RolloverBalance from RatePlanCharge",
                &opts(Dialect::Zoql),
                &s
            )
            .is_ok()
        );
    }

    #[test]
    fn deleted_rows_visibility_and_retention() {
        let s = store();
        let mut o = opts(Dialect::Sql);
        let (_, live) = run(&s, "select id from contact", &o);
        o.deleted = DeletedMode::Only;
        let (_, deleted) = run(&s, "select id from contact", &o);
        o.deleted = DeletedMode::Exclude;
        let (_, both) = run(&s, "select id, deleted from contact", &o);
        assert_eq!(both.len(), live.len() + deleted.len());
        let t = s.table(Kind::Contact);
        let all_deleted = (0..t.len() as Row).filter(|&r| t.is_deleted(r)).count();
        assert!(
            deleted.len() <= all_deleted,
            "rows deleted over 30 days ago are purged"
        );
        assert!(prepare("select id from contact where deleted = true", &o, &s).is_err());
    }

    #[test]
    fn like_matches_sql_semantics() {
        assert!(like("Blue Harbor", "Blue%"));
        assert!(like("Blue Harbor", "%Harbor"));
        assert!(like("Blue Harbor", "B_ue%r"));
        assert!(!like("Blue", "Blue_"));
        assert!(like("", "%"));
    }

    #[test]
    fn show_tables_and_describe() {
        let s = store();
        let o = opts(Dialect::Sql);
        let Prepared::Fixed { rows, .. } = prepare("show tables", &o, &s).unwrap() else {
            panic!()
        };
        assert!(rows.iter().any(|r| r[0] == "invoiceitem"));
        let Prepared::Fixed { headers, rows } = prepare("DESCRIBE account", &o, &s).unwrap() else {
            panic!()
        };
        assert_eq!(headers, ["Column", "Type", "Extra", "Comment"]);
        assert!(
            rows.iter()
                .any(|r| r[0] == "updateddate" && r[1].starts_with("timestamp"))
        );
    }

    #[test]
    fn count_star() {
        let s = store();
        let (_, r) = run(&s, "select count(*) from account", &opts(Dialect::Sql));
        assert_eq!(
            r.count,
            Some(
                (0..120)
                    .filter(|&row| !s.table(Kind::Account).is_deleted(row))
                    .count()
            )
        );
    }
}
