//! The client against the Zuora simulator.

use secrecy::{ExposeSecret, SecretString};
use zbridge_core::connection::ZuoraConnectionDef;
use zbridge_core::variables::VariableScope;
use zbridge_core::{ConnectionName, Tenant};
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};
use zbridge_store::{Home, Store};
use zbridge_zuora::{TokenCache, ZuoraClient};

async fn sim(seed: u64) -> RunningZuoraSim {
    ZuoraSim::builder()
        .seed(seed)
        .accounts(20)
        .start()
        .await
        .unwrap()
}

fn def(name: &str, tenant: Tenant, sim: &RunningZuoraSim) -> ZuoraConnectionDef {
    let mut def = ZuoraConnectionDef::new(ConnectionName::parse(name).unwrap());
    def.tenant = tenant.as_str().into();
    def.client_id = sim.client_id().into();
    def.client_secret = Some(SecretString::from(sim.client_secret().to_string()));
    def.set_advanced("URL", SecretString::from(sim.base_url().to_string()))
        .unwrap();
    def
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(SecretString::from("33".repeat(32)));
    let store = Store::open(&home).await.unwrap();
    (dir, store)
}

/// Two connections of different tenants, used concurrently in one process: each keeps its
/// own token, and a token never reaches the other tenant (which would refuse it).
#[tokio::test]
async fn two_tenants_used_concurrently_never_swap_tokens() {
    let (us, eu) = (sim(1).await, sim(2).await);
    let (_dir, store) = store().await;
    let a = store
        .create_connection(&def("US", Tenant::USProduction, &us))
        .await
        .unwrap()
        .value;
    let b = store
        .create_connection(&def("EU", Tenant::EUProduction, &eu))
        .await
        .unwrap()
        .value;
    let client = |record: &zbridge_store::ConnectionRecord| {
        let resolved = record.def.resolve(&VariableScope::default()).unwrap();
        ZuoraClient::new(
            resolved,
            TokenCache::Store {
                store: store.clone(),
                connection_id: record.id.clone(),
            },
        )
        .unwrap()
    };
    let (ca, cb) = (client(&a), client(&b));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        tasks.push(tokio::spawn(async move {
            c.get_json("/query/jobs?pageSize=1").await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let token_a = ca.tokens().token().await.unwrap();
    let token_b = cb.tokens().token().await.unwrap();
    assert_ne!(
        token_a.access_token.expose_secret(),
        token_b.access_token.expose_secret()
    );
    let binding = |sim: &RunningZuoraSim| format!("{}|{}", sim.base_url(), sim.client_id());
    let cached_a = store
        .load_token(&a.id, &binding(&us))
        .await
        .unwrap()
        .unwrap();
    let cached_b = store
        .load_token(&b.id, &binding(&eu))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cached_a.access_token.expose_secret(),
        token_a.access_token.expose_secret()
    );
    assert_eq!(
        cached_b.access_token.expose_secret(),
        token_b.access_token.expose_secret()
    );
    assert_eq!(
        us.counters().get("oauth.token").copied().unwrap_or(0),
        1,
        "{:?}",
        us.counters()
    );
    assert_eq!(
        eu.counters().get("oauth.token").copied().unwrap_or(0),
        1,
        "{:?}",
        eu.counters()
    );
}

/// A cached token is reused by the next process (here: a new client) instead of minting one.
#[tokio::test]
async fn the_store_cache_survives_the_client() {
    let zuora = sim(3).await;
    let (_dir, store) = store().await;
    let record = store
        .create_connection(&def("Cached", Tenant::USProduction, &zuora))
        .await
        .unwrap()
        .value;
    for _ in 0..3 {
        let resolved = record.def.resolve(&VariableScope::default()).unwrap();
        let cache = TokenCache::Store {
            store: store.clone(),
            connection_id: record.id.clone(),
        };
        let client = ZuoraClient::new(resolved, cache).unwrap();
        zbridge_zuora::test::test_connection(&client).await.unwrap();
    }
    assert_eq!(
        zuora.counters().get("oauth.token").copied().unwrap_or(0),
        1,
        "{:?}",
        zuora.counters()
    );
}

/// With OAuthSettingsLocation the token lives in that file, mode 0600.
#[tokio::test]
async fn the_token_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let zuora = sim(4).await;
    let (dir, store) = store().await;
    let path = dir.path().join("tokens/zuora.json");
    let record = store
        .create_connection(&def("File", Tenant::USProduction, &zuora))
        .await
        .unwrap()
        .value;
    for _ in 0..2 {
        let resolved = record.def.resolve(&VariableScope::default()).unwrap();
        let cache = TokenCache::File {
            store: store.clone(),
            connection_id: record.id.clone(),
            path: path.clone(),
        };
        zbridge_zuora::test::test_connection(&ZuoraClient::new(resolved, cache).unwrap())
            .await
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("access_token"),
        "the token is sealed: {text}"
    );
    assert_eq!(
        zuora.counters().get("oauth.token").copied().unwrap_or(0),
        1,
        "{:?}",
        zuora.counters()
    );
}

/// A token revoked at Zuora mid-run: the next call gets 401, renews once and goes on.
#[tokio::test]
async fn a_revoked_token_is_renewed_once() {
    let zuora = sim(5).await;
    let resolved = def("Revoked", Tenant::USProduction, &zuora)
        .resolve(&VariableScope::default())
        .unwrap();
    let client = ZuoraClient::new(resolved, TokenCache::Memory).unwrap();
    client.get_json("/query/jobs?pageSize=1").await.unwrap();
    zuora.revoke_tokens();
    client.get_json("/query/jobs?pageSize=1").await.unwrap();
    assert_eq!(
        zuora.counters().get("oauth.token").copied().unwrap_or(0),
        2,
        "{:?}",
        zuora.counters()
    );
}
