//! `zbridge demo`: a guided tour against the built-in Zuora simulator, in a temporary home, so
//! nothing of the user's is touched. It runs the same store, client and query functions as the
//! other commands and prints what each step did.

use std::sync::Arc;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::value::Value;
use zbridge_core::{ConnectionName, ProjectName, VariableName, ZuoraService};
use zbridge_sim::zuora::ZuoraSim;
use zbridge_store::{Home, Store};
use zbridge_zuora::discovery::CachedDiscovery;
use zbridge_zuora::execute::{self, Params, Procedure};
use zbridge_zuora::query::{self, OutputColumn, Progress, QuerySpec, RecordSink};

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

    let sim = ZuoraSim::builder().seed(7).accounts(300).start().await?;
    step(
        "The Zuora simulator",
        &format!("{} with 300 generated customer accounts", sim.base_url()),
    );

    let project = ProjectName::parse("Demo")?;
    let secret = |s: &str| SecretString::from(s.to_string());
    store
        .set_variable(
            &VariableName::parse("zuora_url")?,
            Some(&project),
            &secret(sim.base_url()),
            false,
        )
        .await?;
    store
        .set_variable(
            &VariableName::parse("zuora_secret")?,
            None,
            &secret(sim.client_secret()),
            true,
        )
        .await?;
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora (simulated)")?);
    def.project = Some(project.clone());
    def.client_id = sim.client_id().into();
    def.client_secret = Some(secret("[zuora_secret]"));
    def.set_advanced("URL", secret("[zuora_url]"))?;
    def.set_advanced("PollInterval", secret("1"))?;
    let record = store.create_connection(&def).await?.value;
    step(
        "A connection with variables",
        "URL = [zuora_url] (project variable), client secret = [zuora_secret] (secret variable)",
    );

    let mut twin = def.clone();
    twin.name = ConnectionName::parse("ZUORA (SIMULATED)")?;
    let refused = store.create_connection(&twin).await;
    step(
        "A duplicate name is refused",
        &refused.err().map(|e| e.to_string()).unwrap_or_default(),
    );

    let client = super::zuora_client(&store, "Zuora (simulated)").await?;
    let checks = zbridge_zuora::test::test_connection(&client).await?;
    let detail: Vec<String> = checks
        .iter()
        .map(|c| format!("{}: {}", c.what, c.detail))
        .collect();
    step("Test", &detail.join("\n    "));

    let discovery = CachedDiscovery {
        store: &store,
        connection_id: &record.id,
        refresh: false,
    };
    let tables = discovery.tables(&client).await?;
    step(
        "Tables through AQuA",
        &format!(
            "{} objects: {}, …",
            tables.len(),
            tables
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    let spec = QuerySpec {
        table: "Account".into(),
        columns: Some(vec![
            "AccountNumber".into(),
            "Name".into(),
            "Status".into(),
            "Balance".into(),
        ]),
        filter: Some("Status = 'Active' AND Balance > 1000".into()),
        limit: Some(5),
        ..Default::default()
    };
    let (rows, notes) = run_query(&client, &discovery, &spec).await?;
    step(
        "A query through AQuA",
        &format!("{notes}Account where Status = 'Active' AND Balance > 1000, first 5:"),
    );
    print_rows(&rows);

    let mut dq_def = record.def.clone();
    dq_def.service = ZuoraService::DataQuery.as_str().into();
    let scope = store.variable_scope(Some(&project)).await?;
    let dq = zbridge_zuora::ZuoraClient::new(
        dq_def.resolve(&scope)?,
        zbridge_zuora::TokenCache::Memory,
    )?;
    let dq_discovery = CachedDiscovery {
        store: &store,
        connection_id: &record.id,
        refresh: false,
    };
    let spec = QuerySpec {
        table: "invoice".into(),
        columns: Some(vec![
            "invoicenumber".into(),
            "status".into(),
            "amount".into(),
            "balance".into(),
        ]),
        filter: Some("status = 'Posted' AND balance > 0 AND invoicenumber LIKE 'INV%1'".into()),
        limit: Some(5),
        ..Default::default()
    };
    let (rows, notes) = run_query(&dq, &dq_discovery, &spec).await?;
    step(
        "A query through Data Query",
        &format!("{notes}posted invoices with a balance, numbers ending in 1:"),
    );
    print_rows(&rows);

    let params = Params::parse(Procedure::CreateRecords, &["type=Account"])?;
    let input = "{\"Name\":\"Demo Co\",\"Currency\":\"USD\",\"BillCycleDay\":1,\"Status\":\"Draft\"}\n{\"Currency\":\"USD\"}\n";
    let (results, summary) =
        execute::run_json_lines(&client, Procedure::CreateRecords, &params, input).await?;
    step(
        "Execute: CreateRecords",
        &format!(
            "{} created, {} refused, one line per input record:",
            summary.succeeded, summary.failed
        ),
    );
    for result in &results {
        let errors: Vec<String> = result
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code.as_deref().unwrap_or("ERROR"), e.message))
            .collect();
        println!(
            "    line {}: {} {}",
            result.line,
            if result.success { "created" } else { "refused" },
            result.id.clone().unwrap_or_else(|| errors.join("; "))
        );
    }

    sim.shutdown().await;
    store.close().await;
    dir.close()?;
    step(
        "Done",
        "the simulator stopped and the temporary home was removed; next: `zbridge sim` and `zbridge connection create --help`",
    );
    Ok(())
}

#[derive(Default)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl RecordSink for Rows {
    fn start(&mut self, columns: &[OutputColumn]) -> std::io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        Ok(())
    }
    fn write(&mut self, row: &[Value]) -> std::io::Result<()> {
        self.rows.push(row.to_vec());
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn run_query(
    client: &zbridge_zuora::ZuoraClient,
    discovery: &CachedDiscovery<'_>,
    spec: &QuerySpec,
) -> anyhow::Result<(Rows, String)> {
    let schema = discovery.describe(client, &spec.table).await?;
    let plan = query::plan(spec, &schema, client.connection().service)?;
    let notes: String = plan.notes.iter().map(|n| format!("({n})\n    ")).collect();
    let mut rows = Rows::default();
    query::run(
        client,
        &plan,
        &mut rows,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await?;
    Ok((rows, notes))
}

fn print_rows(rows: &Rows) {
    let header: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    let mut table = output::table(&header);
    for row in &rows.rows {
        table.add_row(row.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    println!("{table}");
}

fn step(title: &str, detail: &str) {
    println!("==> {title}\n    {detail}");
}
