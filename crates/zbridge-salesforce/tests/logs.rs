//! No secret, session id or token appears in any log line at any level: a full run at TRACE
//! (SOAP login, OAuth setup, refresh with rotation, loads, revoke) is captured and searched.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{PROFILE, authorize_by_form_post, http};
use secrecy::ExposeSecret;
use zbridge_salesforce::ClientOptions;
use zbridge_salesforce::credentials::CredentialKind;
use zbridge_salesforce::loopback::CallbackListener;
use zbridge_sim::salesforce::OrgKind;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_run_at_trace_level_logs_no_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let env = common::env().await;
    let mut secrets: Vec<String> = Vec::new();
    let admin = env.user("admin");
    let sync = env.user("sync");
    let app = env.sim.org(OrgKind::Production).connected_app;
    secrets.extend([
        admin.password.clone(),
        admin.security_token.clone(),
        sync.password.clone(),
        app.consumer_secret.clone(),
    ]);

    // Password credentials: login, a load, an expired session and a re-login.
    env.save_password("admin").await;
    env.service.test_access(PROFILE).await.unwrap();
    let options = ClientOptions {
        retry_base: std::time::Duration::from_millis(5),
        bulk_poll_initial: std::time::Duration::from_millis(5),
        ..ClientOptions::default()
    };
    let client = env.service.client(PROFILE, options.clone()).await.unwrap();
    let mut record = serde_json::Map::new();
    record.insert("Zuora__External_Id__c".into(), "log-1".into());
    record.insert("Name".into(), "n".into());
    client
        .upsert_collection(
            "Zuora__CustomerAccount__c",
            "Zuora__External_Id__c",
            &[record],
        )
        .await
        .unwrap();
    secrets.push(
        client
            .begin_batch()
            .await
            .unwrap()
            .session()
            .await
            .unwrap()
            .access_token
            .expose_secret()
            .to_string(),
    );
    env.sim.expire_sessions(OrgKind::Production);
    let columns = vec!["Zuora__External_Id__c".to_string(), "Name".to_string()];
    client
        .bulk_upsert(
            "Zuora__CustomerAccount__c",
            "Zuora__External_Id__c",
            &columns,
            &[vec!["log-2".into(), "m".into()]],
        )
        .await
        .unwrap();
    secrets.push(
        client
            .begin_batch()
            .await
            .unwrap()
            .session()
            .await
            .unwrap()
            .access_token
            .expose_secret()
            .to_string(),
    );

    // OAuth: setup through the loopback listener, refresh with rotation, revoke on delete.
    env.save_oauth("sync").await;
    let listener = CallbackListener::bind(0).await.unwrap();
    let pending = env
        .service
        .begin_oauth_setup(PROFILE, listener.redirect_uri())
        .await
        .unwrap();
    let location = authorize_by_form_post(&pending.authorize_url, &sync).await;
    let code = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    secrets.push(code);
    let waiting = tokio::spawn(listener.wait());
    http().get(&location).send().await.unwrap();
    let redirected = waiting.await.unwrap().unwrap();
    env.service
        .finish_oauth_setup(pending, &redirected)
        .await
        .unwrap();
    env.service
        .switch(PROFILE, Some(CredentialKind::OAuth))
        .await
        .unwrap();
    let profile = env.store.load_sync_profile(PROFILE).await.unwrap();
    let refresh = |store: zbridge_store::Store, id: String| async move {
        store
            .load_sf_credential(&id, "oauth")
            .await
            .unwrap()
            .unwrap()
            .secrets["refresh_token"]
            .expose_secret()
            .to_string()
    };
    secrets.push(refresh(env.store.clone(), profile.id.clone()).await);
    let client = env.service.client(PROFILE, options).await.unwrap();
    client.org_limits().await.unwrap();
    secrets.push(
        client
            .begin_batch()
            .await
            .unwrap()
            .session()
            .await
            .unwrap()
            .access_token
            .expose_secret()
            .to_string(),
    );
    secrets.push(refresh(env.store.clone(), profile.id.clone()).await);
    env.service.test_access(PROFILE).await.unwrap();
    env.service
        .delete(PROFILE, CredentialKind::OAuth)
        .await
        .unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 20, "the run was logged:\n{logs}");
    assert!(logs.contains("TRACE"), "trace level was on");
    for secret in &secrets {
        assert!(secret.len() >= 8, "a real secret: {secret:?}");
        for line in logs.lines() {
            assert!(
                !line.contains(secret.as_str()),
                "a secret leaked into the log: {line}"
            );
        }
    }
    assert!(
        !logs.to_ascii_lowercase().contains("bearer "),
        "an Authorization header was logged"
    );
}
