//! Helpers shared by the Zuora simulator's integration tests: a small HTTP client that talks to
//! the simulator over real loopback HTTP, exactly as any Zuora client would.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim, ZuoraSimBuilder};

/// A small tenant, quick to generate.
pub fn small() -> ZuoraSimBuilder {
    ZuoraSim::builder()
        .seed(7)
        .accounts(60)
        .job_delay(Duration::from_millis(5))
}

/// A client with a token.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn token(sim: &RunningZuoraSim) -> String {
    let resp = http()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(&[
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

impl Client {
    pub async fn new(sim: &RunningZuoraSim) -> Client {
        Client {
            http: http(),
            base: sim.base_url().to_string(),
            token: token(sim).await,
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
    }

    pub async fn json(&self, req: reqwest::RequestBuilder) -> Value {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}, not JSON: {text}"))
    }

    /// Submits a Data Query job and waits for a terminal status.
    pub async fn data_query(&self, body: Value) -> Value {
        let submitted = self.json(self.post("/query/jobs", &body)).await;
        let id = submitted["data"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{submitted}"))
            .to_string();
        self.wait_dq(&id).await
    }

    pub async fn wait_dq(&self, id: &str) -> Value {
        for _ in 0..400 {
            let job = self.json(self.get(&format!("/query/jobs/{id}"))).await;
            let status = job["data"]["queryStatus"].as_str().unwrap().to_string();
            if ["completed", "failed", "cancelled"].contains(&status.as_str()) {
                return job["data"].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("Data Query job {id} did not finish");
    }

    /// Submits an AQuA job and waits for a terminal status.
    pub async fn aqua(&self, body: Value) -> Value {
        let submitted = self.json(self.post("/v1/batch-query/", &body)).await;
        let id = submitted["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{submitted}"))
            .to_string();
        self.wait_aqua(&id).await
    }

    pub async fn wait_aqua(&self, id: &str) -> Value {
        for _ in 0..400 {
            let job = self
                .json(self.get(&format!("/v1/batch-query/jobs/{id}")))
                .await;
            let status = job["status"].as_str().unwrap().to_string();
            if ["completed", "aborted", "failed", "cancelled", "error"].contains(&status.as_str()) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("AQuA job {id} did not finish");
    }

    pub async fn file(&self, id: &str) -> String {
        let resp = self.get(&format!("/v1/files/{id}")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }
}

/// Parses CSV text with a real CSV parser (quoted newlines included).
pub fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (headers, rows)
}

pub fn csv_job(query: &str) -> Value {
    json!({"query": query, "outputFormat": "CSV", "compression": "NONE", "output": {"target": "S3"}})
}
