//! The secret-safe view of a saved connection: what `zbridge connection show --json` prints and
//! what the JSON API returns. Every secret appears only as [`SecretState`], so nothing that
//! serialises a view can leak one.

use secrecy::SecretString;
use serde::Serialize;
use zbridge_core::{Tenant, Warning};

use crate::components::ComponentRef;
use crate::connections::ConnectionRecord;

/// How a secret is shown: only whether it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SecretState {
    /// Whether a value is stored.
    pub set: bool,
}

impl std::fmt::Display for SecretState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.set { "set" } else { "not set" })
    }
}

impl SecretState {
    /// Whether a secret is stored, as shown.
    pub fn new(set: bool) -> Self {
        SecretState { set }
    }

    fn of(secret: &Option<SecretString>) -> Self {
        SecretState {
            set: secret.is_some(),
        }
    }
}

/// A connection as people and API clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    /// Stable id.
    pub id: String,
    /// Connection Name.
    pub name: String,
    /// Project, if any.
    pub project: Option<String>,
    /// Tenant as entered (a tenant name or a `[variable]`).
    pub tenant: String,
    /// Zuora Service as entered.
    pub service: String,
    /// Where requests go: the `URL` advanced property, or the tenant's address.
    pub base_url: String,
    /// OAuth Client Id.
    pub client_id: String,
    /// OAuth Client Secret.
    pub client_secret: SecretState,
    /// OAuth Refresh Token.
    pub refresh_token: SecretState,
    /// Use Proxy Settings.
    pub proxy: ProxyView,
    /// Advanced Configurations, in order.
    pub advanced: Vec<AdvancedView>,
    /// Saved components that use the connection.
    pub used_by: Vec<ComponentRef>,
    /// The version an edit must name.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Findings of the save that produced this view (undefined variables, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Use Proxy Settings, password only as set / not set.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyView {
    /// Whether requests go through the proxy.
    pub enabled: bool,
    /// Proxy URL.
    pub url: String,
    /// Proxy user.
    pub user: String,
    /// Proxy password.
    pub password: SecretState,
}

/// A row of the advanced table; a secret row has `secret` instead of `value`.
#[derive(Debug, Clone, Serialize)]
pub struct AdvancedView {
    /// The key.
    pub key: String,
    /// The value of a plain row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Set, for a secret row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretState>,
}

impl ConnectionRecord {
    /// The record with every secret replaced by whether it is set; `used_by` lists the saved
    /// components that use it.
    pub fn view(&self, used_by: Vec<ComponentRef>) -> ConnectionView {
        let def = &self.def;
        let base_url = match def.advanced.get("URL") {
            Some(url) => format!("{url} (from URL)"),
            None => Tenant::parse(&def.tenant)
                .map(|t| t.base_url().to_string())
                .unwrap_or_else(|_| format!("from Tenant {}", def.tenant)),
        };
        ConnectionView {
            id: self.id.clone(),
            name: def.name.to_string(),
            project: def.project.as_ref().map(ToString::to_string),
            tenant: def.tenant.clone(),
            service: def.service.clone(),
            base_url,
            client_id: def.client_id.clone(),
            client_secret: SecretState::of(&def.client_secret),
            refresh_token: SecretState::of(&def.refresh_token),
            proxy: ProxyView {
                enabled: def.proxy.enabled,
                url: def.proxy.url.clone(),
                user: def.proxy.user.clone(),
                password: SecretState::of(&def.proxy.password),
            },
            advanced: def
                .advanced
                .rows()
                .iter()
                .map(|row| {
                    let secret = def.advanced_secrets.contains_key(&row.key);
                    AdvancedView {
                        key: row.key.clone(),
                        value: (!secret).then(|| row.value.clone()),
                        secret: secret.then_some(SecretState { set: true }),
                    }
                })
                .collect(),
            used_by,
            version: self.version,
            created_at: self.created_at.to_rfc3339(),
            updated_at: self.updated_at.to_rfc3339(),
            warnings: Vec::new(),
        }
    }
}

impl ConnectionView {
    /// The view with the warnings of the save that produced it.
    pub fn with_warnings(mut self, warnings: Vec<Warning>) -> Self {
        self.warnings = warnings;
        self
    }
}

#[cfg(test)]
mod tests {
    use zbridge_core::ConnectionName;
    use zbridge_core::connection::ZuoraConnectionDef;

    use super::*;

    #[test]
    fn secrets_show_only_as_set() {
        let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Prod").unwrap());
        def.client_secret = Some(SecretString::from("client-secret-1".to_string()));
        def.proxy.password = Some(SecretString::from("proxy-secret-2".to_string()));
        def.set_advanced(
            "OAuthAccessToken",
            SecretString::from("token-3".to_string()),
        )
        .unwrap();
        def.set_advanced("PollInterval", SecretString::from("5".to_string()))
            .unwrap();
        let record = ConnectionRecord {
            id: "id-1".into(),
            def,
            version: 3,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let view = record.view(Vec::new());
        let json = serde_json::to_string(&view).unwrap();
        for secret in ["client-secret-1", "proxy-secret-2", "token-3"] {
            assert!(!json.contains(secret), "{json}");
        }
        assert!(view.client_secret.set);
        assert!(!view.refresh_token.set);
        assert!(view.proxy.password.set);
        let token = view
            .advanced
            .iter()
            .find(|r| r.key == "OAuthAccessToken")
            .unwrap();
        assert_eq!(
            (&token.value, token.secret),
            (&None, Some(SecretState { set: true }))
        );
        let poll = view
            .advanced
            .iter()
            .find(|r| r.key == "PollInterval")
            .unwrap();
        assert_eq!(poll.value.as_deref(), Some("5"));
        assert!(!json.contains("warnings"), "no warnings, no field: {json}");
    }
}
