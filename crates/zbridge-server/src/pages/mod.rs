//! The web UI: server-rendered pages that work as plain forms, enhanced by htmx and a small
//! script where JavaScript is available.

pub mod connections;
pub mod execute;
pub mod query;
pub mod sf_credentials;
pub mod sync;

pub mod variables;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/connections") }))
        .merge(connections::routes())
        .merge(variables::routes())
        .merge(execute::routes())
        .merge(query::routes())
        .merge(sf_credentials::routes())
        .merge(sync::routes())
}

/// Whether htmx sent the request (it then wants a fragment, not a page).
pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A `<select>` option.
#[derive(Debug, Clone)]
pub struct Opt {
    /// Submitted value.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Whether it is selected.
    pub selected: bool,
}

/// Options for `values`, with `current` selected; a current value that is not one of them
/// (a `[variable]`) is kept as an extra option.
pub(crate) fn options(values: &[&str], current: &str) -> Vec<Opt> {
    let mut opts: Vec<Opt> = values
        .iter()
        .map(|v| Opt {
            value: v.to_string(),
            label: v.to_string(),
            selected: v.eq_ignore_ascii_case(current.trim()),
        })
        .collect();
    if !current.trim().is_empty() && !opts.iter().any(|o| o.selected) {
        opts.push(Opt {
            value: current.to_string(),
            label: format!("{current} (variable)"),
            selected: true,
        });
    }
    opts
}

/// A variable offered by the variable picker.
#[derive(Debug, Clone)]
pub struct VarChoice {
    /// Name, inserted as `[name]`.
    pub name: String,
    /// Where it is defined.
    pub scope: String,
}

pub(crate) async fn var_choices(
    store: &zbridge_store::Store,
) -> Result<Vec<VarChoice>, crate::ApiError> {
    Ok(store
        .list_variables(None)
        .await?
        .into_iter()
        .map(|v| VarChoice {
            scope: v
                .project
                .map(|p| format!("project {p}"))
                .unwrap_or_else(|| "global".into()),
            name: v.name,
        })
        .collect())
}
