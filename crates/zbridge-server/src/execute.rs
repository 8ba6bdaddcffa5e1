//! The Execute activity for the UI and the API: pick a procedure, give its parameters and its
//! input records (JSON Lines), and get one result per record. Token procedures report the
//! token's expiry and scope, never the token.

use serde::Serialize;
use serde_json::Value;
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::execute::{self, ExecuteError, Params, Procedure, RecordResult, RunSummary};

use crate::error::ApiError;

/// What a procedure gave back.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExecuteOutcome {
    /// A record procedure: one result per input record, in input order.
    Records {
        /// The counts.
        summary: RunSummary,
        /// The results.
        results: Vec<RecordResult>,
    },
    /// A token procedure: the token itself is a secret and is not shown.
    Token {
        /// When the token expires, if known.
        expires_at: Option<String>,
        /// Its scope.
        scope: String,
        /// Whether zbridge can renew it.
        renewable: bool,
        /// Whether this call renewed it.
        renewed: bool,
    },
    /// CreateSchema: the table's JSON Schema and the fields left out.
    Schema {
        /// The JSON Schema.
        schema: Value,
        /// Fields whose type has no JSON Schema form.
        left_out: Vec<String>,
    },
}

/// One invalid input record.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidRecord {
    /// Its line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl From<ExecuteError> for ApiError {
    fn from(error: ExecuteError) -> Self {
        match error {
            ExecuteError::Param(e) => ApiError::Invalid(e),
            ExecuteError::InvalidInput { ref errors, .. } => {
                let first = errors
                    .first()
                    .map(|e| format!("; line {}: {}", e.line, e.message))
                    .unwrap_or_default();
                ApiError::bad_request("Input", format!("{error}{first}"))
            }
            ExecuteError::Zuora(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Parses `name=value` lines (empty lines ignored) into the procedure's parameters.
pub fn params_from_lines(procedure: Procedure, text: &str) -> Result<Params, ApiError> {
    let pairs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Ok(Params::parse(procedure, &pairs)?)
}

/// Runs `procedure` with `params` over `input` (JSON Lines; ignored by procedures without
/// input).
pub async fn run(
    client: &ZuoraClient,
    procedure: Procedure,
    params: &Params,
    input: &str,
) -> Result<ExecuteOutcome, ApiError> {
    if procedure.takes_input() {
        let (results, summary) = execute::run_json_lines(client, procedure, params, input).await?;
        return Ok(ExecuteOutcome::Records { summary, results });
    }
    match procedure {
        Procedure::GetOAuthAccessToken | Procedure::RefreshOAuthAccessToken => {
            let report = if procedure == Procedure::GetOAuthAccessToken {
                execute::access_token(client).await?
            } else {
                execute::refresh_access_token(client).await?
            };
            Ok(ExecuteOutcome::Token {
                expires_at: report.token.expires_at.map(|t| t.to_rfc3339()),
                scope: report.token.scope.clone(),
                renewable: report.renewable,
                renewed: report.renewed,
            })
        }
        _ => {
            let table = params.get("table").unwrap_or_default();
            let (schema, unknown) = execute::create_schema(client, table).await?;
            Ok(ExecuteOutcome::Schema {
                schema,
                left_out: unknown.iter().map(ToString::to_string).collect(),
            })
        }
    }
}
