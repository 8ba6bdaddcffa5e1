//! Translating sync-credential forms and JSON into the Salesforce service's edit types, and
//! the pending OAuth setups between "set up" and the browser's return.

use secrecy::SecretString;
use zbridge_salesforce::credentials::{EndpointFields, JwtFields, OAuthFields, PasswordFields};

use crate::form::FormData;

/// The sandbox and My Domain fields of a credential form.
pub fn endpoint(sandbox: bool, login_url: &str) -> EndpointFields {
    let url = login_url.trim();
    EndpointFields {
        sandbox: Some(sandbox),
        login_url: Some((!url.is_empty()).then(|| url.to_string())),
    }
}

/// A secret field: empty keeps the stored value.
pub fn secret(value: &str) -> Option<SecretString> {
    (!value.is_empty()).then(|| SecretString::from(value.to_string()))
}

/// The Salesforce credentials form.
pub fn password_fields(form: &FormData) -> PasswordFields {
    PasswordFields {
        username: Some(form.text("username")),
        password: secret(&form.text("password")),
        security_token: if form.checked("clear_security_token") {
            Some(SecretString::from(String::new()))
        } else {
            secret(&form.text("security_token"))
        },
        endpoint: endpoint(form.checked("sandbox"), &form.text("login_url")),
    }
}

/// The OAuth credentials form.
pub fn oauth_fields(form: &FormData) -> OAuthFields {
    OAuthFields {
        org_id: Some(form.text("org_id")),
        user_id: Some(form.text("user_id")),
        consumer_key: Some(form.text("consumer_key")),
        consumer_secret: secret(&form.text("consumer_secret")),
        endpoint: endpoint(form.checked("sandbox"), &form.text("login_url")),
    }
}

/// The JWT bearer credentials form, and the private key pasted into it (empty keeps the
/// stored one).
pub fn jwt_fields(form: &FormData) -> (JwtFields, Option<SecretString>) {
    let fields = JwtFields {
        username: Some(form.text("username")),
        consumer_key: Some(form.text("consumer_key")),
        key_file: None,
        endpoint: endpoint(form.checked("sandbox"), &form.text("login_url")),
    };
    (fields, secret(form.text("private_key").trim()))
}

/// The `state` parameter of an authorize URL: the key a pending setup is found by when the
/// browser comes back.
pub fn state_of(authorize_url: &str) -> Option<String> {
    let query = authorize_url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

/// A setup waiting for the browser.
pub struct Pending {
    /// Profile name, to return to its page.
    pub profile: String,
    /// Where the browser is sent back to.
    pub redirect_uri: String,
    /// The service's half of the flow.
    pub setup: zbridge_salesforce::service::PendingSetup,
    /// When it was started; old ones are dropped.
    pub started: std::time::Instant,
}

/// How long a started setup waits for the browser.
const SETUP_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The path Salesforce sends the browser back to.
pub const CALLBACK_PATH: &str = "/sf-oauth/callback";

/// Starts OAuth setup for `profile`; returns the URL to send the browser to.
pub async fn begin_setup(
    state: &crate::AppState,
    profile: &str,
    redirect_uri: &str,
) -> Result<String, crate::ApiError> {
    let setup = state.sf().begin_oauth_setup(profile, redirect_uri).await?;
    let authorize_url = setup.authorize_url.clone();
    let key = state_of(&authorize_url)
        .ok_or_else(|| crate::ApiError::Internal("the authorize URL carries no state".into()))?;
    let profile = state.store().load_sync_profile(profile).await?.name;
    let mut pending = state.pending_oauth();
    pending.retain(|_, p| p.started.elapsed() < SETUP_TTL);
    pending.insert(
        key,
        Pending {
            profile,
            redirect_uri: redirect_uri.to_string(),
            setup,
            started: std::time::Instant::now(),
        },
    );
    Ok(authorize_url)
}

/// Finishes the setup the browser came back for (found by its `state`), with the callback's
/// query string. Returns the profile name and what was authorised.
pub async fn finish_setup(
    state: &crate::AppState,
    query: &str,
) -> Result<(String, zbridge_salesforce::service::SetupOutcome), crate::ApiError> {
    let key = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let pending = state.pending_oauth().remove(&key).ok_or_else(|| {
        crate::ApiError::Forbidden(
            "this sign-in does not belong to a setup started here (or it expired); start it again"
                .into(),
        )
    })?;
    let redirected = format!("{}?{query}", pending.redirect_uri);
    let outcome = state
        .sf()
        .finish_oauth_setup(pending.setup, &redirected)
        .await?;
    Ok((pending.profile, outcome))
}

/// The callback URL for requests that reached this server at `host`.
pub fn callback_url(secure: bool, host: &str) -> String {
    let scheme = if secure { "https" } else { "http" };
    format!("{scheme}://{host}{CALLBACK_PATH}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_from_the_authorize_url() {
        let url = "https://login.salesforce.com/services/oauth2/authorize?response_type=code&state=ab%2Bc&x=1";
        assert_eq!(state_of(url).as_deref(), Some("ab+c"));
        assert_eq!(state_of("https://x/"), None);
    }

    #[test]
    fn empty_secret_fields_keep_and_the_clear_box_clears() {
        let form = FormData::parse(
            b"username=u&password=&security_token=&clear_security_token=on&sandbox=on",
        );
        let fields = password_fields(&form);
        assert!(fields.password.is_none());
        assert!(fields.security_token.is_some());
        assert_eq!(fields.endpoint.sandbox, Some(true));
        assert_eq!(fields.endpoint.login_url, Some(None));
    }
}
