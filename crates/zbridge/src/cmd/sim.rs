//! `zbridge sim`: the Zuora and Salesforce simulators on loopback, until Ctrl-C.

use std::net::SocketAddr;

use serde_json::json;
use zbridge_sim::salesforce::{SalesforceSim, seeded_account_ids};
use zbridge_sim::zuora::ZuoraSim;

use crate::cli::SimArgs;
use crate::exit::UsageError;
use crate::output;

pub async fn run(args: SimArgs, json: bool) -> anyhow::Result<()> {
    let want_zuora = args.only.as_deref() != Some("salesforce");
    let want_salesforce = args.only.as_deref() != Some("zuora");
    let zuora = if want_zuora {
        let mut builder = ZuoraSim::builder()
            .bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
            .seed(args.seed)
            .accounts(args.accounts)
            .start_time(args.clock.unwrap_or_else(chrono::Utc::now))
            .fault_profile(&args.faults)
            .map_err(|e| UsageError(format!("--faults: {e}")))?;
        if let Some(dir) = &args.data_dir {
            builder = builder.data_dir(dir);
        }
        if want_salesforce {
            // As in a real 360 org, the CrmIds of the tenant name Accounts of the org.
            builder = builder.crm_ids(seeded_account_ids(args.seed, args.accounts));
        }
        Some(builder.start().await?)
    } else {
        None
    };
    let salesforce = if want_salesforce {
        let builder = SalesforceSim::builder()
            .bind(SocketAddr::from(([127, 0, 0, 1], args.sf_port)))
            .seed(args.seed)
            .accounts(args.accounts)
            .sandbox_org(args.sandbox)
            .fault_profile(&args.sf_faults)
            .map_err(|e| UsageError(format!("--sf-faults: {e}")))?;
        Some(builder.start().await?)
    } else {
        None
    };

    let zuora_info = zuora.as_ref().map(|z| {
        json!({"baseUrl": z.base_url(), "clientId": z.client_id(), "clientSecret": z.client_secret(),
               "entityIds": z.entity_ids()})
    });
    let orgs: Vec<serde_json::Value> = salesforce
        .as_ref()
        .map(|s| s.orgs().iter().map(|o| o.to_json()).collect())
        .unwrap_or_default();
    if json {
        println!("{}", json!({"zuora": zuora_info, "salesforce": orgs}));
    } else {
        print_human(zuora.as_ref(), salesforce.as_ref());
    }
    tokio::signal::ctrl_c().await?;
    if let Some(z) = zuora {
        z.shutdown().await;
    }
    if let Some(s) = salesforce {
        s.shutdown().await;
    }
    eprintln!("Simulators stopped.");
    Ok(())
}

fn print_human(
    zuora: Option<&zbridge_sim::zuora::RunningZuoraSim>,
    salesforce: Option<&zbridge_sim::salesforce::RunningSalesforceSim>,
) {
    if let Some(z) = zuora {
        println!("Zuora simulator     {}", z.base_url());
        println!("  OAuth client id     {}", z.client_id());
        println!("  OAuth client secret {}", z.client_secret());
        println!(
            "  tenant clock        {}",
            z.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        println!(
            "  try: zbridge connection create Sim --client-id {} --client-secret-from prompt --set URL={}",
            z.client_id(),
            z.base_url()
        );
    }
    if let Some(s) = salesforce {
        for org in s.orgs() {
            println!(
                "Salesforce {} org  login {}  (org id {})",
                org.kind, org.login_url, org.org_id
            );
            if zuora.is_some() {
                println!("  its Accounts are the ones the tenant's CrmIds name");
            }
            println!(
                "  connected app  key {}  secret {}",
                org.connected_app.consumer_key, org.connected_app.consumer_secret
            );
            let mut table = output::table(&[
                "Username",
                "Password",
                "Security token",
                "Profile",
                "User id",
            ]);
            for user in &org.users {
                table.add_row([
                    &user.username,
                    &user.password,
                    &user.security_token,
                    &user.profile,
                    &user.user_id,
                ]);
            }
            println!("{table}");
        }
    }
    println!("Serving on loopback; Ctrl-C stops.");
}
