//! `zbridge tables`, `describe` and `query` against a Zuora simulator started in the test.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};

fn zbridge(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zbridge"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .stdin(Stdio::null());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    zbridge(home).args(args).output().expect("run zbridge")
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn setup() -> (tempfile::TempDir, RunningZuoraSim) {
    setup_at(ZuoraSim::builder().config().start_time).await
}

/// A simulator whose tenant clock starts at `clock`, and a connection to it.
async fn setup_at(clock: chrono::DateTime<chrono::Utc>) -> (tempfile::TempDir, RunningZuoraSim) {
    let sim = ZuoraSim::builder()
        .seed(5)
        .accounts(30)
        .start_time(clock)
        .start()
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let secret = sim.client_secret().to_string();
    let out = zbridge(home.path())
        .env("SIM_SECRET", secret)
        .args([
            "connection",
            "create",
            "Sim",
            "--client-id",
            sim.client_id(),
            "--client-secret-from",
            "env:SIM_SECRET",
            "--set",
            &format!("URL={}", sim.base_url()),
            "--set",
            "PollInterval=1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (home, sim)
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_and_describe_through_both_services() {
    let (home, sim) = setup().await;
    let tables = ok(home.path(), &["tables", "Sim"]);
    assert!(tables.lines().any(|l| l == "Account"), "{tables}");
    let dq_tables = ok(
        home.path(),
        &["tables", "Sim", "--service", "dataquery", "--json"],
    );
    let dq: Vec<String> = serde_json::from_str(&dq_tables).unwrap();
    assert!(dq.iter().any(|t| t == "account"), "{dq:?}");
    let described = ok(home.path(), &["describe", "Sim", "Account", "--json"]);
    let schema: serde_json::Value = serde_json::from_str(&described).unwrap();
    assert_eq!(schema["name"], "Account");
    // The second describe is served from the cache: Zuora sees no new describe call.
    let before = sim.counters().get("describe.object").copied().unwrap_or(0);
    ok(home.path(), &["describe", "Sim", "Account"]);
    assert_eq!(
        sim.counters().get("describe.object").copied().unwrap_or(0),
        before,
        "{:?}",
        sim.counters()
    );
    ok(home.path(), &["describe", "Sim", "Account", "--refresh"]);
    assert_eq!(
        sim.counters().get("describe.object").copied().unwrap_or(0),
        before + 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_writes_csv_and_json_lines() {
    let (home, _sim) = setup().await;
    let csv = ok(
        home.path(),
        &[
            "query",
            "Sim",
            "--table",
            "Account",
            "--columns",
            "Id,Name,Status",
            "--where",
            "Status = 'Active'",
        ],
    );
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("Id,Name,Status"));
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.ends_with(",Active")), "{rows:?}");

    let jsonl = ok(
        home.path(),
        &[
            "query",
            "Sim",
            "--table",
            "account",
            "--service",
            "dataquery",
            "--format",
            "jsonl",
            "--limit",
            "5",
        ],
    );
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    assert!(records[0].get("id").is_some(), "{}", records[0]);

    let bad = run(
        home.path(),
        &["query", "Sim", "--table", "Account", "--columns", "Id,Nmae"],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("has no field 'Nmae'; did you mean Name?"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_files_advance_only_after_a_complete_run() {
    let (home, sim) = setup().await;
    let state = home.path().join("account.state.json");
    let out = home.path().join("accounts.csv");
    let args = [
        "query",
        "Sim",
        "--table",
        "Account",
        "--columns",
        "Id",
        "--state",
        state.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--lag",
        "0",
    ];
    ok(home.path(), &args);
    let first = std::fs::read_to_string(&out).unwrap();
    assert!(first.lines().count() > 30, "{first}");
    let bookmark: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        bookmark["bookmarks"]["account"]["value"].is_string(),
        "{bookmark}"
    );

    // A limit could leave rows of the window unread behind the bookmark: refused.
    let mut limited = args.to_vec();
    limited.extend(["--limit", "5"]);
    let refused = run(home.path(), &limited);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot be combined with --limit"));

    // Nothing changed: the next window is empty.
    ok(home.path(), &args);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        1,
        "only the header"
    );

    // A failing run leaves the bookmark and the previous output alone.
    let before = std::fs::read_to_string(&state).unwrap();
    sim.set_faults("purged-file".parse().unwrap());
    let failed = run(home.path(), &args);
    assert!(!failed.status.success());
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
    assert!(!home.path().join("accounts.csv.partial").exists());
}

/// A `--state` bookmark ends on Zuora's clock: with this machine an hour ahead of Zuora (or
/// behind), changes made after a run are read by the next one, once (issue 17).
#[tokio::test(flavor = "multi_thread")]
async fn state_bookmarks_follow_zuoras_clock_whatever_this_machines_says() {
    for skew_hours in [1i64, -1] {
        let (home, sim) = setup_at(chrono::Utc::now() - chrono::Duration::hours(skew_hours)).await;
        let state = home.path().join("account.state.json");
        let out = home.path().join("accounts.csv");
        let args = [
            "query",
            "Sim",
            "--table",
            "Account",
            "--columns",
            "Id",
            "--state",
            state.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--lag",
            "0",
        ];
        let first = run(home.path(), &args);
        assert!(first.status.success());
        let warned = String::from_utf8_lossy(&first.stderr).into_owned();
        let way = if skew_hours > 0 { "ahead of" } else { "behind" };
        assert!(warned.contains(way), "the skew is reported: {warned}");

        let mut changed = sim
            .mutate(0, "Account", 4, zbridge_sim::zuora::Mutation::Update)
            .unwrap();
        sim.advance_clock(std::time::Duration::from_secs(600));
        ok(home.path(), &args);
        let mut read: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect();
        read.sort();
        changed.sort();
        assert_eq!(read, changed, "skew {skew_hours} h: every change, once");
        ok(home.path(), &args);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().lines().count(),
            1,
            "skew {skew_hours} h: nothing read twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_queries_run_by_name_and_protect_their_connection() {
    let (home, _sim) = setup().await;
    ok(
        home.path(),
        &[
            "query",
            "Sim",
            "--table",
            "Account",
            "--columns",
            "Id,Name",
            "--save",
            "names",
        ],
    );
    let listed = ok(home.path(), &["query", "list"]);
    assert!(listed.contains("names"), "{listed}");
    let csv = ok(home.path(), &["query", "run", "names"]);
    assert!(csv.starts_with("Id,Name\n"), "{csv}");
    let delete = run(home.path(), &["connection", "delete", "Sim", "--yes"]);
    assert_eq!(delete.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&delete.stderr).contains("query 'names'"));
    ok(home.path(), &["query", "delete", "names"]);
    ok(home.path(), &["connection", "delete", "Sim", "--yes"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_sql_and_singer_output() {
    let (home, _sim) = setup().await;
    let csv = ok(
        home.path(),
        &[
            "query",
            "Sim",
            "--sql",
            "SELECT id, name FROM account LIMIT 3",
        ],
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let singer = ok(
        home.path(),
        &[
            "query",
            "Sim",
            "--table",
            "Account",
            "--columns",
            "Id,Name",
            "--format",
            "singer",
            "--limit",
            "2",
        ],
    );
    let messages: Vec<serde_json::Value> = singer
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages[0]["type"], "SCHEMA");
    assert_eq!(messages[0]["key_properties"], serde_json::json!(["Id"]));
    assert_eq!(messages.iter().filter(|m| m["type"] == "RECORD").count(), 2);
}

/// The Singer output is accepted by an unmodified Singer target from PyPI, which validates
/// every record against the SCHEMA message.
#[tokio::test(flavor = "multi_thread")]
async fn singer_output_feeds_a_real_singer_target() {
    let (home, _sim) = setup().await;
    let singer = ok(
        home.path(),
        &["query", "Sim", "--table", "Account", "--format", "singer"],
    );
    let records = singer
        .lines()
        .filter(|l| l.contains("\"type\":\"RECORD\""))
        .count();
    assert!(records >= 30, "{records} records");
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../peers/singer-target/run.sh");
    let out_dir = home.path().join("singer-out");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(&out_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), singer.as_bytes()).unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "target-csv refused the stream:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), format!("Account {records}"));
}

/// The saved-query paths besides the plain run: --output and --state on a saved query, saved
/// raw SQL, list --json, and the errors (with the CLI's flag names and exit code 2).
#[tokio::test(flavor = "multi_thread")]
async fn saved_queries_take_output_and_state_and_refuse_bad_input() {
    let (home, _sim) = setup().await;
    let h = home.path();
    ok(
        h,
        &[
            "query",
            "Sim",
            "--table",
            "Account",
            "--columns",
            "Id",
            "--lag",
            "0",
            "--save",
            "ids",
        ],
    );
    ok(
        h,
        &[
            "query",
            "Sim",
            "--sql",
            "SELECT id FROM account LIMIT 2",
            "--save",
            "Raw",
        ],
    );

    let listed: serde_json::Value =
        serde_json::from_str(&ok(h, &["query", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["name"], "ids", "{listed}");
    assert_eq!(listed[0]["connection"], "Sim");
    assert_eq!(listed[0]["query"]["table"], "Account");
    assert_eq!(listed[0]["query"]["lag"], "0");
    assert_eq!(listed[1]["query"]["sql"], "SELECT id FROM account LIMIT 2");
    let table = ok(h, &["query", "list"]);
    assert!(table.contains("SELECT id FROM account LIMIT 2"), "{table}");

    let out = h.join("ids.csv");
    let state = h.join("ids.state.json");
    let with_state = [
        "query",
        "run",
        "ids",
        "--output",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    ok(h, &with_state);
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.starts_with("Id\n") && written.lines().count() > 30,
        "{written}"
    );
    let bookmark: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        bookmark["bookmarks"]["account"]["value"].is_string(),
        "{bookmark}"
    );
    ok(h, &with_state);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Id\n",
        "the next window is empty"
    );

    let raw = ok(h, &["query", "run", "raw"]);
    assert_eq!(raw.lines().count(), 3, "{raw}");
    let refused = run(
        h,
        &["query", "run", "raw", "--state", state.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("cannot be combined with --limit, --sql or --zoql")
    );

    let cases: [(&[&str], &str); 4] = [
        (
            &["query", "run", "nothing"],
            "error: no saved query named 'nothing'; 'zbridge query list' lists them",
        ),
        (
            &["query", "delete", "nothing"],
            "error: no saved query named 'nothing'; 'zbridge query list' lists them",
        ),
        (
            &[
                "query",
                "Sim",
                "--table",
                "Account",
                "--since",
                "yesterday",
                "--save",
                "bad",
            ],
            "error: --since: ",
        ),
        (
            &[
                "query",
                "Sim",
                "--table",
                "Account",
                "--where",
                "Status = ",
                "--save",
                "bad",
            ],
            "error: --where: ",
        ),
    ];
    for (args, expected) in cases {
        let out = run(h, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.lines().any(|line| line.starts_with(expected)),
            "{args:?}: {err}"
        );
    }
    assert!(
        !ok(h, &["query", "list"]).contains("bad"),
        "nothing invalid was saved"
    );
}
