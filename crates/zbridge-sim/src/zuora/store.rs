//! Compact columnar storage of one entity's data.
//!
//! A tenant of 100k accounts holds millions of rows, so every table stores one typed vector per
//! field: references are row numbers (`u32`), dates are day numbers, instants are milliseconds,
//! picklists are option indices, and the `Id` column is not stored at all: it is derived from the
//! row number (see [`IdCodec`]). Text shares `Arc<str>` values so repeated strings cost one
//! pointer.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use super::schema::{FieldDef, FieldType, Kind, ObjectDef, catalog};
use super::synthetic::Recipe;

/// Row number inside a table.
pub type Row = u32;

/// "No row" in a reference column.
pub const NO_ROW: Row = u32::MAX;

/// Fixed-point scale of decimals (two decimals).
pub const DEC_SCALE: i64 = 100;

/// A value read from a table or written by a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Whole number.
    Int(i64),
    /// Decimal scaled by [`DEC_SCALE`].
    Dec(i64),
    /// Text.
    Str(Cow<'a, str>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since the epoch.
    Ts(i64),
    /// A row of a table, rendered as its 32-hex id.
    Id(Kind, Row),
}

impl Value<'_> {
    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Detaches the value from the table it was read from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Dec(d) => Value::Dec(d),
            Value::Date(d) => Value::Date(d),
            Value::Ts(t) => Value::Ts(t),
            Value::Id(k, r) => Value::Id(k, r),
        }
    }
}

/// Encodes rows as Zuora-looking 32-hex ids and decodes them back.
///
/// Layout: 8 hex of tenant prefix (from the seed), 2 hex entity, 2 hex object code, 20 hex row
/// number. Ids of one object therefore sort in creation order, as Zuora's (time-based) ids do.
#[derive(Debug, Clone, Copy)]
pub struct IdCodec {
    prefix: u32,
    entity: u8,
}

impl IdCodec {
    /// A codec for one entity of a tenant.
    pub fn new(prefix: u32, entity: u8) -> Self {
        Self { prefix, entity }
    }

    /// Appends the id of `(kind, row)` to `out`.
    pub fn write(&self, kind: Kind, row: Row, out: &mut String) {
        let _ = write!(
            out,
            "{:08x}{:02x}{:02x}{:020x}",
            self.prefix, self.entity, kind as u8, row
        );
    }

    /// The id of `(kind, row)`.
    pub fn encode(&self, kind: Kind, row: Row) -> String {
        let mut s = String::with_capacity(32);
        self.write(kind, row, &mut s);
        s
    }

    /// Decodes an id of this entity; `None` for anything else (wrong length, other tenant…).
    pub fn decode(&self, id: &str) -> Option<(Kind, Row)> {
        if id.len() != 32 || !id.is_ascii() {
            return None;
        }
        let prefix = u32::from_str_radix(&id[0..8], 16).ok()?;
        let entity = u8::from_str_radix(&id[8..10], 16).ok()?;
        let kind = Kind::from_code(u16::from_str_radix(&id[10..12], 16).ok()?)?;
        let row = u64::from_str_radix(&id[12..32], 16).ok()?;
        if prefix != self.prefix || entity != self.entity {
            return None;
        }
        Some((kind, Row::try_from(row).ok()?))
    }
}

/// One typed column.
#[derive(Debug)]
enum Col {
    RowId,
    Ref(Vec<Row>),
    Int(Vec<i64>),
    Dec(Vec<i64>),
    Bool(Vec<u8>),
    Date(Vec<i32>),
    Ts(Vec<i64>),
    Pick(Vec<u8>, &'static [&'static str]),
    Text(Vec<Option<Arc<str>>>),
    /// Values computed from the row number (synthetic objects), shadowed by edits.
    Computed(Box<Computed>),
}

/// A computed column: rows below `rows` follow the recipe unless edited; later rows (created
/// through the API) are NULL until written.
#[derive(Debug)]
struct Computed {
    name: &'static str,
    recipe: Option<Recipe>,
    rows: Row,
    edits: HashMap<Row, Value<'static>>,
}

impl Computed {
    fn get(&self, row: Row) -> Value<'_> {
        match (self.edits.get(&row), &self.recipe) {
            (Some(edited), _) => borrow(edited),
            (None, Some(recipe)) if row < self.rows => recipe.value(row, self.name),
            _ => Value::Null,
        }
    }
}

fn borrow<'a>(v: &'a Value<'static>) -> Value<'a> {
    match v {
        Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
        other => other.clone(),
    }
}

const NULL_I64: i64 = i64::MIN;
const NULL_I32: i32 = i32::MIN;
const NULL_U8: u8 = u8::MAX;

impl Col {
    fn for_field(def: &FieldDef, synthetic: bool) -> Col {
        let stored = matches!(def.name, "Id" | "CreatedDate" | "UpdatedDate");
        if synthetic && !stored {
            return Col::Computed(Box::new(Computed {
                name: def.name,
                recipe: None,
                rows: 0,
                edits: HashMap::new(),
            }));
        }
        Col::new(def.ty)
    }

    fn new(ty: FieldType) -> Col {
        match ty {
            FieldType::Id => Col::RowId,
            FieldType::Ref(_) => Col::Ref(Vec::new()),
            FieldType::Text => Col::Text(Vec::new()),
            FieldType::Picklist(opts) => Col::Pick(Vec::new(), opts),
            FieldType::Bool => Col::Bool(Vec::new()),
            FieldType::Int => Col::Int(Vec::new()),
            FieldType::Decimal => Col::Dec(Vec::new()),
            FieldType::Date => Col::Date(Vec::new()),
            FieldType::DateTime => Col::Ts(Vec::new()),
        }
    }

    /// Appends a copy of `row`; `new` is the appended row's number.
    fn push_copy_of(&mut self, row: usize, new: Row) {
        fn again<T: Clone>(v: &mut Vec<T>, row: usize) {
            let value = v[row].clone();
            v.push(value);
        }
        match self {
            Col::RowId => {}
            Col::Computed(c) => {
                let value = c.get(row as Row).into_owned();
                c.edits.insert(new, value);
            }
            Col::Ref(v) => again(v, row),
            Col::Int(v) | Col::Dec(v) | Col::Ts(v) => again(v, row),
            Col::Bool(v) | Col::Pick(v, _) => again(v, row),
            Col::Date(v) => again(v, row),
            Col::Text(v) => again(v, row),
        }
    }

    fn push_null(&mut self) {
        match self {
            Col::RowId | Col::Computed(_) => {}
            Col::Ref(v) => v.push(NO_ROW),
            Col::Int(v) | Col::Dec(v) | Col::Ts(v) => v.push(NULL_I64),
            Col::Bool(v) | Col::Pick(v, _) => v.push(NULL_U8),
            Col::Date(v) => v.push(NULL_I32),
            Col::Text(v) => v.push(None),
        }
    }
}

/// A value could not be stored in a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {field}: {reason}")]
pub struct SetError {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The rows of one object.
#[derive(Debug)]
pub struct Table {
    /// Which object.
    pub kind: Kind,
    cols: Vec<Col>,
    /// When each row was soft-deleted (milliseconds), or `i64::MIN` while it is live.
    pub deleted_at: Vec<i64>,
    /// `CreatedDate` and `UpdatedDate` column indices, used by every write.
    created_idx: usize,
    updated_idx: usize,
}

impl Table {
    /// An empty table of `kind`.
    pub fn new(kind: Kind) -> Self {
        let def = kind.def();
        Table {
            kind,
            cols: def
                .fields
                .iter()
                .map(|f| Col::for_field(f, def.synthetic))
                .collect(),
            deleted_at: Vec::new(),
            created_idx: def.idx("CreatedDate"),
            updated_idx: def.idx("UpdatedDate"),
        }
    }

    /// Number of rows, deleted ones included.
    pub fn len(&self) -> usize {
        self.deleted_at.len()
    }

    /// Whether the table has no rows at all.
    pub fn is_empty(&self) -> bool {
        self.deleted_at.is_empty()
    }

    /// Reserves room for `n` more rows.
    pub fn reserve(&mut self, n: usize) {
        self.deleted_at.reserve(n);
        for c in &mut self.cols {
            match c {
                Col::RowId | Col::Computed(_) => {}
                Col::Ref(v) => v.reserve(n),
                Col::Int(v) | Col::Dec(v) | Col::Ts(v) => v.reserve(n),
                Col::Bool(v) | Col::Pick(v, _) => v.reserve(n),
                Col::Date(v) => v.reserve(n),
                Col::Text(v) => v.reserve(n),
            }
        }
    }

    /// Appends a row of NULLs with the given audit dates and returns its number.
    pub fn push(&mut self, created: i64, updated: i64) -> Row {
        let row = Row::try_from(self.deleted_at.len()).unwrap_or(NO_ROW - 1);
        for c in &mut self.cols {
            c.push_null();
        }
        self.deleted_at.push(i64::MIN);
        self.set_ts(row, self.created_idx, created);
        self.set_ts(row, self.updated_idx, updated);
        row
    }

    /// Appends a live copy of `from` (same fields and references, a new id) created at `now`.
    pub fn push_copy(&mut self, from: Row, now: i64) -> Row {
        let row = Row::try_from(self.deleted_at.len()).unwrap_or(NO_ROW - 1);
        for c in &mut self.cols {
            c.push_copy_of(from as usize, row);
        }
        self.deleted_at.push(i64::MIN);
        self.set_ts(row, self.created_idx, now);
        self.set_ts(row, self.updated_idx, now);
        row
    }

    /// Whether the row is soft-deleted.
    pub fn is_deleted(&self, row: Row) -> bool {
        self.deleted_at
            .get(row as usize)
            .is_some_and(|&d| d != i64::MIN)
    }

    /// Soft-deletes a row at `now` and stamps its `UpdatedDate`.
    pub fn delete(&mut self, row: Row, now: i64) {
        if let Some(d) = self.deleted_at.get_mut(row as usize) {
            *d = now;
            self.set_ts(row, self.updated_idx, now);
        }
    }

    /// Marks the row as changed at `now`.
    pub fn touch(&mut self, row: Row, now: i64) {
        self.set_ts(row, self.updated_idx, now);
    }

    /// The row's `UpdatedDate`.
    pub fn updated(&self, row: Row) -> i64 {
        match &self.cols[self.updated_idx] {
            Col::Ts(v) => v[row as usize],
            _ => NULL_I64,
        }
    }

    /// The row's `CreatedDate`.
    pub fn created(&self, row: Row) -> i64 {
        match &self.cols[self.created_idx] {
            Col::Ts(v) => v[row as usize],
            _ => NULL_I64,
        }
    }

    /// Makes every computed column follow its recipe for the first `rows` rows: `salt` varies
    /// the values, references pick among `targets` rows, dates fall before `now_ms`.
    pub fn compute(&mut self, salt: u64, targets: Row, now_ms: i64, rows: Row) {
        let def = self.kind.def();
        for (i, c) in self.cols.iter_mut().enumerate() {
            if let Col::Computed(computed) = c {
                computed.recipe = Some(Recipe {
                    ty: def.fields[i].ty,
                    field: i as u64,
                    salt,
                    targets,
                    now_ms,
                });
                computed.rows = rows;
            }
        }
    }

    /// Reads one field.
    pub fn get(&self, row: Row, field: usize) -> Value<'_> {
        read(
            &self.cols[field],
            row,
            self.kind,
            self.kind.def().fields[field].ty,
        )
    }

    /// The referenced row of a reference column.
    pub fn get_ref(&self, row: Row, field: usize) -> Option<Row> {
        match &self.cols[field] {
            Col::Ref(v) => v.get(row as usize).copied().filter(|&r| r != NO_ROW),
            Col::RowId => Some(row),
            Col::Computed(c) => match c.get(row) {
                Value::Id(_, target) => Some(target),
                _ => None,
            },
            _ => None,
        }
    }

    /// Records an edit of a computed cell; false when the column is stored.
    fn edit(&mut self, row: Row, field: usize, value: Value<'static>) -> bool {
        match &mut self.cols[field] {
            Col::Computed(c) => {
                c.edits.insert(row, value);
                true
            }
            _ => false,
        }
    }

    /// Writes a reference.
    pub fn set_ref(&mut self, row: Row, field: usize, target: Option<Row>) {
        if let FieldType::Ref(kind) = self.kind.def().fields[field].ty {
            let value = target.map_or(Value::Null, |t| Value::Id(kind, t));
            if self.edit(row, field, value) {
                return;
            }
        }
        if let Col::Ref(v) = &mut self.cols[field] {
            v[row as usize] = target.unwrap_or(NO_ROW);
        }
    }

    /// Writes text (shared).
    pub fn set_text(&mut self, row: Row, field: usize, value: Arc<str>) {
        let ty = self.kind.def().fields[field].ty;
        if matches!(ty, FieldType::Text | FieldType::Picklist(_))
            && self.edit(row, field, Value::Str(Cow::Owned(value.to_string())))
        {
            return;
        }
        match &mut self.cols[field] {
            Col::Text(v) => v[row as usize] = Some(value),
            Col::Pick(v, opts) => {
                if let Some(i) = opts.iter().position(|o| **o == *value) {
                    v[row as usize] = u8::try_from(i).unwrap_or(NULL_U8);
                }
            }
            _ => {}
        }
    }

    /// Writes a picklist option by index.
    pub fn set_pick(&mut self, row: Row, field: usize, option: usize) {
        if let FieldType::Picklist(opts) = self.kind.def().fields[field].ty {
            let value = opts
                .get(option)
                .map_or(Value::Null, |o| Value::Str(Cow::Borrowed(o)));
            if self.edit(row, field, value) {
                return;
            }
        }
        if let Col::Pick(v, opts) = &mut self.cols[field] {
            v[row as usize] = if option < opts.len() {
                u8::try_from(option).unwrap_or(NULL_U8)
            } else {
                NULL_U8
            };
        }
    }

    /// Writes an integer, decimal (already scaled) or instant.
    pub fn set_i64(&mut self, row: Row, field: usize, value: i64) {
        let typed = match self.kind.def().fields[field].ty {
            FieldType::Int => Some(Value::Int(value)),
            FieldType::Decimal => Some(Value::Dec(value)),
            FieldType::DateTime => Some(Value::Ts(value)),
            _ => None,
        };
        if let Some(typed) = typed
            && self.edit(row, field, typed)
        {
            return;
        }
        match &mut self.cols[field] {
            Col::Int(v) | Col::Dec(v) | Col::Ts(v) => v[row as usize] = value,
            _ => {}
        }
    }

    fn set_ts(&mut self, row: Row, field: usize, value: i64) {
        self.set_i64(row, field, value);
    }

    /// Writes a date (days since the epoch).
    pub fn set_date(&mut self, row: Row, field: usize, days: i32) {
        if self.kind.def().fields[field].ty == FieldType::Date
            && self.edit(row, field, Value::Date(days))
        {
            return;
        }
        if let Col::Date(v) = &mut self.cols[field] {
            v[row as usize] = days;
        }
    }

    /// Writes a boolean.
    pub fn set_bool(&mut self, row: Row, field: usize, value: bool) {
        if self.kind.def().fields[field].ty == FieldType::Bool
            && self.edit(row, field, Value::Bool(value))
        {
            return;
        }
        if let Col::Bool(v) = &mut self.cols[field] {
            v[row as usize] = u8::from(value);
        }
    }

    /// Writes any value, converting text to the field's type (the Actions API path).
    pub fn set_value(
        &mut self,
        row: Row,
        field: usize,
        value: &Value<'_>,
        codec: &IdCodec,
    ) -> Result<(), SetError> {
        let def = &self.kind.def().fields[field];
        if let Col::Computed(computed) = &mut self.cols[field] {
            // Converted through a one-cell stored column, so both kinds of column accept and
            // refuse exactly the same values.
            let mut scratch = Col::new(def.ty);
            scratch.push_null();
            write(&mut scratch, 0, def, value, codec)?;
            let typed = read(&scratch, 0, self.kind, def.ty).into_owned();
            computed.edits.insert(row, typed);
            return Ok(());
        }
        write(&mut self.cols[field], row as usize, def, value, codec)
    }
}

/// Reads one cell of a column of `kind`'s field of type `ty`.
fn read(col: &Col, row: Row, kind: Kind, ty: FieldType) -> Value<'_> {
    let r = row as usize;
    match col {
        Col::RowId => Value::Id(kind, row),
        Col::Ref(v) => match (v[r], ty) {
            (NO_ROW, _) => Value::Null,
            (target, FieldType::Ref(k)) => Value::Id(k, target),
            _ => Value::Null,
        },
        Col::Int(v) => opt_i64(v[r]).map_or(Value::Null, Value::Int),
        Col::Dec(v) => opt_i64(v[r]).map_or(Value::Null, Value::Dec),
        Col::Ts(v) => opt_i64(v[r]).map_or(Value::Null, Value::Ts),
        Col::Bool(v) => match v[r] {
            NULL_U8 => Value::Null,
            b => Value::Bool(b == 1),
        },
        Col::Date(v) => match v[r] {
            NULL_I32 => Value::Null,
            d => Value::Date(d),
        },
        Col::Pick(v, opts) => match opts.get(v[r] as usize) {
            Some(s) => Value::Str(Cow::Borrowed(s)),
            None => Value::Null,
        },
        Col::Text(v) => match &v[r] {
            Some(s) => Value::Str(Cow::Borrowed(s)),
            None => Value::Null,
        },
        Col::Computed(c) => c.get(row),
    }
}

/// Writes any value into a stored column, converting text to the field's type.
fn write(
    col: &mut Col,
    r: usize,
    def: &FieldDef,
    value: &Value<'_>,
    codec: &IdCodec,
) -> Result<(), SetError> {
    let err = |reason: &str| SetError {
        field: def.name.to_string(),
        reason: reason.to_string(),
    };
    if value.is_null() {
        match col {
            Col::RowId => return Err(err("the Id cannot be written")),
            c => set_null(c, r),
        }
        return Ok(());
    }
    match (col, def.ty) {
        (Col::RowId, _) => return Err(err("the Id cannot be written")),
        (Col::Ref(v), FieldType::Ref(target)) => {
            let id = value_text(value, codec);
            match codec.decode(&id) {
                Some((k, tr)) if k == target => v[r] = tr,
                _ => {
                    return Err(err(&format!(
                        "'{id}' is not a valid {} id",
                        target.def().name
                    )));
                }
            }
        }
        (Col::Int(v), _) => v[r] = to_i64(value).ok_or_else(|| err("expected an integer"))?,
        (Col::Dec(v), _) => v[r] = to_dec(value).ok_or_else(|| err("expected a number"))?,
        (Col::Ts(v), _) => v[r] = to_ts(value).ok_or_else(|| err("expected a date-time"))?,
        (Col::Date(v), _) => {
            v[r] = to_date(value).ok_or_else(|| err("expected a date (yyyy-mm-dd)"))?
        }
        (Col::Bool(v), _) => {
            v[r] = match value {
                Value::Bool(b) => u8::from(*b),
                Value::Str(s) if s.eq_ignore_ascii_case("true") => 1,
                Value::Str(s) if s.eq_ignore_ascii_case("false") => 0,
                _ => return Err(err("expected true or false")),
            }
        }
        (Col::Pick(v, opts), _) => {
            let text = value_text(value, codec);
            let i = opts
                .iter()
                .position(|o| o.eq_ignore_ascii_case(&text))
                .ok_or_else(|| err(&format!("'{text}' should be one of: {}", opts.join(", "))))?;
            v[r] = u8::try_from(i).unwrap_or(NULL_U8);
        }
        (Col::Text(v), _) => v[r] = Some(Arc::from(value_text(value, codec))),
        (Col::Ref(_), _) => return Err(err("reference without a target")),
        (Col::Computed(_), _) => return Err(err("a computed column is edited by its table")),
    }
    Ok(())
}

fn set_null(c: &mut Col, r: usize) {
    match c {
        Col::RowId | Col::Computed(_) => {}
        Col::Ref(v) => v[r] = NO_ROW,
        Col::Int(v) | Col::Dec(v) | Col::Ts(v) => v[r] = NULL_I64,
        Col::Bool(v) | Col::Pick(v, _) => v[r] = NULL_U8,
        Col::Date(v) => v[r] = NULL_I32,
        Col::Text(v) => v[r] = None,
    }
}

fn opt_i64(v: i64) -> Option<i64> {
    (v != NULL_I64).then_some(v)
}

fn to_i64(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Dec(d) => Some(d / DEC_SCALE),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn to_dec(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => i.checked_mul(DEC_SCALE),
        Value::Dec(d) => Some(*d),
        Value::Str(s) => parse_decimal(s),
        _ => None,
    }
}

fn to_ts(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Ts(t) => Some(*t),
        Value::Date(d) => Some(i64::from(*d) * 86_400_000),
        Value::Str(s) => super::format::parse_iso_instant(s),
        _ => None,
    }
}

fn to_date(v: &Value<'_>) -> Option<i32> {
    match v {
        Value::Date(d) => Some(*d),
        Value::Ts(t) => i32::try_from(t.div_euclid(86_400_000)).ok(),
        Value::Str(s) => parse_date(s.get(..10).unwrap_or(s)),
        _ => None,
    }
}

/// Text form of a value for text-typed writes.
pub fn value_text(v: &Value<'_>, codec: &IdCodec) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Dec(d) => format_decimal(*d, 2),
        Value::Str(s) => s.to_string(),
        Value::Date(d) => format_date(*d),
        Value::Ts(t) => super::format::iso_utc(*t),
        Value::Id(k, r) => codec.encode(*k, *r),
    }
}

/// Parses `123`, `-1.5`, `0.125` into a value scaled by [`DEC_SCALE`] (rounded half away from zero).
pub fn parse_decimal(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let mut frac = 0i64;
    let mut round_up = false;
    for (i, b) in frac_part.bytes().enumerate() {
        let d = i64::from(b - b'0');
        match i {
            0 => frac += d * 10,
            1 => frac += d,
            2 => round_up = d >= 5,
            _ => break,
        }
    }
    let v = whole
        .checked_mul(DEC_SCALE)?
        .checked_add(frac + i64::from(round_up))?;
    Some(if neg { -v } else { v })
}

/// Formats a scaled decimal with exactly `places` decimals (2 or more).
pub fn format_decimal(v: i64, places: usize) -> String {
    let mut s = String::new();
    write_decimal(v, places, &mut s);
    s
}

/// Appends a scaled decimal with exactly `places` decimals.
pub fn write_decimal(v: i64, places: usize, out: &mut String) {
    let neg = v < 0;
    let abs = v.unsigned_abs();
    let whole = abs / DEC_SCALE as u64;
    let frac = abs % DEC_SCALE as u64;
    if neg {
        out.push('-');
    }
    match u32::try_from(whole) {
        Ok(small) => super::format::push_padded(out, small, 1),
        Err(_) => {
            let _ = write!(out, "{whole}");
        }
    }
    if places > 0 {
        out.push('.');
        super::format::push_padded(out, frac as u32, 2);
        for _ in 2..places {
            out.push('0');
        }
    }
}

/// Days since the epoch of `yyyy-mm-dd`.
pub fn parse_date(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.num_days_from_ce() - EPOCH_DAYS_FROM_CE)
}

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// `yyyy-mm-dd` of days since the epoch.
pub fn format_date(days: i32) -> String {
    let mut out = String::with_capacity(10);
    if !super::format::write_days(&mut out, i64::from(days)) {
        return NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
    }
    out
}

/// Total order used by ORDER BY: NULLs first (ascending), then by value.
pub fn order(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

/// Compares two non-NULL values of compatible types; `None` when they cannot be compared.
pub fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    use Value::*;
    Some(match (a, b) {
        (Null, _) | (_, Null) => return None,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Dec(x), Dec(y)) => x.cmp(y),
        (Int(x), Dec(y)) => i128::from(*x * DEC_SCALE).cmp(&i128::from(*y)),
        (Dec(x), Int(y)) => i128::from(*x).cmp(&i128::from(*y * DEC_SCALE)),
        (Str(x), Str(y)) => x.as_ref().cmp(y.as_ref()),
        (Date(x), Date(y)) => x.cmp(y),
        (Ts(x), Ts(y)) => x.cmp(y),
        (Date(x), Ts(y)) => (i64::from(*x) * 86_400_000).cmp(y),
        (Ts(x), Date(y)) => x.cmp(&(i64::from(*y) * 86_400_000)),
        (Id(k1, r1), Id(k2, r2)) => (*k1 as u8, r1).cmp(&(*k2 as u8, r2)),
        (Bool(x), Str(s)) => x.to_string().as_str().cmp(&s.to_ascii_lowercase()),
        (Str(s), Bool(x)) => s.to_ascii_lowercase().as_str().cmp(x.to_string().as_str()),
        (Int(_) | Dec(_), Str(s)) => compare(a, &Dec(parse_decimal(s)?))?,
        (Str(s), Int(_) | Dec(_)) => compare(&Dec(parse_decimal(s)?), b)?,
        _ => return None,
    })
}

/// Year of a date (days since the epoch); used by the generator.
pub fn year_of(days: i32) -> i32 {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE).map_or(1970, |d| d.year())
}

/// All tables of one entity.
#[derive(Debug)]
pub struct Store {
    /// Encodes this entity's ids.
    pub codec: IdCodec,
    /// Tables indexed by [`Kind::index`].
    pub tables: Vec<Table>,
    /// Feature-gated objects this tenant does not have (describe, queries and the Actions API
    /// do not know them).
    disabled: Vec<Kind>,
}

impl Store {
    /// An empty store.
    pub fn new(codec: IdCodec) -> Self {
        Store {
            codec,
            tables: Kind::ALL.iter().map(|&k| Table::new(k)).collect(),
            disabled: Kind::ALL
                .iter()
                .copied()
                .filter(|k| k.def().synthetic)
                .collect(),
        }
    }

    /// Whether the tenant has the object (synthetic objects are off until filled).
    pub fn enabled(&self, kind: Kind) -> bool {
        !self.disabled.contains(&kind)
    }

    /// Turns a feature-gated object on.
    pub fn enable(&mut self, kind: Kind) {
        self.disabled.retain(|&k| k != kind);
    }

    /// The object named `name` (API or Data Query name, any case), if this tenant has it.
    pub fn object(&self, name: &str) -> Option<&'static ObjectDef> {
        catalog().object(name).filter(|o| self.enabled(o.kind))
    }

    /// The table of `kind`.
    pub fn table(&self, kind: Kind) -> &Table {
        &self.tables[kind.index()]
    }

    /// The table of `kind`, writable.
    pub fn table_mut(&mut self, kind: Kind) -> &mut Table {
        &mut self.tables[kind.index()]
    }

    /// Rows per table, deleted included.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        self.tables
            .iter()
            .map(|t| (t.kind.def().name, t.len()))
            .collect()
    }

    /// The row an id names, if it is a row of `kind` in this entity.
    pub fn resolve(&self, kind: Kind, id: &str) -> Option<Row> {
        match self.codec.decode(id) {
            Some((k, r)) if k == kind && (r as usize) < self.table(kind).len() => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_round_trip_and_sort_in_row_order() {
        let c = IdCodec::new(0x2c92_c0f8, 0);
        let a = c.encode(Kind::Account, 7);
        let b = c.encode(Kind::Account, 300);
        assert_eq!(a.len(), 32);
        assert!(a < b);
        assert_eq!(c.decode(&a), Some((Kind::Account, 7)));
        assert_eq!(IdCodec::new(1, 0).decode(&a), None);
    }

    #[test]
    fn decimals_parse_and_format() {
        assert_eq!(parse_decimal("12.345"), Some(1235));
        assert_eq!(parse_decimal("-0.5"), Some(-50));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(format_decimal(-50, 2), "-0.50");
        assert_eq!(format_decimal(123_456, 6), "1234.560000");
    }

    #[test]
    fn table_set_value_converts_text() {
        let codec = IdCodec::new(1, 0);
        let mut t = Table::new(Kind::Account);
        let r = t.push(1, 2);
        let def = Kind::Account.def();
        t.set_value(r, def.idx("BillCycleDay"), &Value::Str("15".into()), &codec)
            .unwrap();
        assert_eq!(t.get(r, def.idx("BillCycleDay")), Value::Int(15));
        let e = t
            .set_value(r, def.idx("Status"), &Value::Str("Bogus".into()), &codec)
            .unwrap_err();
        assert!(e.reason.contains("Draft"));
        t.set_value(r, def.idx("Status"), &Value::Str("active".into()), &codec)
            .unwrap();
        assert_eq!(t.get(r, def.idx("Status")), Value::Str("Active".into()));
    }

    proptest! {
        #[test]
        fn decimal_text_round_trips(v in -1_000_000_000i64..1_000_000_000) {
            prop_assert_eq!(parse_decimal(&format_decimal(v, 2)), Some(v));
        }

        #[test]
        fn dates_round_trip(d in -20_000i32..40_000) {
            prop_assert_eq!(parse_date(&format_date(d)), Some(d));
        }
    }
}
