//! The README's simulator tour, command by command, from a fresh home, as a newcomer runs it:
//! `zbridge sim` in its own process, a connection, a sync profile, sync credentials, Test
//! Access and a sync run. The accounts and their children must arrive (issue 17: every CrmId
//! the simulator seeded used to name no Account of the simulated org, so nothing synced).

use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};

async fn zbridge(home: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .stdin(Stdio::null())
        .args(args);
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().await.expect("run zbridge")
}

async fn ok(home: &Path, envs: &[(&str, &str)], args: &[&str]) -> String {
    let out = zbridge(home, envs, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{pointer} in {value}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_simulator_tour_syncs_accounts_and_their_children() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // `zbridge sim` (with --json for the test to read what a person reads on screen).
    let mut sim = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", h)
        .args(["sim", "--accounts", "150", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let info: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let base_url = text(&info, "/zuora/baseUrl");
    let client_id = text(&info, "/zuora/clientId");
    let client_secret = text(&info, "/zuora/clientSecret");
    let login_url = text(&info, "/salesforce/0/login_url");
    let admin = info["salesforce"][0]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"].as_str().unwrap().starts_with("admin@"))
        .unwrap();
    let username = text(admin, "/username");
    let secrets = [
        ("ZUORA_SECRET", client_secret),
        ("SF_PASSWORD", text(admin, "/password")),
        ("SF_TOKEN", text(admin, "/security_token")),
    ];

    ok(
        h,
        &secrets,
        &[
            "connection",
            "create",
            "Sim",
            "--client-id",
            client_id,
            "--client-secret-from",
            "env:ZUORA_SECRET",
            "--set",
            &format!("URL={base_url}"),
        ],
    )
    .await;
    ok(h, &[], &["connection", "test", "Sim"]).await;
    ok(
        h,
        &[],
        &["sync", "profile", "create", "Main", "--connection", "Sim"],
    )
    .await;
    ok(
        h,
        &secrets,
        &[
            "sf-credentials",
            "edit",
            "password",
            "Main",
            "--username",
            username,
            "--password-from",
            "env:SF_PASSWORD",
            "--security-token-from",
            "env:SF_TOKEN",
            "--login-url",
            login_url,
        ],
    )
    .await;
    ok(h, &[], &["sf-credentials", "test-access", "Main"]).await;

    // The run exits 1 (Finished with Errors): accounts without a CrmId need a fix, as in a
    // real tenant. Nothing else may fail.
    let out = zbridge(h, &[], &["sync", "run", "Main", "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        report["run"]["full"], true,
        "the first run is full: {report:#}"
    );
    let upserted = |object: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"] == object)
            .and_then(|o| o["upserted"].as_i64())
            .unwrap_or(0)
    };
    assert!(upserted("Account") >= 100, "{report:#}");
    for child in [
        "Subscription",
        "RatePlan",
        "RatePlanCharge",
        "Invoice",
        "Payment",
        "InvoicePayment",
        "PaymentMethod",
    ] {
        assert!(upserted(child) > 0, "{child} arrived: {report:#}");
    }
    let run_id = text(&report, "/run/id");
    let errors = ok(h, &[], &["sync", "errors", run_id, "--csv"]).await;
    for line in errors.lines().skip(1) {
        assert!(
            line.contains("DACO-02") && line.contains("MISSING_CRM_ID"),
            "only accounts without a CrmId fail: {line}"
        );
    }
    let history = ok(h, &[], &["sync", "history"]).await;
    assert!(history.contains("full"), "{history}");

    // A newcomer's check: a short table, one row per object, and what to do next.
    let verify = zbridge(h, &[], &["sync", "verify", "Main"]).await;
    let table = String::from_utf8_lossy(&verify.stdout);
    let said = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(0), "{table}{said}");
    for object in ["Account", "Subscription", "Invoice", "Payment"] {
        assert!(table.contains(object), "{table}");
    }
    assert!(said.contains("No drift"), "{said}");
    assert!(
        said.contains("sync errors"),
        "the accounts that need a fix are pointed at: {said}"
    );
    let json = ok(h, &[], &["sync", "verify", "Main", "--json"]).await;
    let drift: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(drift["drifted"], false, "{drift:#}");
    for o in drift["objects"].as_array().unwrap() {
        for key in [
            "object",
            "in_scope",
            "in_org",
            "missing",
            "extra",
            "duplicated",
            "stale",
        ] {
            assert!(o.get(key).is_some(), "{key} in {o}");
        }
    }

    // Zuora changes that no run carried yet: verify exits 1 and says how to repair; the
    // repair is a run of its own, after which nothing differs.
    let mutated = reqwest::Client::new()
        .post(format!("{base_url}/sim/mutate"))
        .json(&serde_json::json!({"object": "Account", "count": 3, "action": "update"}))
        .send()
        .await
        .unwrap();
    assert!(mutated.status().is_success());
    let drifted = zbridge(h, &[], &["sync", "verify", "Main"]).await;
    let said = String::from_utf8_lossy(&drifted.stderr);
    assert_eq!(drifted.status.code(), Some(1), "{said}");
    assert!(said.contains("--repair"), "{said}");
    let repaired = zbridge(h, &[], &["sync", "verify", "Main", "--repair"]).await;
    let said = String::from_utf8_lossy(&repaired.stderr);
    assert_eq!(repaired.status.code(), Some(0), "{said}");
    assert!(said.contains("Repair run"), "{said}");
    let history = ok(h, &[], &["sync", "history"]).await;
    assert!(history.contains("repair"), "{history}");
    sim.kill().await.unwrap();
}
