//! Third-party conformance: the unmodified tap-zuora 1.6.1 (PyPI) runs discovery and a sync of
//! several streams in AQuA mode against this simulator, through `peers/tap-zuora/run.sh`, and
//! its record counts must match the simulator's rows. Needs python3 and PyPI (for the venv,
//! created once under `target/tap-zuora-venv`).

use std::path::PathBuf;

use zbridge_sim::zuora::ZuoraSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_zuora_1_6_1_discovers_and_syncs_several_streams() {
    // tap-zuora reads result files line by line, so notes with line breaks are turned off.
    let sim = ZuoraSim::builder()
        .seed(11)
        .accounts(150)
        .multiline_text(false)
        .start()
        .await
        .unwrap();
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = crate_dir.join("../../peers/tap-zuora/run.sh");
    let venv = std::env::var("TAP_ZUORA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate_dir.join("../../target/tap-zuora-venv"));
    let out = tokio::process::Command::new("bash")
        .arg(&script)
        .env("TAP_ZUORA_VENV", venv)
        .env("ZUORA_SIM_BASE_URL", sim.base_url())
        .env("ZUORA_SIM_CLIENT_ID", sim.client_id())
        .env("ZUORA_SIM_CLIENT_SECRET", sim.client_secret())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tap-zuora check failed:\n{stdout}\n{stderr}"
    );
    for stream in [
        "Account",
        "Contact",
        "Subscription",
        "Invoice",
        "Payment",
        "RatePlanCharge",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(stream) && l.ends_with("ok")),
            "{stream} not checked:\n{stdout}"
        );
    }
    let counters = sim.counters();
    assert!(
        counters["aqua.submit"] > 6,
        "discovery probes and syncs went through AQuA: {counters:?}"
    );
    assert!(counters["aqua.file"] >= 6);
    sim.shutdown().await;
}
