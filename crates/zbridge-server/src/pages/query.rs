//! The Query page: pick a connection and a table, pick columns, add conditions, preview the
//! first 100 rows, and download everything as CSV or JSON Lines. A plain GET form: every step
//! is a link that can be bookmarked, and nothing there changes state.
//!
//! Saved queries (the same ones `zbridge query --save` stores) are listed on the page with
//! Open, download and Delete. Saving goes through a short confirmation page that posts the
//! query with its CSRF token, so the GET form never carries the token in its URLs; Delete asks
//! on its own page, like a connection's.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use zbridge_zuora::saved::{self, SavedQuery};
use zbridge_zuora::sink::Format;

use super::connections::encode_path;
use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;
use crate::query::{self, OPERATORS, Preview, QueryRequest};
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/query", get(page))
        .route("/query/download", get(download))
        .route("/query/save", get(confirm_save).post(save))
        .route("/query/saved/{name}", get(open))
        .route("/query/saved/{name}/download", get(download_saved))
        .route(
            "/query/saved/{name}/delete",
            get(confirm_delete).post(delete),
        )
}

/// A saved query in the list.
#[derive(Debug, Clone)]
pub struct SavedRow {
    name: String,
    connection: String,
    reads: String,
    filter: String,
    updated: String,
    /// The form can show it (a table query without CLI-only options).
    openable: bool,
}

impl SavedRow {
    fn of(saved: &SavedQuery) -> Self {
        SavedRow {
            name: saved.name.clone(),
            connection: saved
                .connection
                .clone()
                .unwrap_or_else(|| "(deleted)".into()),
            reads: saved.query.reads().to_string(),
            filter: saved.query.filter.clone().unwrap_or_default(),
            updated: saved.updated_at.format("%Y-%m-%d %H:%M").to_string(),
            openable: QueryRequest::from_saved(saved).is_some(),
        }
    }
}

/// A column checkbox.
#[derive(Debug, Clone)]
pub struct ColumnChoice {
    name: String,
    label: String,
    checked: bool,
}

/// A condition row of the form.
#[derive(Debug, Clone)]
pub struct ConditionRow {
    field: String,
    op: String,
    value: String,
}

#[derive(Template)]
#[template(path = "query.html")]
struct QueryPage {
    csrf: String,
    connections: Vec<String>,
    connection: String,
    tables: Vec<String>,
    table: String,
    columns: Vec<ColumnChoice>,
    conditions: Vec<ConditionRow>,
    operators: &'static [&'static str],
    filter: String,
    save_name: String,
    preview: Option<Preview>,
    error: Option<ErrorDetail>,
    notice: Option<String>,
    saved: Vec<SavedRow>,
    saved_error: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let raw = raw.unwrap_or_default();
    let form = FormData::parse(raw.as_bytes());
    let request = QueryRequest::from_form(&form);
    let connections: Vec<String> = state
        .store()
        .list_connections()
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut conditions: Vec<ConditionRow> = request
        .conditions
        .iter()
        .map(|c| ConditionRow {
            field: c.field.clone(),
            op: c.op.clone(),
            value: c.value.clone(),
        })
        .collect();
    // Blank rows to add conditions without a script.
    while conditions.len() < request.conditions.len() + 2 {
        conditions.push(ConditionRow {
            field: String::new(),
            op: "=".into(),
            value: String::new(),
        });
    }
    let mut page = QueryPage {
        csrf,
        connection: request.connection.clone(),
        connections,
        tables: Vec::new(),
        table: request.table.clone(),
        columns: Vec::new(),
        conditions,
        operators: OPERATORS,
        filter: request.filter.clone(),
        save_name: form.text("save_name"),
        preview: None,
        error: None,
        notice: notice(&form),
        saved: Vec::new(),
        saved_error: None,
    };
    match saved::list(state.store()).await {
        Ok(list) => page.saved = list.iter().map(SavedRow::of).collect(),
        Err(e) => page.saved_error = Some(e.to_string()),
    }
    if let Err(error) = fill(&state, &form, &request, &mut page).await {
        let status = error.status();
        page.error = Some(error.detail());
        return Ok((status, render(&page)).into_response());
    }
    Ok(render(&page))
}

/// The steps the form has reached: tables once a connection is chosen, columns once a table
/// is, and the preview when asked for.
async fn fill(
    state: &AppState,
    form: &FormData,
    request: &QueryRequest,
    page: &mut QueryPage,
) -> Result<(), ApiError> {
    if request.connection.is_empty() {
        return Ok(());
    }
    let client = zuora::saved_client(state.store(), &request.connection).await?;
    page.tables = zbridge_zuora::discovery::list_tables(&client).await?;
    if request.table.is_empty() {
        return Ok(());
    }
    let schema = zbridge_zuora::discovery::describe(&client, &request.table).await?;
    page.columns = schema
        .fields
        .iter()
        .filter(|f| f.selectable)
        .map(|f| ColumnChoice {
            checked: request
                .columns
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&f.name)),
            name: f.name.clone(),
            label: f.label.clone(),
        })
        .collect();
    if form.get("action") == Some("preview") {
        page.preview = Some(query::preview(&client, request).await?);
    }
    Ok(())
}

async fn download(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    let format = query::format_of(form.get("format").unwrap_or("csv"))?;
    let request = QueryRequest::from_form(&form);
    let client = zuora::saved_client(state.store(), &request.connection).await?;
    let plan = request.plan(&client, None).await?;
    let table = plan.table.clone();
    Ok(query::download(client, plan, format, &table))
}

/// The message a redirect back to the page asks for.
fn notice(form: &FormData) -> Option<String> {
    if let Some(name) = form.get("saved") {
        return Some(format!("Saved query '{name}'."));
    }
    if let Some(name) = form.get("deleted") {
        return Some(format!("Deleted saved query '{name}'."));
    }
    form.get("opened").map(|name| {
        format!("Opened saved query '{name}'; Save query keeps changes under its name.")
    })
}

#[derive(Template)]
#[template(path = "query_save.html")]
struct SavePage {
    csrf: String,
    request: QueryRequest,
    name: String,
    filter_text: String,
    back: String,
    replaces: bool,
    error: Option<ErrorDetail>,
}

async fn save_page(
    state: &AppState,
    csrf: String,
    form: &FormData,
    error: Option<ErrorDetail>,
) -> SavePage {
    let request = QueryRequest::from_form(form);
    let name = form.text("save_name").trim().to_string();
    let replaces = !name.is_empty() && saved::load(state.store(), &name).await.is_ok();
    let mut back = request.to_query_string();
    if !name.is_empty() {
        back.push_str("&save_name=");
        back.push_str(&encode_path(&name));
    }
    SavePage {
        csrf,
        filter_text: request.filter_text().ok().flatten().unwrap_or_default(),
        request,
        name,
        back,
        replaces,
        error,
    }
}

/// "Save query": shows what will be saved, under which name, and whether it replaces one.
async fn confirm_save(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    RawQuery(raw): RawQuery,
) -> Response {
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    render(&save_page(&state, csrf, &form, None).await)
}

async fn save(State(state): State<AppState>, Csrf(csrf): Csrf, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let request = QueryRequest::from_form(&form);
    let name = form.text("save_name");
    let result = async {
        let connection = state.store().load_connection(&request.connection).await?;
        let spec = request.to_saved()?;
        Ok::<_, ApiError>(saved::save(state.store(), &name, &connection, spec).await?)
    }
    .await;
    match result {
        Ok(done) => Redirect::to(&format!(
            "/query?{}&save_name={name}&saved={name}",
            request.to_query_string(),
            name = encode_path(&done.name)
        ))
        .into_response(),
        Err(error) => {
            let status = error.status();
            let page = save_page(&state, csrf, &form, Some(error.detail())).await;
            (status, render(&page)).into_response()
        }
    }
}

/// Opens a saved query in the form (a redirect, so the URL shows the query like any other).
async fn open(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let found = saved::load(state.store(), &name).await?;
    let request = QueryRequest::from_saved(&found).ok_or_else(|| {
        ApiError::bad_request(
            "Saved query",
            format!(
                "'{}' uses options the Query page does not show (raw SQL or ZOQL, a window, a limit, deleted rows or another service); run it from the list, or change it with the CLI",
                found.name
            ),
        )
    })?;
    let name = encode_path(&found.name);
    Ok(Redirect::to(&format!(
        "/query?{}&save_name={name}&opened={name}",
        request.to_query_string()
    ))
    .into_response())
}

async fn download_saved(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    let found = saved::load(state.store(), &name).await?;
    let format = match form.get("format") {
        Some(text) => query::format_of(text)?,
        None => query::format_of(&found.query.format).unwrap_or(Format::Csv),
    };
    let prepared = saved::prepare(state.store(), &found).await?;
    Ok(query::download(
        prepared.client,
        prepared.plan,
        format,
        &found.name,
    ))
}

#[derive(Template)]
#[template(path = "query_delete.html")]
struct DeletePage {
    csrf: String,
    name: String,
    reads: String,
    error: Option<ErrorDetail>,
}

async fn confirm_delete(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let found = saved::load(state.store(), &name).await?;
    Ok(render(&DeletePage {
        csrf,
        reads: found.query.reads().to_string(),
        name: found.name,
        error: None,
    }))
}

async fn delete(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Path(name): Path<String>,
) -> Response {
    match saved::delete(state.store(), &name).await {
        Ok(()) => {
            Redirect::to(&format!("/query?deleted={}", encode_path(name.trim()))).into_response()
        }
        Err(e) => {
            let error = ApiError::from(e);
            let page = DeletePage {
                csrf,
                name,
                reads: String::new(),
                error: Some(error.detail()),
            };
            (error.status(), render(&page)).into_response()
        }
    }
}
