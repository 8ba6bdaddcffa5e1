//! The Variables page: global and project variables, secret values masked.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use zbridge_core::VariableName;
use zbridge_store::VariableInfo;

use crate::AppState;
use crate::api::variables::project_of;
use crate::auth::{Csrf, render};
use crate::error::{ApiError, ErrorDetail};
use crate::form::FormData;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/variables", get(page).post(set))
        .route("/variables/delete", post(delete))
}

#[derive(Template)]
#[template(path = "variables.html")]
struct VariablesPage {
    csrf: String,
    variables: Vec<VariableInfo>,
    error: Option<ErrorDetail>,
    notice: String,
    form_name: String,
    form_project: String,
}

#[derive(serde::Deserialize, Default)]
struct Notice {
    saved: Option<String>,
    deleted: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    Query(q): Query<Notice>,
) -> Result<Response, ApiError> {
    let notice = match (q.saved, q.deleted) {
        (Some(n), _) => format!("Saved variable [{n}]."),
        (_, Some(n)) => format!("Deleted variable [{n}]."),
        _ => String::new(),
    };
    let variables = state.store().list_variables(None).await?;
    Ok(render(&VariablesPage {
        csrf,
        variables,
        error: None,
        notice,
        form_name: String::new(),
        form_project: String::new(),
    }))
}

async fn set(
    State(state): State<AppState>,
    Csrf(csrf): Csrf,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let result = async {
        let name = VariableName::parse(&form.text("name"))?;
        let project = project_of(form.get("project"))?;
        let value = SecretString::from(form.text("value"));
        state
            .store()
            .set_variable(&name, project.as_ref(), &value, form.checked("secret"))
            .await?;
        Ok::<_, ApiError>(name)
    }
    .await;
    match result {
        Ok(name) => Ok(Redirect::to(&format!(
            "/variables?saved={}",
            crate::pages::connections::encode_path(name.as_str())
        ))
        .into_response()),
        Err(error) => {
            let variables = state.store().list_variables(None).await?;
            let page = VariablesPage {
                csrf,
                variables,
                error: Some(error.detail()),
                notice: String::new(),
                form_name: form.text("name"),
                form_project: form.text("project"),
            };
            Ok((error.status(), render(&page)).into_response())
        }
    }
}

async fn delete(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let form = FormData::parse(&body);
    let name = VariableName::parse(&form.text("name"))?;
    let project = project_of(form.get("project"))?;
    state
        .store()
        .delete_variable(&name, project.as_ref())
        .await?;
    Ok(Redirect::to(&format!(
        "/variables?deleted={}",
        crate::pages::connections::encode_path(name.as_str())
    ))
    .into_response())
}
