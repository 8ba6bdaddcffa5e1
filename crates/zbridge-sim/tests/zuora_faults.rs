//! Each named fault profile does what it claims, over real HTTP.

mod zuora_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zbridge_sim::zuora::{
    FaultKind, FaultProfile, FaultRule, PROFILE_NAMES, RunningZuoraSim, Trigger,
};
use zuora_support::*;

async fn with_profile(name: &str) -> (RunningZuoraSim, Client) {
    let sim = small().start().await.unwrap();
    let c = Client::new(&sim).await;
    sim.set_faults(name.parse().unwrap());
    (sim, c)
}

async fn statuses(c: &Client, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            c.get("/v1/describe")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    out
}

/// A completed AQuA job's file id, made before faults are switched on.
async fn aqua_file_id(c: &Client) -> String {
    let job = c
        .aqua(json!({"queries": [{"type": "zoqlexport", "query": "select Id, Name from Account"}]}))
        .await;
    job["batches"][0]["fileId"].as_str().unwrap().to_string()
}

#[test]
fn profile_names_are_all_covered_below() {
    assert_eq!(PROFILE_NAMES.len(), 14);
}

#[tokio::test]
async fn none_injects_nothing() {
    let (_sim, c) = with_profile("none").await;
    assert!(statuses(&c, 10).await.iter().all(|&s| s == 200));
}

#[tokio::test]
async fn rate_limit_throttles_every_third_call_with_retry_after() {
    let (_sim, c) = with_profile("rate-limit").await;
    let mut got = Vec::new();
    for _ in 0..6 {
        let r = c.get("/v1/describe").send().await.unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        got.push(r.status().as_u16());
    }
    assert_eq!(got, [200, 200, 429, 200, 200, 429]);
}

#[tokio::test]
async fn server_errors_rotate_500_502_503() {
    let (_sim, c) = with_profile("server-errors").await;
    assert_eq!(
        statuses(&c, 9).await,
        [200, 200, 500, 200, 200, 502, 200, 200, 503]
    );
}

#[tokio::test]
async fn gateway_timeout_answers_504() {
    let (_sim, c) = with_profile("gateway-timeout").await;
    let got = statuses(&c, 8).await;
    assert_eq!(got, [200, 200, 200, 504, 200, 200, 200, 504]);
}

#[tokio::test]
async fn revoked_token_forces_a_new_token() {
    let (sim, mut c) = with_profile("revoked-token").await;
    let got = statuses(&c, 6).await;
    assert_eq!(&got[..5], [200, 200, 200, 200, 401]);
    assert_eq!(got[5], 401, "the revoked token stays revoked");
    c.token = token(&sim).await;
    assert_eq!(c.get("/v1/describe").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn connection_reset_breaks_every_second_download() {
    let (sim, c) = with_profile("none").await;
    let id = aqua_file_id(&c).await;
    sim.set_faults("connection-reset".parse().unwrap());
    let first = c
        .get(&format!("/v1/files/{id}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert!(first.is_ok());
    // The reset comes mid-body; with a small file it can even beat the response head.
    let second = match c.get(&format!("/v1/files/{id}")).send().await {
        Ok(r) => r.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(second, "the body is cut by a reset");
}

#[tokio::test]
async fn slow_body_trickles_but_completes() {
    let (sim, c) = with_profile("none").await;
    let id = aqua_file_id(&c).await;
    let fast = c.file(&id).await;
    sim.set_faults("slow-body".parse().unwrap());
    let started = Instant::now();
    let slow = c.file(&id).await;
    assert_eq!(slow, fast);
    assert!(started.elapsed() >= Duration::from_millis(20));
}

#[tokio::test]
async fn truncated_file_cuts_a_row_in_half() {
    let (sim, c) = with_profile("none").await;
    let id = aqua_file_id(&c).await;
    let whole = c.file(&id).await;
    sim.set_faults("truncated-file".parse().unwrap());
    let _ = c.file(&id).await;
    let cut = c.file(&id).await;
    assert!(cut.len() < whole.len() && whole.starts_with(&cut));
    assert!(!cut.ends_with('\n'), "the cut falls inside a row");
}

#[tokio::test]
async fn purged_file_answers_404() {
    let (sim, c) = with_profile("none").await;
    let id = aqua_file_id(&c).await;
    sim.set_faults("purged-file".parse().unwrap());
    assert_eq!(
        c.get(&format!("/v1/files/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Without the fault, files are purged by age: three days of tenant time.
    sim.set_faults(FaultProfile::none());
    assert_eq!(
        c.get(&format!("/v1/files/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sim.advance_clock(Duration::from_secs(3 * 86_400 + 60));
    c_refresh_and_expect_404(&sim, &id).await;
}

async fn c_refresh_and_expect_404(sim: &RunningZuoraSim, id: &str) {
    let c = Client::new(sim).await;
    assert_eq!(
        c.get(&format!("/v1/file/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn file_too_large_answers_403_max_object_size() {
    let (sim, c) = with_profile("none").await;
    let id = aqua_file_id(&c).await;
    sim.set_faults("file-too-large".parse().unwrap());
    let r = c.get(&format!("/v1/files/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("max-object-size"));
}

#[tokio::test]
async fn job_failure_fails_every_second_job() {
    let (_sim, c) = with_profile("job-failure").await;
    let a = c
        .aqua(json!({"queries": [{"type": "zoql", "query": "select Id from Account"}]}))
        .await;
    let b = c
        .aqua(json!({"queries": [{"type": "zoql", "query": "select Id from Account"}]}))
        .await;
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("completed"), Some("failed"))
    );
    let d1 = c.data_query(csv_job("select id from account")).await;
    let d2 = c.data_query(csv_job("select id from account")).await;
    // The schedule counts the jobs of both services: the fourth job fails.
    assert_eq!(d1["queryStatus"], "completed");
    assert_eq!(d2["queryStatus"], "failed");
    assert!(d2["errorMessage"].is_string());
}

#[tokio::test]
async fn job_abort_aborts_with_a_transient_batch_message() {
    let (_sim, c) = with_profile("job-abort").await;
    let _ = c
        .aqua(json!({"queries": [{"type": "zoql", "query": "select Id from Account"}]}))
        .await;
    let aborted = c
        .aqua(json!({"queries": [{"type": "zoql", "query": "select Id from Account"}]}))
        .await;
    assert_eq!(aborted["status"], "aborted");
    assert!(
        aborted["batches"][0]["message"]
            .as_str()
            .unwrap()
            .contains("LINK_30000007")
    );
}

#[tokio::test]
async fn slow_jobs_stay_running() {
    let (_sim, c) = with_profile("slow-jobs").await;
    let submitted = c
        .json(c.post(
            "/v1/batch-query/",
            &json!({"queries": [{"type": "zoql", "query": "select Id from Account"}]}),
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = c
        .json(c.get(&format!(
            "/v1/batch-query/jobs/{}",
            submitted["id"].as_str().unwrap()
        )))
        .await;
    assert_eq!(job["status"], "executing");
}

#[tokio::test]
async fn chaos_injects_a_mix_reproducibly() {
    let run = || async {
        let (sim, mut c) = with_profile("chaos").await;
        let mut got = Vec::new();
        for _ in 0..200 {
            let s = c
                .get("/v1/describe")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if s == 401 {
                // A revoked token: mint a new one, as a careful client does.
                c.token = token(&sim).await;
            }
            got.push(s);
        }
        got
    };
    let (a, b) = (run().await, run().await);
    assert_eq!(a, b, "the same seed gives the same faults");
    assert!(a.iter().filter(|&&s| s != 200).count() > 3);
    assert!(a.iter().filter(|&&s| s == 200).count() > 150);
}

#[tokio::test]
async fn custom_rules_by_schedule_and_endpoint() {
    let (sim, c) = with_profile("none").await;
    sim.set_faults(FaultProfile {
        name: "custom".into(),
        rules: vec![FaultRule {
            endpoint: "dq.submit".into(),
            fault: FaultKind::Status {
                statuses: vec![503],
            },
            trigger: Trigger::Calls { calls: vec![2] },
        }],
    });
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                c.post("/query/jobs", &csv_job("select id from account"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        v
    };
    assert_eq!(codes, [200, 503, 200]);
    assert_eq!(
        statuses(&c, 3).await,
        [200, 200, 200],
        "other endpoints are untouched"
    );
    let http = http();
    let put = http
        .put(format!("{}/sim/faults", sim.base_url()))
        .json(&json!({"rules": [{"endpoint": "describe.*", "fault": {"type": "status", "statuses": [500]}, "trigger": {"type": "always"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(statuses(&c, 2).await, [500, 500]);
    let current: Value = http
        .get(format!("{}/sim/faults", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["name"], "custom");
}
