//! `zbridge tables`, `zbridge describe` and `zbridge query` (the Query activity).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zbridge_core::{ValidationError, ZuoraService};
use zbridge_store::Store;
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::discovery::CachedDiscovery;
use zbridge_zuora::query::{self, Progress, Summary};
use zbridge_zuora::saved::{self, SavedQueryError, SavedQuerySpec};
use zbridge_zuora::sink::{self, Format};

use crate::cli::{DescribeArgs, TablesArgs};
use crate::exit::UsageError;
use crate::output;

/// `zbridge query …`: a query given by flags, or a saved query's subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct QueryCommand {
    #[command(subcommand)]
    saved: Option<SavedQueryCommand>,
    #[command(flatten)]
    args: QueryArgs,
}

#[derive(Debug, Subcommand)]
enum SavedQueryCommand {
    /// Run a query saved with --save.
    Run {
        /// The saved query.
        name: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List saved queries.
    List,
    /// Delete a saved query.
    Delete {
        /// The saved query.
        name: String,
    },
}

/// What to read; `--save` stores it as a saved query ([`QueryArgs::spec`]).
#[derive(Debug, Clone, Args)]
struct QueryArgs {
    /// The connection.
    #[arg(required = true)]
    connection: Option<String>,
    /// The table (Zuora object) to read.
    #[arg(long, required_unless_present_any = ["sql", "zoql"])]
    table: Option<String>,
    /// Output columns, comma-separated (API names); every exportable field by default.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A filter expression.
    #[arg(long = "where", value_name = "EXPR")]
    filter: Option<String>,
    /// Window start (inclusive), e.g. 2026-08-01T00:00:00Z.
    #[arg(long, value_name = "TIMESTAMP")]
    since: Option<String>,
    /// Window end (exclusive).
    #[arg(long, value_name = "TIMESTAMP")]
    until: Option<String>,
    /// The field the window applies to (default UpdatedDate).
    #[arg(long, value_name = "FIELD")]
    cursor: Option<String>,
    /// At most this many rows.
    #[arg(long)]
    limit: Option<u64>,
    /// Include deleted rows, with a `deleted` column (Data Query).
    #[arg(long)]
    include_deleted: bool,
    /// Read through this service instead of the connection's.
    #[arg(long, value_name = "dataquery|aqua")]
    service: Option<String>,
    /// Run this Data Query SQL as written.
    #[arg(long, conflicts_with_all = ["table", "zoql", "filter", "columns"])]
    sql: Option<String>,
    /// Run this Export ZOQL as written (AQuA).
    #[arg(long, conflicts_with_all = ["table", "sql", "filter", "columns"])]
    zoql: Option<String>,
    /// csv, jsonl, json or singer.
    #[arg(long, default_value = "csv")]
    format: String,
    /// With --state: the window ends this long before now (Zuora's export index lags).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    lag: String,
    #[command(flatten)]
    output: OutputArgs,
    /// Save this query under a name (it then needs its connection), instead of running it.
    #[arg(long, value_name = "NAME")]
    save: Option<String>,
}

impl QueryArgs {
    /// The query the flags describe, in the form saved queries keep (the web UI and the API
    /// run the same form).
    fn spec(&self) -> SavedQuerySpec {
        SavedQuerySpec {
            table: self.table.clone(),
            columns: self.columns.clone(),
            filter: self.filter.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            cursor: self.cursor.clone(),
            limit: self.limit,
            include_deleted: self.include_deleted,
            service: self.service.clone(),
            sql: self.sql.clone(),
            zoql: self.zoql.clone(),
            format: self.format.clone(),
            lag: self.lag.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
struct OutputArgs {
    /// Write to this file (replaced only when the query succeeds) instead of stdout.
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    /// A bookmark file: read [bookmark, now - lag) and advance it after everything was written.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

pub async fn tables(args: TablesArgs, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let service = parse_service(args.service.as_deref())?;
    let (client, id) = super::zuora_client_for(&store, &args.connection, service).await?;
    let discovery = CachedDiscovery {
        store: &store,
        connection_id: &id,
        refresh: args.refresh,
    };
    let tables = discovery.tables(&client).await?;
    if json {
        return output::json(&tables);
    }
    for table in &tables {
        println!("{table}");
    }
    eprintln!(
        "{} tables through {}.",
        tables.len(),
        client.connection().service
    );
    Ok(())
}

pub async fn describe(args: DescribeArgs, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let service = parse_service(args.service.as_deref())?;
    let (client, id) = super::zuora_client_for(&store, &args.connection, service).await?;
    let discovery = CachedDiscovery {
        store: &store,
        connection_id: &id,
        refresh: args.refresh,
    };
    let schema = discovery.describe(&client, &args.table).await?;
    if json {
        return output::json(&schema);
    }
    let mut table = output::table(&["Field", "Type", "Filterable", "Exportable", "Label"]);
    let yes = |b: bool| if b { "yes" } else { "no" };
    for field in &schema.fields {
        table.add_row([
            field.name.as_str(),
            &field.field_type.name(),
            yes(field.filterable),
            yes(field.exportable),
            &field.label,
        ]);
    }
    println!("{table}");
    for related in &schema.related {
        println!("joined: {} ({})", related.name, related.target);
    }
    Ok(())
}

pub async fn run(command: QueryCommand, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    match command.saved {
        Some(SavedQueryCommand::Run { name, output }) => {
            let found = saved::load(&store, &name).await.map_err(cli_error)?;
            let connection = found.connection.as_deref().ok_or_else(|| {
                cli_error(SavedQueryError::ConnectionGone {
                    name: found.name.clone(),
                })
            })?;
            execute(&store, connection, &found.query, &output).await
        }
        Some(SavedQueryCommand::List) => list_saved(&store, json).await,
        Some(SavedQueryCommand::Delete { name }) => {
            saved::delete(&store, &name).await.map_err(cli_error)?;
            eprintln!("Deleted saved query '{name}'.");
            Ok(())
        }
        None => {
            let args = command.args;
            let connection = args
                .connection
                .as_deref()
                .ok_or_else(|| UsageError("give the connection".into()))?;
            match &args.save {
                Some(name) => {
                    let record = store.load_connection(connection).await?;
                    let saved = saved::save(&store, name, &record, args.spec())
                        .await
                        .map_err(cli_error)?;
                    eprintln!(
                        "Saved query '{0}'; run it with 'zbridge query run {0}'.",
                        saved.name
                    );
                    Ok(())
                }
                None => execute(&store, connection, &args.spec(), &args.output).await,
            }
        }
    }
}

async fn list_saved(store: &Store, json: bool) -> anyhow::Result<()> {
    let queries = saved::list(store).await.map_err(cli_error)?;
    if json {
        return output::json(&queries);
    }
    let mut table = output::table(&["Saved query", "Table or text", "Updated"]);
    for q in &queries {
        table.add_row([
            q.name.as_str(),
            q.query.reads(),
            &q.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// The saved-query service's error, unwrapped so that the exit code sees the input, store or
/// Zuora error inside it.
fn cli_error(error: SavedQueryError) -> anyhow::Error {
    match error {
        SavedQueryError::Invalid(e) => flag_named(e).into(),
        SavedQueryError::Store(e) => e.into(),
        SavedQueryError::Zuora(e) => e.into(),
        other => other.into(),
    }
}

/// A rule broken by a query, named by the flag that sets the field (the service names the
/// fields of the Query page).
fn flag_named(mut error: ValidationError) -> ValidationError {
    let flag = match error.field.as_str() {
        "Table" => "--table",
        "Filter" => "--where",
        "Since" => "--since",
        "Until" => "--until",
        "SQL" => "--sql",
        "ZOQL" => "--zoql",
        _ => return error,
    };
    error.field = flag.into();
    error
}

/// [`flag_named`] for a rule found while planning (an unknown table, an unknown column).
fn flag_named_zuora(error: zbridge_zuora::ZuoraError) -> zbridge_zuora::ZuoraError {
    match error {
        zbridge_zuora::ZuoraError::Config(rule) => {
            zbridge_zuora::ZuoraError::Config(flag_named(rule))
        }
        other => other,
    }
}

fn parse_service(text: Option<&str>) -> anyhow::Result<Option<ZuoraService>> {
    Ok(text.map(ZuoraService::parse).transpose()?)
}

fn parse_duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        UsageError(format!(
            "{flag}: '{text}' is not a duration like 30s, 5m or 2h"
        ))
    })?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => {
            return Err(UsageError(format!(
                "{flag}: '{text}' is not a duration like 30s, 5m or 2h"
            ))
            .into());
        }
    };
    Ok(Duration::from_secs(seconds))
}

async fn execute(
    store: &Store,
    connection: &str,
    query: &SavedQuerySpec,
    output: &OutputArgs,
) -> anyhow::Result<()> {
    let format: Format = query.format.parse().map_err(UsageError)?;
    let mut spec = query.to_spec().map_err(flag_named)?;
    // A bookmark moves to the window's end; a limit or a raw query could leave rows of the
    // window unread behind it.
    if output.state.is_some() && (query.limit.is_some() || query.raw_text().is_some()) {
        return Err(UsageError(
            "--state keeps a bookmark over whole windows: it cannot be combined with --limit, --sql or --zoql".into(),
        )
        .into());
    }
    let state = output.state.as_deref().map(State::read).transpose()?;
    output::check_writable_path("--output", output.output.as_deref())?;
    output::check_writable_path("--state", output.state.as_deref())?;
    let lag = parse_duration("--lag", &query.lag)?;
    let service = query.service_override().map_err(flag_named)?;
    let (client, id) = super::zuora_client_for(store, connection, service).await?;
    if let Some(state) = &state {
        spec.since = spec.since.or(state.bookmark(&spec.table));
        if spec.until.is_none() {
            // The bookmark's window ends on Zuora's clock: one ahead of Zuora's on this
            // machine would move it past changes Zuora has not stamped yet.
            let time = zbridge_zuora::clock::zuora_time(&client).await?;
            if let Some(warning) = time.warning() {
                eprintln!("warning: {warning}");
            }
            spec.until = Some(time.now - chrono::Duration::from_std(lag).unwrap_or_default());
        }
    }
    let plan = query
        .plan_spec(&spec, store, &id, &client)
        .await
        .map_err(flag_named_zuora)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let summary = stream(&client, &plan, format, output.output.as_deref()).await?;
    if let (Some(path), Some(mut state), Some(until)) = (output.state.as_deref(), state, spec.until)
    {
        state.advance(
            &spec.table,
            plan.cursor.as_deref().unwrap_or("UpdatedDate"),
            until,
        );
        state.write(path)?;
    }

    eprintln!(
        "{} rows written ({} jobs{}{}).",
        summary.rows,
        summary.jobs,
        if summary.filtered_out > 0 {
            format!(", {} dropped by the local filter", summary.filtered_out)
        } else {
            String::new()
        },
        if summary.redownloads > 0 {
            format!(", {} downloads repeated", summary.redownloads)
        } else {
            String::new()
        },
    );
    Ok(())
}

/// Runs the plan into the chosen output, with a progress line on a terminal and Ctrl-C
/// cancelling the remote job.
async fn stream(
    client: &ZuoraClient,
    plan: &query::Plan,
    format: Format,
    path: Option<&Path>,
) -> anyhow::Result<Summary> {
    let partial = path.map(|p| {
        p.with_extension(format!(
            "{}partial",
            p.extension()
                .map(|e| format!("{}.", e.to_string_lossy()))
                .unwrap_or_default()
        ))
    });
    let writer: Box<dyn Write + Send> = match &partial {
        Some(partial) => Box::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::fs::File::create(partial)?,
        )),
        None => Box::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::io::stdout(),
        )),
    };
    let key = plan
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case("id"))
        .map(|c| c.name.clone());
    let mut sink = sink::sink(format, writer, &plan.table, key.as_deref());
    let progress = Arc::new(Progress::default());
    let cancel = CancellationToken::new();
    let interrupt = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nCancelling: the remote job is being cancelled.");
                cancel.cancel();
            }
        })
    };
    let display = ProgressDisplay::start(progress.clone());
    let result = query::run(client, plan, sink.as_mut(), progress, cancel).await;
    display.stop();
    interrupt.abort();
    drop(sink);
    match (result, partial, path) {
        (Ok(summary), Some(partial), Some(path)) => {
            std::fs::rename(&partial, path)?;
            Ok(summary)
        }
        (Ok(summary), _, _) => Ok(summary),
        (Err(error), partial, _) => {
            if let Some(partial) = partial {
                let _ = std::fs::remove_file(partial);
            }
            Err(error.into())
        }
    }
}

/// A spinner with the job status and the rows written, on a terminal only.
struct ProgressDisplay {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressDisplay {
    fn start(progress: Arc<Progress>) -> Self {
        if !std::io::stderr().is_terminal() {
            return ProgressDisplay {
                task: None,
                bar: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let status = progress
                    .status
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                let rows = progress.rows.load(std::sync::atomic::Ordering::Relaxed);
                shown.set_message(format!("{status} · {rows} rows"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        ProgressDisplay {
            task: Some(task),
            bar: Some(bar),
        }
    }

    fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The bookmark file of `--state`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    bookmarks: std::collections::BTreeMap<String, Bookmark>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Bookmark {
    cursor: String,
    value: DateTime<Utc>,
}

impl State {
    fn read(path: &Path) -> anyhow::Result<State> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                UsageError(format!(
                    "--state {}: not a zbridge state file: {e}",
                    path.display()
                ))
                .into()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(UsageError(format!("--state {}: {e}", path.display())).into()),
        }
    }

    fn bookmark(&self, table: &str) -> Option<DateTime<Utc>> {
        self.bookmarks.get(&table.to_lowercase()).map(|b| b.value)
    }

    /// Moves the bookmark forward only (a window that ended earlier never lowers it).
    fn advance(&mut self, table: &str, cursor: &str, until: DateTime<Utc>) {
        let entry = self
            .bookmarks
            .entry(table.to_lowercase())
            .or_insert(Bookmark {
                cursor: cursor.to_string(),
                value: until,
            });
        if until > entry.value {
            entry.value = until;
        }
    }

    /// Replaces the file atomically.
    fn write(&self, path: &Path) -> anyhow::Result<()> {
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temp, path)?;
        Ok(())
    }
}
