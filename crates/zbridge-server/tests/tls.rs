//! HTTPS: the same application behind rustls with a certificate made at test time; a client
//! that trusts it gets answers and a `Secure` cookie, the default client refuses it.

use secrecy::SecretString;
use zbridge_server::{AccessToken, AppState, ServerOptions};
use zbridge_store::{Home, Store};

#[tokio::test]
async fn the_server_speaks_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config =
        zbridge_server::tls::load_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
            .unwrap();

    let mut home = Home::in_dir(dir.path());
    home.master_key = Some(SecretString::from("42".repeat(32)));
    let store = Store::open(&home).await.unwrap();
    let token = "tls-test-token";
    let state = AppState::new(
        store,
        AccessToken::from_secret(&SecretString::from(token.to_string())),
        ServerOptions {
            secure_cookies: true,
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(zbridge_server::serve_tls(listener, config, state));

    let trusting = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let resp = trusting
        .get(format!("{url}/api/connections"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let login = trusting
        .post(format!("{url}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");

    let default = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(
        default
            .get(format!("{url}/api/connections"))
            .send()
            .await
            .is_err(),
        "a client that does not trust the certificate refuses it"
    );
    // A connection that never completes its handshake does not stop the others.
    let _silent = tokio::net::TcpStream::connect(url.trim_start_matches("https://"))
        .await
        .unwrap();
    let again = trusting
        .get(format!("{url}/api/connections"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}
