//! `zbridge sync profile` and `zbridge sf-credentials` as a user runs them, against the
//! Salesforce simulator running in the test process.

use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use zbridge_sim::salesforce::{OrgKind, RunningSalesforceSim, SalesforceSim};

fn zbridge(home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_zbridge"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home)
        .env("ZUORA_SECRET", "client-secret-value")
        .stdin(Stdio::null());
    cmd
}

async fn run(home: &Path, args: &[&str]) -> Output {
    zbridge(home)
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

async fn home_with_profile() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &[
            "connection",
            "create",
            "Zuora",
            "--client-id",
            "3de56ab4-7032-4363-a1d6-ed2873ea03cd",
            "--client-secret-from",
            "env:ZUORA_SECRET",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        home.path(),
        &["sync", "profile", "create", "Main", "--connection", "Zuora"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    home
}

async fn sim() -> RunningSalesforceSim {
    SalesforceSim::builder().seed(21).start().await.unwrap()
}

/// Every rule of the screen: exit code 2, one line naming the field and the rule, nothing saved.
#[tokio::test(flavor = "multi_thread")]
async fn every_validation_rule_is_refused_with_exit_2_and_nothing_saved() {
    let home = home_with_profile().await;
    let h = home.path();
    let long_user = format!("{}@x.io", "u".repeat(46));
    let long_password = "p".repeat(48);
    let long_token = "t".repeat(151);
    let org = "00D5g000004ABCD";
    let org18 = zbridge_core::sfid::to18(org).unwrap();
    let user = "0055g000001ABCD";
    let mut bad_org18 = org18.clone();
    bad_org18.replace_range(15..18, if &org18[15..] == "AAA" { "AAB" } else { "AAA" });
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["password", "--username", &long_user, "--password", "p"],
            "Username: must be at most 50 characters, got 51".into(),
        ),
        (
            vec!["password", "--username", "not-an-email", "--password", "p"],
            "Username: must be a Salesforce username".into(),
        ),
        (
            vec!["password", "--username", "u@x.io"],
            "Password: is required".into(),
        ),
        (
            vec![
                "password",
                "--username",
                "u@x.io",
                "--password",
                &long_password,
            ],
            "Password: must be at most 47 characters, got 48".into(),
        ),
        (
            vec![
                "password",
                "--username",
                "u@x.io",
                "--password",
                "p",
                "--security-token",
                &long_token,
            ],
            "Security Token: must be at most 150 characters, got 151".into(),
        ),
        (
            vec![
                "password",
                "--username",
                "u@x.io",
                "--password",
                "p",
                "--login-url",
                "http://acme.example",
            ],
            "Login URL: must be an https:// URL".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                "00D5g000004AB",
                "--user-id",
                user,
                "--consumer-key",
                "k",
                "--consumer-secret",
                "s",
            ],
            "Org ID: must be 15 or 18 characters, got 13".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                "0015g000004ABCD",
                "--user-id",
                user,
                "--consumer-key",
                "k",
                "--consumer-secret",
                "s",
            ],
            "Org ID: must start with 00D".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                &bad_org18,
                "--user-id",
                user,
                "--consumer-key",
                "k",
                "--consumer-secret",
                "s",
            ],
            "Org ID: the 18-character checksum does not match".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                org,
                "--user-id",
                "00D5g000001ABCD",
                "--consumer-key",
                "k",
                "--consumer-secret",
                "s",
            ],
            "User ID: must start with 005".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                org,
                "--user-id",
                "0055g00000-ABCD",
                "--consumer-key",
                "k",
                "--consumer-secret",
                "s",
            ],
            "User ID: may contain only letters and digits".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                org,
                "--user-id",
                user,
                "--consumer-secret",
                "s",
            ],
            "Consumer Key: is required".into(),
        ),
        (
            vec![
                "oauth",
                "--org-id",
                org,
                "--user-id",
                user,
                "--consumer-key",
                "k",
            ],
            "Consumer Secret: is required".into(),
        ),
        (
            vec![
                "jwt",
                "--username",
                "u@x.io",
                "--consumer-key",
                "k",
                "--key-file",
                "/nonexistent.pem",
            ],
            "Key File: cannot read /nonexistent.pem".into(),
        ),
    ];
    for (fields, expected) in cases {
        let mut args = vec!["sf-credentials", "edit", fields[0], "Main"];
        args.extend_from_slice(&fields[1..]);
        let out = run(h, &args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("error: {expected}")),
            "{args:?}: {err}"
        );
    }
    let out = run(h, &["sf-credentials", "show", "Main", "--json"]).await;
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        view["credentials"],
        serde_json::json!([]),
        "nothing was saved"
    );
    // The 18-character form is stored, the entered form shown; the lowercase suffix is accepted.
    let lower = format!("{}{}", &org18[..15], org18[15..].to_lowercase());
    let out = run(
        h,
        &[
            "sf-credentials",
            "edit",
            "oauth",
            "Main",
            "--org-id",
            &lower,
            "--user-id",
            user,
            "--consumer-key",
            "k",
            "--consumer-secret",
            "s",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(h, &["sf-credentials", "show", "Main", "--json"]).await;
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["credentials"][0]["org_id18"], org18.as_str());
    assert_eq!(view["credentials"][0]["consumer_secret"]["set"], true);
    assert!(!stdout(&out).contains("\"s\""));
}

/// Salesforce credentials, then OAuth set up by pasting the redirect (--no-browser), Test
/// Access, switch, check, and delete with revoke.
#[tokio::test(flavor = "multi_thread")]
async fn oauth_setup_by_paste_test_access_check_and_delete() {
    let sim = sim().await;
    let org = sim.org(OrgKind::Production);
    let admin = org.user("admin").unwrap().clone();
    let sync = org.user("sync").unwrap().clone();
    let home = home_with_profile().await;
    let h = home.path();
    let url = sim.login_url();

    let mut cmd = zbridge(h);
    cmd.env("SF_PASSWORD", &admin.password)
        .env("SF_TOKEN", &admin.security_token);
    let out = cmd
        .args([
            "sf-credentials",
            "edit",
            "password",
            "Main",
            "--username",
            &admin.username,
            "--password-from",
            "env:SF_PASSWORD",
            "--security-token-from",
            "env:SF_TOKEN",
            "--login-url",
            &url,
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(h, &["sf-credentials", "test-access", "Main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("The access test was successful"),
        "{}",
        stdout(&out)
    );

    let mut cmd = zbridge(h);
    cmd.env("APP_SECRET", &org.connected_app.consumer_secret);
    let out = cmd
        .args([
            "sf-credentials",
            "edit",
            "oauth",
            "Main",
            "--org-id",
            &sync.org_id[..15],
            "--user-id",
            &sync.user_id,
            "--consumer-key",
            &org.connected_app.consumer_key,
            "--consumer-secret-from",
            "env:APP_SECRET",
            "--login-url",
            &url,
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(h, &["sf-credentials", "switch", "Main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(h, &["sf-credentials", "test-access", "Main"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("the access test failed: set up the OAuth token with 'zbridge sf-credentials setup-oauth Main'"), "{}", stderr(&out));

    // setup-oauth --no-browser: read the URL, log in on the simulator's page, paste the redirect.
    let mut child = zbridge(h)
        .args(["sf-credentials", "setup-oauth", "Main", "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let authorize = lines.next_line().await.unwrap().unwrap();
    let location = authorize_by_form_post(&authorize, &sync.username, &sync.password).await;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{location}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Stored the OAuth token of 'Main'"),
        "{}",
        stderr(&out)
    );

    let out = run(h, &["sf-credentials", "test-access", "Main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&sync.username));

    // The sync user lacks field access and Customize Application: a table, exit 1.
    let out = run(h, &["sf-credentials", "check", "Main"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("Zuora__Notes__c")
            && table.contains("Customize Application")
            && table.contains("How to grant it"),
        "{table}"
    );

    let out = run(h, &["sf-credentials", "delete", "Main", "oauth", "--yes"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning"),
        "revoked cleanly: {}",
        stderr(&out)
    );
    let out = run(h, &["sf-credentials", "show", "Main", "--json"]).await;
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["active"], "password");
    for secret in [
        &admin.password,
        &admin.security_token,
        &org.connected_app.consumer_secret,
    ] {
        assert!(!stdout(&out).contains(secret.as_str()));
    }
}

async fn authorize_by_form_post(authorize_url: &str, username: &str, password: &str) -> String {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("username".into(), username.into()));
    form.push(("pw".into(), password.into()));
    form.push(("decision".into(), "allow".into()));
    let mut action = url.clone();
    action.set_query(None);
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.post(action).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    resp.headers()["location"].to_str().unwrap().to_string()
}
