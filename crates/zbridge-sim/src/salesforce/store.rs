//! Compact in-memory record storage: one table per object, sparse field values, an id index and
//! one index per External ID field. Sized for million-row Bulk jobs.

use std::collections::{HashMap, HashSet};

use super::ids::SfId;

/// A stored field value. Dates and datetimes are kept as their normalised text.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(Box<str>),
    Number(f64),
    Bool(bool),
    Ref(SfId),
}

impl Value {
    /// The value as JSON, the way the REST API renders it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(s) => serde_json::Value::String(s.to_string()),
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Ref(id) => serde_json::Value::String(id.to_string()),
        }
    }
}

/// One record: its id, its set fields (sorted by field index) and audit data.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: SfId,
    pub fields: Vec<(u16, Value)>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub created_by: u16,
    pub modified_by: u16,
}

impl Record {
    /// The value of a field, if set.
    pub fn get(&self, field: usize) -> Option<&Value> {
        self.fields
            .binary_search_by_key(&(field as u16), |(f, _)| *f)
            .ok()
            .map(|i| &self.fields[i].1)
    }

    /// Sets (or with `None` clears) a field.
    pub fn set(&mut self, field: usize, value: Option<Value>) {
        let key = field as u16;
        match (self.fields.binary_search_by_key(&key, |(f, _)| *f), value) {
            (Ok(i), Some(v)) => self.fields[i].1 = v,
            (Ok(i), None) => {
                self.fields.remove(i);
            }
            (Err(i), Some(v)) => self.fields.insert(i, (key, v)),
            (Err(_), None) => {}
        }
    }
}

#[derive(Clone, Debug)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

/// The records of one object.
#[derive(Clone, Debug, Default)]
pub struct Table {
    slots: Vec<Option<Record>>,
    live: usize,
    by_id: HashMap<SfId, u32>,
    /// Field index → lower-cased external id value → slots. External ids match
    /// case-insensitively, as they do in Salesforce unless marked case-sensitive.
    ext: HashMap<u16, HashMap<Box<str>, Slots>>,
    deleted: HashSet<SfId>,
}

impl Table {
    /// Creates a table with an index for each external id field.
    pub fn new(external_id_fields: impl Iterator<Item = usize>) -> Table {
        Table {
            ext: external_id_fields
                .map(|f| (f as u16, HashMap::new()))
                .collect(),
            ..Table::default()
        }
    }

    /// Number of live records.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Looks a record up by id.
    pub fn get(&self, id: &SfId) -> Option<&Record> {
        self.by_id
            .get(id)
            .and_then(|&s| self.slots[s as usize].as_ref())
    }

    /// Whether the id belonged to a record that was deleted (for `ENTITY_IS_DELETED`).
    pub fn was_deleted(&self, id: &SfId) -> bool {
        self.deleted.contains(id)
    }

    /// Ids of the records whose external id field equals `value` (case-insensitively).
    pub fn find_by_external_id(&self, field: usize, value: &str) -> Vec<SfId> {
        let Some(index) = self.ext.get(&(field as u16)) else {
            return Vec::new();
        };
        let slots = match index.get(value.to_lowercase().as_str()) {
            None => return Vec::new(),
            Some(Slots::One(s)) => vec![*s],
            Some(Slots::Many(v)) => v.clone(),
        };
        slots
            .into_iter()
            .filter_map(|s| self.slots[s as usize].as_ref().map(|r| r.id))
            .collect()
    }

    /// Iterates over live records in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// Inserts a new record.
    pub fn insert(&mut self, record: Record) {
        let slot = self.slots.len() as u32;
        self.index_ext(slot, &record, true);
        self.by_id.insert(record.id, slot);
        self.slots.push(Some(record));
        self.live += 1;
    }

    /// Replaces a record (same id), keeping the external id indexes right.
    pub fn replace(&mut self, record: Record) {
        let Some(&slot) = self.by_id.get(&record.id) else {
            return;
        };
        if let Some(old) = self.slots[slot as usize].take() {
            self.index_ext(slot, &old, false);
        }
        self.index_ext(slot, &record, true);
        self.slots[slot as usize] = Some(record);
    }

    /// Removes a record; returns it if it existed.
    pub fn remove(&mut self, id: &SfId) -> Option<Record> {
        let slot = self.by_id.remove(id)?;
        let old = self.slots[slot as usize].take()?;
        self.index_ext(slot, &old, false);
        self.live -= 1;
        self.deleted.insert(*id);
        Some(old)
    }

    /// Drops every record.
    pub fn clear(&mut self) {
        let fields: Vec<u16> = self.ext.keys().copied().collect();
        *self = Table::new(fields.into_iter().map(usize::from));
    }

    fn index_ext(&mut self, slot: u32, record: &Record, add: bool) {
        for (field, index) in self.ext.iter_mut() {
            let Some(Value::Text(v)) = record.get(*field as usize) else {
                continue;
            };
            let key: Box<str> = v.to_lowercase().into();
            if add {
                match index.get_mut(&key) {
                    None => {
                        index.insert(key, Slots::One(slot));
                    }
                    Some(entry) => {
                        let mut all = match entry {
                            Slots::One(s) => vec![*s],
                            Slots::Many(v) => std::mem::take(v),
                        };
                        all.push(slot);
                        *entry = Slots::Many(all);
                    }
                }
            } else if let Some(entry) = index.get_mut(&key) {
                let remove_key = match entry {
                    Slots::One(s) => *s == slot,
                    Slots::Many(v) => {
                        v.retain(|s| *s != slot);
                        v.is_empty()
                    }
                };
                if remove_key {
                    index.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::ids::make_id;

    fn record(n: u64, ext: &str) -> Record {
        Record {
            id: make_id("a01", "8a", n),
            fields: vec![(3, Value::Text(ext.into()))],
            created_ms: 0,
            modified_ms: 0,
            created_by: 0,
            modified_by: 0,
        }
    }

    #[test]
    fn external_id_index_follows_updates_and_deletes() {
        let mut t = Table::new([3].into_iter());
        t.insert(record(1, "ABC"));
        t.insert(record(2, "abc"));
        assert_eq!(t.find_by_external_id(3, "aBc").len(), 2);
        let mut changed = record(2, "other");
        changed.set(5, Some(Value::Bool(true)));
        t.replace(changed);
        assert_eq!(
            t.find_by_external_id(3, "abc"),
            vec![make_id("a01", "8a", 1)]
        );
        assert_eq!(t.find_by_external_id(3, "OTHER").len(), 1);
        t.remove(&make_id("a01", "8a", 1));
        assert!(t.find_by_external_id(3, "abc").is_empty());
        assert!(t.was_deleted(&make_id("a01", "8a", 1)));
        assert_eq!(t.len(), 1);
    }
}
