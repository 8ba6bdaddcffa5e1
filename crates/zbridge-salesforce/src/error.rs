//! What can go wrong talking to Salesforce, each phrased for the person who must act.
//!
//! No variant ever carries a secret: messages quote Salesforce's error codes and descriptions,
//! which never echo passwords or tokens.

/// A failure of a Salesforce call: authentication, limits, or the remote side.
#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    /// SOAP `login()` refused the credentials (salesforce-api.md §2.4).
    #[error("Salesforce login failed ({code}): {hint}")]
    Login {
        /// The `exceptionCode`, e.g. `INVALID_LOGIN`.
        code: String,
        /// What the user should do, in plain words.
        hint: String,
    },
    /// An OAuth token call failed (salesforce-api.md §3.6).
    #[error("Salesforce OAuth {error}: {description}{}", hint_suffix(.hint))]
    OAuth {
        /// The `error` field.
        error: String,
        /// The `error_description` field.
        description: String,
        /// What to do about it, when known.
        hint: Option<String>,
    },
    /// The OAuth credential has no usable refresh token.
    #[error(
        "no OAuth token is set up for this profile: run 'zbridge sf-credentials setup-oauth {profile}' and log in as the configured user"
    )]
    NeedsOAuthSetup {
        /// The sync profile.
        profile: String,
    },
    /// The authorised org or user is not the configured one; nothing was stored.
    #[error("the token was not stored: {0}")]
    IdentityMismatch(String),
    /// The session was refused even after a fresh login or refresh.
    #[error("Salesforce refused the session ({code}): {message}")]
    Session {
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
    /// `REQUEST_LIMIT_EXCEEDED`: the org's API allocation is used up; the run stops cleanly.
    #[error("Salesforce API request limit exceeded ({message}); the run stopped and can resume when the rolling 24-hour usage drops{}", usage_suffix(.usage))]
    RequestLimit {
        /// Salesforce's message.
        message: String,
        /// `used/max` when known.
        usage: Option<(u64, u64)>,
    },
    /// The configured API budget would be crossed; work stopped before it.
    #[error(
        "stopped before crossing the API budget: {used} of {max} daily API requests used, and the budget allows {allowed} ({percent}% of the allocation); raise the budget or wait for the rolling 24-hour usage to drop"
    )]
    BudgetExhausted {
        /// Requests used, per `Sforce-Limit-Info`.
        used: u64,
        /// Daily allocation.
        max: u64,
        /// Requests the budget allows.
        allowed: u64,
        /// The budget as a share of the allocation.
        percent: u32,
    },
    /// A REST call failed with a Salesforce error body.
    #[error("Salesforce {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `errorCode` (or `HTTP_<status>` when there was none).
        code: String,
        /// Message.
        message: String,
    },
    /// A Bulk API job ended in `Failed` or `Aborted`.
    #[error("Bulk API job {job_id} {state}: {message}")]
    BulkJob {
        /// Job id.
        job_id: String,
        /// Final state.
        state: String,
        /// `errorMessage`.
        message: String,
    },
    /// Test Access failed; the advice says what to do.
    #[error("the access test failed: {advice}")]
    AccessTest {
        /// What to do, with the cause.
        advice: String,
    },
    /// The network failed.
    #[error("cannot reach Salesforce at {url}: {message}")]
    Transport {
        /// Scrubbed URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// Salesforce answered something this client cannot read.
    #[error("unexpected answer from Salesforce: {0}")]
    Protocol(String),
    /// The OAuth authorisation was declined or broken off in the browser.
    #[error("authorisation in the browser failed: {0}")]
    Authorization(String),
    /// A local file (JWT key) could not be used.
    #[error("{0}")]
    Local(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] zbridge_store::StoreError),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

fn usage_suffix(usage: &Option<(u64, u64)>) -> String {
    usage
        .map(|(used, max)| format!(" (used {used} of {max})"))
        .unwrap_or_default()
}

impl SalesforceError {
    /// Whether Bulk API jobs cannot be created for this user or org: the feature is off
    /// (`FeatureNotEnabled`) or the 24-hour allocation is spent (`ExceededQuota`), as the
    /// Bulk API 2.0 Developer Guide's error list names them. sObject Collections still work.
    pub fn is_bulk_unavailable(&self) -> bool {
        matches!(self, SalesforceError::Api { code, .. }
            if code == "FeatureNotEnabled" || code == "ExceededQuota")
    }

    /// Whether the user must change their input rather than retry (exit code 2 in the CLI).
    pub fn is_bad_input(&self) -> bool {
        match self {
            SalesforceError::Store(e) => e.is_bad_input(),
            SalesforceError::Local(_) => true,
            _ => false,
        }
    }

    /// The CLI exit code: 2 for input the user must change, 1 for a local failure (the
    /// database), 3 for a remote or authentication failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            _ if self.is_bad_input() => 2,
            SalesforceError::Store(_) => 1,
            _ => 3,
        }
    }

    pub(crate) fn protocol(what: impl std::fmt::Display) -> Self {
        SalesforceError::Protocol(what.to_string())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = SalesforceError> = std::result::Result<T, E>;
