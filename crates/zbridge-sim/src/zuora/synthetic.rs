//! Rows computed instead of stored, for tables far larger than the generated tenant.
//!
//! `WideRecord` (100 fields) holds no values: each cell is a pure function of a per-table salt,
//! the field and the row number, so a table of 5 million rows costs only its audit dates and
//! deletion marks (24 bytes a row) instead of gigabytes. Writes through the Actions API or the
//! control API are kept as per-cell edits that shadow the computed value.

use std::borrow::Cow;

use super::schema::{FieldType, Kind};
use super::store::{DEC_SCALE, Row, Store, Value};

const DAY_MS: i64 = 86_400_000;
/// Values spread over the four years before the tenant's "now", like the generated tenant.
const SPAN_DAYS: i64 = 4 * 365;

const WORDS: &[&str] = &[
    "Alpha", "Bravo", "Cedar", "Delta", "Ember", "Falcon", "Garnet", "Harbor", "Indigo", "Juniper",
    "Kestrel", "Linden", "Meadow", "Nimbus", "Orchid", "Prairie", "Quartz", "Raven", "Sierra",
    "Tundra",
];

/// The inputs of one computed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// The field's type.
    pub ty: FieldType,
    /// The field's position in its object.
    pub field: u64,
    /// Per-table salt (from the seed).
    pub salt: u64,
    /// Rows of the referenced table (references pick one of them).
    pub targets: Row,
    /// The tenant's "now" when the table was generated (milliseconds).
    pub now_ms: i64,
}

/// SplitMix64: a fast, well-mixed hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Recipe {
    fn hash(&self, row: Row) -> u64 {
        mix(self.salt ^ mix(self.field.wrapping_mul(0x1000_0001) ^ u64::from(row)))
    }

    /// The value of `row` (`name` tells the standard text fields apart).
    pub fn value(&self, row: Row, name: &str) -> Value<'static> {
        let h = self.hash(row);
        // One custom cell in twenty is empty, as sparsely filled custom fields are.
        if name.ends_with("__c") && h.is_multiple_of(20) {
            return Value::Null;
        }
        let n = h >> 8;
        match self.ty {
            FieldType::Id => Value::Id(Kind::WideRecord, row),
            FieldType::Ref(kind) if self.targets > 0 => {
                Value::Id(kind, (n % u64::from(self.targets)) as Row)
            }
            FieldType::Ref(_) => Value::Null,
            FieldType::Text => Value::Str(Cow::Owned(self.text(row, n, name))),
            FieldType::Picklist(options) => {
                Value::Str(Cow::Borrowed(options[(n % options.len() as u64) as usize]))
            }
            FieldType::Bool => Value::Bool(n.is_multiple_of(2)),
            FieldType::Int => Value::Int((n % 10_000) as i64),
            FieldType::Decimal => Value::Dec((n % (1_000_000 * DEC_SCALE as u64)) as i64),
            FieldType::Date => {
                Value::Date((self.now_ms / DAY_MS - (n % SPAN_DAYS as u64) as i64) as i32)
            }
            FieldType::DateTime => {
                Value::Ts(self.now_ms - (n % (SPAN_DAYS * DAY_MS) as u64) as i64)
            }
        }
    }

    fn text(&self, row: Row, n: u64, name: &str) -> String {
        let word = WORDS[(n % WORDS.len() as u64) as usize];
        match name {
            "Name" => format!("{word} record {}", u64::from(row) + 1),
            "RecordNumber" => format!("WR{:09}", u64::from(row) + 1),
            "CreatedById" | "UpdatedById" => format!("{:032x}", mix(self.salt ^ (n % 4))),
            // Some values need CSV quoting, as real free text does (never a line break:
            // line-based readers such as tap-zuora must be able to read the file).
            _ if n % 50 == 7 => format!("{word}, \"{}\"", n % 100_000),
            _ => format!("{word}-{}", n % 1_000_000),
        }
    }
}

/// Fills the `WideRecord` table of `store` with `rows` computed rows, each referencing one of
/// the store's accounts, and enables the object. `now_ms` is the tenant's "now".
pub fn fill(store: &mut Store, rows: Row, seed: u64, now_ms: i64) {
    let accounts = Row::try_from(store.table(Kind::Account).len()).unwrap_or(Row::MAX);
    let salt = mix(seed ^ 0x3D1D_E5EE);
    let table = store.table_mut(Kind::WideRecord);
    table.reserve(rows as usize);
    let span = SPAN_DAYS * DAY_MS;
    let step = (span / i64::from(rows.max(1))).max(1);
    for row in 0..rows {
        // Ids follow creation order; one row in ten changed during the last week.
        let created = now_ms - span + i64::from(row) * step;
        let h = mix(salt ^ u64::from(row));
        let updated = if h.is_multiple_of(10) {
            (now_ms - (h >> 8) as i64 % (7 * DAY_MS)).max(created)
        } else {
            created
        };
        table.push(created, updated);
    }
    table.compute(salt, accounts, now_ms, rows);
    store.enable(Kind::WideRecord);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zuora::store::IdCodec;

    #[test]
    fn values_are_deterministic_and_typed() {
        let mut store = Store::new(IdCodec::new(1, 0));
        assert!(!store.enabled(Kind::WideRecord));
        store.table_mut(Kind::Account).push(0, 0);
        fill(&mut store, 1_000, 7, 1_800_000_000_000);
        assert!(store.enabled(Kind::WideRecord));
        let t = store.table(Kind::WideRecord);
        let def = Kind::WideRecord.def();
        assert_eq!(t.len(), 1_000);
        let number = def.idx("RecordNumber");
        assert_eq!(t.get(41, number), Value::Str("WR000000042".into()));
        assert_eq!(t.get(3, def.idx("AccountId")), Value::Id(Kind::Account, 0));
        for (i, f) in def.fields.iter().enumerate() {
            assert_eq!(t.get(5, i), t.get(5, i), "{}", f.name);
        }
        let nulls = (0..1_000)
            .filter(|&r| t.get(r, def.idx("Custom01__c")).is_null())
            .count();
        assert!((20..100).contains(&nulls), "{nulls} nulls");
        assert!(matches!(
            t.get(9, def.idx("Custom02__c")),
            Value::Dec(_) | Value::Null
        ));
        assert!(t.created(999) > t.created(0));
    }

    #[test]
    fn edits_shadow_computed_values() {
        let codec = IdCodec::new(1, 0);
        let mut store = Store::new(codec);
        fill(&mut store, 10, 7, 1_800_000_000_000);
        let def = Kind::WideRecord.def();
        let t = store.table_mut(Kind::WideRecord);
        let field = def.idx("Custom03__c");
        t.set_value(2, field, &Value::Str("12".into()), &codec)
            .unwrap();
        assert_eq!(t.get(2, field), Value::Int(12));
        t.set_value(2, field, &Value::Null, &codec).unwrap();
        assert_eq!(t.get(2, field), Value::Null);
        assert!(
            t.set_value(2, field, &Value::Str("x".into()), &codec)
                .is_err()
        );
        let added = t.push(1, 1);
        assert_eq!(t.get(added, def.idx("Name")), Value::Null);
    }
}
