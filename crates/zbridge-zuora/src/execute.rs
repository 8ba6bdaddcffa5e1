//! The Execute activity: procedures run at Zuora.
//!
//! - Record procedures (create, update, delete, generate, split, subscribe, amend) read JSON
//!   Lines or CSV ([`input`]), are checked in full before anything is sent ([`check`]), then
//!   go out in calls of at most 50 records (amend: one request per call) and come back as one
//!   [`RecordResult`] per input record, in input order ([`run`]). A call that fails as a whole
//!   fails each of its records with the call's error; the other calls go on.
//! - Every call is one logical POST of the client, so its retries share one Idempotency-Key and
//!   a retried create cannot create twice.
//! - [`access_token`], [`refresh_access_token`] and [`create_schema`] are the utility
//!   procedures.

mod actions;
pub mod input;
mod procedure;

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};
use zbridge_core::ValidationError;
use zbridge_core::schema::SchemaError;

use crate::client::{Call, ZuoraClient};
use crate::error::ZuoraError;
use crate::token::Token;
use input::{InputError, InputRecord, RowError};

pub use actions::{MAX_AMENDMENTS, MAX_OBJECTS};
pub use input::InputFormat;
pub use procedure::{ParamSpec, Params, Procedure};

/// At most this many invalid records are kept for the report; the rest are only counted.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// What can stop an Execute call.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// A parameter or the procedure is wrong for this call; nothing was sent.
    #[error("{0}")]
    Param(#[source] ValidationError),
    /// Some input records are invalid; nothing was sent.
    #[error("{total} input record(s) are invalid; nothing was sent")]
    InvalidInput {
        /// The first [`MAX_REPORTED_ERRORS`] errors, in input order.
        errors: Vec<RowError>,
        /// How many records are invalid.
        total: u64,
    },
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Read(#[source] io::Error),
    /// The results could not be written.
    #[error("cannot write the results: {0}")]
    Write(#[source] io::Error),
    /// Zuora failed.
    #[error("{0}")]
    Zuora(#[source] ZuoraError),
    /// The described table has no field whose type can be written as JSON Schema.
    #[error("{0}")]
    Schema(#[source] SchemaError),
}

impl From<ValidationError> for ExecuteError {
    fn from(error: ValidationError) -> Self {
        ExecuteError::Param(error)
    }
}

impl From<ZuoraError> for ExecuteError {
    fn from(error: ZuoraError) -> Self {
        ExecuteError::Zuora(error)
    }
}

/// One error of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    /// Zuora's code (`INVALID_VALUE`, `HTTP_400`…), when there is one.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl RecordError {
    fn new(code: Option<String>, message: String) -> Self {
        RecordError { code, message }
    }

    /// Reads `{"Code", "Message"}` in either case.
    fn from_json(value: &Value) -> Self {
        let text = |name: &str| {
            value.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
            })
        };
        RecordError {
            code: text("code"),
            message: text("message").unwrap_or_else(|| value.to_string()),
        }
    }
}

/// The result of one input record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordResult {
    /// The input line of the record.
    pub line: u64,
    /// The record's id: the new id on create, the id sent otherwise (SubscriptionId for
    /// subscribe and amend, the invoice id for generate).
    pub id: Option<String>,
    /// Whether Zuora accepted the record.
    pub success: bool,
    /// Why not.
    pub errors: Vec<RecordError>,
    /// Other fields of Zuora's answer (AccountNumber, SubscriptionNumber, AmendmentIds…).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl RecordResult {
    fn failed(line: u64, id: Option<String>, error: RecordError) -> Self {
        RecordResult {
            line,
            id,
            success: false,
            errors: vec![error],
            details: Map::new(),
        }
    }
}

/// The result of checking the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// How many records the input holds.
    pub records: u64,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Records read.
    pub records: u64,
    /// Records Zuora accepted.
    pub succeeded: u64,
    /// Records that failed (including those not sent).
    pub failed: u64,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed as a whole.
    pub failed_calls: u64,
    /// Why the run stopped sending, when an error made further calls pointless (e.g. the
    /// credentials were refused); the records after it are reported as not sent.
    pub stopped: Option<String>,
}

/// What [`run`] gives back.
#[derive(Debug)]
pub struct RunReport {
    /// The counts.
    pub summary: RunSummary,
    /// The error of the last call that failed as a whole, for callers that must tell a remote
    /// failure from a refused record (the CLI's exit code 3).
    pub last_call_error: Option<ZuoraError>,
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record succeeded (or there were none).
    AllSucceeded,
    /// Some records failed.
    SomeFailed,
    /// Every call failed at Zuora or on the way: nothing was done.
    AllCallsFailed,
}

impl RunSummary {
    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        if self.failed == 0 {
            Outcome::AllSucceeded
        } else if self.succeeded == 0 && self.calls > 0 && self.failed_calls == self.calls {
            Outcome::AllCallsFailed
        } else {
            Outcome::SomeFailed
        }
    }
}

/// Checks every record before anything is sent. Returns the record count, or the invalid
/// records with their lines.
pub fn check<I>(procedure: Procedure, records: I) -> Result<Checked, ExecuteError>
where
    I: Iterator<Item = Result<InputRecord, InputError>>,
{
    if !procedure.takes_input() {
        return Err(ValidationError::new(
            "--input",
            format!("{} takes no input", procedure.name()),
        )
        .into());
    }
    let mut count = 0;
    let mut errors = Vec::new();
    let mut total = 0;
    for entry in records {
        count += 1;
        let error = match entry {
            Ok(record) => match actions::prepare(procedure, record.fields) {
                Ok(_) => continue,
                Err(message) => RowError {
                    line: record.line,
                    message,
                },
            },
            Err(InputError::Row(error)) => error,
            Err(InputError::Io(error)) => return Err(ExecuteError::Read(error)),
        };
        total += 1;
        if errors.len() < MAX_REPORTED_ERRORS {
            errors.push(error);
        }
    }
    if total > 0 {
        return Err(ExecuteError::InvalidInput { errors, total });
    }
    Ok(Checked { records: count })
}

/// Sends the records in calls of at most 50 and hands each result to `emit`, in input order,
/// as soon as its call returns. Run [`check`] over the same input first: a record found invalid
/// here (the input changed) is reported as failed and not sent.
pub async fn run<I, F>(
    client: &ZuoraClient,
    procedure: Procedure,
    params: &Params,
    records: I,
    mut emit: F,
) -> Result<RunReport, ExecuteError>
where
    I: Iterator<Item = Result<InputRecord, InputError>>,
    F: FnMut(&RecordResult) -> io::Result<()>,
{
    if !procedure.takes_input() {
        return Err(ValidationError::new(
            "--input",
            format!("{} takes no input", procedure.name()),
        )
        .into());
    }
    let (path, max) = actions::endpoint(procedure, params);
    let mut batch = Batch {
        client,
        procedure,
        params,
        path: &path,
        pending: Vec::with_capacity(max),
        summary: RunSummary::default(),
        last_call_error: None,
    };
    for entry in records {
        batch.summary.records += 1;
        let (line, fields) = match entry {
            Ok(record) => (record.line, record.fields),
            Err(InputError::Row(error)) => {
                let result = RecordResult::failed(
                    error.line,
                    None,
                    RecordError::new(Some("INVALID_INPUT".into()), error.message),
                );
                batch.record(&result, &mut emit)?;
                continue;
            }
            Err(InputError::Io(error)) => return Err(ExecuteError::Read(error)),
        };
        match actions::prepare(procedure, fields) {
            Ok(prepared) => batch.pending.push((line, prepared)),
            Err(message) => {
                // Earlier records are sent first, so results stay in input order.
                batch.flush(&mut emit).await?;
                let result = RecordResult::failed(
                    line,
                    None,
                    RecordError::new(Some("INVALID_INPUT".into()), message),
                );
                batch.record(&result, &mut emit)?;
            }
        }
        if batch.pending.len() >= max {
            batch.flush(&mut emit).await?;
        }
    }
    batch.flush(&mut emit).await?;
    Ok(RunReport {
        summary: batch.summary,
        last_call_error: batch.last_call_error,
    })
}

struct Batch<'a> {
    client: &'a ZuoraClient,
    procedure: Procedure,
    params: &'a Params,
    path: &'a str,
    pending: Vec<(u64, actions::Prepared)>,
    summary: RunSummary,
    last_call_error: Option<ZuoraError>,
}

impl Batch<'_> {
    fn record<F>(&mut self, result: &RecordResult, emit: &mut F) -> Result<(), ExecuteError>
    where
        F: FnMut(&RecordResult) -> io::Result<()>,
    {
        if result.success {
            self.summary.succeeded += 1;
        } else {
            self.summary.failed += 1;
        }
        emit(result).map_err(ExecuteError::Write)
    }

    /// Sends the pending records as one call and reports each of them.
    async fn flush<F>(&mut self, emit: &mut F) -> Result<(), ExecuteError>
    where
        F: FnMut(&RecordResult) -> io::Result<()>,
    {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        if let Some(reason) = &self.summary.stopped {
            let error = RecordError::new(Some("NOT_SENT".into()), format!("not sent: {reason}"));
            for (line, prepared) in pending {
                let result = RecordResult::failed(line, prepared.input_id, error.clone());
                self.record(&result, emit)?;
            }
            return Ok(());
        }
        let (lines, items): (Vec<(u64, Option<String>)>, Vec<Value>) = pending
            .into_iter()
            .map(|(line, p)| ((line, p.input_id), p.item))
            .unzip();
        let body = actions::body(self.procedure, self.params, items);
        self.summary.calls += 1;
        tracing::debug!(path = self.path, records = lines.len(), "Actions call");
        let answers = self
            .client
            .json(Call::post(self.path, &body))
            .await
            .and_then(|response| {
                actions::answers(response).map_err(|detail| ZuoraError::Protocol {
                    path: self.path.to_string(),
                    detail,
                })
            });
        let answers = answers.map_err(|error| {
            if stops_the_run(&error) {
                self.summary.stopped = Some(format!("an earlier call failed: {error}"));
            }
            let record_error = call_error(&error);
            self.last_call_error = Some(error);
            record_error
        });
        match answers {
            Ok(answers) => {
                for (i, (line, input_id)) in lines.into_iter().enumerate() {
                    let result = match answers.get(i) {
                        Some(answer) => actions::read_answer(line, answer, input_id.as_deref()),
                        None => RecordResult::failed(
                            line,
                            input_id,
                            RecordError::new(
                                None,
                                "Zuora returned no result for this record".into(),
                            ),
                        ),
                    };
                    self.record(&result, emit)?;
                }
            }
            Err(error) => {
                self.summary.failed_calls += 1;
                for (line, input_id) in lines {
                    let result = RecordResult::failed(line, input_id, error.clone());
                    self.record(&result, emit)?;
                }
            }
        }
        Ok(())
    }
}

/// Errors after which every further call would fail the same way.
fn stops_the_run(error: &ZuoraError) -> bool {
    matches!(
        error,
        ZuoraError::Config(_)
            | ZuoraError::UnknownHost { .. }
            | ZuoraError::Connect { .. }
            | ZuoraError::Proxy { .. }
            | ZuoraError::Tls { .. }
            | ZuoraError::AuthRejected { .. }
            | ZuoraError::NotZuora { .. }
            | ZuoraError::AccessTokenRefused
            | ZuoraError::RefreshGrantRefused
            | ZuoraError::EntityRequired { .. }
            | ZuoraError::Unauthorized { .. }
            | ZuoraError::Cache(_)
    )
}

/// The error every record of a failed call gets: Zuora's own code and message when the body
/// says them (a 400 `{"Success": false, "Errors": [...]}`), else the call's error.
fn call_error(error: &ZuoraError) -> RecordError {
    match error {
        ZuoraError::Body { source, .. } => {
            RecordError::new(source.code.clone(), source.message.clone())
        }
        ZuoraError::Http { status, body, .. } => {
            let reported = serde_json::from_str::<Value>(body).ok().and_then(|json| {
                crate::policy::body_error(&json, false).or_else(|| message_only(&json))
            });
            match reported {
                Some(reported) => RecordError::new(
                    Some(reported.code.unwrap_or_else(|| format!("HTTP_{status}"))),
                    reported.message,
                ),
                None => RecordError::new(Some(format!("HTTP_{status}")), error.to_string()),
            }
        }
        other => RecordError::new(None, other.to_string()),
    }
}

/// `{"message": "Error - unrecognised fields"}` (rejectUnknownFields) has no success flag.
fn message_only(json: &Value) -> Option<crate::policy::BodyError> {
    let message = json.get("message")?.as_str()?;
    Some(crate::policy::BodyError {
        code: None,
        message: message.to_string(),
        retryable: false,
    })
}

/// Runs a record procedure over JSON Lines held in memory (the demo, the web UI and the API
/// use it): checks everything, then sends, and returns the results in input order.
pub async fn run_json_lines(
    client: &ZuoraClient,
    procedure: Procedure,
    params: &Params,
    json_lines: &str,
) -> Result<(Vec<RecordResult>, RunSummary), ExecuteError> {
    let read = || {
        input::records(
            InputFormat::JsonLines,
            io::Cursor::new(json_lines.to_string()),
        )
    };
    check(procedure, read())?;
    let mut results = Vec::new();
    let report = run(client, procedure, params, read(), |r| {
        results.push(r.clone());
        Ok(())
    })
    .await?;
    Ok((results, report.summary))
}

/// What the token procedures report.
#[derive(Debug, Clone)]
pub struct TokenReport {
    /// The token (its value is a secret: show it only when asked).
    pub token: Token,
    /// False when the connection uses a given token (InitiateOAuth=OFF).
    pub renewable: bool,
    /// Whether this call renewed it.
    pub renewed: bool,
}

/// GetOAuthAccessToken: the connection's current token, obtained if there is none.
pub async fn access_token(client: &ZuoraClient) -> Result<TokenReport, ExecuteError> {
    let token = client.tokens().token().await?;
    Ok(TokenReport {
        token,
        renewable: !client.tokens().is_fixed(),
        renewed: false,
    })
}

/// RefreshOAuthAccessToken: drops the current token and obtains a new one through the token
/// manager (so the cache and concurrent users see the new one).
pub async fn refresh_access_token(client: &ZuoraClient) -> Result<TokenReport, ExecuteError> {
    let tokens = client.tokens();
    if tokens.is_fixed() {
        return Err(ValidationError::new(
            "InitiateOAuth",
            "is OFF: the connection uses the access token given in OAuthAccessToken, which zbridge cannot renew; set a new one, or set InitiateOAuth=REFRESH",
        )
        .into());
    }
    let current = tokens.token().await?;
    tokens.invalidate(&current).await?;
    let token = tokens.token().await?;
    Ok(TokenReport {
        token,
        renewable: true,
        renewed: true,
    })
}

/// CreateSchema: the JSON Schema of a table from describe, and the fields left out because
/// their type is unknown (to be reported, never dropped silently).
pub async fn create_schema(
    client: &ZuoraClient,
    table: &str,
) -> Result<(Value, Vec<SchemaError>), ExecuteError> {
    let schema = crate::discovery::describe(client, table).await?;
    let (known, unknown) = schema.partition_unknown();
    let json = known.json_schema().map_err(ExecuteError::Schema)?;
    Ok((json, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(succeeded: u64, failed: u64, calls: u64, failed_calls: u64) -> RunSummary {
        RunSummary {
            records: succeeded + failed,
            succeeded,
            failed,
            calls,
            failed_calls,
            stopped: None,
        }
    }

    #[test]
    fn outcomes_tell_partial_failure_from_total_remote_failure() {
        assert_eq!(summary(0, 0, 0, 0).outcome(), Outcome::AllSucceeded);
        assert_eq!(summary(3, 0, 1, 0).outcome(), Outcome::AllSucceeded);
        assert_eq!(summary(2, 1, 1, 0).outcome(), Outcome::SomeFailed);
        assert_eq!(summary(50, 1, 2, 1).outcome(), Outcome::SomeFailed);
        assert_eq!(summary(0, 3, 1, 0).outcome(), Outcome::SomeFailed);
        assert_eq!(summary(0, 51, 2, 2).outcome(), Outcome::AllCallsFailed);
    }

    #[test]
    fn a_failed_call_gives_its_records_zuoras_code_and_message() {
        let http = ZuoraError::Http {
            method: "POST".into(),
            path: "/v1/action/create".into(),
            status: 400,
            body: r#"{"Success": false, "Errors": [{"Code": "LIMIT_EXCEEDED", "Message": "too many"}]}"#.into(),
        };
        assert_eq!(
            call_error(&http),
            RecordError::new(Some("LIMIT_EXCEEDED".into()), "too many".into())
        );
        let unknown = ZuoraError::Http {
            method: "POST".into(),
            path: "/v1/action/create".into(),
            status: 400,
            body: r#"{"message": "Error - unrecognised fields"}"#.into(),
        };
        assert_eq!(
            call_error(&unknown),
            RecordError::new(
                Some("HTTP_400".into()),
                "Error - unrecognised fields".into()
            )
        );
        let html = ZuoraError::Http {
            method: "POST".into(),
            path: "/v1/action/create".into(),
            status: 502,
            body: "<html>bad gateway</html>".into(),
        };
        let error = call_error(&html);
        assert_eq!(error.code.as_deref(), Some("HTTP_502"));
        assert!(error.message.contains("HTTP 502"));
    }

    #[test]
    fn checking_reports_every_invalid_record_with_its_line() {
        let text = "{\"Name\":\"a\"}\n{\"Id\":\"x\",\"Name\":\"b\"}\n\"text\"\n{\"Name\":\"c\"}\n";
        let records = input::records(InputFormat::JsonLines, io::Cursor::new(text.to_string()));
        match check(Procedure::CreateRecords, records) {
            Err(ExecuteError::InvalidInput { errors, total }) => {
                assert_eq!(total, 2);
                assert_eq!(errors[0].line, 2);
                assert!(errors[0].message.contains("cannot be set on create"));
                assert_eq!(errors[1].line, 3);
                assert!(errors[1].message.contains("expected a JSON object"));
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
        let good = input::records(
            InputFormat::JsonLines,
            io::Cursor::new("{\"Name\":\"a\"}\n".to_string()),
        );
        assert_eq!(check(Procedure::CreateRecords, good).unwrap().records, 1);
    }
}
