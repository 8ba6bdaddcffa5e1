//! `zbridge sync …`: sync profiles (a name, the Zuora connection it reads from, the Salesforce
//! credentials that belong to it, and the sync options), and the sync itself (run, history,
//! errors, cleanup, schedule; see `sync.rs`).

use clap::{Args, Subcommand};
use zbridge_sync::SyncOptions;

use crate::exit::UsageError;
use crate::output;

/// The sync and its profiles.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Create, edit, show, list and delete sync profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Run a sync now: incremental, or full with --full (first runs are always full).
    Run {
        /// The sync profile.
        profile: String,
        /// Read everything ("updated since 2000-01-01").
        #[arg(long)]
        full: bool,
        /// Only these catalog objects (comma-separated), e.g. Account,Subscription.
        #[arg(long, value_delimiter = ',')]
        objects: Vec<String>,
    },
    /// Compare the org with Zuora, object by object: missing, extra, duplicated and stale
    /// records (exit 1 when anything drifted); --repair sends them through the normal paths.
    #[command(
        after_help = "Examples:\n  zbridge sync verify Main\n  zbridge sync verify Main --objects Account,Invoice --csv drift/\n  zbridge sync verify Main --repair    # then verifies again"
    )]
    Verify {
        /// The sync profile.
        profile: String,
        /// Only these catalog objects (comma-separated); their parents are read too.
        #[arg(long, value_delimiter = ',')]
        objects: Vec<String>,
        /// Write <object>.csv files of the drifted records (external_id,drift,fields) here.
        #[arg(long, value_name = "DIR")]
        csv: Option<std::path::PathBuf>,
        /// Send the missing and stale records again, delete the extra ones (children first),
        /// as a run of its own, then verify again.
        #[arg(long)]
        repair: bool,
    },
    /// Past runs, or one run per object: read, upserted, deleted, failed, API calls, duration.
    History {
        /// A run id (or its first characters).
        run: Option<String>,
        /// Only runs of this profile.
        #[arg(long)]
        profile: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// The failed records of a run, with their error class.
    Errors {
        /// A run id (or its first characters).
        run: String,
        /// As CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Delete everything the profile synced from the org; the next run is full.
    Cleanup {
        /// The sync profile.
        profile: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Run the profile on a schedule (with 'zbridge worker').
    Schedule {
        /// The sync profile.
        profile: String,
        /// Interval: 30m, 2h, daily, ...
        #[arg(long)]
        every: Option<String>,
        /// Stop scheduling it.
        #[arg(long, conflicts_with = "every")]
        off: bool,
    },
}

/// The options of a profile, as flags.
#[derive(Debug, Args, Default)]
pub struct OptionArgs {
    /// Catalog objects to sync (comma-separated); every object when unset.
    #[arg(long, value_delimiter = ',')]
    pub objects: Option<Vec<String>>,
    /// Subscription statuses to sync (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub subscription_statuses: Option<Vec<String>>,
    /// Changed rows of an object from which Bulk API 2.0 is used instead of Collections.
    #[arg(long)]
    pub bulk_threshold: Option<usize>,
    /// Rows per Bulk job.
    #[arg(long)]
    pub bulk_batch_size: Option<usize>,
    /// Rows loaded per step through Collections (bounds memory and the work a crash repeats).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seconds behind now where incremental windows end.
    #[arg(long)]
    pub lag_secs: Option<i64>,
    /// A TOML file of mapping overrides: one table per catalog object with `key`, `fields`
    /// and `remove`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<std::path::PathBuf>,
    /// Billing accounts without a CrmId: by default each is a DACO-02 needs-a-fix failure
    /// (read again only when it changes); `true` leaves them out silently.
    #[arg(long, value_name = "BOOL")]
    pub skip_accounts_without_crm_id: Option<bool>,
}

impl OptionArgs {
    fn apply(&self, options: &mut SyncOptions) -> anyhow::Result<()> {
        if let Some(v) = &self.objects {
            options.objects = v.clone();
        }
        if let Some(v) = &self.subscription_statuses {
            options.subscription_statuses = v.clone();
        }
        if let Some(v) = self.bulk_threshold {
            options.bulk_threshold = v;
        }
        if let Some(v) = self.bulk_batch_size {
            options.bulk_batch_size = v;
        }
        if let Some(v) = self.batch_size {
            options.batch_size = v;
        }
        if let Some(v) = self.lag_secs {
            options.lag_secs = v;
        }
        if let Some(v) = self.skip_accounts_without_crm_id {
            options.skip_accounts_without_crm_id = v;
        }
        if let Some(path) = &self.mapping {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
            options.mapping_overrides = toml::from_str(&text)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        }
        options.validate().map_err(|e| UsageError(e.to_string()))?;
        Ok(())
    }
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
        /// Sync options.
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Change a profile's options.
    Edit {
        /// The profile.
        name: String,
        /// Sync options to change.
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Show a profile and its options.
    Show {
        /// The profile.
        name: String,
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
        SyncCommand::Run {
            profile,
            full,
            objects,
        } => super::sync::run(&profile, full, &objects, "manual", json).await,
        SyncCommand::Verify {
            profile,
            objects,
            csv,
            repair,
        } => super::sync::verify(&profile, &objects, csv, repair, json).await,
        SyncCommand::History {
            run,
            profile,
            limit,
        } => super::sync::history(run.as_deref(), profile.as_deref(), limit, json).await,
        SyncCommand::Errors { run, csv } => super::sync::errors(&run, csv, json).await,
        SyncCommand::Cleanup { profile, yes } => super::sync::cleanup(&profile, yes, json).await,
        SyncCommand::Schedule {
            profile,
            every,
            off,
        } => super::sync::schedule(&profile, every.as_deref(), off).await,
        SyncCommand::Profile(ProfileCommand::Edit { name, options }) => {
            let profile = store.load_sync_profile(&name).await?;
            // Read without the rules: a profile saved before a rule can still be corrected;
            // `apply` checks every rule before anything is saved.
            let mut current = SyncOptions::read_json(&profile.options)?;
            options.apply(&mut current)?;
            let profile = store
                .update_sync_profile_options(&profile.name, current.to_json())
                .await?;
            eprintln!("Saved sync profile '{}'.", profile.name);
            Ok(())
        }
        SyncCommand::Profile(ProfileCommand::Show { name }) => {
            let profile = store.load_sync_profile(&name).await?;
            let options = SyncOptions::read_json(&profile.options)?;
            if json {
                return output::json(&serde_json::json!({
                    "name": profile.name, "connection_id": profile.connection_id, "options": options,
                }));
            }
            let connection = store
                .list_connections()
                .await?
                .into_iter()
                .find(|c| c.id == profile.connection_id)
                .map(|c| c.name)
                .unwrap_or_default();
            let mut table = output::table(&["Setting", "Value"]);
            let list = |v: &[String]| {
                if v.is_empty() {
                    "all".to_string()
                } else {
                    v.join(", ")
                }
            };
            table.add_row(["Name".to_string(), profile.name.clone()]);
            table.add_row(["Zuora connection".to_string(), connection]);
            table.add_row(["Objects".to_string(), list(&options.objects)]);
            table.add_row([
                "Subscription statuses".to_string(),
                list(&options.subscription_statuses),
            ]);
            table.add_row([
                "Bulk from".to_string(),
                format!(
                    "{} rows (jobs of {})",
                    options.bulk_threshold, options.bulk_batch_size
                ),
            ]);
            table.add_row(["Lag".to_string(), format!("{} s", options.lag_secs)]);
            table.add_row([
                "Schedule".to_string(),
                options
                    .schedule_secs
                    .map(|s| format!("every {s} s"))
                    .unwrap_or_else(|| "not scheduled".into()),
            ]);
            table.add_row([
                "Mapping overrides".to_string(),
                list(
                    &options
                        .mapping_overrides
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>(),
                ),
            ]);
            println!("{table}");
            Ok(())
        }
        SyncCommand::Profile(ProfileCommand::Create {
            name,
            connection,
            options,
        }) => {
            let mut chosen = SyncOptions::default();
            options.apply(&mut chosen)?;
            let profile = store
                .create_sync_profile(&name, &connection, chosen.to_json())
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
