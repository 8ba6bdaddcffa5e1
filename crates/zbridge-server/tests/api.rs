//! The JSON API over real HTTP: authentication on every endpoint, CSRF on cookie requests,
//! errors as field + rule, write-only secrets, and the OpenAPI document.

mod common;

use reqwest::Method;
use serde_json::{Value, json};

/// Every (method, path template, path with its parameters filled in) of the OpenAPI document.
fn templated_operations(spec: &Value) -> Vec<(Method, String, String)> {
    let mut ops = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let path = template
                .replace("{name}", "Prod")
                .replace("{kind}", "oauth")
                .replace("{profile}", "Main")
                .replace("{table}", "Account")
                .replace("{id}", "0000");
            ops.push((
                method.to_uppercase().parse().unwrap(),
                template.clone(),
                path,
            ));
        }
    }
    ops
}

/// Every (method, path) of the OpenAPI document, with path parameters filled in.
fn operations(spec: &Value) -> Vec<(Method, String)> {
    templated_operations(spec)
        .into_iter()
        .map(|(m, _, p)| (m, p))
        .collect()
}

#[tokio::test]
async fn every_endpoint_without_a_token_gets_401() {
    let server = common::start().await;
    let spec: Value = server
        .api(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = operations(&spec);
    assert!(ops.len() >= 10, "{ops:?}");
    ops.push((Method::GET, "/connections".into()));
    ops.push((Method::GET, "/connections/Prod".into()));
    ops.push((Method::POST, "/connection-editor/save".into()));
    ops.push((Method::GET, "/variables".into()));
    ops.push((
        Method::GET,
        "/query/save?connection=Prod&table=Account".into(),
    ));
    ops.push((Method::POST, "/query/save".into()));
    ops.push((Method::GET, "/query/saved/Prod".into()));
    ops.push((Method::GET, "/query/saved/Prod/download".into()));
    ops.push((Method::POST, "/query/saved/Prod/delete".into()));
    for (method, path) in ops {
        for auth in [None, Some("Bearer wrong-token"), Some("Basic Zm9vOmJhcg==")] {
            let mut req = common::http().request(method.clone(), format!("{}{path}", server.url));
            if let Some(value) = auth {
                req = req.header("authorization", value);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{method} {path} with {auth:?}");
            if path.starts_with("/api/") {
                let body: Value = resp.json().await.unwrap();
                assert!(body["error"]["rule"].is_string(), "{method} {path}: {body}");
            }
        }
        // A made-up session cookie is no better.
        let resp = common::http()
            .request(method.clone(), format!("{}{path}", server.url))
            .header("cookie", "zbridge_session=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{method} {path} with a forged cookie");
    }
}

#[tokio::test]
async fn a_form_post_without_a_csrf_token_gets_403() {
    let server = common::start().await;
    let (cookie, csrf) = server.browser_session().await;
    let post = |body: &'static str, header: Option<&str>| {
        let mut req = common::http()
            .post(format!("{}/variables", server.url))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(h) = header {
            req = req.header("x-csrf-token", h.to_string());
        }
        req.send()
    };
    let missing = post("name=region&value=EU", None).await.unwrap();
    assert_eq!(missing.status(), 403);
    let wrong = post("name=region&value=EU&csrf=nope", None).await.unwrap();
    assert_eq!(wrong.status(), 403);
    let wrong_header = post("name=region&value=EU", Some("nope")).await.unwrap();
    assert_eq!(wrong_header.status(), 403);
    assert!(server.store.list_variables(None).await.unwrap().is_empty());

    let body = format!("name=region&value=EU&csrf={csrf}");
    let ok = common::http()
        .post(format!("{}/variables", server.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(server.store.list_variables(None).await.unwrap().len(), 1);

    // JSON with the cookie needs the header too; with the bearer token it does not.
    let json_cookie = common::http()
        .delete(format!("{}/api/variables/region", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(json_cookie.status(), 403);
    let with_header = common::http()
        .delete(format!("{}/api/variables/region", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 204);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_samesite() {
    let server = common::start().await;
    let resp = common::http()
        .post(format!("{}/login", server.url))
        .form(&[("token", common::TOKEN), ("next", "/variables")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/variables");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains(common::TOKEN),
        "the cookie is not the token"
    );

    let wrong = common::http()
        .post(format!("{}/login", server.url))
        .form(&[("token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn errors_name_the_field_and_the_rule() {
    let server = common::start().await;
    let resp = server
        .api(Method::POST, "/api/connections")
        .json(&json!({"name": "a/b", "client_id": "x", "client_secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "Connection Name");
    assert!(
        body["error"]["rule"].as_str().unwrap().contains("'/'"),
        "{body}"
    );

    let resp = server
        .api(Method::POST, "/api/connections")
        .json(&json!({"name": "Prod", "tenant": "Mars", "client_id": "x", "client_secret": "s"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "Tenant", "{body}");

    let resp = server
        .api(Method::GET, "/api/connections/nothing")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let resp = server
        .api(Method::POST, "/api/connections")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "request body");
}

#[tokio::test]
async fn connections_round_trip_with_write_only_secrets_and_dependencies() {
    let server = common::start().await;
    let created = server
        .api(Method::POST, "/api/connections")
        .json(&json!({
            "name": "Prod", "tenant": "EUSandbox", "service": "DataQuery",
            "client_id": "3de56ab4-7032-4363-a1d6-ed2873ea03cd", "client_secret": "sup3r-s3cret",
            "advanced": [{"key": "PollInterval", "value": "4"}, {"key": "OAuthAccessToken", "value": "tok-s3cret"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let text = created.text().await.unwrap();
    assert!(
        !text.contains("sup3r-s3cret") && !text.contains("tok-s3cret"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["client_secret"], json!({"set": true}));
    assert_eq!(body["refresh_token"], json!({"set": false}));
    assert_eq!(
        body["advanced"][1],
        json!({"key": "OAuthAccessToken", "secret": {"set": true}})
    );

    // An update that leaves the secrets out keeps them; null clears one.
    let updated: Value = server
        .api(Method::PUT, "/api/connections/prod")
        .json(&json!({"tenant": "USProduction", "refresh_token": "rt-s3cret", "version": 1,
                      "advanced": [{"key": "OAuthAccessToken"}, {"key": "PollInterval", "value": "5"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["tenant"], "USProduction");
    assert_eq!(updated["client_secret"]["set"], true);
    assert_eq!(updated["refresh_token"]["set"], true);
    assert_eq!(updated["advanced"][0]["secret"]["set"], true);
    assert_eq!(updated["version"], 2);
    let stale = server
        .api(Method::PUT, "/api/connections/Prod")
        .json(&json!({"client_id": "y", "version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    let cleared: Value = server
        .api(Method::PUT, "/api/connections/Prod")
        .json(&json!({"refresh_token": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["refresh_token"]["set"], false);
    let record = server.store.load_connection("Prod").await.unwrap();
    assert!(record.def.client_secret.is_some());

    // A saved component blocks the delete and is listed.
    server
        .store
        .save_component(
            "query",
            "Daily accounts",
            &json!({}),
            std::slice::from_ref(&record.id),
        )
        .await
        .unwrap();
    let deps: Value = server
        .api(Method::GET, "/api/connections/Prod/dependencies")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deps, json!([{"kind": "query", "name": "Daily accounts"}]));
    let refused = server
        .api(Method::DELETE, "/api/connections/Prod")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["used_by"][0]["name"], "Daily accounts");
    server
        .store
        .delete_component("query", "Daily accounts")
        .await
        .unwrap();
    let deleted = server
        .api(Method::DELETE, "/api/connections/Prod")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn the_openapi_document_is_well_formed_and_covers_the_routes() {
    let server = common::start().await;
    let spec: Value = server
        .api(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&spec, &mut all);
    for r in all {
        let pointer = r.trim_start_matches('#');
        assert!(spec.pointer(pointer).is_some(), "{r} does not resolve");
    }
    let mut ids = std::collections::HashSet::new();
    for (method, template, path) in templated_operations(&spec) {
        let op = &spec["paths"][&template][method.as_str().to_lowercase()];
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
        for code in ["401", "403"] {
            assert!(
                op["responses"][code].is_object(),
                "{method} {path} lacks {code}"
            );
        }
        // Every documented operation exists: with a valid token it is never 404 for the route
        // itself, nor 405.
        let resp = server
            .api(method.clone(), &path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 405, "{method} {path}");
        if resp.status() == 404 {
            let body: Value = resp.json().await.unwrap();
            assert!(
                body["error"]["rule"].as_str().unwrap().contains("no "),
                "{method} {path}: {body}"
            );
        }
    }
}

/// While a worker holds a profile's lease, Run now and cleanup answer 409 in the form the
/// document gives (`LeaseHeld`), and start nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_a_profile_whose_lease_is_held_answers_409_as_documented() {
    let server = common::start().await;
    let mut def = zbridge_core::connection::ZuoraConnectionDef::new(
        zbridge_core::ConnectionName::parse("Zuora").unwrap(),
    );
    def.client_id = "3de56ab4-7032-4363-a1d6-ed2873ea03cd".into();
    def.client_secret = Some(secrecy::SecretString::from("s".to_string()));
    server.store.create_connection(&def).await.unwrap();
    let profile = server
        .store
        .create_sync_profile("Main", "Zuora", json!({}))
        .await
        .unwrap();
    let _held = server
        .store
        .acquire_sync_lease(
            &profile,
            "elsewhere:1:worker",
            zbridge_store::DEFAULT_LEASE_TTL,
        )
        .await
        .unwrap();
    let spec: Value = server
        .api(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented = &spec["components"]["schemas"]["LeaseHeld"]["properties"]["error"];
    for (path, body) in [
        ("/api/sync-profiles/Main/run", json!({"full": true})),
        ("/api/sync-profiles/Main/cleanup", json!({})),
    ] {
        let template = path.replace("Main", "{profile}");
        assert_eq!(
            spec["paths"][&template]["post"]["responses"]["409"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/LeaseHeld",
            "{path}"
        );
        let resp = server
            .api(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 409, "{path}");
        let answer: Value = resp.json().await.unwrap();
        let error = answer["error"].as_object().unwrap();
        let mut fields: Vec<&str> = error.keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut allowed: Vec<&str> = documented["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        allowed.sort_unstable();
        assert_eq!(fields, allowed, "{answer}");
        assert_eq!(error["field"], documented["properties"]["field"]["const"]);
        let rule = error["rule"].as_str().unwrap();
        assert!(
            rule.contains("'Main' is running on worker elsewhere:1:worker"),
            "{rule}"
        );
    }
    let runs = server.store.list_sync_runs(None, 10).await.unwrap();
    assert!(runs.is_empty(), "nothing was started: {runs:?}");
}

/// A query body with a field the API does not know (`filter` is the saved query's name for
/// `where`) is refused naming it, never run unfiltered (issue 20).
#[tokio::test]
async fn query_bodies_refuse_unknown_fields_by_name() {
    let server = common::start().await;
    for (path, body) in [
        (
            "/api/query/preview",
            json!({"connection": "Prod", "table": "Account", "filter": "Status = 'Active'"}),
        ),
        (
            "/api/query",
            json!({"connection": "Prod", "table": "Account", "filter": "Status = 'Active'", "format": "csv"}),
        ),
        (
            "/api/query",
            json!({"connection": "Prod", "table": "Account",
                   "conditions": [{"field": "Status", "op": "=", "value": "'Active'", "vaule": "x"}]}),
        ),
    ] {
        let resp = server
            .api(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        let text = resp.text().await.unwrap();
        let unknown = if text.contains("vaule") {
            "vaule"
        } else {
            "filter"
        };
        assert!(
            text.contains(&format!("unknown field `{unknown}`")),
            "{path}: {text}"
        );
    }
}

/// Sign-in sends the user back only to a path of this site: a tab or a line break (which
/// browsers drop, and a header cannot hold) sends them home, never elsewhere or to a 500.
#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let server = common::start().await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/sync\r\nX: y",
        "//evil.example",
        "/sync",
    ] {
        let resp = common::http()
            .post(format!("{}/login", server.url))
            .form(&[("token", common::TOKEN), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{next:?}");
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let want = if next == "/sync" { "/sync" } else { "/" };
        assert_eq!(location, want, "{next:?}");
    }
}

/// Pages and API answers refuse to be framed and to be sniffed as another type (issue 20).
#[tokio::test]
async fn answers_refuse_framing_and_sniffing() {
    let server = common::start().await;
    for path in ["/login", "/api/connections", "/api/nothing-here"] {
        let resp = server.api(Method::GET, path).send().await.unwrap();
        let headers = resp.headers();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            headers["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}

/// 20 concurrent creations of one sync profile name: exactly one 201, the rest 409, and the
/// profile keeps the winner's connection (issue 20: all could get 201, the last writer winning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_of_one_profile_name_have_one_winner() {
    let server = common::start().await;
    for name in ["Zuora A", "Zuora B"] {
        let resp = server
            .api(Method::POST, "/api/connections")
            .json(&json!({"name": name, "client_id": "3de56ab4-7032-4363-a1d6-ed2873ea03cd", "client_secret": "s"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    }
    let tries = (0..20).map(|i| {
        let connection = if i % 2 == 0 { "Zuora A" } else { "Zuora B" };
        let request = server
            .api(Method::POST, "/api/sync-profiles")
            .json(&json!({"name": "Main", "connection": connection}));
        async move {
            let resp = request.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, connection, body)
        }
    });
    let answers = futures::future::join_all(tries).await;
    let won: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 201).collect();
    assert_eq!(won.len(), 1, "{answers:#?}");
    assert!(
        answers.iter().all(|(s, _, _)| *s == 201 || *s == 409),
        "{answers:#?}"
    );
    let winner = won[0].1;
    let profile = server.store.load_sync_profile("Main").await.unwrap();
    let connection = server
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == profile.connection_id)
        .unwrap();
    assert_eq!(connection.name, winner);
}

/// An unknown API route is a JSON 404 and a wrong method a JSON 405, like every other API
/// error (issue 20: the 405 had an empty body).
#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_the_json_error_shape() {
    let server = common::start().await;
    for (method, path, status) in [
        (Method::GET, "/api/nothing-here", 404),
        (Method::DELETE, "/api/query", 405),
        (Method::PUT, "/api/sync-runs", 405),
    ] {
        let resp = server.api(method.clone(), path).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["rule"].as_str().unwrap().contains(path),
            "{body}"
        );
    }
}
