//! Turning transport failures into typed errors, and deciding whether to try again.

use std::error::Error as _;
use std::time::{Duration, Instant};

use crate::error::ZuoraError;
use crate::policy::RetryPolicy;

/// The host part of a URL, for messages.
pub(crate) fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| url.to_string())
}

/// Names a reqwest failure: unknown host, proxy, TLS, timeout, connection or other network.
/// `proxied` says whether the request went through the connection's proxy.
pub(crate) fn classify(
    error: &reqwest::Error,
    url: &str,
    timeout: Duration,
    proxied: bool,
) -> ZuoraError {
    let host = host_of(url);
    let chain = error_chain(error);
    let lower = chain.to_lowercase();
    if error.is_timeout() {
        return ZuoraError::Timeout {
            what: format!("the request to {host}"),
            seconds: timeout.as_secs(),
        };
    }
    // Through a proxy, every connection goes to the proxy first: a refused connection is the
    // proxy's.
    if lower.contains("proxy") || lower.contains("tunnel") || (proxied && error.is_connect()) {
        return ZuoraError::Proxy { detail: chain };
    }
    const TLS_MARKERS: [&str; 6] = [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "unknownissuer",
        "alert",
    ];
    if TLS_MARKERS.iter().any(|m| lower.contains(m)) {
        return ZuoraError::Tls {
            host,
            detail: chain,
        };
    }
    if error.is_dns() || lower.contains("dns error") || lower.contains("failed to lookup address") {
        return ZuoraError::UnknownHost { host };
    }
    if error.is_connect() {
        return ZuoraError::Connect {
            host,
            detail: chain,
        };
    }
    ZuoraError::Network {
        host,
        detail: chain,
    }
}

/// The error and its causes on one line, without repeats.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        error.to_string().replace(
            &format!(
                " for url ({})",
                error.url().map(|u| u.as_str()).unwrap_or_default()
            ),
            "",
        )
    } else {
        parts.join(": ")
    }
}

/// Whether a failure is worth retrying: network trouble and timeouts, not configuration.
pub(crate) fn is_transient(error: &ZuoraError) -> bool {
    match error {
        ZuoraError::Timeout { .. } | ZuoraError::Connect { .. } | ZuoraError::Network { .. } => {
            true
        }
        ZuoraError::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
        ZuoraError::Body { source, .. } => source.retryable,
        _ => false,
    }
}

/// The wait before the next attempt, or `None` to give up on `failure`.
pub(crate) fn retry_wait(
    policy: &RetryPolicy,
    retry: u32,
    started: Instant,
    server_wait: Option<Duration>,
    failure: &ZuoraError,
) -> Option<Duration> {
    if !is_transient(failure) {
        return None;
    }
    let wait = policy.next_wait(retry, started.elapsed(), server_wait, &mut rand::rng())?;
    tracing::debug!(retry, wait_ms = wait.as_millis() as u64, error = %failure, "retrying Zuora request");
    Some(wait)
}
