//! `zbridge tables`, `zbridge describe` and `zbridge query` (the Query activity).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zbridge_core::ZuoraService;
use zbridge_store::Store;
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::discovery::CachedDiscovery;
use zbridge_zuora::query::{self, Progress, QuerySpec, Summary};
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

/// What to read; saved as the definition of a saved query.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
struct QueryArgs {
    /// The connection.
    #[arg(required = true)]
    #[serde(skip)]
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
    #[serde(skip)]
    output: OutputArgs,
    /// Save this query under a name (it then needs its connection), instead of running it.
    #[arg(long, value_name = "NAME")]
    #[serde(skip)]
    save: Option<String>,
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

/// The kind under which saved queries are stored.
const COMPONENT_KIND: &str = "query";

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
    match command.saved {
        Some(SavedQueryCommand::Run { name, output }) => run_saved(&name, output).await,
        Some(SavedQueryCommand::List) => list_saved(json).await,
        Some(SavedQueryCommand::Delete { name }) => {
            let store = super::open_store().await?;
            store.delete_component(COMPONENT_KIND, &name).await?;
            eprintln!("Deleted saved query '{name}'.");
            Ok(())
        }
        None => {
            let args = command.args;
            let connection = args
                .connection
                .clone()
                .ok_or_else(|| UsageError("give the connection".into()))?;
            let store = super::open_store().await?;
            match &args.save {
                Some(name) => save(&store, &connection, name, &args).await,
                None => execute(&store, &connection, &args, &args.output).await,
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedQuery {
    connection_id: String,
    query: QueryArgs,
}

async fn save(store: &Store, connection: &str, name: &str, args: &QueryArgs) -> anyhow::Result<()> {
    let record = store.load_connection(connection).await?;
    build_spec(args)?; // a saved query must be runnable
    let definition = serde_json::to_value(SavedQuery {
        connection_id: record.id.clone(),
        query: args.clone(),
    })?;
    store
        .save_component(COMPONENT_KIND, name, &definition, &[record.id])
        .await?;
    eprintln!("Saved query '{name}'; run it with 'zbridge query run {name}'.");
    Ok(())
}

async fn run_saved(name: &str, output: OutputArgs) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let component = store.load_component(COMPONENT_KIND, name).await?;
    let saved: SavedQuery = serde_json::from_value(component.definition)
        .map_err(|e| anyhow::anyhow!("saved query '{name}' cannot be read: {e}"))?;
    let connection = store
        .list_connections()
        .await?
        .into_iter()
        .find(|c| c.id == saved.connection_id)
        .ok_or_else(|| {
            anyhow::anyhow!("the connection of saved query '{name}' no longer exists")
        })?;
    execute(&store, &connection.name, &saved.query, &output).await
}

async fn list_saved(json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    let saved = store.list_components(COMPONENT_KIND).await?;
    if json {
        return output::json(&saved);
    }
    let mut table = output::table(&["Saved query", "Table or text", "Updated"]);
    for component in &saved {
        let what = component.definition["query"]["table"]
            .as_str()
            .or_else(|| component.definition["query"]["sql"].as_str())
            .or_else(|| component.definition["query"]["zoql"].as_str())
            .unwrap_or("");
        table.add_row([
            component.name.as_str(),
            what,
            &component.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn parse_service(text: Option<&str>) -> anyhow::Result<Option<ZuoraService>> {
    Ok(text.map(ZuoraService::parse).transpose()?)
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    zbridge_core::time::parse_datetime(text, Some(chrono::Offset::fix(&Utc)))
        .map_err(|e| UsageError(format!("{flag}: {e}; write e.g. 2026-08-01T00:00:00Z")).into())
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

fn build_spec(args: &QueryArgs) -> anyhow::Result<QuerySpec> {
    Ok(QuerySpec {
        table: args.table.clone().unwrap_or_default(),
        columns: args.columns.clone(),
        filter: args.filter.clone(),
        since: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
        limit: args.limit,
        include_deleted: args.include_deleted,
        cursor: args.cursor.clone(),
    })
}

async fn execute(
    store: &Store,
    connection: &str,
    args: &QueryArgs,
    output: &OutputArgs,
) -> anyhow::Result<()> {
    let format: Format = args.format.parse().map_err(UsageError)?;
    let mut service = parse_service(args.service.as_deref())?;
    if args.sql.is_some() {
        service = Some(ZuoraService::DataQuery);
    }
    if args.zoql.is_some() {
        service = Some(ZuoraService::AQuADataExport);
    }
    let mut spec = build_spec(args)?;
    // A bookmark moves to the window's end; a limit or a raw query could leave rows of the
    // window unread behind it.
    if output.state.is_some() && (args.limit.is_some() || args.sql.is_some() || args.zoql.is_some())
    {
        return Err(UsageError(
            "--state keeps a bookmark over whole windows: it cannot be combined with --limit, --sql or --zoql".into(),
        )
        .into());
    }
    let state = output.state.as_deref().map(State::read).transpose()?;
    if let Some(state) = &state {
        spec.since = spec.since.or(state.bookmark(&spec.table));
        let lag = parse_duration("--lag", &args.lag)?;
        spec.until =
            Some(spec.until.unwrap_or_else(|| {
                Utc::now() - chrono::Duration::from_std(lag).unwrap_or_default()
            }));
    }
    let (client, id) = super::zuora_client_for(store, connection, service).await?;
    let plan = match (&args.sql, &args.zoql) {
        (Some(text), _) | (None, Some(text)) => query::plan_raw(text, client.connection().service),
        (None, None) => {
            let discovery = CachedDiscovery {
                store,
                connection_id: &id,
                refresh: false,
            };
            let schema = discovery.describe(&client, &spec.table).await?;
            query::plan(&spec, &schema, client.connection().service)?
        }
    };
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
