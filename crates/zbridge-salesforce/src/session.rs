//! Sessions: obtaining one from a credential, reusing it, and renewing it exactly once per
//! expiry however many requests notice the expiry at the same time.
//!
//! - Salesforce credentials: SOAP `login()`; on `INVALID_SESSION_ID`, one re-login.
//! - OAuth: refresh with the stored refresh token. Single-flight within the process (one
//!   renewal at a time, and a caller whose stale session was already replaced gets the new one)
//!   and across processes (a lease in the store). A rotated refresh token is saved, together
//!   with the lease release, *before* the new access token is used; the token is re-read after
//!   the lease is taken, so an old token is never replayed (salesforce-api.md §3.3).
//! - JWT bearer: a new assertion each time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use zbridge_store::{SecretChange, Store};

use crate::credentials::{Credential, OAuthCredential};
use crate::error::{Result, SalesforceError};
use crate::{login, oauth};

/// An authenticated session.
#[derive(Debug)]
pub struct Session {
    /// Bearer token (a session id or an OAuth access token).
    pub access_token: SecretString,
    /// `scheme://host` of the instance.
    pub instance_url: String,
    /// Identity URL, when known.
    pub identity_url: Option<String>,
    /// Distinguishes this session from the one that replaces it.
    pub generation: u64,
}

/// Where an OAuth refresh token lives and how a refresh is coordinated.
#[derive(Debug)]
enum Vault {
    /// Only in this process (tests, one-off calls).
    Memory(std::sync::Mutex<Option<SecretString>>),
    /// In the store, with a lease per profile.
    Store {
        store: Store,
        profile_id: String,
        holder: String,
    },
}

/// How long a refresh lease lasts if its holder dies mid-refresh.
const LEASE_TTL: Duration = Duration::from_secs(60);
/// How long to wait for another process's refresh before giving up.
const LEASE_WAIT: Duration = Duration::from_secs(90);

/// Turns a credential into sessions. Shared (`Arc`) by every request path of a client, so REST,
/// Collections and Bulk always use the same session (lessons.md L52).
#[derive(Debug)]
pub struct Authenticator {
    http: reqwest::Client,
    credential: Credential,
    vault: Vault,
    profile: String,
    current: tokio::sync::Mutex<Option<Arc<Session>>>,
    generations: AtomicU64,
}

impl Authenticator {
    /// An authenticator that keeps a rotated refresh token in memory only.
    pub fn new(http: reqwest::Client, credential: Credential, profile: &str) -> Self {
        let refresh = match &credential {
            Credential::OAuth(c) => c.refresh_token.clone(),
            _ => None,
        };
        Authenticator {
            http,
            credential,
            vault: Vault::Memory(std::sync::Mutex::new(refresh)),
            profile: profile.to_string(),
            current: tokio::sync::Mutex::new(None),
            generations: AtomicU64::new(1),
        }
    }

    /// An authenticator whose refresh token lives in the store under `profile_id`.
    pub fn with_store(
        http: reqwest::Client,
        credential: Credential,
        profile: &str,
        store: Store,
        profile_id: &str,
    ) -> Self {
        Authenticator {
            http,
            credential,
            vault: Vault::Store {
                store,
                profile_id: profile_id.to_string(),
                holder: uuid::Uuid::new_v4().to_string(),
            },
            profile: profile.to_string(),
            current: tokio::sync::Mutex::new(None),
            generations: AtomicU64::new(1),
        }
    }

    /// The credential in use.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The current session, authenticating first if there is none.
    pub async fn session(&self) -> Result<Arc<Session>> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref() {
            return Ok(session.clone());
        }
        let session = Arc::new(self.authenticate().await?);
        *current = Some(session.clone());
        Ok(session)
    }

    /// Replaces `stale` after Salesforce refused it. When another caller already replaced it,
    /// that newer session is returned without a second renewal.
    pub async fn renew(&self, stale: &Session) -> Result<Arc<Session>> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref()
            && session.generation != stale.generation
        {
            return Ok(session.clone());
        }
        *current = None;
        tracing::info!(profile = %self.profile, "Salesforce session expired; authenticating again");
        let session = Arc::new(self.authenticate().await?);
        *current = Some(session.clone());
        Ok(session)
    }

    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    async fn authenticate(&self) -> Result<Session> {
        match &self.credential {
            Credential::Password(c) => {
                let s = login::soap_login(&self.http, c).await?;
                let identity_url =
                    format!("{}/id/{}/{}", c.endpoint.base_url(), s.org_id, s.user_id);
                tracing::info!(profile = %self.profile, user = %s.user_id, "logged in to Salesforce with SOAP login()");
                Ok(Session {
                    access_token: s.session_id,
                    instance_url: s.instance_url,
                    identity_url: Some(identity_url),
                    generation: self.next_generation(),
                })
            }
            Credential::Jwt(c) => {
                let t = oauth::jwt_bearer(
                    &self.http,
                    c.endpoint.base_url(),
                    &c.consumer_key,
                    &c.username,
                    &c.key,
                )
                .await?;
                tracing::info!(profile = %self.profile, "obtained a Salesforce token with the JWT bearer flow");
                Ok(Session {
                    access_token: t.access_token,
                    instance_url: t.instance_url,
                    identity_url: Some(t.id),
                    generation: self.next_generation(),
                })
            }
            Credential::OAuth(c) => self.refresh_oauth(c).await,
        }
    }

    async fn refresh_oauth(&self, c: &OAuthCredential) -> Result<Session> {
        let Some(token) = self.begin_refresh().await? else {
            self.end_refresh(None).await?;
            return Err(SalesforceError::NeedsOAuthSetup {
                profile: self.profile.clone(),
            });
        };
        let outcome = oauth::refresh(
            &self.http,
            c.endpoint.base_url(),
            &c.consumer_key,
            &c.consumer_secret,
            &token,
        )
        .await;
        match outcome {
            Ok(t) => {
                // Save a rotated token before the new access token is used: the old one is dead.
                self.end_refresh(t.refresh_token.as_ref()).await?;
                tracing::info!(profile = %self.profile, rotated = t.refresh_token.is_some(), "refreshed the Salesforce OAuth token");
                Ok(Session {
                    access_token: t.access_token,
                    instance_url: t.instance_url,
                    identity_url: Some(t.id),
                    generation: self.next_generation(),
                })
            }
            Err(e) => {
                let dead =
                    matches!(&e, SalesforceError::OAuth { error, .. } if error == "invalid_grant");
                if dead {
                    tracing::warn!(profile = %self.profile, "the stored refresh token is no longer valid; OAuth setup is needed");
                    self.forget_refresh_token().await?;
                } else {
                    self.end_refresh(None).await?;
                }
                Err(e)
            }
        }
    }

    /// Takes the refresh lease and returns the newest stored refresh token.
    async fn begin_refresh(&self) -> Result<Option<SecretString>> {
        match &self.vault {
            Vault::Memory(token) => Ok(token.lock().ok().and_then(|t| t.clone())),
            Vault::Store {
                store,
                profile_id,
                holder,
            } => {
                let deadline = tokio::time::Instant::now() + LEASE_WAIT;
                let mut pause = Duration::from_millis(20);
                while !store
                    .try_lease_sf_refresh(profile_id, holder, LEASE_TTL)
                    .await?
                {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(SalesforceError::protocol(
                            "another process has been refreshing this profile's OAuth token for too long",
                        ));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                let record = store.load_sf_credential(profile_id, "oauth").await?;
                Ok(record.and_then(|r| r.secrets.get("refresh_token").cloned()))
            }
        }
    }

    /// Releases the lease, saving a rotated token in the same step.
    async fn end_refresh(&self, rotated: Option<&SecretString>) -> Result<()> {
        match &self.vault {
            Vault::Memory(token) => {
                if let (Some(new), Ok(mut slot)) = (rotated, token.lock()) {
                    *slot = Some(new.clone());
                }
                Ok(())
            }
            Vault::Store {
                store,
                profile_id,
                holder,
            } => Ok(store
                .finish_sf_refresh(
                    profile_id,
                    "oauth",
                    holder,
                    rotated.map(|t| ("refresh_token", t)),
                )
                .await?),
        }
    }

    /// Drops a refresh token Salesforce declared dead, so the profile reads "needs setup".
    async fn forget_refresh_token(&self) -> Result<()> {
        match &self.vault {
            Vault::Memory(token) => {
                if let Ok(mut slot) = token.lock() {
                    *slot = None;
                }
                Ok(())
            }
            Vault::Store {
                store, profile_id, ..
            } => {
                if let Some(record) = store.load_sf_credential(profile_id, "oauth").await? {
                    store
                        .save_sf_credential(
                            profile_id,
                            "oauth",
                            &record.config,
                            &[("refresh_token", SecretChange::Clear)],
                        )
                        .await?;
                }
                self.end_refresh(None).await
            }
        }
    }
}
