//! What the query tests share: a client for a simulator, and a sink that keeps the rows.

#![allow(dead_code)]

use std::time::Duration;

use secrecy::SecretString;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::value::Value;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, ZuoraService};
use zbridge_sim::zuora::RunningZuoraSim;
use zbridge_zuora::policy::RetryPolicy;
use zbridge_zuora::query::{OutputColumn, RecordSink};
use zbridge_zuora::{TokenCache, ZuoraClient};

/// Keeps every row with its column names.
#[derive(Default)]
pub struct Collect {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl RecordSink for Collect {
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

/// A client of `service` pointed at the simulator, polling fast and retrying with short waits.
pub fn client(sim: &RunningZuoraSim, service: ZuoraService) -> ZuoraClient {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Sim").unwrap());
    def.service = service.as_str().into();
    def.client_id = sim.client_id().into();
    def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
        .unwrap();
    def.set_advanced("PollInterval", SecretString::from("1".to_string()))
        .unwrap();
    let resolved = def.resolve(&VariableScope::default()).unwrap();
    let policy = RetryPolicy {
        max_retries: 6,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_elapsed: Duration::from_secs(30),
    };
    ZuoraClient::with_policy(resolved, TokenCache::Memory, policy).unwrap()
}
