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
        self.soql("/query", soql).await
    }

    /// `GET …/queryAll?q=`.
    pub async fn query_all(&self, soql: &str) -> (u16, serde_json::Value) {
        self.soql("/queryAll", soql).await
    }

    async fn soql(&self, resource: &str, soql: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .get(self.url(resource))
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
        self.wait_terminal(&format!("/jobs/ingest/{id}")).await
    }

    /// Polls a job resource until its state is terminal.
    async fn wait_terminal(&self, path: &str) -> serde_json::Value {
        for _ in 0..800 {
            let (_, info) = self.get(path).await;
            if matches!(
                info["state"].as_str(),
                Some("JobComplete" | "Failed" | "Aborted")
            ) {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path} did not finish");
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

impl Rest {
    /// Waits until a Bulk query job reaches a terminal state.
    pub async fn wait_query_job(&self, id: &str) -> serde_json::Value {
        self.wait_terminal(&format!("/jobs/query/{id}")).await
    }

    /// Creates a Bulk query job and waits for it; returns the job id and its final info.
    pub async fn bulk_query(&self, spec: serde_json::Value) -> (String, serde_json::Value) {
        let (s, job) = self.post("/jobs/query", spec).await;
        assert_eq!(s, 200, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let info = self.wait_query_job(&id).await;
        (id, info)
    }

    /// `GET …/jobs/query/{id}/results` with query parameters: status, the two Sforce headers
    /// (`Sforce-Locator`, `Sforce-NumberOfRecords`) and the body.
    pub async fn query_results(
        &self,
        id: &str,
        params: &[(&str, &str)],
    ) -> (u16, Option<String>, Option<String>, String) {
        let resp = self
            .http
            .get(self.url(&format!("/jobs/query/{id}/results")))
            .query(params)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (locator, count) = (header("sforce-locator"), header("sforce-numberofrecords"));
        (
            resp.status().as_u16(),
            locator,
            count,
            resp.text().await.unwrap(),
        )
    }
}

/// Moves the org clock forward through the control API.
pub async fn advance_clock(sim: &RunningSalesforceSim, seconds: i64) {
    let resp = client()
        .post(format!("{}/sim/clock/advance", sim.login_url()))
        .json(&serde_json::json!({ "seconds": seconds }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Upserts a payment (`Zuora__EXT_ID__c` = `ext`) with `children` PaymentInvoice records under it
/// (master-detail, linked by the payment's external id); returns the payment's id.
pub async fn payment_with_invoices(rest: &Rest, ext: &str, children: usize) -> String {
    let (_, payment) = rest
        .patch(
            &format!("/sobjects/Zuora__Payment__c/Zuora__EXT_ID__c/{ext}"),
            serde_json::json!({"Zuora__Amount__c": 10}),
        )
        .await;
    for i in 0..children {
        let (s, r) = rest
            .patch(
                &format!("/sobjects/Zuora__PaymentInvoice__c/Zuora__EXT_ID__c/{ext}-i{i}"),
                serde_json::json!({"Zuora__Payment__r": {"Zuora__EXT_ID__c": ext}}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
    }
    payment["id"].as_str().unwrap().to_string()
}
