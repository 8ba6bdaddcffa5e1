//! `zbridge sync profile …`: the minimal sync profile (a name and the Zuora connection it reads
//! from) that Salesforce sync credentials belong to. The sync engine will add its options.

use clap::Subcommand;

use crate::output;

/// The sync and its profiles.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Create, list, show and delete sync profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

/// Sync profiles: one Zuora connection paired with one Salesforce org.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile that reads from a Zuora connection.
    Create {
        /// Profile name: unique regardless of case, no '/' or ':'.
        name: String,
        /// The Zuora connection it reads from.
        #[arg(long)]
        connection: String,
    },
    /// List profiles.
    List,
    /// Delete a profile and its credentials (delete OAuth credentials first to revoke their
    /// token at Salesforce).
    Delete {
        /// The profile.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

/// Runs one `sync` command.
pub async fn run(command: SyncCommand, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    match command {
        SyncCommand::Profile(ProfileCommand::Create { name, connection }) => {
            let profile = store
                .create_sync_profile(&name, &connection, serde_json::json!({}))
                .await?;
            if json {
                return output::json(&profile);
            }
            eprintln!("Created sync profile '{}'.", profile.name);
            Ok(())
        }
        SyncCommand::Profile(ProfileCommand::List) => {
            let profiles = store.list_sync_profiles().await?;
            if json {
                return output::json(&profiles);
            }
            let mut table = output::table(&["Name", "Connection", "Updated"]);
            for p in &profiles {
                let connection = store
                    .list_connections()
                    .await?
                    .into_iter()
                    .find(|c| c.id == p.connection_id)
                    .map(|c| c.name)
                    .unwrap_or_default();
                table.add_row([p.name.clone(), connection, p.updated_at.to_rfc3339()]);
            }
            println!("{table}");
            Ok(())
        }
        SyncCommand::Profile(ProfileCommand::Delete { name, yes }) => {
            let profile = store.load_sync_profile(&name).await?;
            if !yes && !super::confirm(&format!("Delete sync profile '{}'?", profile.name))? {
                eprintln!("Nothing deleted.");
                return Ok(());
            }
            store.delete_sync_profile(&name).await?;
            eprintln!("Deleted sync profile '{}'.", profile.name);
            Ok(())
        }
    }
}
