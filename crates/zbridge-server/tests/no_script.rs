//! The pages work as plain HTML forms, as a browser without JavaScript sends them: the
//! connection editor saves (with advanced rows, a "Clear All" box and kept secrets), shows an
//! error on the re-rendered page without echoing secrets, and deletes after its confirmation.

mod common;

fn form(
    server: &common::Server,
    cookie: &str,
    path: &str,
    body: String,
) -> reqwest::RequestBuilder {
    common::http()
        .post(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_connection_editor_works_as_plain_forms() {
    let server = common::start().await;
    let (cookie, csrf) = server.browser_session().await;
    let base = format!(
        "csrf={csrf}&original=&version=0&tenant=EUSandbox&service=DataQuery&client_id=abc&client_secret=plain-s3cret-9"
    );

    // An invalid name: the page comes back with the error and the typed values, not the secret.
    let resp = form(
        &server,
        &cookie,
        "/connection-editor/save",
        format!("{base}&name=a%3Ab&adv_key=PollInterval&adv_value=5"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Connection Name"), "{html}");
    assert!(html.contains("value=\"PollInterval\"") && html.contains("value=\"5\""));
    assert!(!html.contains("plain-s3cret-9"));

    // Saved: a redirect to the editor, which shows the rows and the secret as set.
    let resp = form(
        &server,
        &cookie,
        "/connection-editor/save",
        format!("{base}&name=Plain&adv_key=PollInterval&adv_value=5&adv_key=&adv_value="),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/connections/Plain?saved=1");
    let record = server.store.load_connection("Plain").await.unwrap();
    assert_eq!(record.def.advanced.get("PollInterval"), Some("5"));

    // Edited with an empty secret field (kept) and the Clear All box (rows removed).
    let resp = form(
        &server,
        &cookie,
        "/connection-editor/save",
        format!(
            "csrf={csrf}&original=Plain&version={}&name=Plain&tenant=EUSandbox&service=DataQuery&client_id=abc&client_secret=&adv_key=PollInterval&adv_value=5&adv_clear=on",
            record.version
        ),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    let record = server.store.load_connection("Plain").await.unwrap();
    assert!(record.def.advanced.rows().is_empty());
    assert!(
        record.def.client_secret.is_some(),
        "an empty secret field keeps the secret"
    );

    // The stale version is refused on the page.
    let resp = form(
        &server,
        &cookie,
        "/connection-editor/save",
        format!("csrf={csrf}&original=Plain&version=1&name=Plain&tenant=EUSandbox&service=DataQuery&client_id=zzz"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 409);

    // Delete: the confirmation page, then its form.
    let page = common::http()
        .get(format!("{}/connections/Plain/delete", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nothing uses this connection"));
    let resp = form(
        &server,
        &cookie,
        "/connections/Plain/delete",
        format!("csrf={}", enc(&csrf)),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(server.store.list_connections().await.unwrap().is_empty());
}
