//! One module per command group; each turns parsed arguments into calls on the library crates.

mod connection;
mod demo;
pub mod execute;
pub mod query;
pub mod serve;
pub mod sf_credentials;
mod sim;
pub mod sync;
pub mod sync_profile;
mod variable;
pub mod worker;

use zbridge_store::{Home, Store};

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.global.json;
    match cli.command {
        Command::Connection(command) => connection::run(*command, json).await,
        Command::Variable(command) => variable::run(command, json).await,
        Command::Tables(args) => query::tables(args, json).await,
        Command::Describe(args) => query::describe(args, json).await,
        Command::Query(command) => query::run(*command, json).await,
        Command::Execute(args) => execute::run(*args, json).await,
        Command::Procedures { name } => execute::procedures(&name, json).await,
        Command::Demo => demo::run().await,
        Command::Sim(args) => sim::run(args, json).await,
        Command::SfCredentials(command) => sf_credentials::run(*command, json).await,
        Command::Sync(command) => sync_profile::run(command, json).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Worker(args) => worker::run(args, json).await,
    }
}

/// Opens the store named by the environment (`ZBRIDGE_HOME`, `ZBRIDGE_DATABASE_URL`, ...).
pub async fn open_store() -> anyhow::Result<Store> {
    let home = Home::from_env()?;
    Ok(Store::open(&home).await?)
}

/// A Zuora client for a saved connection: variables expanded, token cached in the store (or in
/// the `OAuthSettingsLocation` file).
pub async fn zuora_client(store: &Store, name: &str) -> anyhow::Result<zbridge_zuora::ZuoraClient> {
    Ok(zuora_client_for(store, name, None).await?.0)
}

/// A Zuora client for a saved connection, optionally through the other service, with the
/// connection's id (for caches and saved components).
pub async fn zuora_client_for(
    store: &Store,
    name: &str,
    service: Option<zbridge_core::ZuoraService>,
) -> anyhow::Result<(zbridge_zuora::ZuoraClient, String)> {
    let record = store.load_connection(name).await?;
    let scope = store.variable_scope(record.def.project.as_ref()).await?;
    let client = zbridge_zuora::ZuoraClient::for_saved(store, &record, &scope, service)?;
    Ok((client, record.id))
}

/// Asks a yes/no question on the terminal; without a terminal the answer is an error that
/// names the flag that skips the question.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(crate::exit::UsageError(format!(
            "{question} needs confirmation, and there is no terminal to ask on; pass --yes"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
