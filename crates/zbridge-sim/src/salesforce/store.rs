//! Compact in-memory record storage: one table per object, sparse field values, an id index and
//! one index per External ID field. Sized for million-row Bulk jobs.
//!
//! Deleted records move to the table's recycle bin (kept for [`RECYCLE_BIN_MS`] on the org's
//! clock, readable only through `queryAll`) and their id stays known so a second delete answers
//! `ENTITY_IS_DELETED`. An optional undo journal lets all-or-none calls (Collections, Composite,
//! sObject Tree) roll their writes back exactly, without copying tables.

use std::collections::{HashMap, HashSet, VecDeque};

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
    /// Set on the copy kept in the recycle bin (`IsDeleted = true`).
    pub deleted: bool,
}

/// How long a deleted record stays in the recycle bin: 15 days.
pub const RECYCLE_BIN_MS: i64 = 15 * 24 * 60 * 60 * 1000;

/// Whether a delete keeps the record in the recycle bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteMode {
    /// Soft delete: the record goes to the recycle bin.
    Soft,
    /// Hard delete (Bulk `hardDelete`): only the id and time stay, for the delete log.
    Hard,
}

/// A deleted record: its id, when it was deleted, and (unless hard-deleted) its last values.
#[derive(Clone, Debug)]
pub struct Binned {
    pub id: SfId,
    pub deleted_ms: i64,
    pub record: Option<Record>,
}

/// One step to undo, recorded while a journal is open.
#[derive(Clone, Debug)]
enum Undo {
    Insert { slot: u32 },
    Replace { old: Record },
    Remove { slot: u32, old: Record },
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
    /// Deleted records in deletion order; `bin_base` is the sequence number of `bin[0]`.
    bin: VecDeque<Binned>,
    bin_base: u64,
    bin_index: HashMap<SfId, u64>,
    /// Deletion time of the newest entry purged from the bin.
    purged_through_ms: Option<i64>,
    journal: Option<Vec<Undo>>,
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
        self.log(Undo::Insert { slot });
    }

    /// Replaces a record (same id), keeping the external id indexes right.
    pub fn replace(&mut self, record: Record) {
        let Some(&slot) = self.by_id.get(&record.id) else {
            return;
        };
        if let Some(old) = self.slots[slot as usize].take() {
            self.index_ext(slot, &old, false);
            self.log(Undo::Replace { old });
        }
        self.index_ext(slot, &record, true);
        self.slots[slot as usize] = Some(record);
    }

    /// Deletes a live record at `at_ms`: it leaves the indexes and, for a soft delete, goes to
    /// the recycle bin. Returns whether it existed.
    pub fn remove(&mut self, id: &SfId, at_ms: i64, mode: DeleteMode) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        let Some(old) = self.slots[slot as usize].take() else {
            return false;
        };
        self.index_ext(slot, &old, false);
        self.live -= 1;
        self.deleted.insert(*id);
        // The journal needs the record as it was; without one, the record moves to the bin.
        let undo_copy = self.journal.is_some().then(|| old.clone());
        let kept = (mode == DeleteMode::Soft).then(|| {
            let mut r = old;
            r.deleted = true;
            r.modified_ms = at_ms;
            r
        });
        self.bin_index
            .insert(*id, self.bin_base + self.bin.len() as u64);
        self.bin.push_back(Binned {
            id: *id,
            deleted_ms: at_ms,
            record: kept,
        });
        if let Some(old) = undo_copy {
            self.log(Undo::Remove { slot, old });
        }
        true
    }

    /// The recycle-bin copy of a soft-deleted record, if it is still there.
    pub fn get_deleted(&self, id: &SfId) -> Option<&Record> {
        let seq = *self.bin_index.get(id)?;
        let entry = self.bin.get(usize::try_from(seq - self.bin_base).ok()?)?;
        entry.record.as_ref()
    }

    /// A live record, or else its recycle-bin copy.
    pub fn get_any(&self, id: &SfId) -> Option<&Record> {
        self.get(id).or_else(|| self.get_deleted(id))
    }

    /// Every entry of the recycle bin and delete log, oldest deletion first.
    pub fn binned(&self) -> impl Iterator<Item = &Binned> {
        self.bin.iter()
    }

    /// Drops bin entries deleted before `before_ms` (the 15-day purge).
    pub fn purge_bin(&mut self, before_ms: i64) {
        while let Some(front) = self.bin.front() {
            if front.deleted_ms >= before_ms {
                break;
            }
            let (id, at) = (front.id, front.deleted_ms);
            self.bin.pop_front();
            self.bin_index.remove(&id);
            self.bin_base += 1;
            self.purged_through_ms = Some(self.purged_through_ms.map_or(at, |p| p.max(at)));
        }
    }

    /// Deletion time of the newest record purged from the bin, if any was.
    pub fn purged_through_ms(&self) -> Option<i64> {
        self.purged_through_ms
    }

    /// Starts recording undo steps (if not already); returns the mark to roll back to.
    pub fn journal_mark(&mut self) -> (bool, usize) {
        match &self.journal {
            Some(j) => (false, j.len()),
            None => {
                self.journal = Some(Vec::new());
                (true, 0)
            }
        }
    }

    /// Undoes every step recorded after `mark`, newest first.
    pub fn journal_rollback(&mut self, mark: usize) {
        let Some(mut journal) = self.journal.take() else {
            return;
        };
        while journal.len() > mark {
            if let Some(step) = journal.pop() {
                self.undo(step);
            }
        }
        self.journal = Some(journal);
    }

    /// Stops recording when `started` (the mark that opened the journal) ends.
    pub fn journal_end(&mut self, started: bool) {
        if started {
            self.journal = None;
        }
    }

    fn log(&mut self, step: Undo) {
        if let Some(j) = self.journal.as_mut() {
            j.push(step);
        }
    }

    fn undo(&mut self, step: Undo) {
        match step {
            Undo::Insert { slot } => {
                if let Some(r) = self.slots.get_mut(slot as usize).and_then(Option::take) {
                    self.index_ext(slot, &r, false);
                    self.by_id.remove(&r.id);
                    self.live -= 1;
                }
                if slot as usize + 1 == self.slots.len() {
                    self.slots.pop();
                }
            }
            Undo::Replace { old } => {
                if let Some(&slot) = self.by_id.get(&old.id)
                    && let Some(current) = self.slots[slot as usize].take()
                {
                    self.index_ext(slot, &current, false);
                    self.index_ext(slot, &old, true);
                    self.slots[slot as usize] = Some(old);
                }
            }
            Undo::Remove { slot, old } => {
                if self.bin.back().is_some_and(|b| b.id == old.id) {
                    self.bin.pop_back();
                }
                self.bin_index.remove(&old.id);
                self.deleted.remove(&old.id);
                self.index_ext(slot, &old, true);
                self.by_id.insert(old.id, slot);
                self.slots[slot as usize] = Some(old);
                self.live += 1;
            }
        }
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
            deleted: false,
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
        t.remove(&make_id("a01", "8a", 1), 5, DeleteMode::Soft);
        assert!(t.find_by_external_id(3, "abc").is_empty());
        assert!(t.was_deleted(&make_id("a01", "8a", 1)));
        assert_eq!(t.len(), 1);
        let binned = t.get_deleted(&make_id("a01", "8a", 1)).unwrap();
        assert!(binned.deleted);
        assert_eq!(binned.modified_ms, 5);
        t.purge_bin(6);
        assert!(t.get_deleted(&make_id("a01", "8a", 1)).is_none());
        assert_eq!(t.purged_through_ms(), Some(5));
    }

    #[test]
    fn the_journal_undoes_inserts_updates_and_deletes() {
        let mut t = Table::new([3].into_iter());
        t.insert(record(1, "keep"));
        t.insert(record(2, "gone"));
        let (started, mark) = t.journal_mark();
        assert!(started);
        t.insert(record(3, "new"));
        t.replace(record(1, "changed"));
        t.remove(&make_id("a01", "8a", 2), 9, DeleteMode::Soft);
        let (nested, inner) = t.journal_mark();
        assert!(!nested);
        t.remove(&make_id("a01", "8a", 1), 9, DeleteMode::Hard);
        t.journal_rollback(inner);
        assert!(t.get(&make_id("a01", "8a", 1)).is_some());
        t.journal_rollback(mark);
        t.journal_end(started);
        assert_eq!(t.len(), 2);
        assert!(t.get(&make_id("a01", "8a", 3)).is_none());
        assert_eq!(t.find_by_external_id(3, "keep").len(), 1);
        assert_eq!(t.find_by_external_id(3, "gone").len(), 1);
        assert!(!t.was_deleted(&make_id("a01", "8a", 2)));
        assert_eq!(t.binned().count(), 0);
        assert_eq!(t.iter().count(), 2);
    }
}
