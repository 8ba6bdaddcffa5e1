//! `zbridge sf-credentials …`: the "Set up sync credentials to connect to Salesforce" screen
//! as commands, over `zbridge_salesforce::SyncCredentials`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use zbridge_salesforce::credentials::{
    CredentialKind, EndpointFields, JwtFields, OAuthFields, PasswordFields,
};
use zbridge_salesforce::loopback::CallbackListener;
use zbridge_salesforce::preflight::{default_objects, preflight};
use zbridge_salesforce::service::{CredentialView, ProfileCredentials};
use zbridge_salesforce::{ClientOptions, SyncCredentials};

use crate::exit::UsageError;
use crate::output;
use crate::secrets::{SecretReader, SecretSource};

/// Set up, test, switch and delete the Salesforce sync credentials of a sync profile.
#[derive(Debug, Subcommand)]
pub enum SfCredentialsCommand {
    /// Show a profile's credentials; secrets show only as "set" or "not set".
    Show {
        /// The sync profile.
        profile: String,
    },
    /// Create or change a credential; fields not given are kept, and nothing is saved if any
    /// rule is broken.
    #[command(subcommand)]
    Edit(EditCommand),
    /// Edit the OAuth credentials without clearing them; changing the org or user drops the
    /// stored token (with a warning).
    Reset {
        /// The sync profile.
        profile: String,
        #[command(flatten)]
        fields: OAuthArgs,
    },
    /// Authorise zbridge in Salesforce (web-server flow with PKCE) and store the refresh token.
    #[command(after_help = SETUP_HELP)]
    SetupOauth {
        /// The sync profile.
        profile: String,
        /// Do not open a browser: print the URL, then paste the URL the browser was sent to.
        #[arg(long)]
        no_browser: bool,
        /// Loopback port of the redirect listener (the callback URL registered in the app is
        /// http://127.0.0.1:PORT/oauth/callback); 0 picks a free port.
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Log in with the active credential and read the user's identity.
    TestAccess {
        /// The sync profile.
        profile: String,
    },
    /// Make another credential kind the active one (a running sync switches at its next batch).
    Switch {
        /// The sync profile.
        profile: String,
        /// password, oauth or jwt; the other one when the profile has two.
        kind: Option<CredentialKind>,
    },
    /// Delete a credential: an OAuth token is revoked at Salesforce, then wiped here.
    Delete {
        /// The sync profile.
        profile: String,
        /// password, oauth or jwt.
        kind: CredentialKind,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Preflight: check that the sync user can see and write every mapped object and field.
    Check {
        /// The sync profile.
        profile: String,
    },
}

const SETUP_HELP: &str = "\
The connected app (or external client app) must list the callback URL
http://127.0.0.1:PORT/oauth/callback; use --port to match the port registered there.
Log in as the user whose User ID is configured. Each setup creates a new approval; Salesforce
keeps five per user and app and revokes the oldest.";

/// Which credential to edit.
#[derive(Debug, Subcommand)]
pub enum EditCommand {
    /// Salesforce credentials: username, password, security token.
    Password {
        /// The sync profile.
        profile: String,
        #[command(flatten)]
        fields: PasswordArgs,
    },
    /// OAuth credentials: Org ID, User ID, and the consumer key and secret of your app.
    Oauth {
        /// The sync profile.
        profile: String,
        #[command(flatten)]
        fields: OAuthArgs,
    },
    /// JWT bearer credentials (servers): username, consumer key and a private key file.
    Jwt {
        /// The sync profile.
        profile: String,
        #[command(flatten)]
        fields: JwtArgs,
    },
}

/// "Use Sandbox" and the My Domain login URL.
#[derive(Debug, Args, Default)]
pub struct EndpointArgs {
    /// Log in at test.salesforce.com.
    #[arg(long, conflicts_with = "no_sandbox")]
    pub sandbox: bool,
    /// Log in at login.salesforce.com.
    #[arg(long)]
    pub no_sandbox: bool,
    /// A My Domain login URL, e.g. https://acme.my.salesforce.com.
    #[arg(long, value_name = "URL", conflicts_with = "no_login_url")]
    pub login_url: Option<String>,
    /// Remove the My Domain login URL.
    #[arg(long)]
    pub no_login_url: bool,
}

impl EndpointArgs {
    fn fields(&self) -> EndpointFields {
        EndpointFields {
            sandbox: match (self.sandbox, self.no_sandbox) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            login_url: match (&self.login_url, self.no_login_url) {
                (Some(url), _) => Some(Some(url.clone())),
                (None, true) => Some(None),
                _ => None,
            },
        }
    }
}

/// Fields of Salesforce credentials.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Username (at most 50 characters).
    #[arg(long)]
    pub username: Option<String>,
    /// Password in plain text (prefer --password-from).
    #[arg(long)]
    pub password: Option<String>,
    /// Where to read the password: env:NAME, stdin, prompt or file:PATH.
    #[arg(long, value_name = "SOURCE")]
    pub password_from: Option<SecretSource>,
    /// Security token in plain text (prefer --security-token-from).
    #[arg(long)]
    pub security_token: Option<String>,
    /// Where to read the security token.
    #[arg(long, value_name = "SOURCE")]
    pub security_token_from: Option<SecretSource>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// Fields of OAuth credentials.
#[derive(Debug, Args)]
pub struct OAuthArgs {
    /// Salesforce Org ID, 15 or 18 characters (starts with 00D).
    #[arg(long)]
    pub org_id: Option<String>,
    /// Salesforce User ID, 15 or 18 characters (starts with 005).
    #[arg(long)]
    pub user_id: Option<String>,
    /// Consumer key of your connected app or external client app.
    #[arg(long)]
    pub consumer_key: Option<String>,
    /// Consumer secret in plain text (prefer --consumer-secret-from).
    #[arg(long)]
    pub consumer_secret: Option<String>,
    /// Where to read the consumer secret.
    #[arg(long, value_name = "SOURCE")]
    pub consumer_secret_from: Option<SecretSource>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// Fields of JWT bearer credentials.
#[derive(Debug, Args)]
pub struct JwtArgs {
    /// Username the token is issued for.
    #[arg(long)]
    pub username: Option<String>,
    /// Consumer key of the app holding the certificate.
    #[arg(long)]
    pub consumer_key: Option<String>,
    /// PEM file with the RSA private key.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

fn service(store: zbridge_store::Store) -> anyhow::Result<SyncCredentials> {
    Ok(SyncCredentials::new(
        store,
        zbridge_salesforce::service::http_client()?,
    ))
}

/// Runs one `sf-credentials` command.
pub async fn run(command: SfCredentialsCommand, json: bool) -> anyhow::Result<()> {
    let svc = service(super::open_store().await?)?;
    match command {
        SfCredentialsCommand::Show { profile } => report(&svc.show(&profile).await?, json),
        SfCredentialsCommand::Edit(EditCommand::Password { profile, fields }) => {
            let reader = SecretReader::default();
            let fields = PasswordFields {
                username: fields.username.clone(),
                password: reader.either(
                    "--password",
                    fields.password.as_deref(),
                    fields.password_from.as_ref(),
                )?,
                security_token: reader.either(
                    "--security-token",
                    fields.security_token.as_deref(),
                    fields.security_token_from.as_ref(),
                )?,
                endpoint: fields.endpoint.fields(),
            };
            let view = svc.save_password(&profile, fields).await?;
            eprintln!("Saved the Salesforce credentials of '{}'.", view.profile);
            report(&view, json)
        }
        SfCredentialsCommand::Edit(EditCommand::Oauth { profile, fields })
        | SfCredentialsCommand::Reset { profile, fields } => {
            let reader = SecretReader::default();
            let fields = OAuthFields {
                org_id: fields.org_id.clone(),
                user_id: fields.user_id.clone(),
                consumer_key: fields.consumer_key.clone(),
                consumer_secret: reader.either(
                    "--consumer-secret",
                    fields.consumer_secret.as_deref(),
                    fields.consumer_secret_from.as_ref(),
                )?,
                endpoint: fields.endpoint.fields(),
            };
            let (view, warnings) = svc.save_oauth(&profile, fields).await?;
            output::warnings(&warnings);
            eprintln!("Saved the OAuth credentials of '{}'.", view.profile);
            report(&view, json)
        }
        SfCredentialsCommand::Edit(EditCommand::Jwt { profile, fields }) => {
            let fields = JwtFields {
                username: fields.username,
                consumer_key: fields.consumer_key,
                key_file: fields.key_file,
                endpoint: fields.endpoint.fields(),
            };
            let view = svc.save_jwt(&profile, fields).await?;
            eprintln!("Saved the JWT bearer credentials of '{}'.", view.profile);
            report(&view, json)
        }
        SfCredentialsCommand::SetupOauth {
            profile,
            no_browser,
            port,
        } => setup_oauth(&svc, &profile, no_browser, port, json).await,
        SfCredentialsCommand::TestAccess { profile } => {
            let report = svc.test_access(&profile).await?;
            if json {
                return output::json(&report);
            }
            println!("{}", report.message);
            Ok(())
        }
        SfCredentialsCommand::Switch { profile, kind } => {
            let active = svc.switch(&profile, kind).await?;
            if json {
                return output::json(&serde_json::json!({"active": active}));
            }
            eprintln!(
                "The {} are now active; a running sync uses them from its next batch.",
                active.label()
            );
            Ok(())
        }
        SfCredentialsCommand::Delete { profile, kind, yes } => {
            if !yes
                && !super::confirm(&format!(
                    "Delete the {} of '{profile}' (a token is revoked at Salesforce)?",
                    kind.label()
                ))?
            {
                eprintln!("Nothing deleted.");
                return Ok(());
            }
            let warnings = svc.delete(&profile, kind).await?;
            output::warnings(&warnings);
            eprintln!("Deleted the {} of '{profile}'.", kind.label());
            Ok(())
        }
        SfCredentialsCommand::Check { profile } => check(&svc, &profile, json).await,
    }
}

async fn setup_oauth(
    svc: &SyncCredentials,
    profile: &str,
    no_browser: bool,
    port: u16,
    json: bool,
) -> anyhow::Result<()> {
    let listener = CallbackListener::bind(port).await?;
    let pending = svc
        .begin_oauth_setup(profile, listener.redirect_uri())
        .await?;
    println!("{}", pending.authorize_url);
    eprintln!(
        "Open the URL above and log in as the configured Salesforce user (the redirect goes to {}).",
        listener.redirect_uri()
    );
    if !no_browser && !open_browser(&pending.authorize_url) {
        eprintln!("No browser could be opened; open the URL yourself.");
    }
    eprintln!(
        "Waiting for the redirect; on another machine, paste here the URL the browser ended on."
    );
    let pasted = async {
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        match line {
            Ok(Ok(line)) if !line.trim().is_empty() => line.trim().to_string(),
            // No input (stdin closed): keep waiting for the browser.
            _ => std::future::pending().await,
        }
    };
    let redirected = tokio::select! {
        url = listener.wait() => url?,
        url = pasted => url,
        () = tokio::time::sleep(std::time::Duration::from_secs(15 * 60)) => {
            return Err(UsageError("no redirect arrived within 15 minutes; run setup-oauth again".into()).into());
        }
    };
    let outcome = svc.finish_oauth_setup(pending, &redirected).await?;
    if json {
        return output::json(&outcome);
    }
    eprintln!(
        "Stored the OAuth token of '{profile}': org {}, user {} ({}).",
        outcome.org_id, outcome.user_id, outcome.username
    );
    Ok(())
}

/// Opens `url` in the desktop browser, where there is one.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let has_display = cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    has_display
        && std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
}

async fn check(svc: &SyncCredentials, profile: &str, json: bool) -> anyhow::Result<()> {
    let client = svc.client(profile, ClientOptions::default()).await?;
    let report = preflight(&client, &default_objects()).await?;
    if json {
        output::json(&report)?;
    } else if report.is_ok() {
        println!(
            "The sync user{} can read and write every mapped object and field.",
            report
                .username
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default()
        );
    } else {
        let mut table = output::table(&["Object", "Field", "Missing", "How to grant it"]);
        for f in &report.findings {
            table.add_row([
                f.object.as_str(),
                f.field.as_deref().unwrap_or(""),
                f.problem.as_str(),
                f.fix.as_str(),
            ]);
        }
        println!("{table}");
    }
    if !report.is_ok() {
        anyhow::bail!(
            "the sync user lacks {} of the sync user requirements",
            report.findings.len()
        );
    }
    Ok(())
}

fn report(view: &ProfileCredentials, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(view);
    }
    if view.credentials.is_empty() {
        println!(
            "'{}' has no Salesforce credentials; add them with 'zbridge sf-credentials edit {} password|oauth|jwt ...'.",
            view.profile, view.profile
        );
        return Ok(());
    }
    let mut table = output::table(&["Credential", "Active", "Field", "Value"]);
    for c in &view.credentials {
        for (i, (field, value)) in rows(c).into_iter().enumerate() {
            let (label, active) = if i == 0 {
                (c.label, if c.active { "yes" } else { "no" })
            } else {
                ("", "")
            };
            table.add_row([label, active, field, value.as_str()]);
        }
    }
    println!("{table}");
    Ok(())
}

fn rows(c: &CredentialView) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            out.push((k, v));
        }
    };
    push("Username", c.username.clone());
    push("Password", c.password.map(|s| s.to_string()));
    push("Security Token", c.security_token.map(|s| s.to_string()));
    push("Org ID", c.org_id.clone());
    push("User ID", c.user_id.clone());
    push("Consumer Key", c.consumer_key.clone());
    push("Consumer Secret", c.consumer_secret.map(|s| s.to_string()));
    push("OAuth Token", c.oauth_token.map(|s| s.to_string()));
    push("Key File", c.key_file.clone());
    push("Private Key", c.private_key.map(|s| s.to_string()));
    push(
        "Use Sandbox",
        Some(if c.sandbox { "yes" } else { "no" }.to_string()),
    );
    push("Login URL", c.login_url.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbridge_salesforce::CredentialKind;

    fn jwt_view(key_file: Option<&str>, key_stored: bool) -> CredentialView {
        CredentialView {
            kind: CredentialKind::Jwt,
            label: CredentialKind::Jwt.label(),
            active: true,
            sandbox: false,
            login_url: None,
            username: Some("sync@example.com".into()),
            password: None,
            security_token: None,
            org_id: None,
            org_id18: None,
            user_id: None,
            user_id18: None,
            consumer_key: Some("key".into()),
            consumer_secret: None,
            oauth_token: None,
            key_file: key_file.map(str::to_string),
            private_key: Some(zbridge_store::SecretState::new(key_stored)),
            updated_at: chrono::Utc::now(),
        }
    }

    /// The table shows what the JSON shows: whether the store holds the JWT private key.
    #[test]
    fn jwt_rows_say_whether_the_private_key_is_set() {
        let field = |view: &CredentialView, name: &str| {
            rows(view)
                .into_iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        };
        let stored = jwt_view(None, true);
        assert_eq!(field(&stored, "Private Key").as_deref(), Some("set"));
        assert_eq!(field(&stored, "Key File"), None);
        let from_file = jwt_view(Some("/etc/zbridge/jwt.pem"), false);
        assert_eq!(field(&from_file, "Private Key").as_deref(), Some("not set"));
        assert_eq!(
            field(&from_file, "Key File").as_deref(),
            Some("/etc/zbridge/jwt.pem")
        );
    }
}
