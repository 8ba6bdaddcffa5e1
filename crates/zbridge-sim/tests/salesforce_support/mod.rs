//! Helpers shared by the Salesforce simulator's integration tests: start a simulator, log in,
//! and call it over real HTTP on loopback.
#![allow(dead_code)]

use std::time::Duration;

use zbridge_sim::salesforce::{
    OrgKind, RunningSalesforceSim, SalesforceSim, SalesforceSimBuilder, SimUser,
};

pub const VERSION: &str = "v64.0";

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn start() -> RunningSalesforceSim {
    SalesforceSim::builder().seed(7).start().await.unwrap()
}

pub async fn start_with(b: SalesforceSimBuilder) -> RunningSalesforceSim {
    b.start().await.unwrap()
}

pub fn user(sim: &RunningSalesforceSim, login: &str) -> SimUser {
    sim.org(OrgKind::Production).user(login).unwrap().clone()
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SOAP login envelope from salesforce-api.md §2.1.
pub fn login_envelope(username: &str, password_and_token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body>
    <n1:login xmlns:n1="urn:partner.soap.sforce.com">
      <n1:username>{}</n1:username>
      <n1:password>{}</n1:password>
    </n1:login>
  </env:Body>
</env:Envelope>"#,
        xml_escape(username),
        xml_escape(password_and_token)
    )
}

pub async fn soap_login_raw(
    base: &str,
    version: &str,
    username: &str,
    secret: &str,
) -> (u16, String) {
    let resp = client()
        .post(format!("{base}/services/Soap/u/{version}"))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(login_envelope(username, secret))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_string())
}

/// Logs a user in with SOAP and returns the session id.
pub async fn session(sim: &RunningSalesforceSim, login: &str) -> String {
    let u = user(sim, login);
    let (status, body) = soap_login_raw(
        &sim.login_url(),
        "64.0",
        &u.username,
        &format!("{}{}", u.password, u.security_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    element(&body, "sessionId").unwrap()
}

/// A small REST client bound to one session.
pub struct Rest {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Rest {
    pub async fn admin(sim: &RunningSalesforceSim) -> Rest {
        Rest::new(sim, "admin").await
    }

    pub async fn new(sim: &RunningSalesforceSim, login: &str) -> Rest {
        Rest {
            base: format!("{}/services/data/{VERSION}", sim.login_url()),
            token: session(sim, login).await,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/services/") {
            format!("{}{}", self.base.split("/services/").next().unwrap(), path)
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        (status, headers, json)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (s, _, j) = self.call(reqwest::Method::GET, path, None).await;
        (s, j)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, _, j) = self.call(reqwest::Method::POST, path, Some(body)).await;
        (s, j)
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, _, j) = self.call(reqwest::Method::PATCH, path, Some(body)).await;
        (s, j)
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        let (s, _, j) = self.call(reqwest::Method::DELETE, path, None).await;
        (s, j)
    }

    pub async fn query(&self, soql: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .get(self.url("/query"))
            .query(&[("q", soql)])
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// Runs a whole Bulk 2.0 ingest job and waits for a terminal state.
    pub async fn bulk_job(&self, spec: serde_json::Value, csv: &str) -> serde_json::Value {
        let (s, job) = self.post("/jobs/ingest", spec).await;
        assert_eq!(s, 200, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let put = self
            .http
            .put(self.url(&format!("/jobs/ingest/{id}/batches")))
            .bearer_auth(&self.token)
            .header("Content-Type", "text/csv")
            .body(csv.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 201);
        let (s, closed) = self
            .patch(
                &format!("/jobs/ingest/{id}"),
                serde_json::json!({"state": "UploadComplete"}),
            )
            .await;
        assert_eq!(s, 200, "{closed}");
        self.wait_job(&id).await
    }

    pub async fn wait_job(&self, id: &str) -> serde_json::Value {
        for _ in 0..400 {
            let (_, info) = self.get(&format!("/jobs/ingest/{id}")).await;
            if matches!(
                info["state"].as_str(),
                Some("JobComplete" | "Failed" | "Aborted")
            ) {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("job {id} did not finish");
    }

    pub async fn text(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// Parses a result CSV into rows of strings (header first).
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}
