//! Deletes on AQuA connections. Stateless AQuA never returns deleted rows (zuora-api.md §7.3,
//! §7.7), so a record deleted in Zuora would stay in the org for good. Instead, the object's
//! live Ids are exported and compared with the keys synced for it: a synced key that Zuora no
//! longer has is queued for deletion like any other delete (durably, children first), or, for
//! a catalog object, flagged deleted (`zqu__Deleted__c`) as Zuora 360 does.
//!
//! Memory stays flat whatever the table size: the Ids go to a spool file, and the synced keys
//! are compared a page at a time against it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

use zbridge_core::value::Value;
use zbridge_zuora::query::{OutputColumn, RecordSink};

use serde_json::Value as Json;
use zbridge_store::SyncKey;

use super::{Engine, Upsert};
use crate::SyncError;
use crate::catalog::{ObjectMap, Scope};

/// Synced keys compared against the spooled Ids per pass.
const KEYS_PER_PASS: i64 = 100_000;

/// Writes one Id per line.
struct IdSpool<'a> {
    out: &'a mut BufWriter<std::fs::File>,
}

impl RecordSink for IdSpool<'_> {
    fn start(&mut self, _columns: &[OutputColumn]) -> std::io::Result<()> {
        Ok(())
    }

    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        if let Some(id) = row.first().filter(|v| !matches!(v, Value::Null)) {
            writeln!(self.out, "{id}")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Engine {
    /// Queues for deletion every synced record of `object` whose Id Zuora no longer has;
    /// returns how many.
    pub(super) async fn reconcile_deletes(
        &self,
        profile_id: &str,
        object: &ObjectMap,
    ) -> Result<usize, SyncError> {
        let mut writer = BufWriter::new(tempfile::tempfile()?);
        self.extract(
            &object.source,
            &["Id".to_string()],
            None,
            None,
            &mut IdSpool { out: &mut writer },
        )
        .await?;
        let mut live = writer.into_inner().map_err(|e| e.into_error())?;
        let mut queued = 0;
        let mut after = String::new();
        loop {
            let page = self
                .store
                .sync_keys_page(profile_id, &object.name, &after, KEYS_PER_PASS)
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.clone();
            let gone = missing_from(&mut live, page)?;
            queued += gone.len();
            match (&object.scope, &object.deleted_flag) {
                (Scope::Catalog, Some(flag)) => {
                    self.flag_deleted(profile_id, object, flag, gone).await?;
                }
                _ => {
                    let roots: Vec<(String, String, String)> = gone
                        .into_iter()
                        .map(|id| (object.name.clone(), id, "deleted in Zuora".to_string()))
                        .collect();
                    self.store.add_pending_deletes(profile_id, &roots).await?;
                }
            }
        }
        Ok(queued)
    }

    /// Marks catalog records deleted in Zuora with their deleted flag, through Collections
    /// (which writes only the fields given), and forgets the ones flagged so that they are not
    /// flagged again; one that fails stays known and is flagged by the next run.
    async fn flag_deleted(
        &self,
        profile_id: &str,
        object: &ObjectMap,
        flag: &str,
        ids: Vec<String>,
    ) -> Result<(), SyncError> {
        let upserts: Vec<Upsert> = ids
            .into_iter()
            .map(|id| Upsert {
                fields: vec![
                    (object.key.clone(), Json::String(id.clone())),
                    (flag.to_string(), Json::Bool(true)),
                ],
                key: SyncKey {
                    object: object.name.clone(),
                    external_id: id.clone(),
                    parent: None,
                    account_id: None,
                    crm_id: None,
                },
                external_id: id,
                known: true,
                crm_changed: false,
            })
            .collect();
        let loaded = self.load_upserts(object, false, &upserts).await?;
        let flagged: Vec<String> = loaded
            .results
            .iter()
            .zip(&upserts)
            .filter(|(r, _)| r.outcome.is_success())
            .map(|(_, u)| u.external_id.clone())
            .collect();
        self.store
            .remove_sync_keys(profile_id, &object.name, &flagged)
            .await?;
        Ok(())
    }
}

/// The keys of `page` that are not among the Ids of the spool file `live`.
fn missing_from(live: &mut std::fs::File, page: Vec<String>) -> std::io::Result<Vec<String>> {
    let mut missing: HashSet<String> = page.into_iter().collect();
    live.rewind()?;
    for line in BufReader::new(&*live).lines() {
        missing.remove(line?.as_str());
        if missing.is_empty() {
            break;
        }
    }
    let mut gone: Vec<String> = missing.into_iter().collect();
    gone.sort();
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_missing_from_the_live_ids_are_found() {
        let mut live = tempfile::tempfile().unwrap();
        writeln!(live, "a\nc\nd").unwrap();
        let page = ["a", "b", "c", "e"].map(String::from).to_vec();
        assert_eq!(missing_from(&mut live, page).unwrap(), ["b", "e"]);
        let page = ["a", "c"].map(String::from).to_vec();
        assert!(missing_from(&mut live, page).unwrap().is_empty());
    }
}
