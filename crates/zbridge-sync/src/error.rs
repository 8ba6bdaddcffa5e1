//! Errors of the sync engine.

/// What can stop a sync (per-record problems are not errors: they are recorded failures).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The mapping catalog or an override is invalid.
    #[error("mapping catalog: {0}")]
    Catalog(String),
    /// The profile's options are invalid.
    #[error("sync profile options: {0}")]
    Options(String),
    /// Reading from Zuora failed.
    #[error("Zuora: {0}")]
    Zuora(#[from] zbridge_zuora::ZuoraError),
    /// Writing to Salesforce failed as a whole (login, limits, outage).
    #[error("Salesforce: {0}")]
    Salesforce(#[from] zbridge_salesforce::SalesforceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] zbridge_store::StoreError),
    /// The Zuora connection a profile names was deleted.
    #[error(
        "the Zuora connection of sync profile '{0}' was deleted; delete the profile and create it again with 'zbridge sync profile create {0} --connection NAME'"
    )]
    ConnectionGone(String),
    /// The run was asked to stop (a worker shutting down) and stopped between batches.
    #[error(
        "stopped on request between batches; the next run continues from the last committed watermarks"
    )]
    Stopped,
    /// A local file (the spool) failed.
    #[error("spool file: {0}")]
    Io(#[from] std::io::Error),
}

impl SyncError {
    /// Whether the user must change their input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            SyncError::Catalog(_) | SyncError::Options(_) => true,
            SyncError::Store(e) => e.is_bad_input(),
            SyncError::Salesforce(e) => e.is_bad_input(),
            _ => false,
        }
    }
}
