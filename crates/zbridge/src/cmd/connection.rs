//! `zbridge connection create|edit|show|list|delete|keys`.

use std::path::Path;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zbridge_core::advanced::{self, KNOWN_KEYS};
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::{ConnectionName, ProjectName, ValidationError};
use zbridge_store::{ConnectionRecord, ConnectionSummary, ConnectionView};

use crate::cli::{ClearFields, ConnectionCommand, ConnectionFields};
use crate::exit::UsageError;
use crate::output;
use crate::secrets::{SecretReader, SecretSource};

pub async fn run(command: ConnectionCommand, json: bool) -> anyhow::Result<()> {
    match command {
        ConnectionCommand::Create { name, fields } => create(name, fields, json).await,
        ConnectionCommand::Edit {
            name,
            rename,
            fields,
            clear,
        } => edit(&name, rename, fields, clear, json).await,
        ConnectionCommand::Show { name } => show(&name, json).await,
        ConnectionCommand::List => list(json).await,
        ConnectionCommand::Delete { name, yes } => delete(&name, yes).await,
        ConnectionCommand::Keys => keys(json),
        ConnectionCommand::Test { name } => test(&name, json).await,
    }
}

async fn create(name: Option<String>, fields: ConnectionFields, json: bool) -> anyhow::Result<()> {
    let file = fields.file.as_deref().map(read_file).transpose()?;
    let name = name
        .or_else(|| file.as_ref().and_then(|f| f.name.clone()))
        .ok_or_else(|| {
            UsageError("give the connection name as an argument or as `name` in the file".into())
        })?;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse(&name)?);
    let reader = SecretReader::default();
    if let Some(file) = file {
        apply_file(&mut def, file, &reader)?;
    }
    apply_fields(&mut def, &fields, &reader)?;
    let store = super::open_store().await?;
    let saved = store.create_connection(&def).await?;
    output::warnings(&saved.warnings);
    report(&saved.value, json, "Created")
}

async fn edit(
    name: &str,
    rename: Option<String>,
    fields: ConnectionFields,
    clear: ClearFields,
    json: bool,
) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let record = store.load_connection(name).await?;
    let mut def = record.def.clone();
    if let Some(new_name) = rename {
        def.name = ConnectionName::parse(&new_name)?;
    }
    let reader = SecretReader::default();
    apply_clears(&mut def, &clear)?;
    if let Some(path) = fields.file.as_deref() {
        apply_file(&mut def, read_file(path)?, &reader)?;
    }
    apply_fields(&mut def, &fields, &reader)?;
    let saved = store
        .update_connection(&record.id, record.version, &def)
        .await?;
    output::warnings(&saved.warnings);
    report(&saved.value, json, "Saved")
}

fn report(record: &ConnectionRecord, json: bool, verb: &str) -> anyhow::Result<()> {
    if json {
        output::json(&record.view(Vec::new()))
    } else {
        eprintln!("{verb} connection '{}'.", record.def.name);
        Ok(())
    }
}

async fn show(name: &str, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let record = store.load_connection(name).await?;
    let users = store.components_using(&record.id).await?;
    let view = record.view(users);
    if json {
        return output::json(&view);
    }
    print_view(&view);
    Ok(())
}

async fn list(json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let connections = store.list_connections().await?;
    if json {
        return output::json(&connections);
    }
    if connections.is_empty() {
        eprintln!("No connections yet; create one with 'zbridge connection create NAME ...'.");
        return Ok(());
    }
    let mut table = output::table(&["Name", "Project", "Tenant", "Service", "Updated"]);
    for ConnectionSummary {
        name,
        project,
        config,
        updated_at,
        ..
    } in &connections
    {
        table.add_row([
            name.as_str(),
            project.as_deref().unwrap_or(""),
            config.tenant.as_str(),
            config.service.as_str(),
            &updated_at.format("%Y-%m-%d %H:%M").to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

async fn delete(name: &str, yes: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let record = store.load_connection(name).await?;
    let users = store.components_using(&record.id).await?;
    if !users.is_empty() {
        return Err(zbridge_store::StoreError::InUse {
            name: record.def.name.to_string(),
            users,
        }
        .into());
    }
    if !yes && !super::confirm(&format!("Delete connection '{}'?", record.def.name))? {
        eprintln!("Nothing deleted.");
        return Ok(());
    }
    store.delete_connection(name).await?;
    eprintln!("Deleted connection '{}'.", record.def.name);
    Ok(())
}

async fn test(name: &str, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let client = super::zuora_client(&store, name).await?;
    let checks = zbridge_zuora::test::test_connection(&client).await?;
    if json {
        return output::json(&checks);
    }
    for check in &checks {
        println!("ok  {:<24} {}", check.what, check.detail);
    }
    println!("Connection '{}' works.", client.connection().name);
    Ok(())
}

fn keys(json: bool) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct KeyView {
        key: &'static str,
        default: Option<&'static str>,
        secret: bool,
        description: &'static str,
    }
    let views: Vec<KeyView> = KNOWN_KEYS
        .iter()
        .map(|k| KeyView {
            key: k.name,
            default: k.default,
            secret: k.secret,
            description: k.doc,
        })
        .collect();
    if json {
        return output::json(&views);
    }
    let mut table = output::table(&["Key", "Default", "What it does"]);
    for view in &views {
        let default = if view.secret {
            "(secret)"
        } else {
            view.default.unwrap_or("")
        };
        table.add_row([view.key, default, view.description]);
    }
    println!("{table}");
    Ok(())
}

// ---- applying input -------------------------------------------------------------------------

/// The layout of `--file`: the connector screen's fields in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionFile {
    name: Option<String>,
    project: Option<String>,
    tenant: Option<String>,
    service: Option<String>,
    client_id: Option<String>,
    client_secret: Option<FileSecret>,
    refresh_token: Option<FileSecret>,
    proxy: Option<ProxyFile>,
    /// Ordered key-value rows; values may be strings, numbers, booleans or secret references.
    advanced: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyFile {
    #[serde(default)]
    enabled: bool,
    url: Option<String>,
    user: Option<String>,
    password: Option<FileSecret>,
}

/// A secret in a file: plain text (accepted with a warning) or a reference to where it lives.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileSecret {
    Plain(String),
    Env { env: String },
    File { file: String },
}

fn read_file(path: &Path) -> anyhow::Result<ConnectionFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        let message = e.message().replace('\n', " ");
        let at = e
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default();
        UsageError(format!("--file {}: {message}{at}", path.display())).into()
    })
}

fn file_secret(
    reader: &SecretReader,
    label: &str,
    secret: FileSecret,
) -> anyhow::Result<SecretString> {
    match secret {
        FileSecret::Plain(value) => {
            eprintln!(
                "warning: {label} is written in plain text in the file; it is sealed in the store, but consider {{ env = \"NAME\" }}"
            );
            Ok(SecretString::from(value))
        }
        FileSecret::Env { env } => reader.read(label, &SecretSource::Env(env)),
        FileSecret::File { file } => reader.read(label, &SecretSource::File(file)),
    }
}

fn apply_file(
    def: &mut ZuoraConnectionDef,
    file: ConnectionFile,
    reader: &SecretReader,
) -> anyhow::Result<()> {
    if let Some(project) = file.project {
        def.project = Some(ProjectName::parse(&project)?);
    }
    set_if(&mut def.tenant, file.tenant);
    set_if(&mut def.service, file.service);
    set_if(&mut def.client_id, file.client_id);
    if let Some(s) = file.client_secret {
        def.client_secret = Some(file_secret(reader, "client_secret", s)?);
    }
    if let Some(s) = file.refresh_token {
        def.refresh_token = Some(file_secret(reader, "refresh_token", s)?);
    }
    if let Some(proxy) = file.proxy {
        def.proxy.enabled = proxy.enabled;
        set_if(&mut def.proxy.url, proxy.url);
        set_if(&mut def.proxy.user, proxy.user);
        if let Some(s) = proxy.password {
            def.proxy.password = Some(file_secret(reader, "proxy.password", s)?);
        }
    }
    let rows = file.advanced.unwrap_or_default();
    advanced::check_distinct_keys(rows.keys().map(String::as_str))?;
    for (key, value) in rows {
        let value = match value {
            toml::Value::String(s) => SecretString::from(s),
            toml::Value::Integer(n) => SecretString::from(n.to_string()),
            toml::Value::Boolean(b) => SecretString::from(b.to_string()),
            toml::Value::Table(t) => {
                let secret: FileSecret = t.try_into().map_err(|_| {
                    UsageError(format!(
                        "advanced.{key}: use a string, a number, or {{ env = \"NAME\" }}"
                    ))
                })?;
                file_secret(reader, &format!("advanced.{key}"), secret)?
            }
            _ => {
                return Err(UsageError(format!(
                    "advanced.{key}: use a string, a number or a boolean"
                ))
                .into());
            }
        };
        def.set_advanced(&key, value)?;
    }
    Ok(())
}

fn set_if(target: &mut String, value: Option<String>) {
    if let Some(value) = value {
        *target = value;
    }
}

fn apply_fields(
    def: &mut ZuoraConnectionDef,
    f: &ConnectionFields,
    reader: &SecretReader,
) -> anyhow::Result<()> {
    if let Some(project) = &f.project {
        def.project = Some(ProjectName::parse(project)?);
    }
    set_if(&mut def.tenant, f.tenant.clone());
    set_if(&mut def.service, f.service.clone());
    set_if(&mut def.client_id, f.client_id.clone());
    if let Some(s) = reader.either(
        "--client-secret",
        f.client_secret.as_deref(),
        f.client_secret_from.as_ref(),
    )? {
        def.client_secret = Some(s);
    }
    if let Some(s) = reader.either(
        "--refresh-token",
        f.refresh_token.as_deref(),
        f.refresh_token_from.as_ref(),
    )? {
        def.refresh_token = Some(s);
    }
    if f.use_proxy {
        def.proxy.enabled = true;
    }
    if f.no_proxy {
        def.proxy.enabled = false;
    }
    set_if(&mut def.proxy.url, f.proxy_url.clone());
    set_if(&mut def.proxy.user, f.proxy_user.clone());
    if let Some(s) = reader.either(
        "--proxy-password",
        f.proxy_password.as_deref(),
        f.proxy_password_from.as_ref(),
    )? {
        def.proxy.password = Some(s);
    }
    check_distinct_flags(f)?;
    for pair in &f.add {
        let (key, value) = split_pair("--add", pair)?;
        if def.advanced.get(key).is_some() {
            def.advanced.add(key, value)?; // reports the duplicate row
        }
        set_advanced_plain(def, reader, "--add", key, value)?;
    }
    for pair in &f.set {
        let (key, value) = split_pair("--set", pair)?;
        set_advanced_plain(def, reader, "--set", key, value)?;
    }
    for pair in &f.set_from {
        let (key, source) = split_pair("--set-from", pair)?;
        let source: SecretSource = source.parse().map_err(UsageError)?;
        let value = reader.read(&format!("--set-from {key}"), &source)?;
        def.set_advanced(key, value)?;
    }
    Ok(())
}

/// Refuses `--add`, `--set` and `--set-from` flags that give one key twice (in any case).
fn check_distinct_flags(f: &ConnectionFields) -> anyhow::Result<()> {
    let flags = [
        ("--add", &f.add),
        ("--set", &f.set),
        ("--set-from", &f.set_from),
    ];
    let mut keys = Vec::new();
    for (flag, pairs) in flags {
        for pair in pairs {
            keys.push(split_pair(flag, pair)?.0);
        }
    }
    advanced::check_distinct_keys(keys)?;
    Ok(())
}

fn set_advanced_plain(
    def: &mut ZuoraConnectionDef,
    reader: &SecretReader,
    flag: &str,
    key: &str,
    value: &str,
) -> Result<(), ValidationError> {
    let is_secret = advanced::known_key(key).is_some_and(|k| k.secret);
    let value = if is_secret {
        reader.plain(&format!("{flag} {key}")[..], value)
    } else {
        SecretString::from(value.to_string())
    };
    def.set_advanced(key, value)
}

fn apply_clears(def: &mut ZuoraConnectionDef, clear: &ClearFields) -> anyhow::Result<()> {
    if clear.clear_advanced {
        def.clear_advanced();
    }
    for key in &clear.unset {
        def.delete_advanced(key)?;
    }
    if clear.no_project {
        def.project = None;
    }
    if clear.clear_client_secret {
        def.client_secret = None;
    }
    if clear.clear_refresh_token {
        def.refresh_token = None;
    }
    if clear.clear_proxy_password {
        def.proxy.password = None;
    }
    Ok(())
}

fn split_pair<'a>(flag: &str, pair: &'a str) -> Result<(&'a str, &'a str), UsageError> {
    pair.split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim(), v))
        .ok_or_else(|| UsageError(format!("{flag} '{pair}': write KEY=VALUE")))
}

// ---- showing ----------------------------------------------------------------------------------

fn print_view(view: &ConnectionView) {
    let mut table = output::table(&["Field", "Value"]);
    let rows: Vec<(&str, String)> = vec![
        ("Connection Name", view.name.clone()),
        ("Project", view.project.clone().unwrap_or_default()),
        ("Tenant", view.tenant.clone()),
        ("Zuora Service", view.service.clone()),
        ("Base URL", view.base_url.clone()),
        ("OAuth Client Id", view.client_id.clone()),
        (
            "OAuth Client Secret",
            output::set_or_not(view.client_secret.set).into(),
        ),
        (
            "OAuth Refresh Token",
            output::set_or_not(view.refresh_token.set).into(),
        ),
        (
            "Use Proxy Settings",
            if view.proxy.enabled {
                "yes".into()
            } else {
                "no".into()
            },
        ),
    ];
    for (field, value) in rows {
        table.add_row([field, value.as_str()]);
    }
    if view.proxy.enabled {
        table.add_row(["Proxy URL", view.proxy.url.as_str()]);
        table.add_row(["Proxy User", view.proxy.user.as_str()]);
        table.add_row([
            "Proxy Password",
            output::set_or_not(view.proxy.password.set),
        ]);
    }
    for row in &view.advanced {
        let value = match &row.secret {
            Some(state) => output::set_or_not(state.set).to_string(),
            None => row.value.clone().unwrap_or_default(),
        };
        table.add_row([format!("Advanced: {}", row.key), value]);
    }
    let used_by: Vec<String> = view
        .used_by
        .iter()
        .map(|u| format!("{} '{}'", u.kind, u.name))
        .collect();
    table.add_row(["Used by", if used_by.is_empty() { "nothing" } else { "" }]);
    for user in used_by {
        table.add_row(["", user.as_str()]);
    }
    println!("{table}");
}
