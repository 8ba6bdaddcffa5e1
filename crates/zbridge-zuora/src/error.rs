//! The errors of the Zuora client, each phrased for the person who must act on it.

use crate::policy::BodyError;

/// Everything that can go wrong talking to Zuora.
#[derive(Debug, thiserror::Error)]
pub enum ZuoraError {
    /// The connection's settings are invalid (e.g. an undefined variable); nothing was sent.
    #[error(transparent)]
    Config(#[from] zbridge_core::ValidationError),
    /// The host name does not resolve: usually the wrong Tenant or URL.
    #[error("cannot resolve {host}: check the Tenant (or the URL advanced property)")]
    UnknownHost {
        /// The host that did not resolve.
        host: String,
    },
    /// The TCP connection failed.
    #[error("cannot connect to {host}: {detail}")]
    Connect {
        /// The host.
        host: String,
        /// What the network said.
        detail: String,
    },
    /// The proxy refused or failed.
    #[error(
        "the proxy failed: {detail}; check Use Proxy Settings, the proxy URL, user and password"
    )]
    Proxy {
        /// What went wrong.
        detail: String,
    },
    /// The TLS handshake failed (certificate or protocol).
    #[error("TLS with {host} failed: {detail}")]
    Tls {
        /// The host.
        host: String,
        /// The TLS error.
        detail: String,
    },
    /// No answer in time.
    #[error(
        "{what} timed out after {seconds} s; raise ConnectTimeout or ReadTimeout if the network is slow"
    )]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit.
        seconds: u64,
    },
    /// Another network failure.
    #[error("network error talking to {host}: {detail}")]
    Network {
        /// The host.
        host: String,
        /// What failed.
        detail: String,
    },
    /// The token endpoint refused the client id or secret.
    #[error(
        "Zuora refused the OAuth client id or secret (HTTP {status} from {url}): {body}. Check them, and check that the Tenant is the one the OAuth client was created in"
    )]
    AuthRejected {
        /// The HTTP status.
        status: u16,
        /// The token URL.
        url: String,
        /// The response body, shortened.
        body: String,
    },
    /// The host answered, but not as Zuora's token endpoint does.
    #[error(
        "{url} does not look like a Zuora REST host (HTTP {status}); check the Tenant or the URL advanced property"
    )]
    NotZuora {
        /// The token URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The access token given with InitiateOAuth=OFF was refused.
    #[error(
        "the access token in OAuthAccessToken was refused (expired or revoked); set a new one, or set InitiateOAuth=REFRESH with a client id and secret so zbridge renews tokens itself"
    )]
    AccessTokenRefused,
    /// Zuora refused the refresh-token grant and there is no client secret to fall back on.
    #[error(
        "Zuora refused the refresh-token grant (Zuora issues no refresh tokens); set the OAuth Client Secret so zbridge can use client credentials"
    )]
    RefreshGrantRefused,
    /// The token covers several entities and none was chosen.
    #[error(
        "the token covers {count} entities ({entities}); set the advanced property Zuora-Entity-Ids to the one to use"
    )]
    EntityRequired {
        /// How many entities.
        count: usize,
        /// Their ids.
        entities: String,
    },
    /// A request was refused after its token was renewed.
    #[error("Zuora refused the request to {path} even with a new token (HTTP 401): {body}")]
    Unauthorized {
        /// The request path.
        path: String,
        /// The response body, shortened.
        body: String,
    },
    /// An HTTP error status.
    #[error("{method} {path} failed with HTTP {status}: {body}")]
    Http {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The status.
        status: u16,
        /// The response body, shortened.
        body: String,
    },
    /// An error reported inside a successful response.
    #[error("{path}: {source}")]
    Body {
        /// The request path.
        path: String,
        /// The error Zuora reported.
        source: BodyError,
    },
    /// Retries ran out.
    #[error("{path}: gave up after {attempts} attempts over {seconds} s; last error: {last}")]
    RetriesExhausted {
        /// The request path.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        seconds: u64,
        /// The last failure.
        last: String,
    },
    /// A response could not be understood.
    #[error("{path}: unexpected response: {detail}")]
    Protocol {
        /// The request path.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// A result file is over Zuora's 2,047 MB download cap; the export must be split.
    #[error("{file} is larger than Zuora's 2,047 MB download limit; the export must be split")]
    FileTooLarge {
        /// The file.
        file: String,
    },
    /// A result file is gone (AQuA keeps files 3 days); the job must be run again.
    #[error("{file} is no longer available at Zuora (purged); the export must be run again")]
    FilePurged {
        /// The file.
        file: String,
    },
    /// A pre-signed result URL expired before it was downloaded.
    #[error("the result file link expired")]
    LinkExpired,
    /// A download ended early or came back damaged.
    #[error("{file}: the download was incomplete or damaged: {detail}")]
    BadDownload {
        /// The file.
        file: String,
        /// What was wrong.
        detail: String,
    },
    /// A job ended without a result.
    #[error("{service} job {job_id} {status}: {message}")]
    JobFailed {
        /// Data Query or AQuA.
        service: &'static str,
        /// The job id.
        job_id: String,
        /// The terminal status.
        status: String,
        /// Zuora's message.
        message: String,
    },
    /// The token cache failed.
    #[error("token cache: {0}")]
    Cache(String),
}

impl ZuoraError {
    /// Whether a failed job is worth submitting again: Zuora's transient aborts ("Service
    /// Temporarily Unavailable … LINK_30000007", internal errors that ask for a resubmit).
    pub fn is_transient_job_failure(&self) -> bool {
        // A job over a time limit may finish on a quieter attempt; only a repeat splits it.
        const MARKERS: [&str; 6] = [
            "temporarily unavailable",
            "link_30000007",
            "resubmit",
            "internal error",
            "maximum time limit",
            "retry later",
        ];
        match self {
            ZuoraError::JobFailed { message, .. } => {
                let message = message.to_lowercase();
                MARKERS.iter().any(|m| message.contains(m))
            }
            _ => false,
        }
    }

    /// Whether the error is the user's configuration (exit code 2) rather than a remote failure
    /// (exit code 3).
    pub fn is_config(&self) -> bool {
        matches!(self, ZuoraError::Config(_))
    }
}

/// Shortens a response body for an error message: one line, at most 300 characters.
pub(crate) fn excerpt(body: &str) -> String {
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        let cut: String = line.chars().take(300).collect();
        format!("{cut}…")
    } else if line.is_empty() {
        "(empty body)".to_string()
    } else {
        line
    }
}
