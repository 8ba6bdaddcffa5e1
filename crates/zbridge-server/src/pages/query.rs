//! The Query page: pick a connection and a table, pick columns, add conditions, preview the
//! first 100 rows, and download everything as CSV or JSON Lines. A plain GET form: every step
//! is a link that can be bookmarked, and nothing here changes state.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;
use crate::query::{self, OPERATORS, Preview, QueryRequest};
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/query", get(page))
        .route("/query/download", get(download))
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
    preview: Option<Preview>,
    error: Option<ErrorDetail>,
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
        preview: None,
        error: None,
    };
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
    Ok(query::download(client, plan, format))
}
