//! Starts the Salesforce simulator and prints its URLs and credentials as one JSON line, then
//! serves until interrupted. Stand-in for `zbridge sim` until the CLI wires the simulator in.
//!
//! ```text
//! cargo run -p zbridge-sim --example salesforce_sim -- [--port N] [--seed N] [--sandbox]
//!     [--accounts N] [--faults row-lock,slow-jobs] [--trusted-ip]
//! ```

use std::net::SocketAddr;

use zbridge_sim::salesforce::SalesforceSim;

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = value(&args, "--port").unwrap_or("0").parse()?;
    let mut builder = SalesforceSim::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .seed(value(&args, "--seed").unwrap_or("1").parse()?)
        .accounts(value(&args, "--accounts").unwrap_or("50").parse()?)
        .sandbox_org(args.iter().any(|a| a == "--sandbox"))
        .trusted_ip(args.iter().any(|a| a == "--trusted-ip"));
    if let Some(faults) = value(&args, "--faults") {
        builder = builder.fault_profile(faults)?;
    }
    let sim = builder.start().await?;
    let orgs: Vec<serde_json::Value> = sim.orgs().iter().map(|o| o.to_json()).collect();
    println!("{}", serde_json::json!({ "orgs": orgs }));
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
