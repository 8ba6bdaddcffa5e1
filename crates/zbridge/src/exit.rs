//! How errors become exit codes and one-line messages.

use zbridge_core::ValidationError;
use zbridge_store::StoreError;
use zbridge_zuora::ZuoraError;

/// A mistake in how the command was called, found by the command itself (clap reports its own
/// with exit code 2 as well).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `sync verify` found drift (exit code 1; the report says what differs).
#[derive(Debug, thiserror::Error)]
#[error("the org differs from Zuora (see the table above)")]
pub struct Drifted;

/// Exit code 2 for bad input, 3 for a remote or authentication failure, 1 for everything else.
pub fn code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<ValidationError>().is_some()
            || cause.downcast_ref::<UsageError>().is_some()
        {
            return 2;
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return match (store.is_bad_input(), store.is_remote()) {
                (true, _) => 2,
                (_, true) => 3,
                _ => 1,
            };
        }
        if let Some(zuora) = cause.downcast_ref::<ZuoraError>() {
            return if zuora.is_config() { 2 } else { 3 };
        }
        if let Some(sf) = cause.downcast_ref::<zbridge_salesforce::SalesforceError>() {
            return sf.exit_code();
        }
    }
    1
}

/// The message printed after `error: `: the error and its causes on one line.
pub fn render(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
