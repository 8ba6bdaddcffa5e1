//! Zuora clients for the handlers: from a saved connection (token cached like the CLI's), or
//! from an unsaved definition for the editor's Test button (token kept in memory only).

use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_store::Store;
use zbridge_zuora::{TokenCache, ZuoraClient};

use crate::error::ApiError;

/// A client for the saved connection `name`, built as `zbridge` commands build it.
pub async fn saved_client(store: &Store, name: &str) -> Result<ZuoraClient, ApiError> {
    let record = store.load_connection(name).await?;
    let scope = store.variable_scope(record.def.project.as_ref()).await?;
    Ok(ZuoraClient::for_saved(store, &record, &scope, None)?)
}

/// Runs the connection Test on a definition as edited, saved or not.
pub async fn test_def(
    store: &Store,
    def: &ZuoraConnectionDef,
) -> Result<Vec<zbridge_zuora::test::Check>, ApiError> {
    let scope = store.variable_scope(def.project.as_ref()).await?;
    def.validate(&scope)?;
    let resolved = def.resolve(&scope)?;
    // A draft has no id to cache under, and its token must not replace the saved one's.
    let client = ZuoraClient::new(resolved, TokenCache::Memory)?;
    Ok(zbridge_zuora::test::test_connection(&client).await?)
}
