//! Sync credentials against the Salesforce simulator: SOAP login and its faults, OAuth setup
//! end to end, identity mismatch, Test Access, delete with revoke, switch, JWT.

mod common;

use common::{PROFILE, env, env_with, http, secret};
use secrecy::ExposeSecret;
use zbridge_salesforce::credentials::{CredentialKind, JwtFields, OAuthFields, PasswordFields};
use zbridge_salesforce::{SalesforceError, oauth};
use zbridge_sim::salesforce::{FaultProfile, OrgKind, SalesforceSim};

#[tokio::test]
async fn soap_login_succeeds_with_a_password_that_needs_xml_escaping() {
    let env = env().await;
    // The admin's password is "Adm1n&<pass>": it only works if the envelope escapes it.
    assert!(env.user("admin").password.contains('&'));
    env.save_password("admin").await;
    let report = env.service.test_access(PROFILE).await.unwrap();
    assert!(
        report.message.starts_with("The access test was successful"),
        "{}",
        report.message
    );
    assert_eq!(report.user_id, env.user("admin").user_id);
    assert_eq!(report.org_id, env.user("admin").org_id);
}

async fn login_failure(env: &common::Env, password: &str, token: &str) -> String {
    let u = env.user("admin");
    env.service
        .save_password(
            PROFILE,
            PasswordFields {
                username: Some(u.username.clone()),
                password: Some(secret(password)),
                security_token: Some(secret(token)),
                endpoint: env.endpoint(),
            },
        )
        .await
        .unwrap();
    let err = env.service.test_access(PROFILE).await.unwrap_err();
    assert!(matches!(err, SalesforceError::AccessTest { .. }), "{err:?}");
    err.to_string()
}

#[tokio::test]
async fn soap_login_faults_are_told_in_plain_words() {
    let env = env().await;
    let u = env.user("admin");
    let wrong = login_failure(&env, "wrong-password", &u.security_token).await;
    assert!(
        wrong.contains("INVALID_LOGIN") && wrong.contains("wrong"),
        "{wrong}"
    );
    let no_token = login_failure(&env, &u.password, "").await;
    assert!(
        no_token.contains("LOGIN_MUST_USE_SECURITY_TOKEN")
            && no_token.contains("security token is needed"),
        "{no_token}"
    );
    for message in [&wrong, &no_token] {
        assert!(!message.contains(&u.password) && !message.contains(&u.security_token));
    }

    env.sim.set_soap_login_enabled(OrgKind::Production, false);
    let disabled = login_failure(&env, &u.password, &u.security_token).await;
    assert!(
        disabled.contains("Enable SOAP API login() in Setup > User Interface")
            || disabled.contains("enable SOAP API login()"),
        "{disabled}"
    );
    assert!(disabled.contains("OAuth"), "{disabled}");
    env.sim.set_soap_login_enabled(OrgKind::Production, true);

    env.save_password("expired").await;
    let err = env
        .service
        .test_access(PROFILE)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("password has expired"), "{err}");
}

#[tokio::test]
async fn oauth_setup_end_to_end_stores_a_sealed_token_and_test_access_succeeds() {
    let env = env().await;
    env.save_oauth("sync").await;
    let before = env
        .service
        .test_access(PROFILE)
        .await
        .unwrap_err()
        .to_string();
    assert!(before.contains("set up the OAuth token"), "{before}");
    let outcome = env.setup_oauth_as("sync").await.unwrap();
    assert_eq!(outcome.user_id, env.user("sync").user_id);
    let view = env.service.show(PROFILE).await.unwrap();
    assert_eq!(
        view.credentials[0].oauth_token,
        Some(zbridge_store::SecretState::new(true))
    );
    let report = env.service.test_access(PROFILE).await.unwrap();
    assert!(report.message.starts_with("The access test was successful"));
    assert_eq!(report.username, env.user("sync").username);
}

#[tokio::test]
async fn an_identity_mismatch_is_refused_and_nothing_is_stored() {
    let env = env().await;
    env.save_oauth("sync").await;
    let err = env.setup_oauth_as("admin").await.unwrap_err();
    assert!(
        matches!(err, SalesforceError::IdentityMismatch(_)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("the user is") && message.contains(&env.user("sync").user_id),
        "{message}"
    );
    assert!(
        !message.contains("the org is"),
        "only the user differs: {message}"
    );
    let view = env.service.show(PROFILE).await.unwrap();
    assert_eq!(
        view.credentials[0].oauth_token,
        Some(zbridge_store::SecretState::new(false))
    );
}

#[tokio::test]
async fn test_access_asks_for_setup_when_the_token_is_revoked() {
    let env = env().await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    env.sim.set_faults(
        OrgKind::Production,
        FaultProfile {
            revoked_refresh_token: true,
            ..FaultProfile::default()
        },
    );
    let err = env
        .service
        .test_access(PROFILE)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the access test failed: set up the OAuth token"),
        "{err}"
    );
    // The dead token is forgotten, so the screen shows the token as not set.
    let view = env.service.show(PROFILE).await.unwrap();
    assert_eq!(
        view.credentials[0].oauth_token,
        Some(zbridge_store::SecretState::new(false))
    );
}

#[tokio::test]
async fn delete_revokes_the_token_at_salesforce_then_wipes_it() {
    let env = env().await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    let profile = env.store.load_sync_profile(PROFILE).await.unwrap();
    let stored = env
        .store
        .load_sf_credential(&profile.id, "oauth")
        .await
        .unwrap()
        .unwrap();
    let token = stored.secrets["refresh_token"].clone();
    let app = env.sim.org(OrgKind::Production).connected_app;
    let warnings = env
        .service
        .delete(PROFILE, CredentialKind::OAuth)
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        env.service
            .show(PROFILE)
            .await
            .unwrap()
            .credentials
            .is_empty()
    );
    let err = oauth::refresh(
        &http(),
        &env.login_url(),
        &app.consumer_key,
        &secret(&app.consumer_secret),
        &token,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SalesforceError::OAuth { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_wipes_even_when_the_revoke_fails() {
    let env = env().await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    env.sim
        .set_faults(OrgKind::Production, FaultProfile::default());
    // Make Salesforce unreachable: point the credential's login URL at a closed port without
    // touching the token (a login-host change would drop it), by stopping the simulator.
    let sim = env.sim;
    sim.shutdown().await;
    let warnings = env
        .service
        .delete(PROFILE, CredentialKind::OAuth)
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].message.contains("could not revoke"),
        "{}",
        warnings[0]
    );
    assert!(
        env.service
            .show(PROFILE)
            .await
            .unwrap()
            .credentials
            .is_empty()
    );
}

#[tokio::test]
async fn reset_keeps_the_token_unless_org_or_user_change() {
    let env = env().await;
    env.save_oauth("sync").await;
    env.setup_oauth_as("sync").await.unwrap();
    // An edit that changes nothing that identifies the token keeps it.
    let (view, warnings) = env
        .service
        .save_oauth(
            PROFILE,
            OAuthFields {
                consumer_secret: Some(secret(
                    &env.sim
                        .org(OrgKind::Production)
                        .connected_app
                        .consumer_secret,
                )),
                ..OAuthFields::default()
            },
        )
        .await
        .unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        view.credentials[0].oauth_token,
        Some(zbridge_store::SecretState::new(true))
    );
    // The 15-character form of the same user is the same user.
    let user15 = env.user("sync").user_id[..15].to_string();
    let (view, warnings) = env
        .service
        .save_oauth(
            PROFILE,
            OAuthFields {
                user_id: Some(user15.clone()),
                ..OAuthFields::default()
            },
        )
        .await
        .unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        view.credentials[0].user_id.as_deref(),
        Some(user15.as_str())
    );
    assert_eq!(
        view.credentials[0].user_id18.as_deref(),
        Some(env.user("sync").user_id.as_str())
    );
    // Another user invalidates it, with a warning.
    let (view, warnings) = env
        .service
        .save_oauth(
            PROFILE,
            OAuthFields {
                user_id: Some(env.user("admin").user_id.clone()),
                ..OAuthFields::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .to_string()
            .starts_with("OAuth Token: the Org ID, User ID"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        view.credentials[0].oauth_token,
        Some(zbridge_store::SecretState::new(false))
    );
}

#[tokio::test]
async fn switch_makes_the_other_kind_active() {
    let env = env().await;
    env.save_password("admin").await;
    env.save_oauth("sync").await;
    let view = env.service.show(PROFILE).await.unwrap();
    assert_eq!(view.active, Some(CredentialKind::Password));
    assert_eq!(
        env.service.switch(PROFILE, None).await.unwrap(),
        CredentialKind::OAuth
    );
    assert_eq!(
        env.service.show(PROFILE).await.unwrap().active,
        Some(CredentialKind::OAuth)
    );
    assert_eq!(
        env.service.switch(PROFILE, None).await.unwrap(),
        CredentialKind::Password
    );
    let err = env
        .service
        .switch(PROFILE, Some(CredentialKind::Jwt))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no JWT bearer credentials"),
        "{err}"
    );
}

#[tokio::test]
async fn jwt_bearer_logs_in_a_preauthorised_user() {
    let env = env_with(SalesforceSim::builder().seed(5)).await;
    let key = env.dir.path().join("jwt.pem");
    std::fs::write(&key, env.sim.jwt_private_key_pem()).unwrap();
    let app = env.sim.org(OrgKind::Production).connected_app;
    env.service
        .save_jwt(
            PROFILE,
            JwtFields {
                username: Some(env.user("admin").username),
                consumer_key: Some(app.consumer_key.clone()),
                key_file: Some(key.clone()),
                endpoint: env.endpoint(),
            },
        )
        .await
        .unwrap();
    let report = env.service.test_access(PROFILE).await.unwrap();
    assert_eq!(report.kind, CredentialKind::Jwt);
    assert_eq!(report.user_id, env.user("admin").user_id);
    let not_a_key = env.dir.path().join("nokey.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let err = env
        .service
        .save_jwt(
            PROFILE,
            JwtFields {
                key_file: Some(not_a_key.clone()),
                ..JwtFields::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Key File:") && err.contains("not an RSA private key"),
        "{err}"
    );

    // The key itself, sealed in the store instead of a file: the view shows only "set".
    let pem = env.sim.jwt_private_key_pem().to_string();
    let shown = env
        .service
        .save_jwt_with_key(PROFILE, JwtFields::default(), Some(secret(&pem)))
        .await
        .unwrap();
    let jwt = &shown.credentials[0];
    assert_eq!(
        (jwt.private_key, jwt.key_file.as_deref()),
        (Some(zbridge_store::SecretState::new(true)), None)
    );
    std::fs::remove_file(&key).unwrap();
    let report = env.service.test_access(PROFILE).await.unwrap();
    assert_eq!(report.user_id, env.user("admin").user_id);
    let not_pem = "-----BEGIN PRIVATE KEY-----\nnot-a-key-7f3e\n-----END PRIVATE KEY-----\n";
    let err = env
        .service
        .save_jwt_with_key(PROFILE, JwtFields::default(), Some(secret(not_pem)))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "Private Key: is not an RSA private key in PEM form");
    let both = env
        .service
        .save_jwt_with_key(
            PROFILE,
            JwtFields {
                key_file: Some(not_a_key.clone()),
                ..JwtFields::default()
            },
            Some(secret(&pem)),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(both.contains("not both"), "{both}");
    // A key file given later replaces the sealed key.
    std::fs::write(&key, &pem).unwrap();
    let shown = env
        .service
        .save_jwt(
            PROFILE,
            JwtFields {
                key_file: Some(key.clone()),
                ..JwtFields::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        shown.credentials[0].private_key,
        Some(zbridge_store::SecretState::new(false))
    );
    assert!(shown.credentials[0].key_file.is_some());
    let _ = secret("x").expose_secret();
}
