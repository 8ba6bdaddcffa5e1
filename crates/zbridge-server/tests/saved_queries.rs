//! Saved queries over the JSON API and as plain form posts, against the Zuora simulator: save,
//! list, show, run (streamed), delete; the connection lists them as dependencies; a query saved
//! by the CLI (its definition as `zbridge query --save` writes it) runs here too.

mod common;

use reqwest::Method;
use serde_json::{Value, json};
use zbridge_sim::zuora::{RunningZuoraSim, ZuoraSim};

async fn with_connection() -> (common::Server, RunningZuoraSim) {
    let sim = ZuoraSim::builder()
        .seed(11)
        .accounts(9)
        .start()
        .await
        .unwrap();
    let server = common::start().await;
    server.add_sim_connection(&sim).await;
    (server, sim)
}

/// Calls the API with the token; returns the status and the body (JSON, or else text).
async fn call(
    server: &common::Server,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = server.api(method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_queries_are_saved_listed_run_and_deleted_through_the_api() {
    let (server, _sim) = with_connection().await;
    let query = json!({"connection": "Sim", "table": "account", "columns": ["accountnumber", "name", "status"],
                       "conditions": [{"field": "status", "op": "=", "value": "'Active'"}]});
    let (status, saved) = call(
        &server,
        Method::PUT,
        "/api/saved-queries/Active%20accounts",
        Some(query.clone()),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["name"], "Active accounts");
    assert_eq!(saved["connection"], "Sim");
    assert_eq!(saved["query"]["filter"], "status = 'Active'");
    assert_eq!(
        saved["query"]["columns"],
        json!(["accountnumber", "name", "status"])
    );

    let (_, list) = call(&server, Method::GET, "/api/saved-queries", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (status, shown) = call(
        &server,
        Method::GET,
        "/api/saved-queries/active%20ACCOUNTS",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown["query"], saved["query"]);

    // The connection lists it, and cannot be deleted while it exists.
    let (_, deps) = call(
        &server,
        Method::GET,
        "/api/connections/Sim/dependencies",
        None,
    )
    .await;
    assert_eq!(deps, json!([{"kind": "query", "name": "Active accounts"}]));
    let (status, refused) = call(&server, Method::DELETE, "/api/connections/Sim", None).await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["used_by"][0]["name"], "Active accounts");

    // Run: the same rows as the ad-hoc query, streamed as a file named after the saved query.
    let run = server
        .api(
            Method::POST,
            "/api/saved-queries/Active%20accounts/run?format=jsonl",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    assert_eq!(
        run.headers()["content-disposition"],
        "attachment; filename=\"Active_accounts.jsonl\""
    );
    let rows = run.text().await.unwrap();
    let mut adhoc = query.clone();
    adhoc["format"] = json!("jsonl");
    let expected = server
        .api(Method::POST, "/api/query")
        .json(&adhoc)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert_eq!(rows, expected);
    for line in rows.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["status"], "Active", "{line}");
    }
    let csv = server
        .api(Method::POST, "/api/saved-queries/Active%20accounts/run")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().next(), Some("accountnumber,name,status"));
    assert_eq!(csv.lines().count(), rows.lines().count() + 1);
    let (status, bad) = call(
        &server,
        Method::POST,
        "/api/saved-queries/Active%20accounts/run?format=xml",
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(bad["error"]["field"], "Format");

    // Delete; then it is gone, and the connection is free again.
    let deleted = server
        .api(Method::DELETE, "/api/saved-queries/Active%20accounts")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    for (method, path) in [
        (Method::GET, "/api/saved-queries/Active%20accounts"),
        (Method::DELETE, "/api/saved-queries/Active%20accounts"),
        (Method::POST, "/api/saved-queries/Active%20accounts/run"),
    ] {
        let (status, body) = call(&server, method, path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            body["error"]["rule"]
                .as_str()
                .unwrap()
                .contains("no saved query named 'Active accounts'"),
            "{body}"
        );
    }
    let (_, deps) = call(
        &server,
        Method::GET,
        "/api/connections/Sim/dependencies",
        None,
    )
    .await;
    assert_eq!(deps, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_saved_query_names_the_field_and_nothing_is_saved() {
    let (server, _sim) = with_connection().await;
    let cases = [
        (
            json!({"connection": "Sim", "table": "account", "where": "status = "}),
            422,
            "Filter",
        ),
        (json!({"connection": "Sim"}), 422, "Table"),
        (
            json!({"connection": "Sim", "table": "account", "sql": "SELECT 1"}),
            422,
            "SQL",
        ),
        (
            json!({"connection": "Sim", "table": "account", "since": "last week"}),
            422,
            "Since",
        ),
        (
            json!({"connection": "Sim", "table": "account", "format": "xml"}),
            422,
            "Format",
        ),
        (
            json!({"connection": "Sim", "table": "account", "conditions": [{"field": "status", "op": "~", "value": "1"}]}),
            422,
            "Conditions",
        ),
        (
            json!({"connection": "Sim", "table": "account", "colour": "red"}),
            422,
            "request body",
        ),
    ];
    for (body, status, field) in cases {
        let (got, error) = call(
            &server,
            Method::PUT,
            "/api/saved-queries/Broken",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (got, error["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}: {error}"
        );
    }
    let (got, _) = call(
        &server,
        Method::PUT,
        "/api/saved-queries/Broken",
        Some(json!({"connection": "Nowhere", "table": "account"})),
    )
    .await;
    assert_eq!(got, 404);
    let (got, error) = call(
        &server,
        Method::PUT,
        "/api/saved-queries/%20%20",
        Some(json!({"connection": "Sim", "table": "account"})),
    )
    .await;
    assert_eq!(got, 422);
    assert_eq!(error["error"]["field"], "Saved query name");
    assert!(
        zbridge_zuora::saved::list(&server.store)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_saved_by_the_cli_is_listed_and_runs() {
    let (server, _sim) = with_connection().await;
    let record = server.store.load_connection("Sim").await.unwrap();
    // Exactly what `zbridge query Sim --sql ... --save "Three names"` stores.
    let definition = json!({"connection_id": record.id, "query": {
        "table": null, "columns": null, "filter": null, "since": null, "until": null, "cursor": null,
        "limit": null, "include_deleted": false, "service": null,
        "sql": "SELECT id, name FROM account LIMIT 3", "zoql": null, "format": "jsonl", "lag": "5m"}});
    server
        .store
        .save_component(
            "query",
            "Three names",
            &definition,
            std::slice::from_ref(&record.id),
        )
        .await
        .unwrap();
    let (_, list) = call(&server, Method::GET, "/api/saved-queries", None).await;
    assert_eq!(list[0]["query"], definition["query"], "{list}");
    assert_eq!(list[0]["connection"], "Sim");
    // No format asked for: the saved one (JSON Lines).
    let run = server
        .api(Method::POST, "/api/saved-queries/Three%20names/run")
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    assert_eq!(run.headers()["content-type"], "application/x-ndjson");
    let rows = run.text().await.unwrap();
    assert_eq!(rows.lines().count(), 3, "{rows}");

    // The Query page lists it, but cannot open raw SQL in its form: Run only.
    let page = server
        .api(Method::GET, "/query")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("SELECT id, name FROM account LIMIT 3"),
        "{page}"
    );
    assert!(!page.contains("aria-label=\"Open saved query Three names\""));
    assert!(page.contains("/query/saved/Three%20names/download?format=csv"));
    let open = server
        .api(Method::GET, "/query/saved/Three%20names")
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 422);
}

/// The Query page's saving and deleting work as plain forms (no script), and need the CSRF
/// token like every other form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_and_deleting_from_the_query_page_as_plain_forms() {
    let (server, _sim) = with_connection().await;
    let (cookie, csrf) = server.browser_session().await;
    let get = |path: String| {
        common::http()
            .get(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .send()
    };
    let post = |path: &str, body: String| {
        common::http()
            .post(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let query = "connection=Sim&table=account&columns=accountnumber&columns=name&cond_field=status&cond_op=%3D&cond_value=%27Active%27&where=";

    // "Save query…" shows what will be saved and asks for the name.
    let confirm = get(format!("/query/save?{query}&save_name=Mine"))
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("status = &#39;Active&#39;"), "{html}");
    assert!(
        html.contains("id=\"save-name\" name=\"save_name\" value=\"Mine\""),
        "{html}"
    );
    assert!(!html.contains("save-replaces"));

    // Without the CSRF token, nothing is saved.
    let forged = post("/query/save", format!("{query}&save_name=Mine"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        zbridge_zuora::saved::list(&server.store)
            .await
            .unwrap()
            .is_empty()
    );
    // A bad name is shown on the confirmation page, with the query kept.
    let bad = post("/query/save", format!("{query}&save_name=+&csrf={csrf}"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("Saved query name"), "{html}");
    assert!(
        html.contains("name=\"cond_value\" value=\"&#39;Active&#39;\""),
        "{html}"
    );

    let saved = post("/query/save", format!("{query}&save_name=Mine&csrf={csrf}"))
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    let back = saved.headers()["location"].to_str().unwrap().to_string();
    assert!(back.contains("saved=Mine"), "{back}");
    let page = get(back).await.unwrap().text().await.unwrap();
    assert!(page.contains("Saved query &#39;Mine&#39;."), "{page}");
    assert!(page.contains("data-saved=\"Mine\""), "{page}");

    // Saving again under the same name says it replaces it.
    let again = get(format!("/query/save?{query}&save_name=mine"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains("id=\"save-replaces\""), "{again}");

    // Open fills the form from the saved query.
    let open = get("/query/saved/Mine".into()).await.unwrap();
    assert_eq!(open.status(), 303);
    let location = open.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("table=account") && location.contains("columns=accountnumber"),
        "{location}"
    );
    let form = get(location).await.unwrap().text().await.unwrap();
    assert!(form.contains("Opened saved query"), "{form}");

    // Delete asks first; without the token nothing happens.
    let ask = get("/query/saved/Mine/delete".into()).await.unwrap();
    assert_eq!(ask.status(), 200);
    let html = ask.text().await.unwrap();
    assert!(html.contains("id=\"confirm-delete\""), "{html}");
    assert!(html.contains("<code>account</code>"), "{html}");
    let forged = post("/query/saved/Mine/delete", String::new())
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        zbridge_zuora::saved::list(&server.store)
            .await
            .unwrap()
            .len(),
        1
    );
    let deleted = post("/query/saved/Mine/delete", format!("csrf={csrf}"))
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    assert_eq!(deleted.headers()["location"], "/query?deleted=Mine");
    assert!(
        zbridge_zuora::saved::list(&server.store)
            .await
            .unwrap()
            .is_empty()
    );
    let gone = get("/query/saved/Mine/delete".into()).await.unwrap();
    assert_eq!(gone.status(), 404);
}
