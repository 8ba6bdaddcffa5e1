//! The Query activity through the Zuora simulator's fault profiles: every export either
//! completes with exactly the rows of a fault-free export, or fails with a clear message.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use zbridge_core::ZuoraService;
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};
use zbridge_zuora::query::{self, Progress, QuerySpec, Summary};
use zbridge_zuora::{ZuoraClient, ZuoraError, discovery};

mod support;
use support::{Collect, client};

fn table(service: ZuoraService) -> &'static str {
    match service {
        ZuoraService::DataQuery => "contact",
        ZuoraService::AQuADataExport => "Contact",
    }
}

async fn export(client: &ZuoraClient) -> Result<(Vec<String>, Summary), ZuoraError> {
    let service = client.connection().service;
    let spec = QuerySpec {
        table: table(service).into(),
        columns: Some(vec!["Id".into(), "FirstName".into(), "LastName".into()]),
        ..Default::default()
    };
    let schema = discovery::describe(client, &spec.table).await?;
    let plan = query::plan(&spec, &schema, service)?;
    let mut sink = Collect::default();
    let summary = query::run(
        client,
        &plan,
        &mut sink,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await?;
    let mut rows: Vec<String> = sink
        .rows
        .iter()
        .map(|r| format!("{}|{}|{}", r[0], r[1], r[2]))
        .collect();
    rows.sort();
    Ok((rows, summary))
}

async fn sim() -> RunningZuoraSim {
    ZuoraSim::builder()
        .seed(21)
        .accounts(40)
        .start()
        .await
        .unwrap()
}

/// Faults a careful client survives: the export is complete, with no row lost or repeated.
#[tokio::test]
async fn recoverable_faults_give_the_same_rows() {
    let sim = sim().await;
    for service in [ZuoraService::AQuADataExport, ZuoraService::DataQuery] {
        let (expected, _) = export(&client(&sim, service)).await.unwrap();
        assert!(expected.len() > 40);
        for profile in [
            "rate-limit",
            "server-errors",
            "gateway-timeout",
            "connection-reset",
            "truncated-file",
            "revoked-token",
            "slow-body",
            "job-abort",
        ] {
            sim.set_faults(profile.parse().unwrap());
            let outcome = export(&client(&sim, service)).await;
            sim.set_faults("none".parse().unwrap());
            let (rows, summary) =
                outcome.unwrap_or_else(|e| panic!("{service:?} under {profile}: {e}"));
            assert_eq!(rows, expected, "{service:?} under {profile}: {summary:?}");
        }
    }
}

/// Faults that cannot be survived end with a clear error, never with partial success.
#[tokio::test]
async fn unrecoverable_faults_fail_clearly() {
    let sim = sim().await;
    sim.set_faults("purged-file".parse().unwrap());
    let err = export(&client(&sim, ZuoraService::AQuADataExport))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no longer available at Zuora (purged)"),
        "{err}"
    );

    sim.set_faults("job-failure".parse().unwrap());
    let dq = client(&sim, ZuoraService::DataQuery);
    let mut failures = 0;
    for _ in 0..2 {
        if let Err(error) = export(&dq).await {
            assert!(error.to_string().contains("failed"), "{error}");
            failures += 1;
        }
    }
    assert!(failures >= 1, "every second job fails");
}

/// An export over the Data Query output cap is split by Id range: every row exactly once.
#[tokio::test]
async fn an_export_over_the_output_cap_is_split() {
    let sim = ZuoraSim::builder()
        .seed(21)
        .accounts(40)
        .output_row_cap(25)
        .start()
        .await
        .unwrap();
    let dq = client(&sim, ZuoraService::DataQuery);
    let (rows, summary) = export(&dq).await.unwrap();
    let full = ZuoraSim::builder()
        .seed(21)
        .accounts(40)
        .start()
        .await
        .unwrap();
    let (expected, _) = export(&client(&full, ZuoraService::DataQuery))
        .await
        .unwrap();
    assert_eq!(rows, expected);
    assert!(summary.jobs > 3, "{summary:?}");
}

/// An AQuA file over the download cap is split the same way.
#[tokio::test]
async fn a_file_over_the_size_cap_is_split() {
    use zbridge_sim::zuora::{FaultKind, FaultProfile, FaultRule, Trigger};
    let sim = sim().await;
    let aqua = client(&sim, ZuoraService::AQuADataExport);
    let (expected, _) = export(&aqua).await.unwrap();
    // Only the first download is too large; the halves fit.
    let profile = FaultProfile {
        name: "first-file-too-large".into(),
        rules: vec![FaultRule {
            endpoint: "aqua.file".into(),
            fault: FaultKind::FileTooLarge,
            trigger: Trigger::Calls { calls: vec![1] },
        }],
    };
    sim.set_faults(profile);
    let (rows, summary) = export(&aqua).await.unwrap();
    assert_eq!(rows, expected);
    assert!(summary.jobs >= 3, "{summary:?}");
}
