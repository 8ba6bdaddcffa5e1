//! The real `zbridge` binary against a temporary home.

use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn create_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
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
    args
}

fn connection_names(home: &Path) -> Vec<String> {
    let out = run(home, &["connection", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every invalid input: exit code 2, a one-line error naming the field and the rule, nothing written.
#[test]
fn invalid_input_is_refused_with_one_line_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        run(home.path(), &create_args("Existing", &[]))
            .status
            .success()
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["a/b"],
            "error: Connection Name: must not contain '/' or ':'",
        ),
        (
            &["a:b"],
            "error: Connection Name: must not contain '/' or ':'",
        ),
        (&["   "], "error: Connection Name: must not be empty"),
        (
            &["existing"],
            "error: Connection Name: a connection named 'Existing' already exists (names are unique regardless of case)",
        ),
        (
            &["EXISTING"],
            "error: Connection Name: a connection named 'Existing' already exists",
        ),
        (
            &["New", "--tenant", "Mars"],
            "error: Tenant: unknown tenant 'Mars'",
        ),
        (
            &["New", "--service", "SOAP"],
            "error: Zuora Service: unknown service 'SOAP'; valid services: DataQuery, AQuADataExport",
        ),
        (
            &["New", "--set", "PolInterval=4"],
            "error: Advanced Configurations: unknown key 'PolInterval'; did you mean PollInterval?",
        ),
        (
            &["New", "--set", "ReadTimeout=forever"],
            "error: Advanced Configurations: ReadTimeout: must be a whole number of seconds",
        ),
        (
            &["New", "--use-proxy"],
            "error: Proxy URL: is required with Use Proxy Settings",
        ),
    ];
    for (extra, expected) in cases {
        let args = create_args(extra[0], &extra[1..]);
        let out = run(home.path(), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.starts_with(expected), "{extra:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{extra:?}: one line: {err}"
        );
    }
    let tenant_err = stderr(&run(
        home.path(),
        &create_args("New", &["--tenant", "Mars"]),
    ));
    for tenant in [
        "USProduction",
        "USAPISandbox",
        "USPerformanceTest",
        "EUProduction",
        "EUSandbox",
        "EUCentralSandbox",
        "USCloudProduction",
        "USCloudAPISandbox",
        "USCentralSandbox",
    ] {
        assert!(
            tenant_err.contains(tenant),
            "the error lists {tenant}: {tenant_err}"
        );
    }
    assert_eq!(
        connection_names(home.path()),
        ["Existing"],
        "nothing else was written"
    );
}

#[test]
fn ten_concurrent_creates_with_distinct_names_all_succeed() {
    let home = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..10)
        .map(|i| {
            let name = format!("Conn {i}");
            zbridge(home.path())
                .args(create_args(&name, &[]))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(connection_names(home.path()).len(), 10);
}

#[test]
fn ten_concurrent_creates_of_one_name_leave_exactly_one() {
    let home = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..10)
        .map(|i| {
            // Different capitalisations of one name: the same name to zbridge.
            let name = if i % 2 == 0 { "Shared" } else { "SHARED" };
            zbridge(home.path())
                .args(create_args(name, &[]))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let succeeded = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        succeeded,
        1,
        "{:?}",
        outputs.iter().map(stderr).collect::<Vec<_>>()
    );
    for out in outputs.iter().filter(|o| !o.status.success()) {
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(out).contains("already exists (names are unique regardless of case)"),
            "{}",
            stderr(out)
        );
    }
    assert_eq!(connection_names(home.path()).len(), 1);
}

#[test]
fn show_masks_secrets_and_edit_is_all_or_nothing() {
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &create_args(
            "Prod",
            &[
                "--set-from",
                "OAuthAccessToken=env:ZUORA_SECRET",
                "--set",
                "PollInterval=4",
            ],
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let show = run(home.path(), &["connection", "show", "prod", "--json"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(!text.contains("client-secret-value"), "{text}");
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(view["client_secret"]["set"], true);
    assert_eq!(view["refresh_token"]["set"], false);
    let token = view["advanced"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "OAuthAccessToken")
        .unwrap();
    assert_eq!(token["secret"]["set"], true);
    assert!(token.get("value").is_none());

    let bad = run(
        home.path(),
        &[
            "connection",
            "edit",
            "Prod",
            "--tenant",
            "EUSandbox",
            "--set",
            "MaxRetries=99",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let after: serde_json::Value =
        serde_json::from_slice(&run(home.path(), &["connection", "show", "Prod", "--json"]).stdout)
            .unwrap();
    assert_eq!(
        after["tenant"], "USProduction",
        "a failed edit saves nothing"
    );
    assert_eq!(after["version"], view["version"]);

    let good = run(
        home.path(),
        &[
            "connection",
            "edit",
            "Prod",
            "--rename",
            "Production",
            "--tenant",
            "EUSandbox",
            "--unset",
            "PollInterval",
        ],
    );
    assert!(good.status.success(), "{}", stderr(&good));
    let renamed: serde_json::Value = serde_json::from_slice(
        &run(home.path(), &["connection", "show", "production", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(renamed["tenant"], "EUSandbox");
    assert_eq!(renamed["advanced"].as_array().unwrap().len(), 1);
    assert_eq!(
        renamed["client_secret"]["set"], true,
        "secrets survive an edit"
    );
}

#[test]
fn delete_needs_confirmation_without_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        run(home.path(), &create_args("Doomed", &[]))
            .status
            .success()
    );
    let out = run(home.path(), &["connection", "delete", "Doomed"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(connection_names(home.path()), ["Doomed"]);
    let out = run(home.path(), &["connection", "delete", "doomed", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(connection_names(home.path()).is_empty());
    let out = run(home.path(), &["connection", "delete", "doomed", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no connection named 'doomed'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn create_from_a_toml_file_with_secret_references() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("conn.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "From file"
project = "Billing"
tenant = "[tenant]"
service = "DataQuery"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "ZUORA_SECRET" }}

[proxy]
enabled = true
url = "http://proxy.internal:3128"
user = "me"

[advanced]
PollInterval = 5
URL = "http://127.0.0.1:9999"
"#
        ),
    )
    .unwrap();
    let out = run(
        home.path(),
        &["connection", "create", "--file", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: Tenant: variable [tenant] is not defined yet"),
        "{}",
        stderr(&out)
    );
    let view: serde_json::Value = serde_json::from_slice(
        &run(home.path(), &["connection", "show", "From file", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(view["project"], "Billing");
    assert_eq!(view["proxy"]["enabled"], true);
    assert_eq!(view["advanced"][0]["key"], "PollInterval");
    assert_eq!(view["advanced"][1]["key"], "URL");

    std::fs::write(&file, "name = \"Typo\"\nclient_idd = \"x\"\n").unwrap();
    let out = run(
        home.path(),
        &["connection", "create", "--file", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown field `client_idd`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn variables_set_list_and_delete() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        run(home.path(), &["variable", "set", "region", "EU"])
            .status
            .success()
    );
    let out = run(
        home.path(),
        &[
            "variable",
            "set",
            "token",
            "--secret",
            "--value-from",
            "env:ZUORA_SECRET",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        run(
            home.path(),
            &["variable", "set", "region", "US", "--project", "Billing"]
        )
        .status
        .success()
    );
    let list = run(home.path(), &["variable", "list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.contains("client-secret-value"), "{text}");
    let vars: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(vars.len(), 3);
    let bad = run(home.path(), &["variable", "set", "1bad", "x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).starts_with("error: Variable Name: must start with a letter"),
        "{}",
        stderr(&bad)
    );
    assert!(
        run(
            home.path(),
            &["variable", "delete", "region", "--project", "Billing"]
        )
        .status
        .success()
    );
    assert_eq!(
        run(
            home.path(),
            &["variable", "delete", "region", "--project", "Billing"]
        )
        .status
        .code(),
        Some(2)
    );
}
