//! Benchmark (not a test): Bulk API 2.0 ingest throughput of the Salesforce simulator for a
//! 1,000,000-row upsert of `Zuora__CustomerAccount__c`, over real HTTP on loopback, split into
//! jobs of at most 100 MB as a client must. Runs the upsert twice (all creates, then all
//! updates), downloads the successful results, and reports rows per second and the process's
//! peak resident memory (VmHWM), which includes the client's CSV buffers.
//!
//! `cargo bench -p zbridge-sim --bench salesforce_bulk_ingest` (ROWS=… to change the size).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use zbridge_sim::salesforce::{OrgKind, SalesforceSim, seeded_account_ids};

const MAX_JOB_BYTES: usize = 100 * 1024 * 1024 - 1024 * 1024;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn login_envelope(username: &str, secret: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Body><n1:login xmlns:n1=\"urn:partner.soap.sforce.com\"><n1:username>{}</n1:username><n1:password>{}</n1:password></n1:login></env:Body></env:Envelope>",
        esc(username),
        esc(secret)
    )
}

/// CSV chunks of at most `MAX_JOB_BYTES`, generated on demand.
fn chunks(rows: usize, crm: &[String], pass: u32) -> impl Iterator<Item = (usize, String)> + '_ {
    let header = "Zuora__External_Id__c,Name,Zuora__Account__c,Zuora__Balance__c,Zuora__Status__c,Zuora__Currency__c\n";
    let mut next = 0usize;
    std::iter::from_fn(move || {
        if next >= rows {
            return None;
        }
        let mut csv = String::with_capacity(MAX_JOB_BYTES.min(rows * 120));
        csv.push_str(header);
        let start = next;
        while next < rows && csv.len() < MAX_JOB_BYTES - 256 {
            let _ = writeln!(
                csv,
                "2c92c0f8{next:024x},Customer {next} pass {pass},{},{}.{:02},Active,USD",
                crm[next % crm.len()],
                next % 10_000,
                next % 100
            );
            next += 1;
        }
        Some((next - start, csv))
    })
}

async fn run_pass(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    rows: usize,
    crm: &[String],
    pass: u32,
) -> (Duration, Vec<String>) {
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (n, csv) in chunks(rows, crm, pass) {
        let job: serde_json::Value = http
            .post(format!("{base}/jobs/ingest"))
            .bearer_auth(token)
            .json(&serde_json::json!({"object": "Zuora__CustomerAccount__c", "operation": "upsert", "externalIdFieldName": "Zuora__External_Id__c", "contentType": "CSV", "lineEnding": "LF"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = job["id"].as_str().unwrap().to_string();
        let put = http
            .put(format!("{base}/jobs/ingest/{id}/batches"))
            .bearer_auth(token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
        http.patch(format!("{base}/jobs/ingest/{id}"))
            .bearer_auth(token)
            .json(&serde_json::json!({"state": "UploadComplete"}))
            .send()
            .await
            .unwrap();
        eprintln!("  pass {pass}: job {id} with {n} rows uploaded");
        jobs.push(id);
    }
    for id in &jobs {
        loop {
            let info: serde_json::Value = http
                .get(format!("{base}/jobs/ingest/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match info["state"].as_str() {
                Some("JobComplete") => {
                    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
                    break;
                }
                Some("Failed" | "Aborted") => panic!("job failed: {info}"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    (started.elapsed(), jobs)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: usize = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let sim = SalesforceSim::builder()
        .seed(3)
        .accounts(1000)
        .start()
        .await
        .unwrap();
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let login = http
        .post(format!("{}/services/Soap/u/64.0", sim.login_url()))
        .header("Content-Type", "text/xml")
        .header("SOAPAction", "login")
        .body(login_envelope(
            &admin.username,
            &format!("{}{}", admin.password, admin.security_token),
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = login
        .split("<sessionId>")
        .nth(1)
        .and_then(|s| s.split("</sessionId>").next())
        .unwrap()
        .to_string();
    let base = format!("{}/services/data/v64.0", sim.login_url());
    let crm = seeded_account_ids(3, 1000);
    println!(
        "Salesforce simulator Bulk 2.0 ingest benchmark: {rows} rows, Zuora__CustomerAccount__c upsert"
    );
    let rss_start = peak_rss_mb();
    let (created, first_jobs) = run_pass(&http, &base, &token, rows, &crm, 1).await;
    println!(
        "  create pass: {:>8.2} s  {:>10.0} rows/s",
        created.as_secs_f64(),
        rows as f64 / created.as_secs_f64()
    );
    // A well-behaved client deletes finished jobs; the simulator then frees their uploads.
    for id in &first_jobs {
        let resp = http
            .delete(format!("{base}/jobs/ingest/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }
    let (updated, jobs) = run_pass(&http, &base, &token, rows, &crm, 2).await;
    println!(
        "  update pass: {:>8.2} s  {:>10.0} rows/s",
        updated.as_secs_f64(),
        rows as f64 / updated.as_secs_f64()
    );
    let started = Instant::now();
    let mut result_rows = 0usize;
    for id in &jobs {
        let mut resp = http
            .get(format!("{base}/jobs/ingest/{id}/successfulResults"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        while let Some(chunk) = resp.chunk().await.unwrap() {
            result_rows += chunk.iter().filter(|b| **b == b'\n').count();
        }
    }
    let results = started.elapsed();
    println!(
        "  successfulResults download: {:>8.2} s  {:>10.0} rows/s ({} lines)",
        results.as_secs_f64(),
        result_rows as f64 / results.as_secs_f64(),
        result_rows
    );
    let count: serde_json::Value = http
        .get(format!("{base}/query"))
        .query(&[("q", "SELECT COUNT() FROM Zuora__CustomerAccount__c")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["totalSize"].as_u64(), Some(rows as u64));
    println!(
        "  peak RSS: {:.0} MB (at start {:.0} MB; includes the client's CSV buffers)",
        peak_rss_mb(),
        rss_start
    );
}
