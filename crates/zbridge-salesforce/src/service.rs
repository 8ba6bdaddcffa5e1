//! The sync credentials service: what the CLI, the web UI and the JSON API call for the
//! "Set up sync credentials to connect to Salesforce" screen (zuora360-sync.md §11).
//!
//! Edit/save (validated as a whole, nothing saved on error), reset (edit without clearing),
//! setup OAuth (web-server flow with PKCE, identity verified before anything is stored), Test
//! Access, delete (revoke at Salesforce, then wipe), switch the active kind, and a client for
//! the sync engine that follows credential changes at batch boundaries.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;
use zbridge_core::Warning;
use zbridge_core::sfid::SalesforceId;
use zbridge_store::{SecretChange, SecretState, SfCredentialRecord, Store, SyncProfile};

use crate::client::{ClientOptions, SalesforceClient};
use crate::credentials::{
    Credential, CredentialKind, JwtCredential, JwtFields, JwtKey, LoginEndpoint, OAuthCredential,
    OAuthFields, PasswordCredential, PasswordFields, TokenEffect,
};
use crate::error::{Result, SalesforceError};
use crate::oauth::{self, Pkce};
use crate::session::Authenticator;

/// A credential as shown: secrets only as `{"set": true|false}`.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialView {
    /// Kind.
    pub kind: CredentialKind,
    /// Name on screen.
    pub label: &'static str,
    /// Whether it is the active one.
    pub active: bool,
    /// Use Sandbox.
    pub sandbox: bool,
    /// My Domain login URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Username (password and JWT kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password: set / not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretState>,
    /// Security token: set / not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_token: Option<SecretState>,
    /// Org ID as entered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Org ID, 18 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id18: Option<String>,
    /// User ID as entered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// User ID, 18 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id18: Option<String>,
    /// Consumer key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_key: Option<String>,
    /// Consumer secret: set / not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<SecretState>,
    /// OAuth token: set / not set (run setup-oauth).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_token: Option<SecretState>,
    /// JWT key file, when the key is read from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// JWT private key held in the store: set / not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<SecretState>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A profile's credentials as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileCredentials {
    /// Profile name.
    pub profile: String,
    /// The active kind, if any credential exists.
    pub active: Option<CredentialKind>,
    /// Every credential, active first.
    pub credentials: Vec<CredentialView>,
}

/// A successful access test.
#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    /// The kind tested.
    pub kind: CredentialKind,
    /// Org id (18).
    pub org_id: String,
    /// User id (18).
    pub user_id: String,
    /// Username.
    pub username: String,
    /// The message for the user.
    pub message: String,
}

/// A started OAuth setup: open [`PendingSetup::authorize_url`] in a browser, then pass the
/// redirected URL to [`SyncCredentials::finish_oauth_setup`].
pub struct PendingSetup {
    /// The URL to open.
    pub authorize_url: String,
    redirect_uri: String,
    state: String,
    verifier: SecretString,
    profile: SyncProfile,
    credential: OAuthCredential,
}

/// A finished OAuth setup.
#[derive(Debug, Clone, Serialize)]
pub struct SetupOutcome {
    /// Authorised username.
    pub username: String,
    /// Org id (18).
    pub org_id: String,
    /// User id (18).
    pub user_id: String,
}

fn set_or_not(present: bool) -> SecretState {
    SecretState::new(present)
}

fn corrupt(what: &str) -> SalesforceError {
    SalesforceError::Store(zbridge_store::StoreError::Corrupt(format!(
        "stored Salesforce credential: {what}"
    )))
}

fn text(config: &serde_json::Value, key: &str) -> Option<String> {
    config.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn endpoint_of(config: &serde_json::Value) -> LoginEndpoint {
    LoginEndpoint {
        sandbox: config
            .get("sandbox")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        login_url: text(config, "login_url"),
    }
}

fn kind_of(record: &SfCredentialRecord) -> Result<CredentialKind> {
    record
        .kind
        .parse()
        .map_err(|_| corrupt(&format!("unknown kind {}", record.kind)))
}

/// Rebuilds a credential from its stored form.
pub fn credential_from_record(record: &SfCredentialRecord) -> Result<Credential> {
    let c = &record.config;
    let empty = || SecretString::from(String::new());
    let secret = |name: &str| record.secrets.get(name).cloned();
    Ok(match kind_of(record)? {
        CredentialKind::Password => Credential::Password(PasswordCredential {
            username: text(c, "username").ok_or_else(|| corrupt("username"))?,
            password: secret("password").ok_or_else(|| corrupt("password"))?,
            security_token: secret("security_token").unwrap_or_else(empty),
            endpoint: endpoint_of(c),
        }),
        CredentialKind::OAuth => {
            let id = |key: &str| {
                text(c, key)
                    .and_then(|v| SalesforceId::parse(&v).ok())
                    .ok_or_else(|| corrupt(key))
            };
            Credential::OAuth(OAuthCredential {
                org_id: id("org_id")?,
                user_id: id("user_id")?,
                org_id_entered: text(c, "org_id_entered").unwrap_or_default(),
                user_id_entered: text(c, "user_id_entered").unwrap_or_default(),
                endpoint: endpoint_of(c),
                consumer_key: text(c, "consumer_key").ok_or_else(|| corrupt("consumer_key"))?,
                consumer_secret: secret("consumer_secret").unwrap_or_else(empty),
                refresh_token: secret("refresh_token"),
                instance_url: text(c, "instance_url"),
            })
        }
        CredentialKind::Jwt => Credential::Jwt(JwtCredential {
            username: text(c, "username").ok_or_else(|| corrupt("username"))?,
            consumer_key: text(c, "consumer_key").ok_or_else(|| corrupt("consumer_key"))?,
            key: match secret("private_key") {
                Some(pem) => JwtKey::Sealed(pem),
                None => JwtKey::File(PathBuf::from(
                    text(c, "key_file").ok_or_else(|| corrupt("key_file"))?,
                )),
            },
            endpoint: endpoint_of(c),
        }),
    })
}

fn endpoint_json(e: &LoginEndpoint) -> serde_json::Value {
    json!({"sandbox": e.sandbox, "login_url": e.login_url})
}

fn merge(mut base: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn view_of(record: &SfCredentialRecord) -> Result<CredentialView> {
    let kind = kind_of(record)?;
    let c = &record.config;
    let has = |name: &str| record.secrets.contains_key(name);
    let endpoint = endpoint_of(c);
    let mut view = CredentialView {
        kind,
        label: kind.label(),
        active: record.active,
        sandbox: endpoint.sandbox,
        login_url: endpoint.login_url,
        username: text(c, "username"),
        password: None,
        security_token: None,
        org_id: None,
        org_id18: None,
        user_id: None,
        user_id18: None,
        consumer_key: text(c, "consumer_key"),
        consumer_secret: None,
        oauth_token: None,
        key_file: text(c, "key_file"),
        private_key: None,
        updated_at: record.updated_at,
    };
    match kind {
        CredentialKind::Password => {
            view.password = Some(set_or_not(has("password")));
            view.security_token = Some(set_or_not(has("security_token")));
        }
        CredentialKind::OAuth => {
            view.org_id = text(c, "org_id_entered");
            view.org_id18 = text(c, "org_id");
            view.user_id = text(c, "user_id_entered");
            view.user_id18 = text(c, "user_id");
            view.consumer_secret = Some(set_or_not(has("consumer_secret")));
            view.oauth_token = Some(set_or_not(has("refresh_token")));
        }
        CredentialKind::Jwt => view.private_key = Some(set_or_not(has("private_key"))),
    }
    Ok(view)
}

/// Builds the authenticator of a profile's active credential.
pub(crate) async fn authenticator_for(
    http: &reqwest::Client,
    store: &Store,
    profile_id: &str,
    profile_name: &str,
) -> Result<Authenticator> {
    let records = store.load_sf_credentials(profile_id).await?;
    let active = records
        .iter()
        .find(|r| r.active)
        .ok_or_else(|| no_credentials(profile_name))?;
    let credential = credential_from_record(active)?;
    Ok(Authenticator::with_store(
        http.clone(),
        credential,
        profile_name,
        store.clone(),
        profile_id,
    ))
}

fn no_credentials(profile: &str) -> SalesforceError {
    SalesforceError::Local(format!(
        "sync profile '{profile}' has no Salesforce credentials yet; add them with 'zbridge sf-credentials edit {profile} password|oauth|jwt ...'"
    ))
}

/// An HTTP client with the timeouts Salesforce calls need.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(11 * 60))
        .user_agent(concat!("zbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SalesforceError::Local(format!("cannot build the HTTP client: {e}")))
}

/// The service over a store.
#[derive(Debug, Clone)]
pub struct SyncCredentials {
    store: Store,
    http: reqwest::Client,
}

impl SyncCredentials {
    /// A service over `store`, calling Salesforce with `http`.
    pub fn new(store: Store, http: reqwest::Client) -> Self {
        SyncCredentials { store, http }
    }

    async fn record(
        &self,
        profile: &SyncProfile,
        kind: CredentialKind,
    ) -> Result<Option<Credential>> {
        match self
            .store
            .load_sf_credential(&profile.id, kind.as_str())
            .await?
        {
            Some(r) => credential_from_record(&r).map(Some),
            None => Ok(None),
        }
    }

    /// Every credential of a profile, secrets only as whether they are set.
    pub async fn show(&self, profile: &str) -> Result<ProfileCredentials> {
        let profile = self.store.load_sync_profile(profile).await?;
        let records = self.store.load_sf_credentials(&profile.id).await?;
        let credentials = records.iter().map(view_of).collect::<Result<Vec<_>>>()?;
        Ok(ProfileCredentials {
            profile: profile.name,
            active: credentials.iter().find(|c| c.active).map(|c| c.kind),
            credentials,
        })
    }

    /// Creates or edits the Salesforce credentials (username, password, token) of a profile.
    pub async fn save_password(
        &self,
        profile: &str,
        fields: PasswordFields,
    ) -> Result<ProfileCredentials> {
        let p = self.store.load_sync_profile(profile).await?;
        let old = match self.record(&p, CredentialKind::Password).await? {
            Some(Credential::Password(c)) => Some(c),
            _ => None,
        };
        let new = fields
            .apply(old.as_ref())
            .map_err(|e| SalesforceError::Store(e.into()))?;
        let config = merge(
            endpoint_json(&new.endpoint),
            json!({"username": new.username}),
        );
        let token = (!secrecy::ExposeSecret::expose_secret(&new.security_token).is_empty())
            .then_some(&new.security_token);
        let token_change = match token {
            Some(t) => SecretChange::Set(t),
            None => SecretChange::Clear,
        };
        self.store
            .save_sf_credential(
                &p.id,
                "password",
                &config,
                &[
                    ("password", SecretChange::Set(&new.password)),
                    ("security_token", token_change),
                ],
            )
            .await?;
        self.show(&p.name).await
    }

    /// Creates or edits ("reset") the OAuth credentials of a profile. Changing the org, user,
    /// app or login host removes the stored token, with a warning.
    pub async fn save_oauth(
        &self,
        profile: &str,
        fields: OAuthFields,
    ) -> Result<(ProfileCredentials, Vec<Warning>)> {
        let p = self.store.load_sync_profile(profile).await?;
        let old = match self.record(&p, CredentialKind::OAuth).await? {
            Some(Credential::OAuth(c)) => Some(c),
            _ => None,
        };
        let (new, effect) = fields
            .apply(old.as_ref())
            .map_err(|e| SalesforceError::Store(e.into()))?;
        let mut warnings = Vec::new();
        let token_change = match effect {
            TokenEffect::Invalidated => {
                warnings.push(Warning {
                    field: "OAuth Token".into(),
                    message: format!(
                        "the Org ID, User ID, app or login host changed, so the stored token no longer matches and was removed; run 'zbridge sf-credentials setup-oauth {}'",
                        p.name
                    ),
                });
                // Best effort: the token is no longer ours to use, so let Salesforce drop it.
                if let Some(o) = &old
                    && let Some(t) = &o.refresh_token
                    && let Err(e) = oauth::revoke(&self.http, o.endpoint.base_url(), t).await
                {
                    tracing::warn!(error = %e, "could not revoke the replaced OAuth token");
                }
                Some(SecretChange::Clear)
            }
            TokenEffect::Kept | TokenEffect::None => None,
        };
        let config = merge(
            endpoint_json(&new.endpoint),
            json!({
                "org_id": new.org_id.as_str(),
                "org_id_entered": new.org_id_entered,
                "user_id": new.user_id.as_str(),
                "user_id_entered": new.user_id_entered,
                "consumer_key": new.consumer_key,
                "instance_url": new.instance_url,
            }),
        );
        let mut secrets = vec![("consumer_secret", SecretChange::Set(&new.consumer_secret))];
        if let Some(change) = token_change {
            secrets.push(("refresh_token", change));
        }
        self.store
            .save_sf_credential(&p.id, "oauth", &config, &secrets)
            .await?;
        Ok((self.show(&p.name).await?, warnings))
    }

    /// Creates or edits the JWT bearer credentials of a profile.
    pub async fn save_jwt(&self, profile: &str, fields: JwtFields) -> Result<ProfileCredentials> {
        self.save_jwt_with_key(profile, fields, None).await
    }

    /// [`SyncCredentials::save_jwt`], where `private_key` (PEM text), when given, is sealed
    /// in the store and replaces a key file; a key file given later removes it.
    pub async fn save_jwt_with_key(
        &self,
        profile: &str,
        fields: JwtFields,
        private_key: Option<SecretString>,
    ) -> Result<ProfileCredentials> {
        let p = self.store.load_sync_profile(profile).await?;
        let old = match self.record(&p, CredentialKind::Jwt).await? {
            Some(Credential::Jwt(c)) => Some(c),
            _ => None,
        };
        let new = fields
            .apply_with_key(old.as_ref(), private_key)
            .map_err(|e| SalesforceError::Store(e.into()))?;
        let mut config = json!({
            "username": new.username,
            "consumer_key": new.consumer_key,
        });
        let key_change = match &new.key {
            JwtKey::File(path) => {
                config["key_file"] = json!(path.display().to_string());
                SecretChange::Clear
            }
            JwtKey::Sealed(pem) => SecretChange::Set(pem),
        };
        let config = merge(endpoint_json(&new.endpoint), config);
        self.store
            .save_sf_credential(&p.id, "jwt", &config, &[("private_key", key_change)])
            .await?;
        self.show(&p.name).await
    }

    /// Makes `to` (or, with two credentials, the other one) the active credential. A sync in
    /// flight picks it up at its next batch.
    pub async fn switch(
        &self,
        profile: &str,
        to: Option<CredentialKind>,
    ) -> Result<CredentialKind> {
        let p = self.store.load_sync_profile(profile).await?;
        let records = self.store.load_sf_credentials(&p.id).await?;
        let kinds: Vec<CredentialKind> = records.iter().map(kind_of).collect::<Result<_>>()?;
        let target = match to {
            Some(kind) if kinds.contains(&kind) => kind,
            Some(kind) => {
                return Err(SalesforceError::Local(format!(
                    "sync profile '{}' has no {} to switch to",
                    p.name,
                    kind.label()
                )));
            }
            None => {
                let others: Vec<CredentialKind> = records
                    .iter()
                    .zip(&kinds)
                    .filter(|(r, _)| !r.active)
                    .map(|(_, k)| *k)
                    .collect();
                match others.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(SalesforceError::Local(format!(
                            "sync profile '{}' has only one credential; add another kind before switching",
                            p.name
                        )));
                    }
                    _ => {
                        return Err(SalesforceError::Local(
                            "the profile has more than one other credential; name the kind to switch to (password, oauth or jwt)".into(),
                        ));
                    }
                }
            }
        };
        self.store
            .activate_sf_credential(&p.id, target.as_str())
            .await?;
        Ok(target)
    }

    /// Deletes a credential: an OAuth token is revoked at Salesforce first, then everything is
    /// wiped locally. If the revoke fails, the wipe happens anyway and a warning says so.
    pub async fn delete(&self, profile: &str, kind: CredentialKind) -> Result<Vec<Warning>> {
        let p = self.store.load_sync_profile(profile).await?;
        let Some(credential) = self.record(&p, kind).await? else {
            return Err(SalesforceError::Local(format!(
                "sync profile '{}' has no {}",
                p.name,
                kind.label()
            )));
        };
        let mut warnings = Vec::new();
        if let Credential::OAuth(c) = &credential
            && let Some(token) = &c.refresh_token
        {
            match oauth::revoke(&self.http, c.endpoint.base_url(), token).await {
                Ok(()) => tracing::info!(profile = %p.name, "revoked the OAuth token at Salesforce"),
                Err(e) => warnings.push(Warning {
                    field: "OAuth Token".into(),
                    message: format!(
                        "could not revoke the token at Salesforce ({e}); it was deleted here anyway; revoke it in Salesforce under Connected Apps OAuth Usage"
                    ),
                }),
            }
        }
        self.store
            .delete_sf_credential(&p.id, kind.as_str())
            .await?;
        Ok(warnings)
    }

    /// Starts OAuth setup for the profile's OAuth credential, with the loopback `redirect_uri`.
    pub async fn begin_oauth_setup(
        &self,
        profile: &str,
        redirect_uri: &str,
    ) -> Result<PendingSetup> {
        let p = self.store.load_sync_profile(profile).await?;
        let Some(Credential::OAuth(credential)) = self.record(&p, CredentialKind::OAuth).await?
        else {
            return Err(SalesforceError::Local(format!(
                "sync profile '{}' has no OAuth credentials; add them first with 'zbridge sf-credentials edit {} oauth --org-id ... --user-id ... --consumer-key ... --consumer-secret-from ...'",
                p.name, p.name
            )));
        };
        let pkce = Pkce::generate();
        let state = oauth::random_state();
        let authorize_url = oauth::authorize_url(
            credential.endpoint.base_url(),
            &credential.consumer_key,
            redirect_uri,
            &pkce.challenge,
            &state,
        )?;
        Ok(PendingSetup {
            authorize_url,
            redirect_uri: redirect_uri.to_string(),
            state,
            verifier: pkce.verifier,
            profile: p,
            credential,
        })
    }

    /// Finishes OAuth setup from the URL the browser was redirected to: checks `state`,
    /// exchanges the code, reads the identity, and stores the refresh token (sealed) only when
    /// the org and user are the configured ones.
    pub async fn finish_oauth_setup(
        &self,
        pending: PendingSetup,
        redirected: &str,
    ) -> Result<SetupOutcome> {
        let url = reqwest::Url::parse(redirected.trim())
            .map_err(|_| SalesforceError::Authorization("the pasted text is not a URL".into()))?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = param("error") {
            let description = param("error_description").unwrap_or_default();
            return Err(SalesforceError::Authorization(format!(
                "{error}: {description}"
            )));
        }
        if param("state").as_deref() != Some(pending.state.as_str()) {
            return Err(SalesforceError::Authorization(
                "the redirect does not belong to this setup (state mismatch); start setup-oauth again".into(),
            ));
        }
        let code = SecretString::from(param("code").ok_or_else(|| {
            SalesforceError::Authorization("the redirect carries no authorization code".into())
        })?);
        let c = &pending.credential;
        let base = c.endpoint.base_url();
        let token = oauth::exchange_code(
            &self.http,
            base,
            &c.consumer_key,
            &c.consumer_secret,
            &pending.redirect_uri,
            &code,
            &pending.verifier,
        )
        .await?;
        let identity = oauth::identity(&self.http, &token.id, &token.access_token).await?;
        if let Err(mismatch) = verify_identity(c, &identity) {
            // Nothing is stored; give the unused grant back so it does not count as one of the
            // five approvals per user and app.
            let unused = token.refresh_token.as_ref().unwrap_or(&token.access_token);
            if let Err(e) = oauth::revoke(&self.http, base, unused).await {
                tracing::warn!(error = %e, "could not revoke the refused token");
            }
            return Err(mismatch);
        }
        let refresh = token.refresh_token.as_ref().ok_or_else(|| {
            SalesforceError::Authorization(
                "Salesforce issued no refresh token; allow the refresh_token scope in the connected app".into(),
            )
        })?;
        // The credential may have been edited while the browser was open: store only if it is
        // still the one that was authorised.
        let current = self
            .store
            .load_sf_credential(&pending.profile.id, "oauth")
            .await?
            .ok_or_else(|| {
                SalesforceError::Local("the OAuth credentials were deleted during setup".into())
            })?;
        let Credential::OAuth(now) = credential_from_record(&current)? else {
            return Err(corrupt("kind"));
        };
        if now.org_id != c.org_id || now.user_id != c.user_id || now.endpoint != c.endpoint {
            return Err(SalesforceError::IdentityMismatch(
                "the OAuth credentials changed while the browser was open; run setup-oauth again"
                    .into(),
            ));
        }
        let mut config = current.config.clone();
        config["instance_url"] = token.instance_url.clone().into();
        self.store
            .save_sf_credential(
                &pending.profile.id,
                "oauth",
                &config,
                &[("refresh_token", SecretChange::Set(refresh))],
            )
            .await?;
        tracing::info!(profile = %pending.profile.name, "stored the OAuth token");
        Ok(SetupOutcome {
            username: identity.username,
            org_id: c.org_id.to_string(),
            user_id: c.user_id.to_string(),
        })
    }

    /// Test Access: authenticates with the active credential and reads the identity.
    pub async fn test_access(&self, profile: &str) -> Result<AccessReport> {
        let p = self.store.load_sync_profile(profile).await?;
        let auth = authenticator_for(&self.http, &self.store, &p.id, &p.name).await?;
        let kind = auth.credential().kind();
        let advice = |e: SalesforceError| -> SalesforceError {
            let advice = match kind {
                CredentialKind::OAuth => format!(
                    "set up the OAuth token with 'zbridge sf-credentials setup-oauth {}' ({e})",
                    p.name
                ),
                _ => e.to_string(),
            };
            SalesforceError::AccessTest { advice }
        };
        let session = auth.session().await.map_err(advice)?;
        let url = session
            .identity_url
            .clone()
            .ok_or_else(|| advice(SalesforceError::protocol("no identity URL")))?;
        let identity = oauth::identity(&self.http, &url, &session.access_token)
            .await
            .map_err(advice)?;
        if let Credential::OAuth(c) = auth.credential() {
            verify_identity(c, &identity).map_err(advice)?;
        }
        let org = normalise(&identity.organization_id).unwrap_or(identity.organization_id.clone());
        let user = normalise(&identity.user_id).unwrap_or(identity.user_id.clone());
        Ok(AccessReport {
            kind,
            message: format!(
                "The access test was successful: {} connects to org {org} as {} ({user}).",
                kind.label(),
                identity.username
            ),
            org_id: org,
            user_id: user,
            username: identity.username,
        })
    }

    /// A client for the sync engine and the preflight, following the profile's active
    /// credential at batch boundaries.
    pub async fn client(&self, profile: &str, options: ClientOptions) -> Result<SalesforceClient> {
        let p = self.store.load_sync_profile(profile).await?;
        let stamp = self.store.sf_credential_stamp(&p.id).await?;
        let auth = authenticator_for(&self.http, &self.store, &p.id, &p.name).await?;
        Ok(SalesforceClient::for_profile(
            self.http.clone(),
            auth,
            stamp,
            self.store.clone(),
            &p.id,
            &p.name,
            options,
        ))
    }
}

/// Canonical 18-character form of an id from Salesforce (15 → 18; 18 → case restored).
fn normalise(id: &str) -> Option<String> {
    let parsed = if id.len() == 18 {
        SalesforceId::restore(id)
    } else {
        SalesforceId::parse(id)
    };
    parsed.ok().map(|i| i.to_string())
}

/// Compares the identity's org and user with the configured ones (18-character forms) and
/// checks the user is active; the error says which differs.
fn verify_identity(c: &OAuthCredential, identity: &oauth::Identity) -> Result<()> {
    let org = normalise(&identity.organization_id);
    let user = normalise(&identity.user_id);
    let mut differences = Vec::new();
    if org.as_deref() != Some(c.org_id.as_str()) {
        differences.push(format!(
            "the org is {} but the configured Org ID is {}",
            identity.organization_id, c.org_id
        ));
    }
    if user.as_deref() != Some(c.user_id.as_str()) {
        differences.push(format!(
            "the user is {} ({}) but the configured User ID is {}",
            identity.username, identity.user_id, c.user_id
        ));
    }
    if !differences.is_empty() {
        return Err(SalesforceError::IdentityMismatch(format!(
            "{}; log in as the configured user, or correct the IDs with 'sf-credentials reset'",
            differences.join(", and ")
        )));
    }
    if !identity.active {
        return Err(SalesforceError::IdentityMismatch(format!(
            "the user {} is inactive",
            identity.username
        )));
    }
    Ok(())
}
