//! Keeping secrets out of logs: URLs are logged only after their secret-bearing query
//! parameters are replaced, and headers are never logged at all.

/// Query parameters whose values are secrets or one-time credentials.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "refresh_token",
    "token",
    "code",
    "code_verifier",
    "client_secret",
    "assertion",
    "password",
    "oauth_token",
    "state",
    "sid",
];

/// The URL with the value of every secret query parameter replaced by `REDACTED`, and any
/// user info removed. Unparseable input is reduced to `<unparseable URL>`.
pub fn scrub_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<unparseable URL>".to_string();
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p));
                let value = if secret {
                    "REDACTED".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_replaced() {
        let out = scrub_url("https://u:p@x.example/cb?code=abc&state=s1&q=SELECT+Id");
        assert!(!out.contains("abc") && !out.contains("s1") && !out.contains("u:p"));
        assert!(out.contains("code=REDACTED"));
        assert!(out.contains("q=SELECT+Id"));
        assert_eq!(scrub_url("::"), "<unparseable URL>");
    }
}
