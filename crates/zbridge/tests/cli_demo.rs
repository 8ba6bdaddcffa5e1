//! `zbridge demo` runs its whole tour, the 360 sync part included, offline.

use std::process::{Command, Stdio};

#[test]
fn the_demo_ends_with_a_full_and_an_incremental_sync_and_a_summary() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zbridge"))
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZBRIDGE_HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .expect("run zbridge demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("==> "))
        .collect();
    for step in [
        "A full sync",
        "Changes in Zuora (through the simulator's control API)",
        "An incremental sync",
        "Summary",
        "Done",
    ] {
        assert!(steps.contains(&step), "no step '{step}' in {steps:?}");
    }
    let summary = stdout.split("==> Summary").nth(1).unwrap();
    let row = |run: &str| {
        summary
            .lines()
            .find(|l| l.contains(&format!(" {run} ")))
            .unwrap_or_else(|| panic!("no {run} row in {summary}"))
            .split('┆')
            .map(|c| {
                c.trim_matches(|ch: char| ch.is_whitespace() || ch == '│')
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let full = row("full");
    assert_eq!(full[1], "Finished", "{full:?}");
    let upserted: u64 = full[3].parse().unwrap();
    assert!(upserted > 1_000, "{full:?}");
    let incremental = row("incremental");
    let deleted: u64 = incremental[4].parse().unwrap();
    assert!(
        deleted > 0,
        "the cancelled account's subtree and the deleted payments: {incremental:?}"
    );
    let read: u64 = incremental[2].parse().unwrap();
    assert!(
        read < upserted / 4,
        "an incremental run reads only changes: {incremental:?}"
    );
    // The account created by the Execute step has no CrmId: a needs-a-fix record.
    assert!(stdout.contains("DACO-02 (needs fix)"), "{stdout}");
    assert!(
        !home.path().join("zbridge.db").exists(),
        "the demo used its own home"
    );
}
