//! A Zuora connection: its definition as saved, its validation, and its resolution into the
//! typed settings a client uses.
//!
//! A definition ([`ZuoraConnectionDef`]) holds raw field values, which may contain `[variable]`
//! references. Saving validates literal values and warns about undefined variables; using the
//! connection ([`ZuoraConnectionDef::resolve`]) expands every field and checks it again, so an
//! error names the field whatever the variable held.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::advanced::{self, AdvancedProperties};
use crate::error::{ValidationError, Warning};
use crate::names::{ConnectionName, ProjectName};
use crate::tenant::{Region, Tenant, ZuoraService};
use crate::variables::{self, VariableScope};

/// Screen labels of the connection fields, used in errors and warnings.
pub mod field {
    /// Tenant select.
    pub const TENANT: &str = "Tenant";
    /// Zuora Service select.
    pub const SERVICE: &str = "Zuora Service";
    /// OAuth Client Id.
    pub const CLIENT_ID: &str = "OAuth Client Id";
    /// OAuth Client Secret.
    pub const CLIENT_SECRET: &str = "OAuth Client Secret";
    /// OAuth Refresh Token.
    pub const REFRESH_TOKEN: &str = "OAuth Refresh Token";
    /// Proxy URL (with Use Proxy Settings).
    pub const PROXY_URL: &str = "Proxy URL";
    /// Proxy user.
    pub const PROXY_USER: &str = "Proxy User";
    /// Proxy password.
    pub const PROXY_PASSWORD: &str = "Proxy Password";
}

/// Storage names of the secret fields; the store seals each under `<record id>/<name>`.
pub mod secret_field {
    /// The OAuth client secret.
    pub const CLIENT_SECRET: &str = "client_secret";
    /// The OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// The proxy password.
    pub const PROXY_PASSWORD: &str = "proxy_password";
    /// Prefix of secret advanced properties: `advanced:OAuthAccessToken`.
    pub const ADVANCED_PREFIX: &str = "advanced:";
}

/// Longest value of a secret field (client secret, refresh token, proxy password,
/// `OAuthAccessToken`), in bytes, before and after `[variable]` expansion.
///
/// Zuora's OAuth client secrets are about 40 characters and its access tokens 32; 4096 bytes
/// leaves ample room for longer tokens (JWTs of a few hundred bytes to ~2 KB) and passwords,
/// keeps the `Authorization` and `Proxy-Authorization` headers well under the 8 KB per header
/// line that common proxies and servers accept, and refuses a file read in by mistake (a 1 MB
/// "secret") before it is sealed, stored and sent.
pub const MAX_SECRET_BYTES: usize = 4096;

/// Refuses a secret value longer than [`MAX_SECRET_BYTES`]. The error names the field and the
/// limit and never quotes the value.
pub fn check_secret_length(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.len() > MAX_SECRET_BYTES {
        return Err(ValidationError::new(
            field,
            format!(
                "must be at most {MAX_SECRET_BYTES} bytes; the value given has {} bytes (check that the right value or file was given)",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// "Use Proxy Settings" and the proxy it switches on.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// Whether requests go through the proxy.
    pub enabled: bool,
    /// The proxy URL, e.g. `http://proxy.internal:3128`.
    pub url: String,
    /// Optional user for proxy authentication.
    pub user: String,
    /// Optional password for proxy authentication.
    pub password: Option<SecretString>,
}

/// A Zuora connection as the user defined it. Fields may hold `[variable]` references.
#[derive(Debug, Clone)]
pub struct ZuoraConnectionDef {
    /// Unique (case-insensitively) among Zuora connections.
    pub name: ConnectionName,
    /// The project whose variables the connection sees, if any.
    pub project: Option<ProjectName>,
    /// A tenant name, or a template that expands to one.
    pub tenant: String,
    /// A service name, or a template that expands to one.
    pub service: String,
    /// The OAuth client id (36 characters at Zuora).
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Option<SecretString>,
    /// Accepted for compatibility with the connector screen. Zuora has no refresh-token grant;
    /// the client tries it once and falls back to client credentials.
    pub refresh_token: Option<SecretString>,
    /// Proxy settings.
    pub proxy: ProxySettings,
    /// The advanced configuration table. Rows of secret keys hold an empty value here; their
    /// values are in [`ZuoraConnectionDef::advanced_secrets`].
    pub advanced: AdvancedProperties,
    /// Values of secret advanced keys, by canonical key.
    pub advanced_secrets: BTreeMap<String, SecretString>,
}

/// The non-secret part of a definition, as stored (JSON) and exported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicConfig {
    /// Tenant field.
    pub tenant: String,
    /// Service field.
    pub service: String,
    /// OAuth client id.
    pub client_id: String,
    /// Use Proxy Settings.
    #[serde(default)]
    pub proxy_enabled: bool,
    /// Proxy URL.
    #[serde(default)]
    pub proxy_url: String,
    /// Proxy user.
    #[serde(default)]
    pub proxy_user: String,
    /// Advanced configuration rows.
    #[serde(default)]
    pub advanced: AdvancedProperties,
}

impl ZuoraConnectionDef {
    /// A new definition with the connector's defaults (USProduction, AQuADataExport).
    pub fn new(name: ConnectionName) -> Self {
        ZuoraConnectionDef {
            name,
            project: None,
            tenant: Tenant::default().as_str().to_string(),
            service: ZuoraService::default().as_str().to_string(),
            client_id: String::new(),
            client_secret: None,
            refresh_token: None,
            proxy: ProxySettings::default(),
            advanced: AdvancedProperties::default(),
            advanced_secrets: BTreeMap::new(),
        }
    }

    /// Sets an advanced property, routing a secret key's value out of the public table.
    pub fn set_advanced(&mut self, key: &str, value: SecretString) -> Result<(), ValidationError> {
        let known = advanced::lookup_key(key)?;
        if known.secret {
            variables::parse_template(&advanced::field_of(known.name), value.expose_secret())?;
            self.advanced.set(known.name, "")?;
            self.advanced_secrets.insert(known.name.to_string(), value);
        } else {
            self.advanced.set(known.name, value.expose_secret())?;
        }
        Ok(())
    }

    /// Deletes one advanced row, secret or not.
    pub fn delete_advanced(&mut self, key: &str) -> Result<(), ValidationError> {
        let known = advanced::lookup_key(key)?;
        self.advanced.delete(known.name)?;
        self.advanced_secrets.remove(known.name);
        Ok(())
    }

    /// Clears the whole advanced table ("Clear All").
    pub fn clear_advanced(&mut self) {
        self.advanced.clear();
        self.advanced_secrets.clear();
    }

    /// Validates the whole definition for saving. Errors stop the save; warnings do not.
    pub fn validate(&self, scope: &VariableScope) -> Result<Vec<Warning>, ValidationError> {
        let mut warnings = Vec::new();
        for (label, value) in self.labelled_secrets() {
            check_secret_length(&label, value.expose_secret())?;
        }
        check_select(field::TENANT, &self.tenant, Tenant::parse)?;
        check_select(field::SERVICE, &self.service, ZuoraService::parse)?;
        self.advanced.validate()?;
        for row in self.advanced.rows() {
            let known = advanced::lookup_key(&row.key)?;
            if known.secret && !self.advanced_secrets.contains_key(known.name) {
                return Err(ValidationError::new(
                    advanced::field_of(known.name),
                    "needs a value",
                ));
            }
        }
        self.check_oauth_fields(&mut warnings)?;
        self.check_proxy()?;
        for (label, value, secret) in self.templated_fields() {
            warnings.extend(variables::check_field(&label, &value, secret, scope)?);
        }
        Ok(warnings)
    }

    fn check_oauth_fields(&self, warnings: &mut Vec<Warning>) -> Result<(), ValidationError> {
        let mode = self.advanced.get("InitiateOAuth").unwrap_or("REFRESH");
        let is_off = mode.eq_ignore_ascii_case("OFF");
        if is_off {
            if !self.advanced_secrets.contains_key("OAuthAccessToken") {
                return Err(ValidationError::new(
                    advanced::field_of("OAuthAccessToken"),
                    "is required when InitiateOAuth=OFF",
                ));
            }
            return Ok(());
        }
        if self.client_id.trim().is_empty() {
            return Err(ValidationError::new(
                field::CLIENT_ID,
                "is required unless InitiateOAuth=OFF",
            ));
        }
        if self
            .client_secret
            .as_ref()
            .is_none_or(|s| s.expose_secret().is_empty())
        {
            return Err(ValidationError::new(
                field::CLIENT_SECRET,
                "is required unless InitiateOAuth=OFF",
            ));
        }
        let literal = variables::references(field::CLIENT_ID, &self.client_id)?.is_empty();
        if literal && self.client_id.trim().chars().count() != 36 {
            warnings.push(Warning {
                field: field::CLIENT_ID.to_string(),
                message: "Zuora client ids are 36 characters; check that it was copied whole"
                    .into(),
            });
        }
        Ok(())
    }

    fn check_proxy(&self) -> Result<(), ValidationError> {
        let proxy = &self.proxy;
        if !proxy.enabled {
            return Ok(());
        }
        if proxy.url.trim().is_empty() {
            return Err(ValidationError::new(
                field::PROXY_URL,
                "is required with Use Proxy Settings",
            ));
        }
        if variables::references(field::PROXY_URL, &proxy.url)?.is_empty() {
            advanced::check_url(field::PROXY_URL, proxy.url.trim())?;
        }
        if proxy.password.is_some() && proxy.user.trim().is_empty() {
            return Err(ValidationError::new(
                field::PROXY_USER,
                "is required when a proxy password is set",
            ));
        }
        Ok(())
    }

    /// Every secret that is set, by its label on screen.
    fn labelled_secrets(&self) -> Vec<(String, &SecretString)> {
        let fixed = [
            (field::CLIENT_SECRET, &self.client_secret),
            (field::REFRESH_TOKEN, &self.refresh_token),
            (field::PROXY_PASSWORD, &self.proxy.password),
        ];
        let fixed = fixed
            .into_iter()
            .filter_map(|(label, value)| value.as_ref().map(|v| (label.to_string(), v)));
        let advanced = self
            .advanced_secrets
            .iter()
            .map(|(key, value)| (advanced::field_of(key), value));
        fixed.chain(advanced).collect()
    }

    /// Every field that accepts variables: (label, raw value, whether the field is secret).
    fn templated_fields(&self) -> Vec<(String, String, bool)> {
        let mut fields = vec![
            (field::TENANT.to_string(), self.tenant.clone(), false),
            (field::SERVICE.to_string(), self.service.clone(), false),
            (field::CLIENT_ID.to_string(), self.client_id.clone(), false),
        ];
        let secrets = [
            (field::CLIENT_SECRET, &self.client_secret),
            (field::REFRESH_TOKEN, &self.refresh_token),
            (field::PROXY_PASSWORD, &self.proxy.password),
        ];
        for (label, value) in secrets {
            if let Some(value) = value {
                fields.push((label.to_string(), value.expose_secret().to_string(), true));
            }
        }
        if self.proxy.enabled {
            fields.push((field::PROXY_URL.to_string(), self.proxy.url.clone(), false));
            fields.push((
                field::PROXY_USER.to_string(),
                self.proxy.user.clone(),
                false,
            ));
        }
        for row in self.advanced.rows() {
            let label = advanced::field_of(&row.key);
            match self.advanced_secrets.get(&row.key) {
                Some(secret) => fields.push((label, secret.expose_secret().to_string(), true)),
                None => fields.push((label, row.value.clone(), false)),
            }
        }
        fields
    }

    /// The non-secret part, for storage and display.
    pub fn public_config(&self) -> PublicConfig {
        PublicConfig {
            tenant: self.tenant.clone(),
            service: self.service.clone(),
            client_id: self.client_id.clone(),
            proxy_enabled: self.proxy.enabled,
            proxy_url: self.proxy.url.clone(),
            proxy_user: self.proxy.user.clone(),
            advanced: self.advanced.clone(),
        }
    }

    /// The secret fields that are set, by storage name.
    pub fn secrets(&self) -> Vec<(String, &SecretString)> {
        let mut out = Vec::new();
        let fixed = [
            (secret_field::CLIENT_SECRET, &self.client_secret),
            (secret_field::REFRESH_TOKEN, &self.refresh_token),
            (secret_field::PROXY_PASSWORD, &self.proxy.password),
        ];
        for (name, value) in fixed {
            if let Some(value) = value {
                out.push((name.to_string(), value));
            }
        }
        for (key, value) in &self.advanced_secrets {
            out.push((format!("{}{key}", secret_field::ADVANCED_PREFIX), value));
        }
        out
    }

    /// Rebuilds a definition from its stored parts.
    pub fn from_parts(
        name: ConnectionName,
        project: Option<ProjectName>,
        config: PublicConfig,
        mut secrets: BTreeMap<String, SecretString>,
    ) -> Self {
        let advanced_secrets = secrets
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(secret_field::ADVANCED_PREFIX)
                    .map(|key| (key.to_string(), v.clone()))
            })
            .collect();
        ZuoraConnectionDef {
            name,
            project,
            tenant: config.tenant,
            service: config.service,
            client_id: config.client_id,
            client_secret: secrets.remove(secret_field::CLIENT_SECRET),
            refresh_token: secrets.remove(secret_field::REFRESH_TOKEN),
            proxy: ProxySettings {
                enabled: config.proxy_enabled,
                url: config.proxy_url,
                user: config.proxy_user,
                password: secrets.remove(secret_field::PROXY_PASSWORD),
            },
            advanced: config.advanced,
            advanced_secrets,
        }
    }

    /// Expands every field and produces the typed settings a client uses.
    pub fn resolve(
        &self,
        scope: &VariableScope,
    ) -> Result<ResolvedZuoraConnection, ValidationError> {
        let plain = |label: &str, raw: &str| -> Result<String, ValidationError> {
            Ok(variables::expand(label, raw, scope)?
                .into_plain()
                .trim()
                .to_string())
        };
        let secret = |label: &str,
                      raw: &Option<SecretString>|
         -> Result<Option<SecretString>, ValidationError> {
            raw.as_ref()
                .map(|s| expand_secret(label, s, scope))
                .transpose()
        };
        let tenant = Tenant::parse(&plain(field::TENANT, &self.tenant)?)?;
        let service = ZuoraService::parse(&plain(field::SERVICE, &self.service)?)?;
        let mut values = BTreeMap::new();
        for row in self.advanced.rows() {
            let known = advanced::lookup_key(&row.key)?;
            let label = advanced::field_of(known.name);
            let value = match self.advanced_secrets.get(known.name) {
                Some(s) => expand_secret(&label, s, scope)?,
                None => {
                    let v = plain(&label, &row.value)?;
                    advanced::check_value(known, &v)?;
                    SecretString::from(v)
                }
            };
            values.insert(known.name, value);
        }
        let settings = ClientSettings::from_values(&values)?;
        let base_url = match values.get("URL") {
            Some(url) => url.expose_secret().trim_end_matches('/').to_string(),
            None => tenant.base_url().to_string(),
        };
        let region = match values
            .get("Region")
            .map(|r| r.expose_secret().to_ascii_uppercase())
        {
            Some(r) if r == "EU" => Region::EU,
            Some(_) => Region::US,
            None => tenant.region(),
        };
        let oauth = match values
            .get("InitiateOAuth")
            .map(|m| m.expose_secret().to_ascii_uppercase())
        {
            Some(m) if m == "OFF" => OAuthMode::Off {
                access_token: values.get("OAuthAccessToken").cloned().ok_or_else(|| {
                    ValidationError::new(
                        advanced::field_of("OAuthAccessToken"),
                        "is required when InitiateOAuth=OFF",
                    )
                })?,
            },
            _ => OAuthMode::Refresh,
        };
        let proxy = if self.proxy.enabled {
            let url = plain(field::PROXY_URL, &self.proxy.url)?;
            advanced::check_url(field::PROXY_URL, &url)?;
            let user = plain(field::PROXY_USER, &self.proxy.user)?;
            Some(ResolvedProxy {
                url,
                user: (!user.is_empty()).then_some(user),
                password: secret(field::PROXY_PASSWORD, &self.proxy.password)?,
            })
        } else {
            None
        };
        Ok(ResolvedZuoraConnection {
            name: self.name.clone(),
            tenant,
            service,
            base_url,
            region,
            client_id: plain(field::CLIENT_ID, &self.client_id)?,
            client_secret: secret(field::CLIENT_SECRET, &self.client_secret)?,
            refresh_token: secret(field::REFRESH_TOKEN, &self.refresh_token)?,
            oauth,
            oauth_settings_location: values
                .get("OAuthSettingsLocation")
                .map(|p| p.expose_secret().to_string()),
            proxy,
            settings,
        })
    }
}

/// Expands a secret field and checks the length of what it became.
fn expand_secret(
    label: &str,
    raw: &SecretString,
    scope: &VariableScope,
) -> Result<SecretString, ValidationError> {
    let value = variables::expand(label, raw.expose_secret(), scope)?.value;
    check_secret_length(label, value.expose_secret())?;
    Ok(value)
}

fn check_select<T>(
    label: &str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, ValidationError>,
) -> Result<(), ValidationError> {
    if variables::references(label, raw)?.is_empty() {
        parse(raw)?;
    }
    Ok(())
}

/// How the connection obtains its access token.
#[derive(Debug, Clone)]
pub enum OAuthMode {
    /// `InitiateOAuth=OFF`: use this token until it expires.
    Off {
        /// The token as given.
        access_token: SecretString,
    },
    /// `InitiateOAuth=REFRESH`: obtain and renew tokens with client credentials.
    Refresh,
}

/// The proxy after expansion.
#[derive(Debug, Clone)]
pub struct ResolvedProxy {
    /// Proxy URL.
    pub url: String,
    /// User, if any.
    pub user: Option<String>,
    /// Password, if any.
    pub password: Option<SecretString>,
}

/// A connection ready for use: every variable expanded, every value typed.
#[derive(Debug, Clone)]
pub struct ResolvedZuoraConnection {
    /// The connection's name.
    pub name: ConnectionName,
    /// The tenant.
    pub tenant: Tenant,
    /// The service queries go through.
    pub service: ZuoraService,
    /// REST base URL without a trailing slash: the `URL` override or the tenant's.
    pub base_url: String,
    /// Data-center region (decides AQuA `incrementalTime`'s zone).
    pub region: Region,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Option<SecretString>,
    /// OAuth refresh token, if given.
    pub refresh_token: Option<SecretString>,
    /// How tokens are obtained.
    pub oauth: OAuthMode,
    /// Token cache file, when the user chose one.
    pub oauth_settings_location: Option<String>,
    /// Proxy, when Use Proxy Settings is on.
    pub proxy: Option<ResolvedProxy>,
    /// Timeouts, retries, polling and limits.
    pub settings: ClientSettings,
}

/// Typed advanced settings with their defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// `Zuora-Version` header.
    pub zuora_version: Option<String>,
    /// `Zuora-Entity-Ids` header.
    pub entity_ids: Option<String>,
    /// `Zuora-Org-Ids` header.
    pub org_ids: Option<String>,
    /// TCP and TLS connect timeout.
    pub connect_timeout: Duration,
    /// Response timeout of ordinary calls.
    pub read_timeout: Duration,
    /// Longest stall of a streaming download.
    pub download_idle_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Total time spent retrying one request.
    pub retry_max_elapsed: Duration,
    /// First poll interval.
    pub poll_interval: Duration,
    /// Longest poll interval.
    pub max_poll_interval: Duration,
    /// Longest a job may run.
    pub job_timeout: Duration,
    /// Jobs at once per tenant.
    pub max_concurrent_jobs: u32,
    /// Data Query `sourceData`.
    pub source_data: String,
    /// Largest Data Query result before a split.
    pub dataquery_output_cap: u64,
    /// Largest AQuA job before a split.
    pub aqua_max_rows_per_job: u64,
    /// Stateful AQuA partner.
    pub aqua_partner: Option<String>,
    /// Stateful AQuA project.
    pub aqua_project: Option<String>,
    /// AQuA `nullReplacement`.
    pub null_replacement: Option<String>,
    /// Describe cache lifetime.
    pub describe_cache_ttl: Duration,
    /// Describe calls at once.
    pub describe_concurrency: u32,
}

impl ClientSettings {
    /// Builds settings from expanded, checked values (canonical key → value); absent keys take
    /// their documented defaults.
    fn from_values(values: &BTreeMap<&'static str, SecretString>) -> Result<Self, ValidationError> {
        let text = |key: &str| {
            values
                .get(key)
                .map(|v| v.expose_secret().trim().to_string())
        };
        let raw = |key: &str| -> Result<String, ValidationError> {
            text(key)
                .or_else(|| advanced::known_key(key).and_then(|k| k.default.map(str::to_string)))
                .ok_or_else(|| {
                    ValidationError::new(advanced::field_of(key), "has no value and no default")
                })
        };
        let number = |key: &str| -> Result<u64, ValidationError> {
            raw(key)?.parse::<u64>().map_err(|_| {
                ValidationError::new(advanced::field_of(key), "must be a whole number")
            })
        };
        let secs = |key: &str| number(key).map(Duration::from_secs);
        let small = |key: &str| -> Result<u32, ValidationError> {
            u32::try_from(number(key)?)
                .map_err(|_| ValidationError::new(advanced::field_of(key), "is too large"))
        };
        Ok(ClientSettings {
            zuora_version: text("Zuora-Version"),
            entity_ids: text("Zuora-Entity-Ids"),
            org_ids: text("Zuora-Org-Ids"),
            connect_timeout: secs("ConnectTimeout")?,
            read_timeout: secs("ReadTimeout")?,
            download_idle_timeout: secs("DownloadIdleTimeout")?,
            max_retries: small("MaxRetries")?,
            retry_max_elapsed: secs("RetryMaxElapsed")?,
            poll_interval: secs("PollInterval")?,
            max_poll_interval: secs("MaxPollInterval")?,
            job_timeout: secs("JobTimeout")?,
            max_concurrent_jobs: small("MaxConcurrentJobs")?,
            source_data: raw("SourceData")?.to_ascii_uppercase(),
            dataquery_output_cap: number("DataQueryOutputCap")?,
            aqua_max_rows_per_job: number("AQuAMaxRowsPerJob")?,
            aqua_partner: text("AQuAPartner"),
            aqua_project: text("AQuAProject"),
            null_replacement: text("NullReplacement"),
            describe_cache_ttl: secs("DescribeCacheTTL")?,
            describe_concurrency: small("DescribeConcurrency")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::VariableName;
    use crate::variables::{Scope, Variable};

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    fn valid_def() -> ZuoraConnectionDef {
        let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Prod").unwrap());
        def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
        def.client_secret = Some(secret("s3cret"));
        def
    }

    fn scope(vars: &[(&str, &str, bool)]) -> VariableScope {
        VariableScope::new(vars.iter().map(|(n, v, s)| Variable {
            name: VariableName::parse(n).unwrap(),
            scope: Scope::Global,
            value: secret(v),
            secret: *s,
        }))
    }

    #[test]
    fn a_minimal_connection_is_valid_and_resolves_to_defaults() {
        let def = valid_def();
        assert!(def.validate(&VariableScope::default()).unwrap().is_empty());
        let resolved = def.resolve(&VariableScope::default()).unwrap();
        assert_eq!(resolved.base_url, "https://rest.zuora.com");
        assert_eq!(resolved.service, ZuoraService::AQuADataExport);
        assert_eq!(resolved.settings.read_timeout, Duration::from_secs(130));
        assert_eq!(resolved.settings.max_concurrent_jobs, 5);
        assert!(matches!(resolved.oauth, OAuthMode::Refresh));
    }

    #[test]
    fn oversized_secrets_are_refused_by_field_without_the_value() {
        let huge = "x".repeat(1024 * 1024);
        type Apply = fn(&mut ZuoraConnectionDef, SecretString);
        let set: [(&str, Apply); 4] = [
            ("OAuth Client Secret", |d, v| d.client_secret = Some(v)),
            ("OAuth Refresh Token", |d, v| d.refresh_token = Some(v)),
            ("Proxy Password", |d, v| {
                d.proxy = ProxySettings {
                    enabled: true,
                    url: "http://proxy:3128".into(),
                    user: "u".into(),
                    password: Some(v),
                }
            }),
            ("Advanced Configurations: OAuthAccessToken", |d, v| {
                d.set_advanced("OAuthAccessToken", v).unwrap()
            }),
        ];
        for (label, apply) in set {
            let mut def = valid_def();
            apply(&mut def, secret(&huge));
            let err = def.validate(&VariableScope::default()).unwrap_err();
            assert_eq!(err.field, label);
            let text = err.to_string();
            assert!(text.contains("must be at most 4096 bytes"), "{text}");
            assert!(text.contains("1048576 bytes"), "{text}");
            assert!(!text.contains("xxxx"), "the value is never quoted");
            let mut def = valid_def();
            apply(&mut def, secret(&"x".repeat(MAX_SECRET_BYTES)));
            assert!(def.validate(&VariableScope::default()).is_ok(), "{label}");
        }
    }

    #[test]
    fn a_secret_that_expands_past_the_limit_is_refused_when_used() {
        let mut def = valid_def();
        def.client_secret = Some(secret("[big]"));
        let vars = scope(&[("big", &"y".repeat(5000), true)]);
        let err = def.resolve(&vars).unwrap_err().to_string();
        assert!(
            err.starts_with("OAuth Client Secret: must be at most 4096 bytes"),
            "{err}"
        );
        assert!(!err.contains("yyyy"), "{err}");
    }

    #[test]
    fn invalid_fields_name_the_field_and_rule() {
        let mut def = valid_def();
        def.tenant = "Mars".into();
        let err = def
            .validate(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Tenant: unknown tenant 'Mars'"), "{err}");

        let mut def = valid_def();
        def.service = "SOAP".into();
        let err = def
            .validate(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Zuora Service: unknown service 'SOAP'"),
            "{err}"
        );

        let mut def = valid_def();
        def.client_secret = None;
        let err = def
            .validate(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "OAuth Client Secret: is required unless InitiateOAuth=OFF"
        );

        let mut def = valid_def();
        def.proxy.enabled = true;
        let err = def
            .validate(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Proxy URL: is required with Use Proxy Settings");
    }

    #[test]
    fn variables_expand_at_use_and_only_warn_at_save() {
        let mut def = valid_def();
        def.tenant = "[tenant]".into();
        def.set_advanced("URL", secret("http://[host]:8080/"))
            .unwrap();
        let warnings = def.validate(&VariableScope::default()).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let err = def
            .resolve(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Tenant: variable [tenant] is not defined"),
            "{err}"
        );

        let vars = scope(&[("tenant", "EUSandbox", false), ("host", "127.0.0.1", false)]);
        let resolved = def.resolve(&vars).unwrap();
        assert_eq!(resolved.tenant, Tenant::EUSandbox);
        assert_eq!(resolved.region, Region::EU);
        assert_eq!(resolved.base_url, "http://127.0.0.1:8080");

        let bad = scope(&[("tenant", "Nowhere", false), ("host", "127.0.0.1", false)]);
        let err = def.resolve(&bad).unwrap_err().to_string();
        assert!(err.starts_with("Tenant: unknown tenant 'Nowhere'"), "{err}");
    }

    #[test]
    fn expanded_advanced_values_are_checked_again() {
        let mut def = valid_def();
        def.set_advanced("ReadTimeout", secret("[t]")).unwrap();
        let err = def
            .resolve(&scope(&[("t", "soon", false)]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Advanced Configurations: ReadTimeout: must be a whole number of seconds from 1 to 3600"
        );
        let ok = def.resolve(&scope(&[("t", "45", false)])).unwrap();
        assert_eq!(ok.settings.read_timeout, Duration::from_secs(45));
    }

    #[test]
    fn initiate_oauth_off_needs_and_uses_the_access_token() {
        let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Token only").unwrap());
        def.set_advanced("InitiateOAuth", secret("OFF")).unwrap();
        let err = def
            .validate(&VariableScope::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Advanced Configurations: OAuthAccessToken: is required when InitiateOAuth=OFF"
        );
        def.set_advanced("OAuthAccessToken", secret("tok")).unwrap();
        def.validate(&VariableScope::default()).unwrap();
        assert_eq!(
            def.advanced.get("OAuthAccessToken"),
            Some(""),
            "secret kept out of the table"
        );
        let resolved = def.resolve(&VariableScope::default()).unwrap();
        match resolved.oauth {
            OAuthMode::Off { access_token } => assert_eq!(access_token.expose_secret(), "tok"),
            OAuthMode::Refresh => panic!("expected OFF"),
        }
    }

    #[test]
    fn parts_round_trip() {
        let mut def = valid_def();
        def.refresh_token = Some(secret("rt"));
        def.proxy = ProxySettings {
            enabled: true,
            url: "http://proxy:3128".into(),
            user: "u".into(),
            password: Some(secret("pw")),
        };
        def.set_advanced("OAuthAccessToken", secret("tok")).unwrap();
        def.set_advanced("PollInterval", secret("4")).unwrap();
        let secrets: BTreeMap<String, SecretString> = def
            .secrets()
            .into_iter()
            .map(|(k, v)| (k, v.clone()))
            .collect();
        let names: Vec<&str> = secrets.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "advanced:OAuthAccessToken",
                "client_secret",
                "proxy_password",
                "refresh_token"
            ]
        );
        let config = def.public_config();
        let json = serde_json::to_string(&config).unwrap();
        for plaintext in ["s3cret", "rt", "pw", "tok"] {
            assert!(!json.contains(&format!("\"{plaintext}\"")), "{json}");
        }
        let back = ZuoraConnectionDef::from_parts(def.name.clone(), None, config, secrets);
        assert_eq!(back.public_config(), def.public_config());
        assert_eq!(back.proxy.password.unwrap().expose_secret(), "pw");
        assert_eq!(
            back.advanced_secrets["OAuthAccessToken"].expose_secret(),
            "tok"
        );
    }
}
