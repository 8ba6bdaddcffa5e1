//! `zbridge demo`: a guided tour against the built-in Zuora simulator, in a temporary home, so
//! nothing of the user's is touched. It runs the same store, client and query functions as the
//! other commands and prints what each step did.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::value::Value;
use zbridge_core::{ConnectionName, ProjectName, VariableName, ZuoraService};
use zbridge_salesforce::SyncCredentials;
use zbridge_salesforce::credentials::{EndpointFields, PasswordFields};
use zbridge_sim::salesforce::{OrgKind, SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::{Mutation, RunningZuoraSim, ZuoraSim};
use zbridge_store::{Home, ObjectStats, Store};
use zbridge_sync::{Engine, RunRequest};
use zbridge_zuora::discovery::CachedDiscovery;
use zbridge_zuora::execute::{self, Params, Procedure};
use zbridge_zuora::query::{self, OutputColumn, Progress, QuerySpec, RecordSink};

use crate::output;

const SEED: u64 = 7;
const ACCOUNTS: usize = 300;
const PROFILE: &str = "Demo";

/// The 360 sync part of the tour: a Salesforce simulator, sync credentials, a profile, a full
/// sync, changes made in Zuora, an incremental sync, and a summary of both runs.
async fn sync_tour(store: &Store, zuora: &RunningZuoraSim) -> anyhow::Result<()> {
    let salesforce = SalesforceSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .start()
        .await?;
    step(
        "The Salesforce simulator",
        &format!(
            "{} with {ACCOUNTS} Accounts and the Zuora 360 objects",
            salesforce.login_url()
        ),
    );
    let credentials =
        SyncCredentials::new(store.clone(), zbridge_salesforce::service::http_client()?);
    let user = salesforce
        .org(OrgKind::Production)
        .user("admin")
        .context("the simulated org has no admin user")?
        .clone();
    store
        .create_sync_profile(
            PROFILE,
            "Zuora (simulated)",
            serde_json::json!({"lag_secs": 60}),
        )
        .await?;
    credentials
        .save_password(
            PROFILE,
            PasswordFields {
                username: Some(user.username.clone()),
                password: Some(SecretString::from(user.password.clone())),
                security_token: Some(SecretString::from(user.security_token.clone())),
                endpoint: EndpointFields {
                    sandbox: Some(false),
                    login_url: Some(Some(salesforce.login_url())),
                },
            },
        )
        .await?;
    step(
        "Sync credentials and a sync profile",
        &format!(
            "username + password + security token for {} (sealed); profile '{PROFILE}' reads through AQuA",
            user.username
        ),
    );
    let engine = Engine::for_profile(store, &credentials, PROFILE).await?;
    let run = |full: bool| {
        let request = RunRequest {
            profile: PROFILE.into(),
            full,
            ..RunRequest::default()
        };
        let engine = &engine;
        async move { engine.run(&request).await }
    };

    let full = run(true).await?;
    step(
        "A full sync",
        &format!("{}, every object parents first:", full.run.status),
    );
    println!("{}", super::sync::objects_table(&full.objects));

    let updated = zuora.mutate(0, "Account", 5, Mutation::Update)?;
    let cancelled = zuora.mutate(0, "Subscription", 2, Mutation::Cancel)?;
    let gone = zuora.mutate(0, "Account", 1, Mutation::Cancel)?;
    let deleted = zuora.mutate(0, "Payment", 2, Mutation::Delete)?;
    zuora.advance_clock(std::time::Duration::from_secs(600));
    step(
        "Changes in Zuora (through the simulator's control API)",
        &format!(
            "{} accounts edited, {} subscriptions cancelled, {} payments deleted, account {} cancelled (its subtree leaves the org)",
            updated.len(),
            cancelled.len(),
            deleted.len(),
            gone.first().map(String::as_str).unwrap_or("?")
        ),
    );

    let incremental = run(false).await?;
    step(
        "An incremental sync",
        &format!(
            "{}, only what changed in [watermark, now − lag):",
            incremental.run.status
        ),
    );
    println!("{}", super::sync::objects_table(&incremental.objects));
    for failure in store.sync_run_failures(&incremental.run.id).await? {
        println!(
            "    {} {}: {} ({}) {}",
            failure.object,
            failure.external_id,
            failure.code,
            failure.retry_class.replace('_', " "),
            failure.message
        );
    }

    let mut summary = output::table(&[
        "Run",
        "Status",
        "Read",
        "Upserted",
        "Deleted",
        "Failed",
        "API calls",
        "Bulk jobs",
    ]);
    for (name, report) in [("full", &full), ("incremental", &incremental)] {
        let total =
            |f: fn(&ObjectStats) -> i64| report.objects.iter().map(f).sum::<i64>().to_string();
        summary.add_row([
            name.to_string(),
            report.run.status.clone(),
            total(|o| o.read),
            total(|o| o.upserted),
            total(|o| o.deleted),
            total(|o| o.failed),
            total(|o| o.api_calls),
            total(|o| o.bulk_jobs),
        ]);
    }
    let in_org = salesforce
        .records(OrgKind::Production, "Zuora__CustomerAccount__c")
        .map_or(0, |r| r.len());
    step(
        "Summary",
        &format!(
            "{in_org} billing accounts in the org; `zbridge sync history` keeps these per run:"
        ),
    );
    println!("{summary}");
    salesforce.shutdown().await;
    Ok(())
}

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

    let sim = ZuoraSim::builder()
        .seed(SEED)
        .accounts(ACCOUNTS)
        .start_time(chrono::Utc::now())
        // Every generated account names a Salesforce Account of the simulated org.
        .crm_share(1.0)
        .crm_ids(seeded_account_ids(SEED, ACCOUNTS))
        .start()
        .await?;
    step(
        "The Zuora simulator",
        &format!(
            "{} with {ACCOUNTS} generated customer accounts",
            sim.base_url()
        ),
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

    sync_tour(&store, &sim).await?;

    sim.shutdown().await;
    store.close().await;
    dir.close()?;
    step(
        "Done",
        "the simulators stopped and the temporary home was removed; next: `zbridge sim`, `zbridge connection create --help` and `zbridge sync --help`",
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
