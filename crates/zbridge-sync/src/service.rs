//! Building an engine for a saved sync profile: the one place the CLI, the web UI and the
//! workers turn a profile name into a Zuora client and a Salesforce client.

use zbridge_salesforce::{ClientOptions, SyncCredentials};
use zbridge_store::Store;
use zbridge_zuora::ZuoraClient;

use chrono::Utc;

use crate::{Engine, SyncError, SyncOptions};

impl Engine {
    /// An engine for `profile`: its Zuora connection (variables resolved, token cached as
    /// every command caches it) and its active Salesforce credential from `credentials`.
    pub async fn for_profile(
        store: &Store,
        credentials: &SyncCredentials,
        profile: &str,
    ) -> Result<Engine, SyncError> {
        let p = store.load_sync_profile(profile).await?;
        let connection = store
            .list_connections()
            .await?
            .into_iter()
            .find(|c| c.id == p.connection_id)
            .map(|c| c.name)
            .ok_or_else(|| SyncError::ConnectionGone(p.name.clone()))?;
        let record = store.load_connection(&connection).await?;
        let scope = store.variable_scope(record.def.project.as_ref()).await?;
        let zuora = ZuoraClient::for_saved(store, &record, &scope, None)?;
        let salesforce = credentials
            .client(&p.name, ClientOptions::default())
            .await?;
        Ok(Engine::new(store.clone(), zuora, salesforce))
    }
}

/// Schedules `profile` to run every `every_secs` seconds, the first run now, or (with `None`)
/// removes its schedule. The interval is kept in the profile's options too, so that `show`
/// and the UI say it.
pub async fn set_schedule(
    store: &Store,
    profile: &str,
    every_secs: Option<i64>,
) -> Result<(), SyncError> {
    let p = store.load_sync_profile(profile).await?;
    let mut options = SyncOptions::from_json(&p.options)?;
    options.schedule_secs = every_secs;
    options.validate()?;
    store
        .update_sync_profile_options(&p.name, options.to_json())
        .await?;
    match every_secs {
        Some(secs) => store.set_sync_schedule(&p.id, secs, Utc::now()).await?,
        None => store.remove_sync_schedule(&p.id).await?,
    }
    Ok(())
}
