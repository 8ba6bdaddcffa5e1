//! The store against real SQLite and PostgreSQL.

mod common;

use common::{Backend, backends};
use secrecy::{ExposeSecret, SecretString};
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::{ConnectionName, ProjectName, VariableName};
use zbridge_store::{Home, Store, StoreError};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn def(name: &str) -> ZuoraConnectionDef {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse(name).unwrap());
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secret("client-secret-PLAINTEXT-1"));
    def
}

#[tokio::test]
async fn connections_round_trip_with_secrets() {
    for backend in backends().await {
        let store = backend.open().await;
        let mut d = def("Prod");
        d.refresh_token = Some(secret("refresh-PLAINTEXT-2"));
        d.set_advanced("OAuthAccessToken", secret("access-PLAINTEXT-3"))
            .unwrap();
        d.set_advanced("PollInterval", secret("3")).unwrap();
        let saved = store.create_connection(&d).await.unwrap();
        assert!(saved.warnings.is_empty(), "{:?}", saved.warnings);
        let loaded = store.load_connection("PROD").await.unwrap();
        assert_eq!(loaded.def.name.as_str(), "Prod");
        assert_eq!(
            loaded.def.client_secret.unwrap().expose_secret(),
            "client-secret-PLAINTEXT-1"
        );
        assert_eq!(
            loaded.def.advanced_secrets["OAuthAccessToken"].expose_secret(),
            "access-PLAINTEXT-3"
        );
        assert_eq!(loaded.def.advanced.get("pollinterval"), Some("3"));
        let list = store.list_connections().await.unwrap();
        assert_eq!(list.len(), 1, "{}", backend.name);
        assert_eq!(list[0].config.tenant, "USProduction");
    }
}

#[tokio::test]
async fn names_are_one_name_whichever_unicode_form_they_are_typed_in() {
    for backend in backends().await {
        let store = backend.open().await;
        store.create_connection(&def("Caf\u{00E9}")).await.unwrap();
        let err = store
            .create_connection(&def("CAFE\u{0301}"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
        let found = store.load_connection(" cafe\u{0301} ").await.unwrap();
        assert_eq!(found.def.name.as_str(), "Caf\u{00E9}", "{}", backend.name);
        let profile = store
            .create_sync_profile("Main\u{00E9}", "Caf\u{00E9}", serde_json::Value::Null)
            .await
            .unwrap();
        let again = store.load_sync_profile("MAINE\u{0301}").await.unwrap();
        assert_eq!(again.id, profile.id);
        let err = store
            .create_sync_profile("Main\u{200B}", "Caf\u{00E9}", serde_json::Value::Null)
            .await
            .unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        assert!(err.to_string().contains("invisible"), "{err}");
    }
}

#[tokio::test]
async fn duplicate_names_are_refused_regardless_of_case() {
    for backend in backends().await {
        let store = backend.open().await;
        store.create_connection(&def("Billing")).await.unwrap();
        let err = store.create_connection(&def("BILLING")).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "Connection Name: a connection named 'Billing' already exists (names are unique regardless of case)"
        );
        assert_eq!(
            store.list_connections().await.unwrap().len(),
            1,
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn an_invalid_edit_saves_nothing_and_a_stale_edit_conflicts() {
    for backend in backends().await {
        let store = backend.open().await;
        let record = store
            .create_connection(&def("Edit me"))
            .await
            .unwrap()
            .value;
        let mut bad = record.def.clone();
        bad.tenant = "Atlantis".into();
        bad.client_secret = Some(secret("changed"));
        let err = store
            .update_connection(&record.id, record.version, &bad)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Tenant: unknown tenant 'Atlantis'"),
            "{err}"
        );
        let unchanged = store.load_connection("Edit me").await.unwrap();
        assert_eq!(unchanged.version, record.version);
        assert_eq!(
            unchanged.def.client_secret.unwrap().expose_secret(),
            "client-secret-PLAINTEXT-1"
        );

        let mut good = record.def.clone();
        good.name = ConnectionName::parse("Renamed").unwrap();
        good.tenant = "EUSandbox".into();
        good.client_secret = None;
        good.set_advanced("InitiateOAuth", secret("OFF")).unwrap();
        good.set_advanced("OAuthAccessToken", secret("tok"))
            .unwrap();
        let saved = store
            .update_connection(&record.id, record.version, &good)
            .await
            .unwrap()
            .value;
        assert_eq!(saved.version, record.version + 1);
        assert_eq!(saved.id, record.id);
        assert!(saved.def.client_secret.is_none(), "cleared secret is gone");
        assert!(matches!(
            store.load_connection("Edit me").await,
            Err(StoreError::NotFound { .. })
        ));

        let err = store
            .update_connection(&record.id, record.version, &good)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { .. }),
            "{}: {err}",
            backend.name
        );
    }
}

#[tokio::test]
async fn delete_refuses_while_components_use_the_connection() {
    for backend in backends().await {
        let store = backend.open().await;
        let record = store.create_connection(&def("Used")).await.unwrap().value;
        let definition = serde_json::json!({"table": "Account"});
        store
            .save_component(
                "query",
                "Daily accounts",
                &definition,
                std::slice::from_ref(&record.id),
            )
            .await
            .unwrap();
        store
            .save_component(
                "sync profile",
                "To Salesforce",
                &definition,
                std::slice::from_ref(&record.id),
            )
            .await
            .unwrap();
        let err = store.delete_connection("used").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection 'Used' is used by query 'Daily accounts', sync profile 'To Salesforce'; delete or change those first"
        );
        store
            .delete_component("query", "daily accounts")
            .await
            .unwrap();
        store
            .delete_component("sync profile", "To Salesforce")
            .await
            .unwrap();
        store.delete_connection("Used").await.unwrap();
        assert!(
            store.list_connections().await.unwrap().is_empty(),
            "{}",
            backend.name
        );
        assert!(matches!(
            store.delete_connection("Used").await,
            Err(StoreError::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn project_variables_win_and_secret_variables_stay_secret() {
    for backend in backends().await {
        let store = backend.open().await;
        let project = ProjectName::parse("EU rollout").unwrap();
        let host = VariableName::parse("host").unwrap();
        store
            .set_variable(&host, None, &secret("global.example"), false)
            .await
            .unwrap();
        store
            .set_variable(&host, Some(&project), &secret("eu.example"), false)
            .await
            .unwrap();
        let key = VariableName::parse("zuora_secret").unwrap();
        store
            .set_variable(&key, None, &secret("var-secret-PLAINTEXT-4"), true)
            .await
            .unwrap();

        let mut d = def("Templated");
        d.project = Some(project.clone());
        d.client_secret = Some(secret("[zuora_secret]"));
        d.set_advanced("URL", secret("https://[host]")).unwrap();
        d.set_advanced("ReadTimeout", secret("[undefined_timeout]"))
            .unwrap();
        let saved = store.create_connection(&d).await.unwrap();
        assert_eq!(saved.warnings.len(), 1, "{:?}", saved.warnings);

        let scope = store.variable_scope(Some(&project)).await.unwrap();
        let err = saved.value.def.resolve(&scope).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "Advanced Configurations: ReadTimeout: variable [undefined_timeout] is not defined"
            ),
            "{err}"
        );
        store
            .set_variable(
                &VariableName::parse("undefined_timeout").unwrap(),
                None,
                &secret("40"),
                false,
            )
            .await
            .unwrap();
        let scope = store.variable_scope(Some(&project)).await.unwrap();
        let resolved = saved.value.def.resolve(&scope).unwrap();
        assert_eq!(resolved.base_url, "https://eu.example");
        assert_eq!(
            resolved.client_secret.unwrap().expose_secret(),
            "var-secret-PLAINTEXT-4"
        );

        let global_only = store.variable_scope(None).await.unwrap();
        assert_eq!(
            global_only.lookup(&host).unwrap().value.expose_secret(),
            "global.example"
        );

        let listed = store.list_variables(None).await.unwrap();
        assert_eq!(listed.len(), 4, "{}", backend.name);
        let secret_row = listed.iter().find(|v| v.name == "zuora_secret").unwrap();
        assert!(secret_row.secret && secret_row.value.is_none());

        store.delete_variable(&host, Some(&project)).await.unwrap();
        let scope = store.variable_scope(Some(&project)).await.unwrap();
        assert_eq!(
            scope.lookup(&host).unwrap().value.expose_secret(),
            "global.example"
        );
        assert!(store.delete_variable(&host, Some(&project)).await.is_err());
    }
}

#[tokio::test]
async fn a_wrong_master_key_is_a_clear_error() {
    for backend in backends().await {
        let store = backend.open().await;
        store.create_connection(&def("Keyed")).await.unwrap();
        store.close().await;
        let mut home: Home = backend.home.clone();
        home.master_key = Some(secret(&"22".repeat(32)));
        let err = Store::open(&home).await.unwrap_err().to_string();
        assert!(
            err.starts_with(
                "the master key from ZBRIDGE_MASTER_KEY does not open this database's secrets"
            ),
            "{}: {err}",
            backend.name
        );
    }
}

/// No secret's plaintext may reach the database files or rows.
#[tokio::test]
async fn no_plaintext_secret_is_stored() {
    let plaintexts = [
        "client-secret-PLAINTEXT-1",
        "refresh-PLAINTEXT-2",
        "access-PLAINTEXT-3",
        "var-secret-PLAINTEXT-4",
        "proxy-PLAINTEXT-5",
    ];
    for backend in backends().await {
        let store = backend.open().await;
        let mut d = def("Secretive");
        d.refresh_token = Some(secret(plaintexts[1]));
        d.set_advanced("OAuthAccessToken", secret(plaintexts[2]))
            .unwrap();
        d.proxy.enabled = true;
        d.proxy.url = "http://proxy:3128".into();
        d.proxy.user = "me".into();
        d.proxy.password = Some(secret(plaintexts[4]));
        store.create_connection(&d).await.unwrap();
        store
            .set_variable(
                &VariableName::parse("v").unwrap(),
                None,
                &secret(plaintexts[3]),
                true,
            )
            .await
            .unwrap();
        store.close().await;
        let dump = raw_dump(&backend).await;
        assert!(
            dump.len() > 1000,
            "{}: the dump must hold the data",
            backend.name
        );
        assert!(
            contains(&dump, b"Secretive"),
            "{}: the dump must hold the rows",
            backend.name
        );
        for plaintext in plaintexts {
            assert!(
                !contains(&dump, plaintext.as_bytes()),
                "{}: {plaintext} found in storage",
                backend.name
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of the SQLite files (database, WAL, shared memory), or every row of every
/// PostgreSQL table as text.
async fn raw_dump(backend: &Backend) -> Vec<u8> {
    let mut out = Vec::new();
    match &backend.pg_url {
        None => {
            for entry in std::fs::read_dir(backend.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("zbridge.db")
                {
                    out.extend(std::fs::read(&path).unwrap());
                }
            }
        }
        Some(url) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let tables: Vec<(String,)> =
                sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for (table,) in tables {
                let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
                let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for (row,) in rows {
                    out.extend(row.into_bytes());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn token_caches_are_per_connection_and_bound_to_credentials() {
    use zbridge_store::StoredToken;
    for backend in backends().await {
        let store = backend.open().await;
        let a = store.create_connection(&def("A")).await.unwrap().value;
        let b = store.create_connection(&def("B")).await.unwrap().value;
        let expires_at = chrono::Utc::now() + chrono::Duration::hours(1);
        let token = |t: &str| StoredToken {
            access_token: secret(t),
            scope: "tenant.1".into(),
            expires_at,
        };
        store
            .save_token(&a.id, "https://a|id", &token("token-a"))
            .await
            .unwrap();
        store
            .save_token(&b.id, "https://b|id", &token("token-b"))
            .await
            .unwrap();
        let got_a = store
            .load_token(&a.id, "https://a|id")
            .await
            .unwrap()
            .unwrap();
        let got_b = store
            .load_token(&b.id, "https://b|id")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got_a.access_token.expose_secret(), "token-a");
        assert_eq!(got_b.access_token.expose_secret(), "token-b");
        assert_eq!(
            got_a.expires_at.timestamp_millis(),
            expires_at.timestamp_millis()
        );
        assert!(
            store
                .load_token(&a.id, "https://other|id")
                .await
                .unwrap()
                .is_none(),
            "{}: a token cached for other credentials is not used",
            backend.name
        );
        store
            .save_token(&a.id, "https://a|id", &token("token-a2"))
            .await
            .unwrap();
        let replaced = store
            .load_token(&a.id, "https://a|id")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replaced.access_token.expose_secret(), "token-a2");
        store.delete_token(&a.id).await.unwrap();
        assert!(
            store
                .load_token(&a.id, "https://a|id")
                .await
                .unwrap()
                .is_none()
        );
    }
}
