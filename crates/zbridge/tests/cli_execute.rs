//! `zbridge execute` and `zbridge procedures` as a user runs them, against the Zuora simulator
//! running in the test process.

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use zbridge_sim::zuora::{FaultKind, FaultProfile, FaultRule, RunningZuoraSim, Trigger, ZuoraSim};

fn zbridge(home: &Path, sim: &RunningZuoraSim) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .env("ZUORA_SECRET", sim.client_secret())
        .stdin(Stdio::null());
    cmd
}

async fn run(home: &Path, sim: &RunningZuoraSim, args: &[&str]) -> Output {
    zbridge(home, sim)
        .args(args)
        .output()
        .await
        .expect("run zbridge")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A simulator and a home with a connection "Sim" pointed at it.
async fn setup() -> (RunningZuoraSim, tempfile::TempDir) {
    let sim = ZuoraSim::builder()
        .seed(5)
        .accounts(10)
        .start()
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = format!("URL={}", sim.base_url());
    let out = run(
        home.path(),
        &sim,
        &[
            "connection",
            "create",
            "Sim",
            "--client-id",
            sim.client_id(),
            "--client-secret-from",
            "env:ZUORA_SECRET",
            "--set",
            &url,
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    (sim, home)
}

fn actions_calls(sim: &RunningZuoraSim) -> u64 {
    sim.counters()
        .iter()
        .filter(|(k, _)| k.starts_with("actions."))
        .map(|(_, v)| v)
        .sum()
}

/// 51 accounts, one of which Zuora refuses: two calls, 51 JSON lines in input order, the
/// refused one on its own line, exit code 1.
#[tokio::test(flavor = "multi_thread")]
async fn create_51_with_one_refused_prints_every_result_in_order_and_exits_1() {
    let (sim, home) = setup().await;
    let input = home.path().join("accounts.jsonl");
    let text: String = (1..=51)
        .map(|i| {
            let record = if i == 3 {
                json!({"Currency": "USD"})
            } else {
                json!({"Name": format!("CLI {i}"), "Currency": "USD"})
            };
            format!("{record}\n")
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let out = run(
        home.path(),
        &sim,
        &[
            "execute",
            "Sim",
            "CreateRecords",
            "--param",
            "type=Account",
            "--input",
            input.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let results = json_lines(&out);
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (1..=51).collect::<Vec<u64>>());
    for result in &results {
        let refused = result["line"] == 3;
        assert_eq!(result["success"], !refused, "{result}");
    }
    assert_eq!(results[2]["errors"][0]["code"], "MISSING_REQUIRED_VALUE");
    assert_eq!(sim.counters()["actions.create"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("51 record(s), 50 succeeded, 1 failed, in 2 call(s)"),
        "{err}"
    );
    assert!(err.contains("error: 1 of 51 record(s) failed"), "{err}");
}

/// A bad input is reported line by line, nothing is sent, exit code 2.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_reported_by_line_and_nothing_is_sent() {
    let (sim, home) = setup().await;
    let input = home.path().join("ids.csv");
    std::fs::write(&input, "Id\nabc\ndef,extra\n\"\"\n").unwrap();
    let before = actions_calls(&sim);
    let out = run(
        home.path(),
        &sim,
        &[
            "execute",
            "Sim",
            "DeleteRecords",
            "-p",
            "type=Account",
            "-i",
            input.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("line 3: has 2 fields, the header has 1"),
        "{err}"
    );
    assert!(err.contains("line 4: the record is empty"), "{err}");
    assert!(
        err.contains("2 input record(s) are invalid; nothing was sent"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(actions_calls(&sim), before);
}

/// CSV on stdin, a human table, exit code 0.
#[tokio::test(flavor = "multi_thread")]
async fn csv_from_stdin_prints_a_table() {
    let (sim, home) = setup().await;
    let mut child = zbridge(home.path(), &sim)
        .args([
            "execute",
            "Sim",
            "CreateRecords",
            "--param",
            "type=Account",
            "--input",
            "-",
            "--format",
            "csv",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"Name,Currency,Notes\nFrom stdin,USD,\"two\nlines\"\nSecond,USD,\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[0].contains("LINE") && rows[0].contains("RESULT"),
        "{text}"
    );
    assert!(rows[1].trim_start().starts_with("2  ok"), "{text}");
    assert!(rows[2].trim_start().starts_with("4  ok"), "{text}");
}

/// The token is never printed unless asked for; a refresh renews it.
#[tokio::test(flavor = "multi_thread")]
async fn token_procedures_hide_the_token_unless_asked_and_refresh_renews_it() {
    let (sim, home) = setup().await;
    let h = home.path();
    let shown = run(
        h,
        &sim,
        &[
            "execute",
            "Sim",
            "GetOAuthAccessToken",
            "--json",
            "--show-secret",
        ],
    )
    .await;
    assert!(shown.status.success(), "{}", stderr(&shown));
    let view: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let token = view["access_token"].as_str().unwrap().to_string();
    assert!(view["expires_at"].is_string());

    for args in [
        vec!["execute", "Sim", "GetOAuthAccessToken"],
        vec!["execute", "Sim", "GetOAuthAccessToken", "--json"],
    ] {
        let out = run(h, &sim, &args).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains(&token), "{args:?} printed the token");
        assert!(!stderr(&out).contains(&token));
    }
    let human = run(h, &sim, &["execute", "Sim", "GetOAuthAccessToken"]).await;
    assert!(stdout(&human).contains("hidden; add --show-secret"));

    let refreshed = run(h, &sim, &["execute", "Sim", "RefreshOAuthAccessToken"]).await;
    assert!(refreshed.status.success(), "{}", stderr(&refreshed));
    assert!(stdout(&refreshed).contains("Renewed the access token of 'Sim'"));
    assert!(!stdout(&refreshed).contains(&token));
    let after = run(
        h,
        &sim,
        &[
            "execute",
            "Sim",
            "GetOAuthAccessToken",
            "--json",
            "--show-secret",
        ],
    )
    .await;
    let view: Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_ne!(view["access_token"].as_str().unwrap(), token);
}

/// CreateSchema writes a JSON Schema to a file or stdout; `procedures` lists everything.
#[tokio::test(flavor = "multi_thread")]
async fn create_schema_and_procedures() {
    let (sim, home) = setup().await;
    let h = home.path();
    let file = h.join("account.schema.json");
    let out = run(
        h,
        &sim,
        &[
            "execute",
            "Sim",
            "CreateSchema",
            "--param",
            "table=Account",
            "--output",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(schema["title"], "Account");
    assert!(schema["properties"]["AccountNumber"].is_object());
    let out = run(
        h,
        &sim,
        &["execute", "Sim", "CreateSchema", "-p", "table=Contact"],
    )
    .await;
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Contact");

    let out = run(h, &sim, &["procedures", "Sim"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for name in [
        "CreateRecords",
        "GenerateInvoices",
        "Amend",
        "CreateSchema",
        "RefreshOAuthAccessToken",
    ] {
        assert!(stdout(&out).contains(name), "{name}");
    }
    let out = run(h, &sim, &["procedures", "Sim", "--json"]).await;
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 10);
    let update = list.iter().find(|p| p["name"] == "UpdateRecords").unwrap();
    assert_eq!(update["input_schema"]["required"], json!(["Id"]));
    assert_eq!(update["params"][0]["name"], "type");
    assert!(update["output_schema"]["properties"]["errors"].is_object());
    let missing = run(h, &sim, &["procedures", "Nope"]).await;
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
}

/// Every call failing at Zuora is exit code 3; mistakes in the command are exit code 2.
#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_tell_remote_failure_from_bad_usage() {
    let (sim, home) = setup().await;
    let h = home.path();
    let input = h.join("a.jsonl");
    std::fs::write(&input, "{\"Name\":\"x\"}\n").unwrap();
    let path = input.to_str().unwrap();
    sim.set_faults(FaultProfile {
        name: "create refused".into(),
        rules: vec![FaultRule {
            endpoint: "actions.create".into(),
            fault: FaultKind::Status {
                statuses: vec![403],
            },
            trigger: Trigger::Always,
        }],
    });
    let out = run(
        h,
        &sim,
        &[
            "execute",
            "Sim",
            "CreateRecords",
            "-p",
            "type=Account",
            "-i",
            path,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("HTTP_403"));
    assert!(
        stderr(&out).contains("every call failed"),
        "{}",
        stderr(&out)
    );

    let usage: &[(&[&str], &str)] = &[
        (&["execute", "Sim", "Launch"], "unknown procedure 'Launch'"),
        (
            &["execute", "Sim", "CreateRecords", "-i", path],
            "needs --param type=",
        ),
        (
            &["execute", "Sim", "CreateRecords", "-p", "type=Account"],
            "needs --input",
        ),
        (
            &[
                "execute",
                "Sim",
                "CreateRecords",
                "-p",
                "type=Account",
                "-i",
                path,
                "--show-secret",
            ],
            "no secret to show",
        ),
        (
            &["execute", "Sim", "GetOAuthAccessToken", "-i", path],
            "takes no --input",
        ),
        (
            &[
                "execute",
                "Sim",
                "CreateRecords",
                "-p",
                "type=Account",
                "-i",
                "/nonexistent.jsonl",
            ],
            "no file at",
        ),
        (
            &[
                "execute",
                "Sim",
                "CreateRecords",
                "-p",
                "type=Account",
                "-i",
                path,
                "--format",
                "xml",
            ],
            "expected jsonl or csv",
        ),
    ];
    for (args, message) in usage {
        let out = run(h, &sim, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}
