//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.
//!
//! Written by hand next to the handlers; `tests/api.rs` checks that every route is described
//! and schemathesis (`scripts/schemathesis`) checks the live API against it.

use axum::Json;
use serde_json::{Value, json};

/// The document.
pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The 201 of createConnection, with links to the operations on the new connection (so
/// stateful testers can follow them).
fn created_connection() -> Value {
    let mut response = json_response("Created.", schema_ref("Connection"));
    let link =
        |op: &str| json!({"operationId": op, "parameters": {"name": "$response.body#/name"}});
    response["links"] = json!({
        "ShowConnection": link("showConnection"),
        "UpdateConnection": link("updateConnection"),
        "DeleteConnection": link("deleteConnection"),
        "ConnectionDependencies": link("connectionDependencies"),
    });
    response
}

/// The 409 of runSync and cleanupSync: the profile's lease is held, so it is running already.
fn lease_held() -> Value {
    json_response(
        "The profile is running already: a worker or another command (`zbridge sync run` or `cleanup`, a `zbridge worker`, a run started here or on another server) holds its lease. Nothing was started; try again once that run has finished.",
        schema_ref("LeaseHeld"),
    )
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn name_param(description: &str) -> Value {
    json!({"name": "name", "in": "path", "required": true, "description": description,
           "schema": {"type": "string", "minLength": 1}})
}

/// The responses every operation may give besides its own.
fn common(mut responses: Value) -> Value {
    let map = responses.as_object_mut().expect("responses is an object");
    map.insert(
        "401".into(),
        error_response("No valid access token or session."),
    );
    map.insert(
        "403".into(),
        error_response("A cookie-authenticated request without its CSRF token."),
    );
    map.insert(
        "422".into(),
        error_response("Input broke a rule; the field and the rule are named."),
    );
    map.insert(
        "500".into(),
        error_response("Something failed on the server."),
    );
    responses
}

fn op(summary: &str, id: &str, params: Vec<Value>, body: Option<Value>, responses: Value) -> Value {
    let mut o = json!({"summary": summary, "operationId": id, "parameters": params,
                       "responses": common(responses)});
    if let Some(schema) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    o
}

/// Builds the document.
pub fn spec() -> Value {
    let conn = name_param("Connection name (any capitalisation).");
    let var = name_param("Variable name.");
    let saved_q = name_param("Saved query name (any capitalisation).");
    let conn_t = conn.clone();
    let profile_s = json!({"name": "profile", "in": "path", "required": true, "description": "Sync profile name.",
        "schema": {"type": "string", "minLength": 1}});
    let run_id = json!({"name": "id", "in": "path", "required": true, "description": "Run id (or a unique prefix).",
        "schema": {"type": "string", "minLength": 1}});
    let table = json!({"name": "table", "in": "path", "required": true, "description": "Table name.",
        "schema": {"type": "string", "minLength": 1}});
    let profile = json!({"name": "profile", "in": "path", "required": true, "description": "Sync profile name.",
        "schema": {"type": "string", "minLength": 1}});
    let kind = json!({"name": "kind", "in": "path", "required": true, "description": "Credential kind.",
        "schema": {"$ref": "#/components/schemas/CredentialKind"}});
    let project_q = json!({"name": "project", "in": "query", "required": false,
        "description": "A project name; omitted means every variable (list) or the global scope (delete).",
        "schema": {"type": "string"}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "zbridge API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Zuora connections, variables, the Query activity and saved queries, Execute, Salesforce sync credentials and sync runs. Authenticate with `Authorization: Bearer <access token>`. Secrets are write-only: send a string to set one, null to clear it; responses show only {\"set\": true|false}."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/connections": {
                "get": op("List Zuora connections", "listConnections", vec![], None,
                    json!({"200": json_response("The connections, by name.", json!({"type": "array", "items": schema_ref("ConnectionSummary")}))})),
                "post": op("Create a Zuora connection", "createConnection", vec![], Some(schema_ref("ConnectionInput")),
                    json!({"201": created_connection(),
                           "409": error_response("The name is taken.")}))
            },
            "/api/connections/{name}": {
                "get": op("Show a connection", "showConnection", vec![conn.clone()], None,
                    json!({"200": json_response("The connection; secrets as set / not set.", schema_ref("Connection")),
                           "404": error_response("No connection has that name.")})),
                "put": op("Change a connection", "updateConnection", vec![conn.clone()], Some(schema_ref("ConnectionInput")),
                    json!({"200": json_response("Saved.", schema_ref("Connection")),
                           "404": error_response("No connection has that name."),
                           "409": error_response("The name is taken, or someone else changed it since `version`.")})),
                "delete": op("Delete a connection", "deleteConnection", vec![conn.clone()], None,
                    json!({"204": {"description": "Deleted."},
                           "404": error_response("No connection has that name."),
                           "409": error_response("Saved components use it; they are listed in `used_by`.")}))
            },
            "/api/connections/{name}/test": {
                "post": op("Test a connection", "testConnection", vec![conn.clone()], None,
                    json!({"200": json_response("Every check passed.", schema_ref("TestReport")),
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused or could not be reached; the rule says why.")}))
            },
            "/api/connections/{name}/dependencies": {
                "get": op("Saved components that use a connection", "connectionDependencies", vec![conn], None,
                    json!({"200": json_response("The components.", json!({"type": "array", "items": schema_ref("ComponentRef")})),
                           "404": error_response("No connection has that name.")}))
            },
            "/api/connections/{name}/tables": {
                "get": op("Tables the connection's service can read", "listTables", vec![conn_t.clone()], None,
                    json!({"200": json_response("Table names.", json!({"type": "array", "items": {"type": "string"}})),
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused or could not be reached.")}))
            },
            "/api/connections/{name}/tables/{table}": {
                "get": op("Describe a table", "describeTable", vec![conn_t, table], None,
                    json!({"200": json_response("The table's fields.", json!({"type": "object"})),
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused, or has no such table.")}))
            },
            "/api/query/preview": {
                "post": op("Preview the first 100 rows of a query", "previewQuery", vec![], Some(schema_ref("QueryRequest")),
                    json!({"200": json_response("Columns and rows as text.", schema_ref("Preview")),
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused or the job failed.")}))
            },
            "/api/query": {
                "post": op("Run a query and stream every row", "runQuery", vec![], Some(schema_ref("DownloadRequest")),
                    json!({"200": {"description": "The rows, streamed; a body cut short means the query failed midway.",
                                   "content": {"text/csv": {"schema": {"type": "string"}},
                                               "application/x-ndjson": {"schema": {"type": "string"}}}},
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused before the first row.")}))
            },
            "/api/saved-queries": {
                "get": op("List saved queries", "listSavedQueries", vec![], None,
                    json!({"200": json_response("The saved queries, by name.", json!({"type": "array", "items": schema_ref("SavedQuery")}))}))
            },
            "/api/saved-queries/{name}": {
                "get": op("Show a saved query", "showSavedQuery", vec![saved_q.clone()], None,
                    json!({"200": json_response("The saved query.", schema_ref("SavedQuery")),
                           "404": error_response("No saved query has that name.")})),
                "put": op("Save a query under a name (replacing one of that name)", "saveSavedQuery", vec![saved_q.clone()], Some(schema_ref("SavedQueryInput")),
                    json!({"200": json_response("Saved; the connection now lists it among its dependencies.", schema_ref("SavedQuery")),
                           "404": error_response("No connection has that name.")})),
                "delete": op("Delete a saved query", "deleteSavedQuery", vec![saved_q.clone()], None,
                    json!({"204": {"description": "Deleted."},
                           "404": error_response("No saved query has that name.")}))
            },
            "/api/saved-queries/{name}/run": {
                "post": op("Run a saved query and stream every row", "runSavedQuery", vec![saved_q,
                        json!({"name": "format", "in": "query", "required": false,
                               "description": "csv or jsonl; by default the saved query's own format when it is one of them, else csv.",
                               "schema": {"enum": ["csv", "jsonl"]}})], None,
                    json!({"200": {"description": "The rows, streamed, as a file named after the saved query; a body cut short means the query failed midway.",
                                   "content": {"text/csv": {"schema": {"type": "string"}},
                                               "application/x-ndjson": {"schema": {"type": "string"}}}},
                           "404": error_response("No saved query has that name."),
                           "409": error_response("The saved query's connection no longer exists."),
                           "502": error_response("Zuora refused before the first row.")}))
            },
            "/api/procedures": {
                "get": op("The Execute procedures", "listProcedures", vec![], None,
                    json!({"200": json_response("Procedures with their parameters and input/output schemas.", json!({"type": "array", "items": {"type": "object"}}))}))
            },
            "/api/execute": {
                "post": op("Run a procedure at Zuora", "execute", vec![], Some(schema_ref("ExecuteRequest")),
                    json!({"200": json_response("Per-record results, the token's expiry and scope (never the token), or a JSON Schema.", schema_ref("ExecuteOutcome")),
                           "404": error_response("No connection has that name."),
                           "502": error_response("Zuora refused or could not be reached.")}))
            },
            "/api/connection-options": {
                "get": op("Tenants, services and advanced keys", "connectionOptions", vec![], None,
                    json!({"200": json_response("What the editor offers.", schema_ref("ConnectionOptions"))}))
            },
            "/api/variables": {
                "get": op("List variables", "listVariables", vec![project_q.clone()], None,
                    json!({"200": json_response("Variables; secret ones without a value.", json!({"type": "array", "items": schema_ref("Variable")}))}))
            },
            "/api/variables/{name}": {
                "put": op("Set a variable", "setVariable", vec![var.clone()], Some(schema_ref("VariableInput")),
                    json!({"204": {"description": "Saved."}})),
                "delete": op("Delete a variable", "deleteVariable", vec![var, project_q], None,
                    json!({"204": {"description": "Deleted."}, "404": error_response("No such variable in that scope.")}))
            },
            "/api/sync-profiles": {
                "get": op("List sync profiles", "listSyncProfiles", vec![], None,
                    json!({"200": json_response("The profiles.", json!({"type": "array", "items": schema_ref("SyncProfile")}))})),
                "post": op("Create a sync profile", "createSyncProfile", vec![], Some(schema_ref("ProfileInput")),
                    json!({"201": json_response("Created.", schema_ref("SyncProfile")),
                           "404": error_response("No connection has that name."),
                           "409": error_response("The name is taken.")}))
            },
            "/api/sync-profiles/{profile}": {
                "delete": op("Delete a sync profile and its credentials (delete OAuth credentials first to revoke their token)", "deleteSyncProfile", vec![profile.clone()], None,
                    json!({"204": {"description": "Deleted."},
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/jwt": {
                "put": op("Create or edit the JWT bearer credentials", "saveJwtCredentials", vec![profile.clone()], Some(schema_ref("JwtInput")),
                    json!({"200": json_response("Saved.", schema_ref("ProfileCredentials")),
                           "404": error_response("No sync profile has that name.")})),
                "delete": op("Delete the JWT bearer credentials", "deleteJwtCredential", vec![profile.clone()], None,
                    json!({"200": json_response("Deleted.", json!({"type": "array", "items": schema_ref("Warning")})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials": {
                "get": op("Show a profile's Salesforce credentials", "showSfCredentials", vec![profile.clone()], None,
                    json!({"200": json_response("Every credential; secrets as set / not set.", schema_ref("ProfileCredentials")),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/password": {
                "put": op("Create or edit the Salesforce credentials", "savePasswordCredentials", vec![profile.clone()], Some(schema_ref("PasswordInput")),
                    json!({"200": json_response("Saved.", schema_ref("ProfileCredentials")),
                           "404": error_response("No sync profile has that name.")})),
                "delete": op("Delete the Salesforce credentials", "deletePasswordCredential", vec![profile.clone()], None,
                    json!({"200": json_response("Deleted.", json!({"type": "array", "items": schema_ref("Warning")})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/oauth": {
                "put": op("Create or edit (reset) the OAuth credentials", "saveOAuthCredentials", vec![profile.clone()], Some(schema_ref("OAuthInput")),
                    json!({"200": json_response("Saved; a change of org, user, app or host removes the token, with a warning.", schema_ref("SavedCredentials")),
                           "404": error_response("No sync profile has that name.")})),
                "delete": op("Delete the OAuth credentials (the token is revoked at Salesforce first)", "deleteOAuthCredential", vec![profile.clone()], None,
                    json!({"200": json_response("Deleted; warnings say if the revoke failed.", json!({"type": "array", "items": schema_ref("Warning")})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/{kind}": {
                "delete": op("Delete a credential (an OAuth token is revoked first)", "deleteSfCredential", vec![profile.clone(), kind], None,
                    json!({"200": json_response("Deleted; warnings say if the revoke failed.", json!({"type": "array", "items": schema_ref("Warning")})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/switch": {
                "post": op("Make a credential kind the active one", "switchSfCredential", vec![profile.clone()], Some(schema_ref("SwitchInput")),
                    json!({"200": json_response("The active kind.", json!({"type": "object", "required": ["active"], "properties": {"active": schema_ref("CredentialKind")}})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/test-access": {
                "post": op("Test Access with the active credential", "testSfAccess", vec![profile.clone()], None,
                    json!({"200": json_response("The success message.", schema_ref("AccessReport")),
                           "404": error_response("No sync profile has that name."),
                           "502": error_response("Salesforce refused; for OAuth the rule asks to set up the token.")}))
            },
            "/api/sync-profiles/{profile}/sf-credentials/setup-oauth": {
                "post": op("Start OAuth token setup", "setupOAuth", vec![profile], None,
                    json!({"200": json_response("Open authorize_url in a browser; Salesforce sends it back to redirect_uri on this server, which stores the token.", schema_ref("SetupStarted")),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-profiles/{profile}/run": {
                "post": op("Run a sync now (in the background)", "runSync", vec![profile_s.clone()], Some(schema_ref("RunInput")),
                    json!({"202": json_response("Started; follow it at /api/sync-runs/{run_id}.", json!({"type": "object", "required": ["run_id"], "properties": {"run_id": {"type": "string"}}})),
                           "404": error_response("No sync profile has that name."),
                           "409": lease_held(),
                           "502": error_response("Zuora or Salesforce refused before the run started.")}))
            },
            "/api/sync-profiles/{profile}/verify": {
                "get": op("The profile's latest verify", "lastVerify", vec![profile_s.clone()], None,
                    json!({"200": json_response("When it ran, whether anything drifted, and the counts per object.", schema_ref("SyncVerification")),
                           "404": error_response("No sync profile has that name, or it was never verified.")})),
                "post": op("Compare the org with Zuora object by object now (and repair what drifted)", "verifySync", vec![profile_s.clone()], Some(schema_ref("VerifyInput")),
                    json!({"200": json_response("Missing, extra, duplicated and stale records per object.", schema_ref("VerifyOutcome")),
                           "404": error_response("No sync profile has that name."),
                           "409": lease_held(),
                           "502": error_response("Zuora or Salesforce refused.")}))
            },
            "/api/sync-profiles/{profile}/cleanup": {
                "post": op("Delete everything the profile wrote to the org (in the background); the next run is full", "cleanupSync", vec![profile_s.clone()], None,
                    json!({"202": json_response("Started; follow it at /api/sync-runs/{run_id}.", json!({"type": "object", "required": ["run_id"], "properties": {"run_id": {"type": "string"}}})),
                           "404": error_response("No sync profile has that name."),
                           "409": lease_held(),
                           "502": error_response("Salesforce refused before the cleanup started.")}))
            },
            "/api/sync-profiles/{profile}/schedule": {
                "put": op("Set or remove a profile's schedule", "scheduleSync", vec![profile_s], Some(schema_ref("ScheduleInput")),
                    json!({"200": json_response("The interval in seconds, or null.", json!({"type": "object", "required": ["every_secs"], "properties": {"every_secs": {"type": ["integer", "null"]}}})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-runs": {
                "get": op("Sync history, newest first", "listSyncRuns", vec![
                        json!({"name": "profile", "in": "query", "required": false, "schema": {"type": "string"}}),
                        json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}})], None,
                    json!({"200": json_response("Runs.", json!({"type": "array", "items": schema_ref("SyncRun")})),
                           "404": error_response("No sync profile has that name.")}))
            },
            "/api/sync-runs/{id}": {
                "get": op("A run with its per-object counts (live while it runs)", "showSyncRun", vec![run_id.clone()], None,
                    json!({"200": json_response("The run.", json!({"type": "object", "required": ["run", "objects"], "properties": {
                            "run": schema_ref("SyncRun"), "objects": {"type": "array", "items": {"type": "object"}}}})),
                           "404": error_response("No run has that id.")}))
            },
            "/api/sync-runs/{id}/errors": {
                "get": op("A run's failed records", "syncRunErrors", vec![run_id], None,
                    json!({"200": json_response("Failed records.", json!({"type": "array", "items": {"type": "object"}})),
                           "404": error_response("No run has that id.")}))
            },
            "/api/openapi.json": {
                "get": op("This document", "openapi", vec![], None,
                    json!({"200": json_response("The OpenAPI document.", json!({"type": "object"}))}))
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}

fn schemas() -> Value {
    let secret_state = json!({"type": "object", "required": ["set"], "properties": {"set": {"type": "boolean"}}, "additionalProperties": false});
    let secret_write = json!({"type": ["string", "null"], "description": "Write-only: a string sets it, null clears it, absent keeps it."});
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["field", "rule"],
                "properties": {
                    "field": {"type": ["string", "null"], "description": "The field as the user sees it."},
                    "rule": {"type": "string", "description": "The rule that failed, or what happened."},
                    "used_by": {"type": "array", "items": {"$ref": "#/components/schemas/ComponentRef"}}
                }}}
        },
        "LeaseHeld": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["field", "rule"], "additionalProperties": false,
                "properties": {
                    "field": {"const": "profile"},
                    "rule": {"type": "string", "description": "Which worker holds the lease and until when (it expires then if that worker died), and what to do."}
                }}}
        },
        "SecretState": secret_state,
        "ComponentRef": {"type": "object", "required": ["kind", "name"],
            "properties": {"kind": {"type": "string"}, "name": {"type": "string"}}},
        "AdvancedRow": {"type": "object", "required": ["key", "value"],
            "properties": {"key": {"type": "string"}, "value": {"type": "string"}}},
        "ConnectionSummary": {
            "type": "object", "required": ["id", "name", "project", "config", "updated_at"],
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"},
                "project": {"type": ["string", "null"]},
                "updated_at": {"type": "string", "format": "date-time"},
                "config": {"type": "object", "required": ["tenant", "service", "client_id", "proxy_enabled", "proxy_url", "proxy_user", "advanced"],
                    "properties": {
                        "tenant": {"type": "string"}, "service": {"type": "string"}, "client_id": {"type": "string"},
                        "proxy_enabled": {"type": "boolean"}, "proxy_url": {"type": "string"}, "proxy_user": {"type": "string"},
                        "advanced": {"type": "array", "items": {"$ref": "#/components/schemas/AdvancedRow"},
                            "description": "Rows in order; a secret row's value is always empty here."}
                    }}
            }
        },
        "Connection": {
            "type": "object",
            "required": ["id", "name", "project", "tenant", "service", "base_url", "client_id", "client_secret", "refresh_token", "proxy", "advanced", "used_by", "version", "created_at", "updated_at"],
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "project": {"type": ["string", "null"]},
                "tenant": {"type": "string"}, "service": {"type": "string"},
                "base_url": {"type": "string", "description": "Where requests go: the URL advanced property, or the tenant's address."},
                "client_id": {"type": "string"},
                "client_secret": {"$ref": "#/components/schemas/SecretState"},
                "refresh_token": {"$ref": "#/components/schemas/SecretState"},
                "proxy": {"type": "object", "required": ["enabled", "url", "user", "password"], "properties": {
                    "enabled": {"type": "boolean"}, "url": {"type": "string"}, "user": {"type": "string"},
                    "password": {"$ref": "#/components/schemas/SecretState"}}},
                "advanced": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
                    "key": {"type": "string"}, "value": {"type": "string"},
                    "secret": {"$ref": "#/components/schemas/SecretState"}}}},
                "used_by": {"type": "array", "items": {"$ref": "#/components/schemas/ComponentRef"}},
                "version": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "warnings": {"type": "array", "items": {"type": "object", "required": ["field", "message"], "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}}}}
            }
        },
        "ConnectionInput": {
            "type": "object", "additionalProperties": false,
            "description": "Create: `name` is required. Update: absent fields keep their value.",
            "examples": [{"name": "Example", "tenant": "USAPISandbox", "service": "DataQuery",
                          "client_id": "3de56ab4-7032-4363-a1d6-ed2873ea03cd", "client_secret": "example-secret",
                          "advanced": [{"key": "PollInterval", "value": "5"}]}],
            "properties": {
                "name": {"type": ["string", "null"], "description": "Required on create; null or absent keeps it on update."},
                "project": {"type": ["string", "null"]},
                "tenant": {"type": ["string", "null"], "description": "One of the nine tenants, or a [variable]."},
                "service": {"type": ["string", "null"], "description": "DataQuery or AQuADataExport, or a [variable]."},
                "client_id": {"type": ["string", "null"]},
                "client_secret": secret_write.clone(),
                "refresh_token": secret_write.clone(),
                "proxy": {"type": ["object", "null"], "additionalProperties": false, "properties": {
                    "enabled": {"type": ["boolean", "null"]}, "url": {"type": ["string", "null"]}, "user": {"type": ["string", "null"]},
                    "password": secret_write}},
                "advanced": {"type": ["array", "null"], "description": "Replaces the whole table, in order; a secret row without a value keeps the saved one.",
                    "items": {"type": "object", "required": ["key"], "additionalProperties": false,
                        "properties": {"key": {"type": "string"}, "value": {"type": ["string", "null"]}}}},
                "version": {"type": ["integer", "null"], "description": "The version the edit started from; null or absent means the latest."}
            }
        },
        "TestReport": {"type": "object", "required": ["ok", "checks"], "properties": {
            "ok": {"type": "boolean"},
            "checks": {"type": "array", "items": {"type": "object", "required": ["what", "detail"],
                "properties": {"what": {"type": "string"}, "detail": {"type": "string"}}}}}},
        "ConnectionOptions": {"type": "object", "required": ["tenants", "services", "advanced_keys"], "properties": {
            "tenants": {"type": "array", "items": {"type": "string"}},
            "services": {"type": "array", "items": {"type": "string"}},
            "advanced_keys": {"type": "array", "items": {"type": "object", "required": ["key", "default", "secret", "description"], "properties": {
                "key": {"type": "string"}, "default": {"type": ["string", "null"]},
                "secret": {"type": "boolean"}, "description": {"type": "string"}}}}}},
        "Variable": {"type": "object", "required": ["name", "project", "secret", "value", "updated_at"], "properties": {
            "name": {"type": "string"}, "project": {"type": ["string", "null"]}, "secret": {"type": "boolean"},
            "value": {"type": ["string", "null"], "description": "Null for a secret variable."},
            "updated_at": {"type": "string", "format": "date-time"}}},
        "Condition": {"type": "object", "required": ["field", "op"], "additionalProperties": false, "properties": {
            "field": {"type": "string"},
            "op": {"enum": ["=", "!=", "<", "<=", ">", ">=", "LIKE", "IS NULL", "IS NOT NULL"]},
            "value": {"type": "string", "description": "A literal of the filter language: 'text', 42, DATE '2026-08-01'."}}},
        "QueryRequest": {"type": "object", "required": ["connection", "table"], "additionalProperties": false, "properties": {
            "connection": {"type": "string"}, "table": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}, "description": "Empty: every exportable column."},
            "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
            "where": {"type": "string", "description": "A filter expression, joined with the conditions by AND."}}},
        "DownloadRequest": {"type": "object", "required": ["connection", "table"], "additionalProperties": false, "properties": {
            "connection": {"type": "string"}, "table": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}, "description": "Empty: every exportable column."},
            "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
            "where": {"type": "string", "description": "A filter expression, joined with the conditions by AND."},
            "format": {"enum": ["csv", "jsonl"]}}},
        "SavedQuerySpec": {"type": "object", "required": ["table", "columns", "filter", "since", "until", "cursor", "limit", "include_deleted", "service", "sql", "zoql", "format", "lag"],
            "description": "What a saved query reads, as `zbridge query --save` stores it.",
            "properties": {
                "table": {"type": ["string", "null"]},
                "columns": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Null: every exportable column."},
                "filter": {"type": ["string", "null"], "description": "A filter expression."},
                "since": {"type": ["string", "null"], "description": "Window start (inclusive), as written."},
                "until": {"type": ["string", "null"], "description": "Window end (exclusive), as written."},
                "cursor": {"type": ["string", "null"], "description": "The field the window applies to."},
                "limit": {"type": ["integer", "null"], "minimum": 0},
                "include_deleted": {"type": "boolean"},
                "service": {"type": ["string", "null"], "description": "Read through this service instead of the connection's."},
                "sql": {"type": ["string", "null"], "description": "Data Query SQL run as written."},
                "zoql": {"type": ["string", "null"], "description": "Export ZOQL run as written."},
                "format": {"type": "string", "description": "csv, jsonl, json or singer (the CLI's output format)."},
                "lag": {"type": "string", "description": "With the CLI's --state: how long before now the window ends."}}},
        "SavedQuery": {"type": "object", "required": ["name", "connection", "connection_id", "query", "updated_at"], "properties": {
            "name": {"type": "string"},
            "connection": {"type": ["string", "null"], "description": "The connection's name; null if it no longer exists."},
            "connection_id": {"type": "string"},
            "query": {"$ref": "#/components/schemas/SavedQuerySpec"},
            "updated_at": {"type": "string", "format": "date-time"}}},
        "SavedQueryInput": {"type": "object", "required": ["connection"], "additionalProperties": false,
            "description": "The fields of /api/query, and what `zbridge query --save` can store besides. Give a table, or sql, or zoql.",
            "examples": [{"connection": "Prod", "table": "Account", "columns": ["Id", "Name"],
                          "conditions": [{"field": "Status", "op": "=", "value": "'Active'"}]}],
            "properties": {
                "connection": {"type": "string"}, "table": {"type": ["string", "null"]},
                "columns": {"type": "array", "items": {"type": "string"}, "description": "Empty: every exportable column."},
                "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
                "where": {"type": "string", "description": "A filter expression, joined with the conditions by AND."},
                "since": {"type": ["string", "null"]}, "until": {"type": ["string", "null"]},
                "cursor": {"type": ["string", "null"]}, "limit": {"type": ["integer", "null"], "minimum": 0},
                "include_deleted": {"type": "boolean"},
                "service": {"type": ["string", "null"], "description": "DataQuery or AQuADataExport."},
                "sql": {"type": ["string", "null"]}, "zoql": {"type": ["string", "null"]},
                "format": {"type": ["string", "null"], "enum": ["csv", "jsonl", "json", "singer", null]}}},
        "Preview": {"type": "object", "required": ["columns", "rows", "notes"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "notes": {"type": "array", "items": {"type": "string"}}}},
        "ExecuteRequest": {"type": "object", "required": ["connection", "procedure"], "additionalProperties": false, "properties": {
            "connection": {"type": "string"}, "procedure": {"type": "string"},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "records": {"type": "array", "items": {"type": "object"}}}},
        "ExecuteOutcome": {"type": "object", "required": ["kind"], "properties": {
            "kind": {"enum": ["records", "token", "schema"]},
            "summary": {"type": "object"}, "results": {"type": "array", "items": {"type": "object", "required": ["line", "success", "errors"],
                "properties": {"line": {"type": "integer"}, "id": {"type": ["string", "null"]}, "success": {"type": "boolean"},
                    "errors": {"type": "array", "items": {"type": "object"}}, "details": {"type": "object"}}}},
            "expires_at": {"type": ["string", "null"]}, "scope": {"type": "string"},
            "renewable": {"type": "boolean"}, "renewed": {"type": "boolean"},
            "schema": {}, "left_out": {"type": "array", "items": {"type": "string"}}}},
        "RunInput": {"type": "object", "additionalProperties": false, "properties": {"full": {"type": "boolean"}}},
        "VerifyInput": {"type": "object", "additionalProperties": false, "properties": {"repair": {"type": "boolean", "description": "Send the missing and stale records again, delete the extra ones (children first), then verify again."}}},
        "ObjectDrift": {"type": "object", "required": ["object", "target", "in_scope", "in_org", "missing", "extra", "duplicated", "stale", "stale_fields", "failing"], "properties": {
            "object": {"type": "string"}, "target": {"type": "string"},
            "in_scope": {"type": "integer", "minimum": 0}, "in_org": {"type": "integer", "minimum": 0},
            "missing": {"type": "integer", "minimum": 0}, "extra": {"type": "integer", "minimum": 0},
            "duplicated": {"type": "integer", "minimum": 0}, "stale": {"type": "integer", "minimum": 0},
            "stale_fields": {"type": "array", "items": {"type": "object", "required": ["field", "records"], "properties": {"field": {"type": "string"}, "records": {"type": "integer"}}}},
            "failing": {"type": "integer", "minimum": 0, "description": "Zuora records a run records as failed (not expected in the org)."}}},
        "VerifyOutcome": {"type": "object", "required": ["profile", "drifted", "objects"], "properties": {
            "profile": {"type": "string"}, "drifted": {"type": "boolean"},
            "objects": {"type": "array", "items": schema_ref("ObjectDrift")},
            "repair_run_id": {"type": ["string", "null"]},
            "after_repair": {"type": ["array", "null"], "items": schema_ref("ObjectDrift")}}},
        "SyncVerification": {"type": "object", "required": ["profile_id", "verified_at", "drifted", "report"], "properties": {
            "profile_id": {"type": "string"}, "verified_at": {"type": "string", "format": "date-time"}, "drifted": {"type": "boolean"},
            "report": {"type": "array", "items": schema_ref("ObjectDrift")}}},
        "ScheduleInput": {"type": "object", "additionalProperties": false, "properties": {
            "every": {"type": ["string", "null"], "description": "30m, 2h, daily...; null removes the schedule."}}},
        "SyncRun": {"type": "object", "required": ["id", "profile_id", "full", "trigger", "status", "started_at"], "properties": {
            "id": {"type": "string"}, "profile_id": {"type": "string"}, "full": {"type": "boolean"},
            "trigger": {"type": "string"}, "status": {"type": "string"}, "message": {"type": ["string", "null"]},
            "warnings": {"type": "array", "items": {"type": "string"}, "description": "Notes besides the status, e.g. a clock skew between this machine and Zuora."},
            "started_at": {"type": "string", "format": "date-time"}, "finished_at": {"type": ["string", "null"], "format": "date-time"}}},
        "Warning": {"type": "object", "required": ["field", "message"], "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}},
        "CredentialKind": {"type": "string", "enum": ["password", "oauth", "jwt"]},
        "SyncProfile": {"type": "object", "required": ["id", "name", "connection_id", "options", "updated_at"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "connection_id": {"type": "string"},
            "options": {}, "updated_at": {"type": "string", "format": "date-time"}}},
        "ProfileInput": {"type": "object", "required": ["name", "connection"], "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "connection": {"type": "string"}}},
        "CredentialView": {"type": "object", "required": ["kind", "label", "active", "sandbox", "updated_at"],
            "description": "Secrets appear only as \"set\" / \"not set\".",
            "properties": {
                "kind": {"$ref": "#/components/schemas/CredentialKind"}, "label": {"type": "string"},
                "active": {"type": "boolean"}, "sandbox": {"type": "boolean"},
                "login_url": {"type": "string"}, "username": {"type": "string"},
                "password": {"$ref": "#/components/schemas/SecretState"}, "security_token": {"$ref": "#/components/schemas/SecretState"},
                "org_id": {"type": "string"}, "org_id18": {"type": "string"},
                "user_id": {"type": "string"}, "user_id18": {"type": "string"},
                "consumer_key": {"type": "string"}, "consumer_secret": {"$ref": "#/components/schemas/SecretState"},
                "oauth_token": {"$ref": "#/components/schemas/SecretState"},
                "key_file": {"type": "string", "description": "JWT: the key file on the server, when the key is read from one."},
                "private_key": {"allOf": [{"$ref": "#/components/schemas/SecretState"}], "description": "JWT: whether the private key is sealed in the store."},
                "updated_at": {"type": "string", "format": "date-time"}}},
        "ProfileCredentials": {"type": "object", "required": ["profile", "active", "credentials"], "properties": {
            "profile": {"type": "string"},
            "active": {"oneOf": [{"$ref": "#/components/schemas/CredentialKind"}, {"type": "null"}]},
            "credentials": {"type": "array", "items": {"$ref": "#/components/schemas/CredentialView"}}}},
        "SavedCredentials": {"allOf": [{"$ref": "#/components/schemas/ProfileCredentials"},
            {"type": "object", "required": ["warnings"], "properties": {"warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Warning"}}}}]},
        "PasswordInput": {"type": "object", "additionalProperties": false, "properties": {
            "username": {"type": ["string", "null"], "maxLength": 50},
            "password": {"type": ["string", "null"], "description": "Write-only; null or absent keeps it."},
            "security_token": {"type": ["string", "null"], "description": "Write-only; null removes it."},
            "sandbox": {"type": ["boolean", "null"]}, "login_url": {"type": ["string", "null"]}}},
        "OAuthInput": {"type": "object", "additionalProperties": false, "properties": {
            "org_id": {"type": ["string", "null"]}, "user_id": {"type": ["string", "null"]},
            "consumer_key": {"type": ["string", "null"]}, "consumer_secret": {"type": ["string", "null"], "description": "Write-only; null or absent keeps it."},
            "sandbox": {"type": ["boolean", "null"]}, "login_url": {"type": ["string", "null"]}}},
        "JwtInput": {"type": "object", "additionalProperties": false,
            "description": "Give the key as `private_key` (PEM text, sealed in the store) or as `key_file` (a path on the server), not both.",
            "properties": {
            "username": {"type": ["string", "null"]}, "consumer_key": {"type": ["string", "null"]},
            "private_key": {"type": ["string", "null"], "description": "Write-only: the RSA private key in PEM form; it replaces a key file. Null or absent keeps the stored key."},
            "key_file": {"type": ["string", "null"], "description": "Path of the PEM private key on the server; it replaces a stored private key."},
            "sandbox": {"type": ["boolean", "null"]}, "login_url": {"type": ["string", "null"]}}},
        "SwitchInput": {"type": "object", "required": ["kind"], "additionalProperties": false, "properties": {
            "kind": {"$ref": "#/components/schemas/CredentialKind"}}},
        "AccessReport": {"type": "object", "required": ["kind", "org_id", "user_id", "username", "message"], "properties": {
            "kind": {"$ref": "#/components/schemas/CredentialKind"}, "org_id": {"type": "string"},
            "user_id": {"type": "string"}, "username": {"type": "string"}, "message": {"type": "string"}}},
        "SetupStarted": {"type": "object", "required": ["authorize_url", "redirect_uri"], "properties": {
            "authorize_url": {"type": "string"}, "redirect_uri": {"type": "string"}}},
        "VariableInput": {"type": "object", "required": ["value"], "additionalProperties": false, "properties": {
            "value": {"type": "string"}, "secret": {"type": "boolean"}, "project": {"type": ["string", "null"]}}}
    })
}
