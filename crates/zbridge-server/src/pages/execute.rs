//! The Execute page: pick a connection and a procedure, give its parameters and its input
//! records, and see the result of every record.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use zbridge_zuora::execute::Procedure;

use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::execute::{self, ExecuteOutcome};
use crate::form::FormData;
use crate::{AppState, zuora};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/execute", get(page).post(run))
}

/// A procedure in the select, with what it takes.
#[derive(Debug, Clone)]
pub struct ProcedureChoice {
    name: &'static str,
    description: &'static str,
    params: String,
    input: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "execute.html")]
struct ExecutePage {
    csrf: String,
    connections: Vec<String>,
    connection: String,
    procedures: Vec<ProcedureChoice>,
    params: String,
    input: String,
    outcome: Option<ExecuteOutcome>,
    error: Option<ErrorDetail>,
}

impl ExecutePage {
    fn schema_text(&self) -> String {
        match &self.outcome {
            Some(ExecuteOutcome::Schema { schema, .. }) => {
                serde_json::to_string_pretty(schema).unwrap_or_default()
            }
            _ => String::new(),
        }
    }
}

fn choices(selected: &str) -> Vec<ProcedureChoice> {
    Procedure::ALL
        .iter()
        .map(|p| ProcedureChoice {
            name: p.name(),
            description: p.description(),
            params: p
                .params()
                .iter()
                .map(|s| {
                    format!(
                        "{}{}: {}",
                        s.name,
                        if s.required { " (required)" } else { "" },
                        s.description
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            input: p.input_summary(),
            selected: p.name().eq_ignore_ascii_case(selected),
        })
        .collect()
}

async fn base_page(
    state: &AppState,
    csrf: String,
    form: &FormData,
) -> Result<ExecutePage, ApiError> {
    let connections = state
        .store()
        .list_connections()
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    Ok(ExecutePage {
        csrf,
        connections,
        connection: form.text("connection"),
        procedures: choices(&form.text("procedure")),
        params: form.text("params"),
        input: form.text("input"),
        outcome: None,
        error: None,
    })
}

async fn page(State(state): State<AppState>, Csrf(csrf): Csrf) -> Result<Response, ApiError> {
    Ok(render(
        &base_page(&state, csrf, &FormData::default()).await?,
    ))
}

async fn run(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let mut page = base_page(&state, csrf, &form).await?;
    let result = async {
        let procedure = Procedure::parse(&form.text("procedure"))?;
        let params = execute::params_from_lines(procedure, &form.text("params"))?;
        let client = zuora::saved_client(state.store(), &form.text("connection")).await?;
        execute::run(&client, procedure, &params, &form.text("input")).await
    }
    .await;
    match result {
        Ok(outcome) => {
            page.outcome = Some(outcome);
            Ok(render(&page))
        }
        Err(error) => {
            page.error = Some(error.detail());
            Ok((error.status(), render(&page)).into_response())
        }
    }
}
