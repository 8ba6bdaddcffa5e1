//! Starts the Zuora simulator on loopback and prints its URL and credentials as one JSON line,
//! then serves until interrupted. Used by `peers/tap-zuora/run.sh` until `zbridge sim` exists.
//!
//! `cargo run -p zbridge-sim --example zuora_sim -- [--port N] [--seed N] [--accounts N]
//! [--faults PROFILE] [--data-dir DIR] [--multi-entity] [--no-multiline-text]
//! [--wide-rows N] [--job-delay-ms N] [--salesforce-accounts N]`
//!
//! `--salesforce-accounts N` gives the accounts that have a `CrmId` the ids of the N Accounts
//! that `salesforce_sim --seed S --accounts N` seeds (same `--seed`, given before it), so a sync
//! between the two processes links to Accounts that exist.

use std::net::SocketAddr;

use zbridge_sim::salesforce::seeded_account_ids;
use zbridge_sim::zuora::ZuoraSim;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = ZuoraSim::builder();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        builder = match a.as_str() {
            "--port" => builder.bind(SocketAddr::from(([127, 0, 0, 1], value()?.parse()?))),
            "--seed" => builder.seed(value()?.parse()?),
            "--accounts" => builder.accounts(value()?.parse()?),
            "--faults" => builder.fault_profile(&value()?)?,
            "--data-dir" => builder.data_dir(value()?),
            "--multi-entity" => builder.multi_entity(true),
            "--no-multiline-text" => builder.multiline_text(false),
            "--wide-rows" => builder.wide_rows(value()?.parse()?),
            "--salesforce-accounts" => {
                let seed = builder.config().seed;
                builder.crm_ids(seeded_account_ids(seed, value()?.parse()?))
            }
            "--job-delay-ms" => {
                builder.job_delay(std::time::Duration::from_millis(value()?.parse()?))
            }
            other => return Err(format!("unknown argument {other}").into()),
        };
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sim = builder.start().await?;
        println!(
            "{}",
            serde_json::json!({
                "baseUrl": sim.base_url(),
                "clientId": sim.client_id(),
                "clientSecret": sim.client_secret(),
                "entityIds": sim.entity_ids(),
            })
        );
        tokio::signal::ctrl_c().await?;
        sim.shutdown().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
