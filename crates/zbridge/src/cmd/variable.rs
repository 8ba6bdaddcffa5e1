//! `zbridge variable set|list|delete`.

use std::io::IsTerminal;

use zbridge_core::{ProjectName, VariableName};

use crate::cli::VariableCommand;
use crate::exit::UsageError;
use crate::output;
use crate::secrets::{SecretReader, SecretSource};

pub async fn run(command: VariableCommand, json: bool) -> anyhow::Result<()> {
    match command {
        VariableCommand::Set {
            name,
            value,
            value_from,
            secret,
            project,
        } => {
            let name = VariableName::parse(&name)?;
            let project = project.as_deref().map(ProjectName::parse).transpose()?;
            let reader = SecretReader::default();
            let value = match (value, value_from) {
                (Some(_), Some(_)) => {
                    return Err(UsageError("give VALUE or --value-from, not both".into()).into());
                }
                (Some(v), None) if secret => reader.plain("VALUE", &v),
                (Some(v), None) => secrecy::SecretString::from(v),
                (None, Some(source)) => reader.read("--value-from", &source)?,
                (None, None) if secret && std::io::stdin().is_terminal() => {
                    reader.read("value", &SecretSource::Prompt)?
                }
                (None, None) => {
                    return Err(UsageError("give the value as an argument or with --value-from env:NAME|stdin|prompt|file:PATH".into()).into());
                }
            };
            let store = super::open_store().await?;
            store
                .set_variable(&name, project.as_ref(), &value, secret)
                .await?;
            let scope = project.map_or("global".to_string(), |p| format!("project '{p}'"));
            eprintln!(
                "Set {} variable [{name}] ({scope}).",
                if secret { "secret" } else { "plain" }
            );
            Ok(())
        }
        VariableCommand::List { project } => {
            let project = project.as_deref().map(ProjectName::parse).transpose()?;
            let store = super::open_store().await?;
            let variables = store.list_variables(project.as_ref()).await?;
            if json {
                return output::json(&variables);
            }
            let mut table = output::table(&["Name", "Scope", "Value"]);
            for v in &variables {
                let scope = v
                    .project
                    .as_deref()
                    .map_or("global".to_string(), |p| format!("project {p}"));
                let value = if v.secret {
                    "******** (secret)".to_string()
                } else {
                    v.value.clone().unwrap_or_default()
                };
                table.add_row([v.name.as_str(), scope.as_str(), value.as_str()]);
            }
            println!("{table}");
            Ok(())
        }
        VariableCommand::Delete { name, project } => {
            let name = VariableName::parse(&name)?;
            let project = project.as_deref().map(ProjectName::parse).transpose()?;
            let store = super::open_store().await?;
            store.delete_variable(&name, project.as_ref()).await?;
            eprintln!("Deleted variable [{name}].");
            Ok(())
        }
    }
}
