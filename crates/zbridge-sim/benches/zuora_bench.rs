//! Zuora simulator benchmark (not a test): how long generating a 100k-account tenant takes, how
//! fast a 1M-row result file is served on loopback, and the process's peak memory.
//!
//! `cargo bench -p zbridge-sim --bench zuora_bench` (set `ZUORA_BENCH_ACCOUNTS` to change the
//! tenant size; the file-serving part needs at least 1M rows in one object).

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use zbridge_sim::zuora::ZuoraSim;
use zbridge_sim::zuora::generate::{GenConfig, generate};
use zbridge_sim::zuora::store::{IdCodec, Store};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let accounts: usize = std::env::var("ZUORA_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);

    // 1. Generation.
    let mut store = Store::new(IdCodec::new(0x2c92_0000, 0));
    let started = Instant::now();
    let rows = generate(
        &mut store,
        &GenConfig {
            seed: 42,
            accounts,
            crm_share: 0.8,
            now_ms: 1_793_552_400_000,
            number_offset: 0,
            multiline_text: true,
        },
    );
    let gen_time = started.elapsed();
    println!(
        "generate: {accounts} accounts, {rows} rows in {:.2} s ({:.0} rows/s)",
        gen_time.as_secs_f64(),
        rows as f64 / gen_time.as_secs_f64()
    );
    for (name, n) in store.counts() {
        println!("  {name:28} {n:>10}");
    }
    let (big, big_rows) = store
        .counts()
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .unwrap_or(("Account", 0));
    drop(store);
    println!("peak RSS after generation: {:.0} MB", peak_rss_mb());

    // 2. Serving a 1M-row file over loopback.
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // Enough accounts that the largest object holds at least 1M rows.
    let serve_accounts = if big_rows >= 1_000_000 {
        accounts
    } else {
        accounts * 1_030_000 / big_rows.max(1) + 1
    };
    runtime.block_on(async {
        let sim = ZuoraSim::builder()
            .seed(42)
            .accounts(serve_accounts)
            .segment_size(usize::MAX / 2)
            .job_delay(Duration::ZERO)
            .start()
            .await
            .expect("simulator starts");
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let token: Value = http
            .post(format!("{}/oauth/token", sim.base_url()))
            .form(&[("client_id", sim.client_id()), ("client_secret", sim.client_secret()), ("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        let token = token["access_token"].as_str().unwrap_or_default().to_string();
        let limit = 1_000_000;
        let query = format!("select * from {big} limit {limit}");
        let started = Instant::now();
        let job: Value = http
            .post(format!("{}/v1/batch-query/", sim.base_url()))
            .bearer_auth(&token)
            .json(&json!({"format": "csv", "useQueryLabels": "true", "queries": [{"type": "zoqlexport", "query": query}]}))
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("submit json");
        let id = job["id"].as_str().unwrap_or_default().to_string();
        let done = loop {
            let j: Value = http
                .get(format!("{}/v1/batch-query/jobs/{id}", sim.base_url()))
                .bearer_auth(&token)
                .send()
                .await
                .expect("poll")
                .json()
                .await
                .expect("poll json");
            if j["status"] != "submitted" && j["status"] != "executing" {
                break j;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let job_time = started.elapsed();
        let records = done["batches"][0]["recordCount"].as_u64().unwrap_or(0);
        println!("AQuA job `{query}`: {records} rows written in {:.2} s", job_time.as_secs_f64());
        let file = done["batches"][0]["fileId"].as_str().unwrap_or_default().to_string();
        let mut best = 0.0f64;
        let mut bytes = 0u64;
        for _ in 0..3 {
            let started = Instant::now();
            let resp = http.get(format!("{}/v1/files/{file}", sim.base_url())).bearer_auth(&token).send().await.expect("download");
            let mut stream = resp.bytes_stream();
            bytes = 0;
            while let Some(chunk) = stream.next().await {
                bytes += chunk.expect("chunk").len() as u64;
            }
            let rate = bytes as f64 / 1_048_576.0 / started.elapsed().as_secs_f64();
            best = best.max(rate);
        }
        println!("served {:.1} MB ({records} rows) at {best:.0} MB/s (best of 3, loopback)", bytes as f64 / 1_048_576.0);
        sim.shutdown().await;
    });
    println!("peak RSS (whole run): {:.0} MB", peak_rss_mb());
}
