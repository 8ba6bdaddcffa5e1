//! Sync credentials and their rules (DESIGN.md table; zuora360-sync.md §11.1).
//!
//! Three kinds: Salesforce credentials (username, password, security token, for SOAP
//! `login()`), OAuth credentials (Org ID and User ID, with the consumer key and secret of the
//! user's own connected app or external client app, and a refresh token obtained by
//! `setup-oauth`), and the JWT bearer flow for servers (a username and an RSA private key:
//! a key file on the machine, or PEM text sealed in the store). Each has "Use Sandbox"
//! (`test.salesforce.com`) or a My Domain login URL.
//!
//! Every edit goes through a `*Fields` value applied onto the stored credential (fields not
//! given are kept) and is validated as a whole: the first broken rule is returned as a
//! [`ValidationError`] naming the field, and nothing is saved.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zbridge_core::ValidationError;
use zbridge_core::sfid::{KeyPrefix, SalesforceId, SalesforceIdError};

/// Longest username, in characters.
pub const MAX_USERNAME: usize = 50;
/// Longest password, in characters.
pub const MAX_PASSWORD: usize = 47;
/// Longest security token, in characters.
pub const MAX_SECURITY_TOKEN: usize = 150;
/// Longest consumer key we accept, in characters (Salesforce's are 85).
const MAX_CONSUMER_KEY: usize = 256;

/// Production login host.
pub const PRODUCTION_LOGIN: &str = "https://login.salesforce.com";
/// Sandbox login host.
pub const SANDBOX_LOGIN: &str = "https://test.salesforce.com";

/// The three kinds of sync credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// Username, password and security token (SOAP `login()`).
    Password,
    /// Org ID and User ID with a refresh token (OAuth web-server flow).
    OAuth,
    /// JWT bearer flow: username and key file.
    Jwt,
}

impl CredentialKind {
    /// Every kind.
    pub const ALL: [CredentialKind; 3] = [
        CredentialKind::Password,
        CredentialKind::OAuth,
        CredentialKind::Jwt,
    ];

    /// The storage and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Password => "password",
            CredentialKind::OAuth => "oauth",
            CredentialKind::Jwt => "jwt",
        }
    }

    /// The name on the sync settings screen.
    pub fn label(self) -> &'static str {
        match self {
            CredentialKind::Password => "Salesforce credentials",
            CredentialKind::OAuth => "OAuth credentials",
            CredentialKind::Jwt => "JWT bearer credentials",
        }
    }
}

impl std::fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "password" | "salesforce" => Ok(CredentialKind::Password),
            "oauth" => Ok(CredentialKind::OAuth),
            "jwt" => Ok(CredentialKind::Jwt),
            _ => Err(ValidationError::new(
                "Credential Kind",
                format!("'{s}' is not a credential kind; use password, oauth or jwt"),
            )),
        }
    }
}

/// Where to log in: "Use Sandbox", or a My Domain login URL that replaces both hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEndpoint {
    /// "Use salesforce.com Sandbox".
    pub sandbox: bool,
    /// A My Domain login URL (scheme and host only), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

impl LoginEndpoint {
    /// The base URL of login, OAuth and identity calls.
    pub fn base_url(&self) -> &str {
        match &self.login_url {
            Some(url) => url,
            None if self.sandbox => SANDBOX_LOGIN,
            None => PRODUCTION_LOGIN,
        }
    }
}

/// Salesforce credentials, validated.
#[derive(Debug, Clone)]
pub struct PasswordCredential {
    /// Username (an email-shaped login name).
    pub username: String,
    /// Password.
    pub password: SecretString,
    /// Security token; empty when the org trusts the caller's IP range.
    pub security_token: SecretString,
    /// Login host.
    pub endpoint: LoginEndpoint,
}

/// OAuth credentials, validated.
#[derive(Debug, Clone)]
pub struct OAuthCredential {
    /// Org ID (canonical 18 characters).
    pub org_id: SalesforceId,
    /// User ID (canonical 18 characters).
    pub user_id: SalesforceId,
    /// Org ID as the user typed it (displayed back).
    pub org_id_entered: String,
    /// User ID as the user typed it.
    pub user_id_entered: String,
    /// Login host.
    pub endpoint: LoginEndpoint,
    /// Consumer key of the connected app or external client app.
    pub consumer_key: String,
    /// Its consumer secret.
    pub consumer_secret: SecretString,
    /// Refresh token, once `setup-oauth` has run.
    pub refresh_token: Option<SecretString>,
    /// Instance URL returned with the token.
    pub instance_url: Option<String>,
}

/// JWT bearer credentials, validated.
#[derive(Debug, Clone)]
pub struct JwtCredential {
    /// Username the assertion is issued for (`sub`).
    pub username: String,
    /// Consumer key (`iss`).
    pub consumer_key: String,
    /// The RSA private key whose certificate is uploaded to the app.
    pub key: JwtKey,
    /// Login host (also the audience).
    pub endpoint: LoginEndpoint,
}

/// Where the JWT signing key is.
#[derive(Debug, Clone)]
pub enum JwtKey {
    /// A PEM file on this machine, read at each login (`--key-file`).
    File(PathBuf),
    /// PEM text, sealed in the store like every other secret (the web UI and the API take the
    /// key this way, so every worker sharing the store can sign).
    Sealed(SecretString),
}

impl JwtKey {
    /// The signing key; the error says what is wrong without quoting the key.
    pub fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, String> {
        match self {
            JwtKey::File(path) => crate::oauth::load_jwt_key(path),
            JwtKey::Sealed(pem) => crate::oauth::jwt_key_from_pem(pem.expose_secret().as_bytes()),
        }
    }
}

/// A validated credential of any kind.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Salesforce credentials.
    Password(PasswordCredential),
    /// OAuth credentials.
    OAuth(OAuthCredential),
    /// JWT bearer credentials.
    Jwt(JwtCredential),
}

impl Credential {
    /// Its kind.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Password(_) => CredentialKind::Password,
            Credential::OAuth(_) => CredentialKind::OAuth,
            Credential::Jwt(_) => CredentialKind::Jwt,
        }
    }

    /// Its login host.
    pub fn endpoint(&self) -> &LoginEndpoint {
        match self {
            Credential::Password(c) => &c.endpoint,
            Credential::OAuth(c) => &c.endpoint,
            Credential::Jwt(c) => &c.endpoint,
        }
    }
}

/// How "Use Sandbox" and the login URL change in an edit.
#[derive(Debug, Clone, Default)]
pub struct EndpointFields {
    /// New "Use Sandbox" value.
    pub sandbox: Option<bool>,
    /// `Some(Some(url))` sets a My Domain login URL, `Some(None)` removes it.
    pub login_url: Option<Option<String>>,
}

/// An edit of Salesforce credentials; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct PasswordFields {
    /// Username.
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// Security token (an empty value removes it).
    pub security_token: Option<SecretString>,
    /// Login host.
    pub endpoint: EndpointFields,
}

/// An edit of OAuth credentials; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct OAuthFields {
    /// Org ID, 15 or 18 characters.
    pub org_id: Option<String>,
    /// User ID, 15 or 18 characters.
    pub user_id: Option<String>,
    /// Consumer key.
    pub consumer_key: Option<String>,
    /// Consumer secret.
    pub consumer_secret: Option<SecretString>,
    /// Login host.
    pub endpoint: EndpointFields,
}

/// An edit of JWT credentials; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct JwtFields {
    /// Username.
    pub username: Option<String>,
    /// Consumer key.
    pub consumer_key: Option<String>,
    /// Private key file; to give the key itself, see [`JwtFields::apply_with_key`].
    pub key_file: Option<PathBuf>,
    /// Login host.
    pub endpoint: EndpointFields,
}

fn invalid(field: &str, rule: impl Into<String>) -> ValidationError {
    ValidationError::new(field, rule)
}

fn at_most(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    let count = value.chars().count();
    if count > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters, got {count}"),
        ));
    }
    Ok(())
}

fn required<T: Clone>(field: &str, new: Option<T>, old: Option<T>) -> Result<T, ValidationError> {
    new.or(old)
        .ok_or_else(|| invalid(field, "is required".to_string()))
}

/// Validates a username: required, at most 50 characters, shaped `name@domain`.
pub fn validate_username(value: &str) -> Result<String, ValidationError> {
    const FIELD: &str = "Username";
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(FIELD, "must not be empty"));
    }
    at_most(FIELD, value, MAX_USERNAME)?;
    let shaped = value
        .split_once('@')
        .is_some_and(|(name, domain)| !name.is_empty() && !domain.is_empty())
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !shaped {
        return Err(invalid(
            FIELD,
            "must be a Salesforce username, shaped like an email address (name@example.com)",
        ));
    }
    Ok(value.to_string())
}

/// Validates a password: not empty, at most 47 characters.
pub fn validate_password(value: &SecretString) -> Result<(), ValidationError> {
    let value = value.expose_secret();
    if value.is_empty() {
        return Err(invalid("Password", "must not be empty"));
    }
    at_most("Password", value, MAX_PASSWORD)
}

/// Validates a security token: at most 150 letters and digits (empty is allowed: a trusted
/// IP range needs none).
pub fn validate_security_token(value: &SecretString) -> Result<(), ValidationError> {
    let value = value.expose_secret();
    at_most("Security Token", value, MAX_SECURITY_TOKEN)?;
    if value.chars().any(|c| !c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "Security Token",
            "may contain only letters and digits (copy it from the email Salesforce sent)",
        ));
    }
    Ok(())
}

/// Validates an Org ID or User ID: 15 or 18 characters, the right key prefix, and a matching
/// checksum when it has 18; returns the canonical 18-character id.
pub fn validate_id(
    field: &str,
    value: &str,
    prefix: KeyPrefix,
) -> Result<SalesforceId, ValidationError> {
    let value = value.trim();
    let id = SalesforceId::parse(value).map_err(|e| invalid(field, id_rule(&e)))?;
    if id.key_prefix() != prefix.prefix {
        return Err(invalid(
            field,
            format!(
                "must start with {} (an {} ID), got {}",
                prefix.prefix,
                prefix.object,
                id.key_prefix()
            ),
        ));
    }
    Ok(id)
}

fn id_rule(e: &SalesforceIdError) -> String {
    match e {
        SalesforceIdError::Length(n) => format!("must be 15 or 18 characters, got {n}"),
        SalesforceIdError::Characters { position, found } => {
            format!("may contain only letters and digits, found {found:?} at position {position}")
        }
        SalesforceIdError::Checksum { expected, found } => format!(
            "the 18-character checksum does not match: the last three characters are {found}, the first 15 give {expected} (was the letter case changed?)"
        ),
        other => other.to_string(),
    }
}

/// Validates a My Domain login URL: https (http only for a loopback host, as in tests), a
/// host, and nothing after it; returns `scheme://host[:port]`.
pub fn validate_login_url(value: &str) -> Result<String, ValidationError> {
    const FIELD: &str = "Login URL";
    let url = reqwest::Url::parse(value.trim()).map_err(|e| invalid(FIELD, format!("{e}")))?;
    let host = url.host_str().unwrap_or_default().to_string();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid(FIELD, "must be an https:// URL")),
    }
    if host.is_empty() {
        return Err(invalid(FIELD, "must name a host"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(invalid(
            FIELD,
            "must be only the scheme and host, e.g. https://mydomain.my.salesforce.com",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn validate_consumer_key(value: &str) -> Result<String, ValidationError> {
    const FIELD: &str = "Consumer Key";
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(FIELD, "must not be empty"));
    }
    at_most(FIELD, value, MAX_CONSUMER_KEY)?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(FIELD, "must not contain spaces"));
    }
    Ok(value.to_string())
}

fn apply_endpoint(
    fields: &EndpointFields,
    old: Option<&LoginEndpoint>,
) -> Result<LoginEndpoint, ValidationError> {
    let mut endpoint = old.cloned().unwrap_or_default();
    if let Some(sandbox) = fields.sandbox {
        endpoint.sandbox = sandbox;
    }
    if let Some(url) = &fields.login_url {
        endpoint.login_url = match url {
            Some(u) if !u.trim().is_empty() => Some(validate_login_url(u)?),
            _ => None,
        };
    }
    Ok(endpoint)
}

impl PasswordFields {
    /// Applies the edit onto `old` (or creates) and validates the result.
    pub fn apply(
        self,
        old: Option<&PasswordCredential>,
    ) -> Result<PasswordCredential, ValidationError> {
        let username = validate_username(&required(
            "Username",
            self.username,
            old.map(|o| o.username.clone()),
        )?)?;
        let password = required("Password", self.password, old.map(|o| o.password.clone()))?;
        validate_password(&password)?;
        let security_token = self
            .security_token
            .or_else(|| old.map(|o| o.security_token.clone()))
            .unwrap_or_else(|| SecretString::from(String::new()));
        validate_security_token(&security_token)?;
        let endpoint = apply_endpoint(&self.endpoint, old.map(|o| &o.endpoint))?;
        Ok(PasswordCredential {
            username,
            password,
            security_token,
            endpoint,
        })
    }
}

/// What an OAuth edit did to the stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEffect {
    /// The token still belongs to the configured org and user.
    Kept,
    /// The org, user, app or login host changed: the stored token no longer matches and was
    /// dropped.
    Invalidated,
    /// There was no token.
    None,
}

impl OAuthFields {
    /// Applies the edit onto `old` (or creates) and validates the result. Changing the org,
    /// user, app or login host drops the stored refresh token ([`TokenEffect::Invalidated`]).
    pub fn apply(
        self,
        old: Option<&OAuthCredential>,
    ) -> Result<(OAuthCredential, TokenEffect), ValidationError> {
        let org_entered = required("Org ID", self.org_id, old.map(|o| o.org_id_entered.clone()))?
            .trim()
            .to_string();
        let org_id = validate_id("Org ID", &org_entered, KeyPrefix::ORGANIZATION)?;
        let user_entered = required(
            "User ID",
            self.user_id,
            old.map(|o| o.user_id_entered.clone()),
        )?
        .trim()
        .to_string();
        let user_id = validate_id("User ID", &user_entered, KeyPrefix::USER)?;
        let consumer_key = validate_consumer_key(&required(
            "Consumer Key",
            self.consumer_key,
            old.map(|o| o.consumer_key.clone()),
        )?)?;
        let consumer_secret = required(
            "Consumer Secret",
            self.consumer_secret,
            old.map(|o| o.consumer_secret.clone()),
        )?;
        if consumer_secret.expose_secret().trim().is_empty() {
            return Err(invalid("Consumer Secret", "must not be empty"));
        }
        at_most("Consumer Secret", consumer_secret.expose_secret(), 256)?;
        let endpoint = apply_endpoint(&self.endpoint, old.map(|o| &o.endpoint))?;
        let (refresh_token, instance_url, effect) = match old {
            Some(o) if o.refresh_token.is_some() => {
                let same = o.org_id == org_id
                    && o.user_id == user_id
                    && o.consumer_key == consumer_key
                    && o.endpoint == endpoint;
                if same {
                    (
                        o.refresh_token.clone(),
                        o.instance_url.clone(),
                        TokenEffect::Kept,
                    )
                } else {
                    (None, None, TokenEffect::Invalidated)
                }
            }
            _ => (None, None, TokenEffect::None),
        };
        Ok((
            OAuthCredential {
                org_id,
                user_id,
                org_id_entered: org_entered,
                user_id_entered: user_entered,
                endpoint,
                consumer_key,
                consumer_secret,
                refresh_token,
                instance_url,
            },
            effect,
        ))
    }
}

impl JwtFields {
    /// Applies the edit onto `old` (or creates) and validates the result, including that the
    /// key file holds an RSA private key.
    pub fn apply(self, old: Option<&JwtCredential>) -> Result<JwtCredential, ValidationError> {
        self.apply_with_key(old, None)
    }

    /// [`JwtFields::apply`], where `private_key` (PEM text), when given, replaces the key
    /// instead of a key file.
    pub fn apply_with_key(
        self,
        old: Option<&JwtCredential>,
        private_key: Option<SecretString>,
    ) -> Result<JwtCredential, ValidationError> {
        let username = validate_username(&required(
            "Username",
            self.username,
            old.map(|o| o.username.clone()),
        )?)?;
        let consumer_key = validate_consumer_key(&required(
            "Consumer Key",
            self.consumer_key,
            old.map(|o| o.consumer_key.clone()),
        )?)?;
        let key = match (private_key, self.key_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Private Key",
                    "give the private key or a key file, not both",
                ));
            }
            (Some(pem), None) => {
                let key = JwtKey::Sealed(pem);
                key.encoding_key().map_err(|e| invalid("Private Key", e))?;
                key
            }
            (None, Some(path)) => {
                let path = std::path::absolute(&path).unwrap_or(path);
                crate::oauth::load_jwt_key(&path).map_err(|e| invalid("Key File", e))?;
                JwtKey::File(path)
            }
            (None, None) => old.map(|o| o.key.clone()).ok_or_else(|| {
                invalid(
                    "Private Key",
                    "is required: the RSA private key in PEM form, or a key file",
                )
            })?,
        };
        let endpoint = apply_endpoint(&self.endpoint, old.map(|o| &o.endpoint))?;
        Ok(JwtCredential {
            username,
            consumer_key,
            key,
            endpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> SecretString {
        SecretString::from(v.to_string())
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let name = format!("{}@x.io", "é".repeat(45));
        assert_eq!(name.chars().count(), 50);
        assert!(validate_username(&name).is_ok());
        let long = format!("{}@x.io", "é".repeat(46));
        assert_eq!(
            validate_username(&long).unwrap_err().to_string(),
            "Username: must be at most 50 characters, got 51"
        );
        assert!(validate_password(&s(&"ü".repeat(47))).is_ok());
        assert_eq!(
            validate_password(&s(&"ü".repeat(48)))
                .unwrap_err()
                .to_string(),
            "Password: must be at most 47 characters, got 48"
        );
        assert!(validate_security_token(&s(&"a".repeat(150))).is_ok());
        assert_eq!(
            validate_security_token(&s(&"a".repeat(151)))
                .unwrap_err()
                .to_string(),
            "Security Token: must be at most 150 characters, got 151"
        );
    }

    #[test]
    fn login_urls_are_https_origins() {
        assert_eq!(
            validate_login_url("https://acme.my.salesforce.com/").unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(
            validate_login_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(validate_login_url("http://acme.my.salesforce.com").is_err());
        assert!(validate_login_url("https://acme.my.salesforce.com/x").is_err());
        assert!(validate_login_url("nonsense").is_err());
    }

    #[test]
    fn endpoint_picks_the_login_host() {
        let mut e = LoginEndpoint::default();
        assert_eq!(e.base_url(), PRODUCTION_LOGIN);
        e.sandbox = true;
        assert_eq!(e.base_url(), SANDBOX_LOGIN);
        e.login_url = Some("https://acme.my.salesforce.com".into());
        assert_eq!(e.base_url(), "https://acme.my.salesforce.com");
    }
}
