//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::secrets::SecretSource;

/// zbridge: a Zuora connector, and a Zuora to Salesforce sync, in one binary.
#[derive(Debug, Parser)]
#[command(name = "zbridge", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

const AFTER_HELP: &str = "\
Files live in $ZBRIDGE_HOME, or in the XDG data and config directories when it is unset.
ZBRIDGE_DATABASE_URL=postgres://... uses PostgreSQL instead of SQLite; ZBRIDGE_MASTER_KEY
(64 hex characters) replaces the key file that seals secrets.

Exit codes: 0 success, 1 failure, 2 bad input (nothing was written), 3 remote or auth failure.

Start with:  zbridge demo";

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log detail on stderr (-v info, -vv debug); ZBRIDGE_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, show, list, edit and delete Zuora connections.
    #[command(subcommand)]
    Connection(Box<ConnectionCommand>),
    /// Global and project variables that connection fields use as [name].
    #[command(subcommand)]
    Variable(VariableCommand),
    /// List the tables a connection can read (through its Zuora service).
    Tables(TablesArgs),
    /// Show a table's fields with type, filterable and exportable flags.
    Describe(DescribeArgs),
    /// Read records from a Zuora table (the Query activity); `query run SAVED` runs a saved one.
    #[command(after_help = QUERY_HELP)]
    Query(Box<crate::cmd::query::QueryCommand>),
    /// Run a procedure at Zuora (the Execute activity): create, update, delete, generate, split,
    /// subscribe, amend, tokens, schema export.
    Execute(Box<crate::cmd::execute::ExecuteArgs>),
    /// List the procedures `execute` runs, with their parameters and input and output schemas.
    Procedures {
        /// The connection.
        name: String,
    },
    /// A tour of zbridge against the built-in simulator, in a temporary home.
    Demo,
    /// Run the Zuora and Salesforce simulators on loopback until interrupted.
    Sim(SimArgs),
    /// Salesforce sync credentials of a sync profile: edit, setup-oauth, test-access, switch, delete, check.
    #[command(subcommand)]
    SfCredentials(Box<crate::cmd::sf_credentials::SfCredentialsCommand>),
    /// Sync profiles (a Zuora connection paired with a Salesforce org).
    #[command(subcommand)]
    Sync(crate::cmd::sync_profile::SyncCommand),
    /// Serve the web UI and the JSON API (loopback by default; sign in with the access token).
    Serve(crate::cmd::serve::ServeArgs),
    /// Run the scheduled syncs that are due ('zbridge sync schedule'); several workers may share
    /// one PostgreSQL database (ZBRIDGE_DATABASE_URL).
    Worker(crate::cmd::worker::WorkerArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection from flags, a TOML file, or both (flags win).
    #[command(after_help = CREATE_HELP)]
    Create {
        /// The connection name: unique regardless of case, no '/' or ':'.
        name: Option<String>,
        #[command(flatten)]
        fields: ConnectionFields,
    },
    /// Change a connection: the whole result is validated and saved at once, or not at all.
    Edit {
        /// The connection to change.
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: ConnectionFields,
        #[command(flatten)]
        clear: ClearFields,
    },
    /// Show one connection; secrets show only as "set" or "not set".
    Show {
        /// The connection.
        name: String,
    },
    /// List connections.
    List,
    /// Delete a connection (asks first; refuses while saved components use it).
    Delete {
        /// The connection.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// List the advanced configuration keys with their defaults.
    Keys,
    /// Test a connection: obtain a token and make one cheap authenticated call.
    Test {
        /// The connection.
        name: String,
    },
}

const CREATE_HELP: &str = "\
Examples:
  zbridge connection create \"Zuora prod\" --tenant USProduction --service DataQuery \\
      --client-id 3de56ab4-7032-4363-a1d6-ed2873ea03cd --client-secret-from env:ZUORA_SECRET
  zbridge connection create --file prod.toml
  zbridge connection create Sim --client-id [sim_id] --client-secret-from prompt --set URL=http://127.0.0.1:8080

Secrets come from --...-from env:NAME | stdin | prompt | file:PATH. Any field may use
[variable] references; they expand when the connection is used.";

/// The fields of a connection, shared by create and edit.
#[derive(Debug, Args, Default)]
pub struct ConnectionFields {
    /// Read the connection from a TOML file (see the README for its layout).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The project whose variables the connection uses.
    #[arg(long)]
    pub project: Option<String>,
    /// One of the nine tenants, e.g. USProduction, EUSandbox, USCloudProduction.
    #[arg(long)]
    pub tenant: Option<String>,
    /// DataQuery or AQuADataExport (also: dataquery, aqua).
    #[arg(long)]
    pub service: Option<String>,
    /// OAuth client id (36 characters).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// OAuth client secret, given in plain text (prefer --client-secret-from).
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// Where to read the OAuth client secret: env:NAME, stdin, prompt or file:PATH.
    #[arg(long, value_name = "SOURCE")]
    pub client_secret_from: Option<SecretSource>,
    /// OAuth refresh token, in plain text (prefer --refresh-token-from).
    #[arg(long, value_name = "TOKEN")]
    pub refresh_token: Option<String>,
    /// Where to read the OAuth refresh token.
    #[arg(long, value_name = "SOURCE")]
    pub refresh_token_from: Option<SecretSource>,
    /// Turn "Use Proxy Settings" on.
    #[arg(long, conflicts_with = "no_proxy")]
    pub use_proxy: bool,
    /// Turn "Use Proxy Settings" off.
    #[arg(long)]
    pub no_proxy: bool,
    /// Proxy URL, e.g. http://proxy.internal:3128.
    #[arg(long, value_name = "URL")]
    pub proxy_url: Option<String>,
    /// Proxy user.
    #[arg(long, value_name = "USER")]
    pub proxy_user: Option<String>,
    /// Proxy password, in plain text (prefer --proxy-password-from).
    #[arg(long, value_name = "PASSWORD")]
    pub proxy_password: Option<String>,
    /// Where to read the proxy password.
    #[arg(long, value_name = "SOURCE")]
    pub proxy_password_from: Option<SecretSource>,
    /// Add an advanced property; fails if the key is already set.
    #[arg(long, value_name = "KEY=VALUE")]
    pub add: Vec<String>,
    /// Add or change an advanced property.
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Add or change an advanced property whose value is read from a source
    /// (e.g. OAuthAccessToken=env:ZUORA_TOKEN).
    #[arg(long, value_name = "KEY=SOURCE")]
    pub set_from: Vec<String>,
}

/// What `edit` can clear.
#[derive(Debug, Args, Default)]
pub struct ClearFields {
    /// Delete one advanced property row.
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,
    /// Delete every advanced property ("Clear All").
    #[arg(long)]
    pub clear_advanced: bool,
    /// Remove the project.
    #[arg(long, conflicts_with = "project")]
    pub no_project: bool,
    /// Remove the stored client secret.
    #[arg(long)]
    pub clear_client_secret: bool,
    /// Remove the stored refresh token.
    #[arg(long)]
    pub clear_refresh_token: bool,
    /// Remove the stored proxy password.
    #[arg(long)]
    pub clear_proxy_password: bool,
}

#[derive(Debug, Subcommand)]
pub enum VariableCommand {
    /// Create or change a variable.
    #[command(
        after_help = "Examples:\n  zbridge variable set region EU\n  zbridge variable set zuora_secret --secret --value-from env:ZUORA_SECRET\n  zbridge variable set host --project Billing rest.eu.zuora.com"
    )]
    Set {
        /// The variable name, used as [name] in connection fields.
        name: String,
        /// The value, in plain text (for a secret, prefer --value-from).
        value: Option<String>,
        /// Where to read the value: env:NAME, stdin, prompt or file:PATH.
        #[arg(long, value_name = "SOURCE")]
        value_from: Option<SecretSource>,
        /// Seal the value and never show it.
        #[arg(long)]
        secret: bool,
        /// Define it for one project (it wins over a global variable of the same name).
        #[arg(long)]
        project: Option<String>,
    },
    /// List variables; secret values are masked.
    List {
        /// Only global variables and this project's.
        #[arg(long)]
        project: Option<String>,
    },
    /// Delete a variable.
    Delete {
        /// The variable name.
        name: String,
        /// The project it belongs to (global when omitted).
        #[arg(long)]
        project: Option<String>,
    },
}

/// Options of `zbridge sim`.
#[derive(Debug, Args)]
#[command(
    after_help = "The simulators follow the public Zuora and Salesforce APIs; /sim/ endpoints (clock, \
mutations, faults, counters) are simulator-only. Point a connection at it with --set URL=<base URL>."
)]
pub struct SimArgs {
    /// Zuora simulator port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Salesforce simulator port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub sf_port: u16,
    /// Seed of the generated tenant and org.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Customer accounts to generate in the Zuora tenant.
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
    /// Zuora fault profile (see crates/zbridge-sim/ZUORA.md).
    #[arg(long, default_value = "none")]
    pub faults: String,
    /// Salesforce fault profile (see crates/zbridge-sim/SALESFORCE.md).
    #[arg(long, default_value = "none")]
    pub sf_faults: String,
    /// Also start a sandbox org with its own org id and users.
    #[arg(long)]
    pub sandbox: bool,
    /// Keep Zuora result files in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Start only one of the two simulators.
    #[arg(long, value_parser = ["zuora", "salesforce"])]
    pub only: Option<String>,
    /// The tenant's clock at start (RFC 3339, e.g. 2026-11-02T17:00:00Z); this machine's time
    /// when not given. The clock then runs with real time (and /sim/clock/advance).
    #[arg(long, value_name = "TIME", value_parser = parse_clock)]
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_clock(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("'{text}' is not an RFC 3339 time like 2026-11-02T17:00:00Z"))
}

const QUERY_HELP: &str = "\
Examples:
  zbridge query Prod --table Account --columns Id,Name,Balance --where \"Status = 'Active'\"
  zbridge query Prod --table Invoice --since 2026-08-01T00:00:00Z --until 2026-09-01T00:00:00Z --format jsonl
  zbridge query Prod --table Account --state account.state.json --output accounts.csv
  zbridge query Prod --sql \"SELECT accountnumber, balance FROM account WHERE balance > 100\"
  zbridge query Prod --table Account --save daily-accounts   # then: zbridge query run daily-accounts

Filters: = != < <= > >= AND OR NOT ( ) IN (...) LIKE 'A%' IS [NOT] NULL, with 'text', numbers,
true/false, DATE '2026-08-01' and TIMESTAMP '2026-08-01T00:00:00Z'. What a service cannot evaluate
is evaluated by zbridge after the download (said on stderr).

--state FILE keeps a bookmark: each run reads [bookmark, now - lag) and moves the bookmark to the
window's end only after every row was written.";

/// Options of `zbridge tables`.
#[derive(Debug, Args)]
pub struct TablesArgs {
    /// The connection.
    pub connection: String,
    /// Ask Zuora again instead of using the cache.
    #[arg(long)]
    pub refresh: bool,
    /// Use this service instead of the connection's.
    #[arg(long, value_name = "dataquery|aqua")]
    pub service: Option<String>,
}

/// Options of `zbridge describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The connection.
    pub connection: String,
    /// The table.
    pub table: String,
    /// Ask Zuora again instead of using the cache.
    #[arg(long)]
    pub refresh: bool,
    /// Use this service instead of the connection's.
    #[arg(long, value_name = "dataquery|aqua")]
    pub service: Option<String>,
}
