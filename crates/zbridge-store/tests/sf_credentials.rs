//! Sync profiles and Salesforce credentials against real SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::backends;
use secrecy::{ExposeSecret, SecretString};
use zbridge_core::ConnectionName;
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_store::{SecretChange, Store, StoreError};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

async fn store_with_connection(store: &Store) {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse("Zuora").unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secret("client-secret"));
    store.create_connection(&def).await.unwrap();
}

#[tokio::test]
async fn profiles_block_deleting_their_connection_and_are_unique() {
    for backend in backends().await {
        let store = backend.open().await;
        store_with_connection(&store).await;
        let profile = store
            .create_sync_profile("Main org", "zuora", serde_json::json!({"lag": 5}))
            .await
            .unwrap();
        assert_eq!(profile.options["lag"], 5);
        let err = store
            .create_sync_profile("MAIN ORG", "Zuora", serde_json::Value::Null)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
        let err = store
            .create_sync_profile("a/b", "Zuora", serde_json::Value::Null)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Sync Profile Name: must not contain '/' or ':'"
        );
        let err = store.delete_connection("Zuora").await.unwrap_err();
        assert!(err.to_string().contains("sync profile 'Main org'"), "{err}");
        assert_eq!(store.list_sync_profiles().await.unwrap().len(), 1);
        store.delete_sync_profile("main org").await.unwrap();
        store.delete_connection("Zuora").await.unwrap();
    }
}

#[tokio::test]
async fn credentials_keep_secrets_sealed_and_one_active() {
    for backend in backends().await {
        let store = backend.open().await;
        store_with_connection(&store).await;
        let profile = store
            .create_sync_profile("P", "Zuora", serde_json::Value::Null)
            .await
            .unwrap();
        let password = secret("PLAINTEXT-password-1");
        let first = store
            .save_sf_credential(
                &profile.id,
                "password",
                &serde_json::json!({"username": "u@example.com"}),
                &[("password", SecretChange::Set(&password))],
            )
            .await
            .unwrap();
        assert!(first.active, "the first credential becomes active");
        let refresh = secret("PLAINTEXT-refresh-2");
        let oauth = store
            .save_sf_credential(
                &profile.id,
                "oauth",
                &serde_json::json!({"org_id": "x"}),
                &[("refresh_token", SecretChange::Set(&refresh))],
            )
            .await
            .unwrap();
        assert!(!oauth.active);
        let stamp = store
            .sf_credential_stamp(&profile.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stamp.kind, "password");

        // Editing keeps unlisted secrets and bumps the version.
        let edited = store
            .save_sf_credential(
                &profile.id,
                "password",
                &serde_json::json!({"username": "v@example.com"}),
                &[],
            )
            .await
            .unwrap();
        assert!(edited.version > first.version);
        assert_eq!(
            edited.secrets["password"].expose_secret(),
            "PLAINTEXT-password-1"
        );

        store
            .activate_sf_credential(&profile.id, "oauth")
            .await
            .unwrap();
        let all = store.load_sf_credentials(&profile.id).await.unwrap();
        assert_eq!(all.iter().filter(|c| c.active).count(), 1);
        assert_eq!(all[0].kind, "oauth");
        let new_stamp = store
            .sf_credential_stamp(&profile.id)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(new_stamp, stamp);

        // The raw database never holds a secret in clear.
        if let Some(url) = &backend.pg_url {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM sf_credential_secrets")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            for (sealed,) in rows {
                assert!(!String::from_utf8_lossy(&sealed).contains("PLAINTEXT"));
            }
        } else {
            let db = std::fs::read(backend.home.data_dir.join("zbridge.db")).unwrap_or_default();
            let wal =
                std::fs::read(backend.home.data_dir.join("zbridge.db-wal")).unwrap_or_default();
            for bytes in [db, wal] {
                assert!(!String::from_utf8_lossy(&bytes).contains("PLAINTEXT"));
            }
        }

        // Deleting the active credential promotes the other one.
        assert!(
            store
                .delete_sf_credential(&profile.id, "oauth")
                .await
                .unwrap()
        );
        let all = store.load_sf_credentials(&profile.id).await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].active);
        assert!(
            !store
                .delete_sf_credential(&profile.id, "oauth")
                .await
                .unwrap()
        );
        let err = store
            .activate_sf_credential(&profile.id, "jwt")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));

        // Clearing a secret removes it.
        let cleared = store
            .save_sf_credential(
                &profile.id,
                "password",
                &serde_json::json!({"username": "v@example.com"}),
                &[("password", SecretChange::Clear)],
            )
            .await
            .unwrap();
        assert!(cleared.secrets.is_empty());
    }
}

#[tokio::test]
async fn refresh_lease_is_exclusive_and_rotation_is_saved_with_the_release() {
    for backend in backends().await {
        let store = backend.open().await;
        store_with_connection(&store).await;
        let profile = store
            .create_sync_profile("P", "Zuora", serde_json::Value::Null)
            .await
            .unwrap();
        let old = secret("old-refresh");
        store
            .save_sf_credential(
                &profile.id,
                "oauth",
                &serde_json::json!({}),
                &[("refresh_token", SecretChange::Set(&old))],
            )
            .await
            .unwrap();
        let ttl = Duration::from_secs(30);
        assert!(
            store
                .try_lease_sf_refresh(&profile.id, "a", ttl)
                .await
                .unwrap()
        );
        assert!(
            !store
                .try_lease_sf_refresh(&profile.id, "b", ttl)
                .await
                .unwrap()
        );
        let new = secret("new-refresh");
        store
            .finish_sf_refresh(&profile.id, "oauth", "a", Some(("refresh_token", &new)))
            .await
            .unwrap();
        let cred = store
            .load_sf_credential(&profile.id, "oauth")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cred.secrets["refresh_token"].expose_secret(), "new-refresh");
        assert!(
            store
                .try_lease_sf_refresh(&profile.id, "b", ttl)
                .await
                .unwrap()
        );
        // An expired lease can be taken over.
        store
            .finish_sf_refresh(&profile.id, "oauth", "b", None)
            .await
            .unwrap();
        assert!(
            store
                .try_lease_sf_refresh(&profile.id, "c", Duration::ZERO)
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            store
                .try_lease_sf_refresh(&profile.id, "d", ttl)
                .await
                .unwrap()
        );
    }
}
