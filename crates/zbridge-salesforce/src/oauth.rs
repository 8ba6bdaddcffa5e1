//! OAuth 2.0 against Salesforce (salesforce-api.md §3, §4): the web-server flow with PKCE S256,
//! refresh (with rotation), the JWT bearer flow, revoke, and the identity URL.
//!
//! Token responses are read into [`TokenResponse`], whose tokens are [`SecretString`] from the
//! moment they are parsed. Error bodies (`{"error", "error_description"}`) become
//! [`SalesforceError::OAuth`] with a hint.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, SalesforceError};
use crate::redact::scrub_url;

/// Scopes asked for by `setup-oauth`.
pub const SCOPES: &str = "api refresh_token id";

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    /// The verifier (86 characters of base64url), sent with the code exchange.
    pub verifier: SecretString,
    /// `base64url(SHA-256(verifier))`, sent with the authorize request.
    pub challenge: String,
}

/// 32 random bytes as base64url, for `state`.
pub fn random_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Pkce {
    /// A fresh verifier of 64 random bytes and its challenge.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 64];
        rand::rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = challenge_of(&verifier);
        Pkce {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }
}

/// The S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorize URL the user's browser opens.
pub fn authorize_url(
    login_base: &str,
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
) -> Result<String> {
    let mut url = reqwest::Url::parse(&format!("{login_base}/services/oauth2/authorize"))
        .map_err(|e| SalesforceError::Local(format!("Login URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", SCOPES)
        .append_pair("state", state);
    Ok(url.to_string())
}

/// A token endpoint answer.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// Bearer token.
    pub access_token: SecretString,
    /// Refresh token: from the code exchange, and from a refresh when rotation is on.
    pub refresh_token: Option<SecretString>,
    /// REST base host.
    pub instance_url: String,
    /// Identity URL `…/id/{orgId}/{userId}`.
    pub id: String,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: String,
    refresh_token: Option<String>,
    instance_url: String,
    id: String,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// What to do about an OAuth error (salesforce-api.md §3.6).
fn oauth_hint(error: &str, description: &str) -> Option<String> {
    let d = description.to_ascii_lowercase();
    let hint = match error {
        "invalid_grant" if d.contains("expired") || d.contains("revoked") => {
            "the refresh token was revoked, rotated away or expired; run setup-oauth again"
        }
        "invalid_grant" if d.contains("approved") => {
            "pre-authorise the user's profile or permission set in the app, or approve it once through setup-oauth"
        }
        "invalid_grant" if d.contains("audience") => {
            "the login host does not match the org: check Use Sandbox and the login URL"
        }
        "invalid_grant" if d.contains("locked") => {
            "the user is locked out; ask a Salesforce admin to unlock the user"
        }
        "invalid_grant" if d.contains("authentication failure") => {
            "the user's credentials were refused"
        }
        "invalid_client_id" => "check the consumer key of the connected app",
        "invalid_client" => "check the consumer secret of the connected app",
        "redirect_uri_mismatch" => {
            "register the loopback callback URL (http://127.0.0.1:PORT/oauth/callback) in the app, or pass the registered port with --port"
        }
        "invalid_request" if d.contains("verifier") => {
            "the PKCE verifier was refused; run setup-oauth again"
        }
        _ => return None,
    };
    Some(hint.to_string())
}

async fn token_call(
    http: &reqwest::Client,
    login_base: &str,
    grant: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse> {
    let url = format!("{login_base}/services/oauth2/token");
    tracing::debug!(url = %scrub_url(&url), grant, "OAuth token request");
    let response = http
        .post(&url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(&url),
            message: e.without_url().to_string(),
        })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(&url),
            message: e.without_url().to_string(),
        })?;
    tracing::debug!(status = status.as_u16(), grant, "OAuth token answered");
    if !status.is_success() {
        let error: RawError = serde_json::from_slice(&bytes).map_err(|_| {
            SalesforceError::protocol(format!("token endpoint answered HTTP {status}"))
        })?;
        let hint = oauth_hint(&error.error, &error.error_description);
        return Err(SalesforceError::OAuth {
            error: error.error,
            description: error.error_description,
            hint,
        });
    }
    let raw: RawToken = serde_json::from_slice(&bytes)
        .map_err(|e| SalesforceError::protocol(format!("token response: {e}")))?;
    Ok(TokenResponse {
        access_token: SecretString::from(raw.access_token),
        refresh_token: raw.refresh_token.map(SecretString::from),
        instance_url: raw.instance_url.trim_end_matches('/').to_string(),
        id: raw.id,
    })
}

/// Exchanges an authorization code (with the PKCE verifier and the client secret).
pub async fn exchange_code(
    http: &reqwest::Client,
    login_base: &str,
    client_id: &str,
    client_secret: &SecretString,
    redirect_uri: &str,
    code: &SecretString,
    verifier: &SecretString,
) -> Result<TokenResponse> {
    token_call(
        http,
        login_base,
        "authorization_code",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose_secret()),
            ("format", "json"),
        ],
    )
    .await
}

/// Refreshes an access token. With rotation on, the answer carries a new refresh token and
/// the old one is dead: the caller must save the new one before using the access token.
pub async fn refresh(
    http: &reqwest::Client,
    login_base: &str,
    client_id: &str,
    client_secret: &SecretString,
    refresh_token: &SecretString,
) -> Result<TokenResponse> {
    token_call(
        http,
        login_base,
        "refresh_token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
            ("format", "json"),
        ],
    )
    .await
}

#[derive(serde::Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

/// Reads an RSA private key in PEM form; the error says what is wrong with the file.
pub fn load_jwt_key(path: &Path) -> std::result::Result<jsonwebtoken::EncodingKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    jwt_key_from_pem(&pem).map_err(|e| format!("{} {e}", path.display()))
}

/// An RSA private key from PEM text (PKCS#1 or PKCS#8). The error carries nothing of the
/// text, which is a secret.
pub fn jwt_key_from_pem(pem: &[u8]) -> std::result::Result<jsonwebtoken::EncodingKey, String> {
    jsonwebtoken::EncodingKey::from_rsa_pem(pem)
        .map_err(|_| "is not an RSA private key in PEM form".to_string())
}

/// The JWT bearer flow: an RS256 assertion for `username`, valid three minutes.
pub async fn jwt_bearer(
    http: &reqwest::Client,
    login_base: &str,
    consumer_key: &str,
    username: &str,
    key: &crate::credentials::JwtKey,
) -> Result<TokenResponse> {
    let key = key.encoding_key().map_err(SalesforceError::Local)?;
    // The audience is the login host: login, test, or the My Domain / community URL.
    let claims = JwtClaims {
        iss: consumer_key,
        sub: username,
        aud: login_base,
        exp: chrono::Utc::now().timestamp() + 180,
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let assertion = SecretString::from(
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| SalesforceError::Local(format!("cannot sign the JWT: {e}")))?,
    );
    token_call(
        http,
        login_base,
        "jwt-bearer",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.expose_secret()),
        ],
    )
    .await
}

/// Revokes a refresh or access token. A 400 saying the token is already invalid counts as
/// revoked.
pub async fn revoke(http: &reqwest::Client, login_base: &str, token: &SecretString) -> Result<()> {
    let url = format!("{login_base}/services/oauth2/revoke");
    tracing::debug!(url = %scrub_url(&url), "OAuth revoke");
    let response = http
        .post(&url)
        .form(&[("token", token.expose_secret())])
        .send()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(&url),
            message: e.without_url().to_string(),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: Option<RawError> = response.json().await.ok();
    match body {
        Some(e) if status.as_u16() == 400 && e.error.contains("token") => Ok(()),
        Some(e) => Err(SalesforceError::OAuth {
            hint: oauth_hint(&e.error, &e.error_description),
            error: e.error,
            description: e.error_description,
        }),
        None => Err(SalesforceError::protocol(format!(
            "revoke answered HTTP {status}"
        ))),
    }
}

/// The parts of the identity response zbridge checks (salesforce-api.md §4).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Identity {
    /// Org id (15 or 18 characters).
    pub organization_id: String,
    /// User id (15 or 18 characters).
    pub user_id: String,
    /// Username.
    #[serde(default)]
    pub username: String,
    /// Whether the user is active.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// `GET` the identity URL with the access token.
pub async fn identity(
    http: &reqwest::Client,
    id_url: &str,
    access_token: &SecretString,
) -> Result<Identity> {
    tracing::debug!(url = %scrub_url(id_url), "identity");
    let response = http
        .get(id_url)
        .bearer_auth(access_token.expose_secret())
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(id_url),
            message: e.without_url().to_string(),
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(SalesforceError::Api {
            status: status.as_u16(),
            code: response
                .text()
                .await
                .unwrap_or_default()
                .trim()
                .chars()
                .take(80)
                .collect(),
            message: "the identity URL refused the token".into(),
        });
    }
    response
        .json()
        .await
        .map_err(|e| SalesforceError::protocol(format!("identity response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 appendix B.
    #[test]
    fn s256_challenge_matches_the_rfc_example() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::generate();
        let len = p.verifier.expose_secret().len();
        assert!((43..=128).contains(&len));
        assert_eq!(challenge_of(p.verifier.expose_secret()), p.challenge);
    }

    #[test]
    fn authorize_url_carries_pkce_and_state() {
        let url = authorize_url(
            "https://test.salesforce.com",
            "3MVGkey",
            "http://127.0.0.1:5000/oauth/callback",
            "CH",
            "ST",
        )
        .unwrap();
        assert!(url.starts_with("https://test.salesforce.com/services/oauth2/authorize?"));
        for part in [
            "response_type=code",
            "code_challenge=CH",
            "code_challenge_method=S256",
            "state=ST",
            "scope=api+refresh_token+id",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Foauth%2Fcallback",
        ] {
            assert!(url.contains(part), "{url} lacks {part}");
        }
    }
}
