//! Benchmark (not a test): a Bulk API 2.0 query job reading 1,000,000 Account records out of
//! the Salesforce simulator over real HTTP on loopback, page by page (`maxRecords`, following
//! `Sforce-Locator`), the way a verify or an export reads a large object. The client streams each
//! page and keeps nothing, so the peak resident memory (VmHWM) reported against the figure after
//! seeding is the simulator's cost of the job and its pages.
//!
//! `cargo bench -p zbridge-sim --bench salesforce_bulk_query` (ROWS=…, PAGE=… to change sizes).

use std::time::{Duration, Instant};

use zbridge_sim::salesforce::{OrgKind, SalesforceSim};

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

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn session(
    http: &reqwest::Client,
    login: &str,
    user: &zbridge_sim::salesforce::SimUser,
) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Body><n1:login xmlns:n1=\"urn:partner.soap.sforce.com\"><n1:username>{}</n1:username><n1:password>{}{}</n1:password></n1:login></env:Body></env:Envelope>",
        esc(&user.username),
        esc(&user.password),
        esc(&user.security_token)
    );
    let body = http
        .post(format!("{login}/services/Soap/u/64.0"))
        .header("Content-Type", "text/xml")
        .header("SOAPAction", "login")
        .body(envelope)
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("login body");
    let start = body.find("<sessionId>").expect("sessionId") + "<sessionId>".len();
    let end = body[start..].find("</sessionId>").expect("sessionId end") + start;
    body[start..end].to_string()
}

/// Creates the job and polls it to `JobComplete`; returns its id.
async fn run_job(http: &reqwest::Client, base: &str, token: &str, soql: &str) -> String {
    let job: serde_json::Value = http
        .post(format!("{base}/jobs/query"))
        .bearer_auth(token)
        .json(&serde_json::json!({"operation": "query", "query": soql}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("create body");
    let id = job["id"].as_str().expect("job id").to_string();
    loop {
        let info: serde_json::Value = http
            .get(format!("{base}/jobs/query/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("poll body");
        match info["state"].as_str() {
            Some("JobComplete") => return id,
            Some("Failed" | "Aborted") => panic!("job ended {info}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Reads every page, streaming; returns (rows, pages, bytes).
async fn download(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    page: usize,
) -> (usize, usize, usize) {
    let (mut rows, mut pages, mut bytes) = (0usize, 0usize, 0usize);
    let mut locator: Option<String> = None;
    loop {
        let mut req = http
            .get(format!("{base}/jobs/query/{id}/results"))
            .bearer_auth(token)
            .query(&[("maxRecords", page.to_string())]);
        if let Some(l) = &locator {
            req = req.query(&[("locator", l)]);
        }
        let mut resp = req.send().await.expect("results");
        let count: usize = resp.headers()["sforce-numberofrecords"]
            .to_str()
            .expect("count")
            .parse()
            .expect("count number");
        let next = resp.headers()["sforce-locator"]
            .to_str()
            .expect("locator")
            .to_string();
        let mut lines = 0usize;
        while let Some(chunk) = resp.chunk().await.expect("chunk") {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        assert_eq!(lines, count + 1, "header + rows");
        rows += count;
        pages += 1;
        if next == "null" {
            return (rows, pages, bytes);
        }
        locator = Some(next);
    }
}

#[tokio::main]
async fn main() {
    let rows = env_usize("ROWS", 1_000_000);
    let page = env_usize("PAGE", 100_000);
    let seeding = Instant::now();
    let sim = SalesforceSim::builder()
        .seed(3)
        .accounts(rows)
        .daily_api_allocation(10_000_000)
        .start()
        .await
        .expect("sim");
    let seeded = seeding.elapsed();
    let rss_seeded = peak_rss_mb();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let user = sim
        .org(OrgKind::Production)
        .user("admin")
        .expect("admin")
        .clone();
    let token = session(&http, &sim.login_url(), &user).await;
    let base = format!("{}/services/data/v64.0", sim.login_url());
    let soql = "SELECT Id, Name, AccountNumber, CreatedDate FROM Account";
    let started = Instant::now();
    let id = run_job(&http, &base, &token, soql).await;
    let job_time = started.elapsed();
    let started = Instant::now();
    let (read, pages, bytes) = download(&http, &base, &token, &id, page).await;
    let read_time = started.elapsed();
    assert_eq!(read, rows);
    println!("Bulk API 2.0 query of {rows} Account records (maxRecords={page})");
    println!("  seeding: {:.1} s", seeded.as_secs_f64());
    println!(
        "  job (create → JobComplete): {:.2} s",
        job_time.as_secs_f64()
    );
    println!(
        "  results: {pages} pages, {:.0} MB, {:.2} s, {:.0} rows/s",
        bytes as f64 / 1_048_576.0,
        read_time.as_secs_f64(),
        read as f64 / read_time.as_secs_f64()
    );
    println!(
        "  peak RSS: {:.0} MB (after seeding {:.0} MB)",
        peak_rss_mb(),
        rss_seeded
    );
    sim.shutdown().await;
}
