//! Upserts a CSV file into Salesforce through zbridge's Bulk API 2.0 loader
//! ([`SalesforceClient::bulk_upsert`]), logging in with Salesforce credentials (SOAP `login()`),
//! and prints one JSON line: rows, seconds, jobs, created/updated/failed counts and the peak
//! RSS of this process. Used by `bench/salesforce_load.sh`; works against any org.
//!
//! ```text
//! SF_PASSWORD=… SF_TOKEN=… cargo run --release -p zbridge-salesforce --example bulk_upsert -- \
//!     --login-url http://127.0.0.1:PORT --username admin@… \
//!     --object Zuora__CustomerAccount__c --external-id Zuora__External_Id__c --csv rows.csv
//! ```
//!
//! The password and security token come from the `SF_PASSWORD` and `SF_TOKEN` environment
//! variables, never from the command line. The timing covers reading the file (the loader's API
//! takes rows in memory) and the load, to the last result file read, as simple-salesforce's
//! `upsert(csv_file=…)` reads its file inside the call.

use std::time::Instant;

use secrecy::SecretString;
use zbridge_salesforce::credentials::{LoginEndpoint, PasswordCredential};
use zbridge_salesforce::{
    Authenticator, ClientOptions, Credential, RecordOutcome, SalesforceClient,
};

struct Args {
    login_url: String,
    username: String,
    object: String,
    external_id: String,
    csv: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut login_url, mut username, mut object, mut external_id, mut csv) =
        (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let slot = match flag.as_str() {
            "--login-url" => &mut login_url,
            "--username" => &mut username,
            "--object" => &mut object,
            "--external-id" => &mut external_id,
            "--csv" => &mut csv,
            other => return Err(format!("unknown argument {other}")),
        };
        *slot = Some(value);
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    Ok(Args {
        login_url: need(login_url, "--login-url")?,
        username: need(username, "--username")?,
        object: need(object, "--object")?,
        external_id: need(external_id, "--external-id")?,
        csv: need(csv, "--csv")?,
    })
}

fn secret_from_env(name: &str) -> Result<SecretString, String> {
    std::env::var(name)
        .map(SecretString::from)
        .map_err(|_| format!("set {name}"))
}

/// A CSV file's header and rows.
type Table = (Vec<String>, Vec<Vec<String>>);

fn read_csv(path: &str) -> Result<Table, Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let columns = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record?.iter().map(str::to_string).collect());
    }
    Ok((columns, rows))
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = parse_args()?;
    let credential = Credential::Password(PasswordCredential {
        username: args.username.clone(),
        password: secret_from_env("SF_PASSWORD")?,
        security_token: secret_from_env("SF_TOKEN")?,
        endpoint: LoginEndpoint {
            sandbox: false,
            login_url: Some(args.login_url.clone()),
        },
    });
    let http = reqwest::Client::builder().no_proxy().build()?;
    let auth = Authenticator::new(http.clone(), credential, "bench");
    let client = SalesforceClient::new(http, auth, ClientOptions::default());

    let started = Instant::now();
    let (columns, rows) = read_csv(&args.csv)?;
    let outcome = client
        .bulk_upsert(&args.object, &args.external_id, &columns, &rows)
        .await?;
    let seconds = started.elapsed().as_secs_f64();

    let (mut created, mut updated, mut failed) = (0u64, 0u64, 0u64);
    for result in &outcome.results {
        match result.outcome {
            RecordOutcome::Created { .. } => created += 1,
            RecordOutcome::Updated { .. } => updated += 1,
            _ => failed += 1,
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "rows": rows.len(),
            "seconds": seconds,
            "jobs": outcome.jobs.len(),
            "created": created,
            "updated": updated,
            "failed": failed,
            "peakRssMb": peak_rss_mb(),
        })
    );
    Ok(())
}
