//! `zbridge demo`: a guided tour in a temporary home, so nothing of the user's is touched.
//!
//! It runs the same store and validation functions as the other commands and prints what each
//! step did. Later parts of zbridge (the simulators, queries, the sync) extend the tour.

use secrecy::SecretString;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::{ConnectionName, ProjectName, VariableName};
use zbridge_store::{Home, Store};

use crate::output;

pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("zbridge-demo-").tempdir()?;
    let store = Store::open(&Home::in_dir(dir.path())).await?;
    step(
        "A temporary home",
        &format!(
            "{} (SQLite; secrets sealed with a new key file, mode 0600)",
            dir.path().display()
        ),
    );

    let project = ProjectName::parse("EU rollout")?;
    let secret = |s: &str| SecretString::from(s.to_string());
    store
        .set_variable(
            &VariableName::parse("tenant")?,
            None,
            &secret("USAPISandbox"),
            false,
        )
        .await?;
    store
        .set_variable(
            &VariableName::parse("tenant")?,
            Some(&project),
            &secret("EUSandbox"),
            false,
        )
        .await?;
    store
        .set_variable(
            &VariableName::parse("zuora_secret")?,
            None,
            &secret("demo-secret"),
            true,
        )
        .await?;
    step(
        "Variables",
        "global [tenant]=USAPISandbox, project 'EU rollout' [tenant]=EUSandbox, secret [zuora_secret]",
    );

    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora EU")?);
    def.project = Some(project.clone());
    def.tenant = "[tenant]".into();
    def.service = "DataQuery".into();
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secret("[zuora_secret]"));
    def.set_advanced("PollInterval", secret("5"))?;
    let saved = store.create_connection(&def).await?;
    output::warnings(&saved.warnings);
    let scope = store.variable_scope(Some(&project)).await?;
    let resolved = saved.value.def.resolve(&scope)?;
    step(
        "Connection 'Zuora EU'",
        &format!(
            "Tenant [tenant] expands to {} at use, so it talks to {}",
            resolved.tenant, resolved.base_url
        ),
    );

    let mut twin = def.clone();
    twin.name = ConnectionName::parse("ZUORA eu")?;
    let refused = store
        .create_connection(&twin)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    step("A duplicate name is refused", &refused);

    let mut bad = def.clone();
    bad.name = ConnectionName::parse("Typo")?;
    let typo = bad
        .set_advanced("PolInterval", secret("5"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    step("An unknown advanced key is refused", &typo);

    let mut table = output::table(&["Name", "Project", "Tenant", "Service", "Client secret"]);
    for c in store.list_connections().await? {
        table.add_row([
            c.name.as_str(),
            c.project.as_deref().unwrap_or(""),
            &c.config.tenant,
            &c.config.service,
            "set (sealed)",
        ]);
    }
    println!("{table}");

    store.close().await;
    dir.close()?;
    step(
        "Done",
        "the temporary home was removed; try `zbridge connection create --help` next",
    );
    Ok(())
}

fn step(title: &str, detail: &str) {
    println!("==> {title}\n    {detail}");
}
