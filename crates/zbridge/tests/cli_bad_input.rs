//! Bad input through the real binary (issue #17 §4): every case exits 2 (3 for an unreachable
//! database) with one line that names the field and the rule, writes nothing, sends nothing,
//! and never echoes a secret.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};

const CLIENT_ID: &str = "3de56ab4-7032-4363-a1d6-ed2873ea03cd";

fn zbridge(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zbridge"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .env("ZUORA_SECRET", "client-secret-value")
        .stdin(Stdio::null());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    zbridge(home).args(args).output().expect("run zbridge")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts exit code 2 and a single `error: ` line that starts with `expected`.
fn refused(out: &Output, expected: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{expected}: {err}");
    assert!(err.starts_with(&format!("error: {expected}")), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn create(home: &Path, name: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "connection",
        "create",
        name,
        "--client-id",
        CLIENT_ID,
        "--client-secret-from",
        "env:ZUORA_SECRET",
    ];
    args.extend_from_slice(extra);
    run(home, &args)
}

fn names(home: &Path, what: &[&str]) -> Vec<String> {
    let mut args = what.to_vec();
    args.push("--json");
    let list: Vec<serde_json::Value> = serde_json::from_str(&ok(home, &args)).unwrap();
    list.iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn subscription_statuses_must_be_zuora_statuses() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert!(create(h, "Zuora", &[]).status.success());
    let bad = [
        "sync",
        "profile",
        "create",
        "Main",
        "--connection",
        "Zuora",
        "--subscription-statuses",
        "Active,Bogus",
    ];
    let err = refused(
        &run(h, &bad),
        "sync profile options: subscription_statuses: 'Bogus' is not a Zuora subscription status",
    );
    assert!(err.contains("PendingActivation"), "{err}");
    assert!(names(h, &["sync", "profile", "list"]).is_empty());

    ok(
        h,
        &["sync", "profile", "create", "Main", "--connection", "Zuora"],
    );
    let edit = [
        "sync",
        "profile",
        "edit",
        "Main",
        "--subscription-statuses",
        "Pending Activation",
    ];
    let err = refused(
        &run(h, &edit),
        "sync profile options: subscription_statuses:",
    );
    assert!(err.contains("did you mean PendingActivation?"), "{err}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok(h, &["sync", "profile", "show", "Main", "--json"])).unwrap();
    assert_eq!(
        shown["options"]["subscription_statuses"],
        serde_json::json!([
            "Active",
            "PendingActivation",
            "PendingAcceptance",
            "Cancelled"
        ])
    );
    ok(
        h,
        &[
            "sync",
            "profile",
            "edit",
            "Main",
            "--subscription-statuses",
            "Active,Suspended,Expired,Draft",
        ],
    );
}

/// A profile saved before the rule (with a status Zuora never reports) can still be shown and
/// corrected; an edit that leaves the bad status in is refused.
#[tokio::test]
async fn a_profile_saved_before_the_status_rule_can_be_corrected() {
    use sqlx::Connection;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert!(create(h, "Zuora", &[]).status.success());
    ok(
        h,
        &["sync", "profile", "create", "Main", "--connection", "Zuora"],
    );
    let db = format!("sqlite://{}", h.join("zbridge.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::query(
        "UPDATE components SET definition = replace(definition, '\"Cancelled\"', '\"Bogus\"')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let shown = ok(h, &["sync", "profile", "show", "Main", "--json"]);
    assert!(shown.contains("Bogus"), "{shown}");
    refused(
        &run(h, &["sync", "profile", "edit", "Main", "--lag-secs", "60"]),
        "sync profile options: subscription_statuses: 'Bogus' is not a Zuora subscription status",
    );
    let fix = [
        "sync",
        "profile",
        "edit",
        "Main",
        "--subscription-statuses",
        "Active,Cancelled",
    ];
    ok(h, &fix);
}

#[test]
fn an_advanced_key_given_twice_in_any_case_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let both = "Advanced Configurations: PollInterval: is given twice, as 'PollInterval' and 'pollinterval'";
    let flags = create(
        h,
        "Twice",
        &["--set", "PollInterval=5", "--set", "pollinterval=6"],
    );
    refused(&flags, both);
    let mixed = create(
        h,
        "Twice",
        &["--add", "ReadTimeout=60", "--set", "READTIMEOUT=61"],
    );
    refused(
        &mixed,
        "Advanced Configurations: ReadTimeout: is given twice, as 'ReadTimeout' and 'READTIMEOUT'",
    );
    let file = h.join("twice.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"Twice\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = {{ env = \"ZUORA_SECRET\" }}\n\n[advanced]\nPollInterval = 5\npollinterval = 6\n"
        ),
    )
    .unwrap();
    refused(
        &run(
            h,
            &["connection", "create", "--file", file.to_str().unwrap()],
        ),
        both,
    );
    assert!(names(h, &["connection", "list"]).is_empty());

    assert!(
        create(h, "Once", &["--set", "PollInterval=5"])
            .status
            .success()
    );
    let edit = run(
        h,
        &[
            "connection",
            "edit",
            "Once",
            "--set",
            "pollinterval=7",
            "--set",
            "POLLINTERVAL=8",
        ],
    );
    refused(
        &edit,
        "Advanced Configurations: PollInterval: is given twice",
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(h, &["connection", "show", "Once", "--json"])).unwrap();
    assert_eq!(shown["advanced"][0]["value"], "5", "{shown}");
}

#[test]
fn an_oversized_secret_is_refused_by_field_and_never_echoed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let big = h.join("big.txt");
    std::fs::write(&big, "s".repeat(1024 * 1024)).unwrap();
    let from_file = format!("file:{}", big.display());
    let args = [
        "connection",
        "create",
        "Big",
        "--client-id",
        CLIENT_ID,
        "--client-secret-from",
        &from_file,
    ];
    let err = refused(
        &run(h, &args),
        "OAuth Client Secret: must be at most 4096 bytes; the value given has 1048576 bytes",
    );
    assert!(!err.contains("ssss"), "the secret is not echoed: {err}");
    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "--use-proxy",
                "--proxy-url",
                "http://proxy:3128",
                "--proxy-user",
                "me",
                "--proxy-password-from",
                &from_file,
            ],
            "Proxy Password: must be at most 4096 bytes",
        ),
        (
            &[
                "--set",
                "InitiateOAuth=OFF",
                "--set-from",
                &format!("OAuthAccessToken={from_file}"),
            ],
            "Advanced Configurations: OAuthAccessToken: must be at most 4096 bytes",
        ),
    ];
    for (extra, expected) in cases {
        let err = refused(&create(h, "Big", extra), expected);
        assert!(err.len() < 400, "short: {err}");
        assert!(!err.contains("ssss"), "the secret is not echoed: {err}");
    }
    assert!(names(h, &["connection", "list"]).is_empty());
}

#[test]
fn names_with_invisible_characters_are_refused_and_unicode_forms_are_one_name() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let invisible = "Connection Name: must not contain invisible or look-alike characters: ";
    for (name, detail) in [
        (
            "Zuora\u{200B}prod",
            "U+200B (zero-width space) at character 6",
        ),
        ("Zuora\u{2060}prod", "U+2060 (word joiner)"),
        (
            "\u{202E}dorp",
            "U+202E (bidirectional control) at character 1",
        ),
        ("Zu\u{00AD}ora", "U+00AD (soft hyphen)"),
    ] {
        let err = refused(&create(h, name, &[]), invisible);
        assert!(err.contains(detail), "{err}");
    }
    refused(
        &create(h, "..", &[]),
        "Connection Name: must not be '.' or '..'",
    );
    refused(
        &create(h, "P", &["--project", "Bil\u{FEFF}ling"]),
        "Project: must not contain invisible or look-alike characters: U+FEFF",
    );
    assert!(names(h, &["connection", "list"]).is_empty());

    assert!(create(h, "Caf\u{00E9}", &[]).status.success());
    refused(
        &create(h, "Cafe\u{0301}", &[]),
        "Connection Name: a connection named 'Caf\u{00E9}' already exists",
    );
    ok(h, &["connection", "show", "CAFE\u{0301}"]);
    assert_eq!(names(h, &["connection", "list"]), ["Caf\u{00E9}"]);

    let profile = [
        "sync",
        "profile",
        "create",
        "Main\u{200D}",
        "--connection",
        "Cafe\u{0301}",
    ];
    refused(
        &run(h, &profile),
        "Sync Profile Name: must not contain invisible or look-alike characters: U+200D",
    );
    let save = [
        "query",
        "Caf\u{00E9}",
        "--table",
        "Account",
        "--save",
        "Dai\u{200C}ly",
    ];
    refused(
        &run(h, &save),
        "Saved query name: must not contain invisible or look-alike characters: U+200C",
    );
    assert!(names(h, &["sync", "profile", "list"]).is_empty());
    assert!(names(h, &["query", "list"]).is_empty());
}

async fn sim_home() -> (tempfile::TempDir, RunningZuoraSim) {
    let sim = ZuoraSim::builder()
        .seed(7)
        .accounts(10)
        .start()
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = zbridge(home.path())
        .env("SIM_SECRET", sim.client_secret())
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
    assert!(out.status.success(), "{}", stderr(&out));
    (home, sim)
}

fn calls(sim: &RunningZuoraSim, prefix: &str) -> u64 {
    sim.counters()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_table_is_refused_locally_with_the_closest_name() {
    let (home, sim) = sim_home().await;
    let h = home.path();
    let err = refused(
        &run(h, &["query", "Sim", "--table", "NoSuchTable"]),
        "--table: no table 'NoSuchTable' among the AQuADataExport tables of connection 'Sim'; did you mean '",
    );
    assert!(
        err.contains("('zbridge tables \"Sim\" --service AQuADataExport' lists them)"),
        "{err}"
    );
    let err = refused(
        &run(h, &["query", "Sim", "--table", "Acount"]),
        "--table: no table 'Acount'",
    );
    assert!(err.contains("did you mean 'Account'?"), "{err}");
    assert_eq!(calls(&sim, "describe.object"), 0, "{:?}", sim.counters());
    assert_eq!(calls(&sim, "aqua."), 0, "no job was sent");
    refused(
        &run(
            h,
            &[
                "query",
                "Sim",
                "--table",
                "acount",
                "--service",
                "dataquery",
            ],
        ),
        "--table: no table 'acount' among the DataQuery tables of connection 'Sim'; did you mean 'account'?",
    );
    ok(h, &["query", "Sim", "--table", "account", "--limit", "1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn output_into_a_missing_folder_is_refused_before_zuora_is_called() {
    let (home, sim) = sim_home().await;
    let h = home.path();
    let before = sim.counters();
    let missing = h.join("no/such/folder");
    let target = missing.join("accounts.csv");
    let args = [
        "query",
        "Sim",
        "--table",
        "Account",
        "--output",
        target.to_str().unwrap(),
    ];
    refused(
        &run(h, &args),
        &format!("--output: the folder {} does not exist", missing.display()),
    );
    refused(
        &run(
            h,
            &[
                "query",
                "Sim",
                "--table",
                "Account",
                "--output",
                h.to_str().unwrap(),
            ],
        ),
        &format!("--output: {} is a folder; give a file name", h.display()),
    );
    let schema = [
        "execute",
        "Sim",
        "CreateSchema",
        "--param",
        "table=Account",
        "--output",
        target.to_str().unwrap(),
    ];
    refused(&run(h, &schema), "--output: the folder ");
    assert_eq!(sim.counters(), before, "nothing was sent to Zuora");
    assert!(!missing.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_execute_input_names_the_file_and_the_first_bad_byte() {
    let (home, sim) = sim_home().await;
    let h = home.path();
    let input = h.join("accounts.jsonl");
    let mut bytes = b"{\"Name\": \"Acme\"}\n{\"Name\": \"Caf".to_vec();
    bytes.extend_from_slice(&[0xE9, b'"', b'}', b'\n']);
    std::fs::write(&input, bytes).unwrap();
    let path = input.to_str().unwrap();
    let args = [
        "execute",
        "Sim",
        "CreateRecords",
        "--param",
        "type=Account",
        "--input",
        path,
    ];
    refused(
        &run(h, &args),
        &format!(
            "--input {path}: not UTF-8: invalid byte 0xE9 at byte offset 30 (line 2); save the file as UTF-8"
        ),
    );
    assert_eq!(calls(&sim, "actions."), 0, "nothing was sent");
}

#[test]
fn an_unsupported_database_url_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = zbridge(&home)
        .env("ZBRIDGE_DATABASE_URL", "mysql://u:pw@db.internal/zbridge")
        .args(["connection", "list"])
        .output()
        .unwrap();
    let err = refused(
        &out,
        "ZBRIDGE_DATABASE_URL: unsupported scheme 'mysql'; use postgres:// (or unset it for SQLite)",
    );
    assert!(!err.contains("pw"), "{err}");
    assert!(!home.exists(), "no key file and no database were created");
}

#[test]
fn an_unreachable_postgres_is_named_with_its_address_and_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = zbridge(home.path())
        .env("ZBRIDGE_DATABASE_URL", "postgres://u@127.0.0.1:1/db")
        .args(["connection", "list"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("error: cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{err}"
    );
    assert!(err.contains("check that the server is running"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(15), "quick");
}
