//! `zbridge execute NAME PROCEDURE` and `zbridge procedures NAME`: the Execute activity.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use zbridge_zuora::ZuoraClient;
use zbridge_zuora::execute::{
    self, ExecuteError, InputFormat, Outcome, Params, Procedure, RecordResult, RunSummary,
    TokenReport,
};

use crate::exit::UsageError;
use crate::output;

/// Options of `zbridge execute`.
#[derive(Debug, Args)]
#[command(after_help = EXECUTE_HELP)]
pub struct ExecuteArgs {
    /// The connection.
    pub name: String,
    /// The procedure (list them with `zbridge procedures NAME`).
    pub procedure: String,
    /// The input records: a file (.csv is CSV, anything else JSON Lines), or - for stdin.
    #[arg(long, short, value_name = "FILE|-")]
    pub input: Option<String>,
    /// The input format, when the file name does not say it: jsonl or csv.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// A parameter of the procedure, e.g. --param type=Account (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// CreateSchema: write the schema to this file instead of stdout.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// GetOAuthAccessToken and RefreshOAuthAccessToken: also print the access token itself.
    #[arg(long)]
    pub show_secret: bool,
}

const EXECUTE_HELP: &str = "\
Examples:
  zbridge execute Prod CreateRecords --param type=Account --input accounts.jsonl
  zbridge execute Prod UpdateRecords --param type=Account --input changes.csv
  cat ids.jsonl | zbridge execute Prod DeleteRecords --param type=Account --input -
  zbridge execute Prod Subscribe --input subscribes.jsonl --json
  zbridge execute Prod GetOAuthAccessToken
  zbridge execute Prod CreateSchema --param table=Account --output account.schema.json

Every record is checked before anything is sent; an invalid input is reported line by line
and nothing is sent. Records go out 50 per call (Amend: one request per call); the results
come back one line per input record, in input order: a table, or JSON Lines with --json. A
summary goes to stderr.

CSV headers such as Account.Name or SubscriptionData.RatePlanData.0.RatePlan.ProductRatePlanId
build nested records. CSV values are sent as text; use JSON Lines when types matter.

Exit codes: 0 every record succeeded; 1 some records failed (the result lines say which
and why); 2 bad input or parameters, nothing was sent; 3 every call failed at Zuora or on
the way (e.g. the credentials were refused) and no record succeeded.";

/// Runs `zbridge execute`.
pub async fn run(args: ExecuteArgs, json: bool) -> anyhow::Result<()> {
    let procedure = Procedure::parse(&args.procedure)?;
    let params = Params::parse(procedure, &args.params)?;
    check_flags(procedure, &args)?;
    let store = super::open_store().await?;
    let client = super::zuora_client(&store, &args.name).await?;
    match procedure {
        Procedure::GetOAuthAccessToken => {
            let report = execute::access_token(&client).await?;
            print_token(&client, &report, args.show_secret, json)
        }
        Procedure::RefreshOAuthAccessToken => {
            let report = execute::refresh_access_token(&client).await?;
            print_token(&client, &report, args.show_secret, json)
        }
        Procedure::CreateSchema => {
            let table = params.get("table").unwrap_or_default();
            create_schema(&client, table, args.output.as_deref()).await
        }
        _ => {
            let input = args.input.as_deref().unwrap_or_default();
            let format = input_format(input, args.format.as_deref())?;
            let records = Input::open(input)?;
            check_utf8(input, records.reader()?)?;
            run_records(&client, procedure, &params, records, format, json).await
        }
    }
}

/// Refuses flags the procedure would silently ignore.
fn check_flags(procedure: Procedure, args: &ExecuteArgs) -> Result<(), UsageError> {
    let name = procedure.name();
    if procedure.takes_input() && args.input.is_none() {
        return Err(UsageError(format!(
            "{name} needs --input FILE (or --input - for stdin)"
        )));
    }
    if !procedure.takes_input() && (args.input.is_some() || args.format.is_some()) {
        return Err(UsageError(format!("{name} takes no --input")));
    }
    if args.output.is_some() && procedure != Procedure::CreateSchema {
        return Err(UsageError(format!(
            "--output is for CreateSchema; {name} prints its results"
        )));
    }
    let token_procedure = matches!(
        procedure,
        Procedure::GetOAuthAccessToken | Procedure::RefreshOAuthAccessToken
    );
    if args.show_secret && !token_procedure {
        return Err(UsageError(format!("{name} has no secret to show")));
    }
    output::check_writable_path("--output", args.output.as_deref())
}

/// Refuses input that is not UTF-8, naming the byte offset and line of the first invalid byte
/// (the record readers would stop on it with a bare I/O error). Reads the input once, in
/// chunks; a sequence split across chunks is carried over.
fn check_utf8(input: &str, mut reader: impl Read) -> anyhow::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut carry, mut offset, mut line) = (0usize, 0u64, 1u64);
    loop {
        let read = reader.read(&mut buffer[carry..])?;
        let chunk = &buffer[..carry + read];
        let error = match std::str::from_utf8(chunk) {
            Ok(_) if read == 0 => return Ok(()),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        let valid = error.map_or(chunk.len(), |e| e.valid_up_to());
        line += newlines(&chunk[..valid]);
        if let Some(e) = error
            && (e.error_len().is_some() || read == 0)
        {
            return Err(not_utf8(input, chunk, valid, offset + valid as u64, line).into());
        }
        carry = chunk.len() - valid;
        buffer.copy_within(valid..valid + carry, 0);
        offset += valid as u64;
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn not_utf8(input: &str, chunk: &[u8], at: usize, offset: u64, line: u64) -> UsageError {
    let name = if input == "-" { "stdin" } else { input };
    let utf16 =
        offset == 0 && (chunk.starts_with(&[0xFF, 0xFE]) || chunk.starts_with(&[0xFE, 0xFF]));
    let hint = if utf16 { " (it looks like UTF-16)" } else { "" };
    UsageError(format!(
        "--input {name}: not UTF-8: invalid byte 0x{:02X} at byte offset {offset} (line {line}){hint}; save the file as UTF-8",
        chunk[at]
    ))
}

fn input_format(input: &str, flag: Option<&str>) -> Result<InputFormat, UsageError> {
    match flag {
        Some(text) => InputFormat::parse(text)
            .ok_or_else(|| UsageError(format!("--format: expected jsonl or csv, found '{text}'"))),
        None if input == "-" => Ok(InputFormat::JsonLines),
        None => Ok(InputFormat::from_path(Path::new(input))),
    }
}

/// The input, readable twice (once to check, once to send) without holding it in memory:
/// stdin is spooled to an anonymous temporary file.
enum Input {
    Path(PathBuf),
    Spooled(File),
}

impl Input {
    fn open(input: &str) -> anyhow::Result<Input> {
        if input != "-" {
            let path = PathBuf::from(input);
            if !path.is_file() {
                return Err(UsageError(format!("--input: no file at {input}")).into());
            }
            return Ok(Input::Path(path));
        }
        let mut spool = tempfile::tempfile()?;
        io::copy(&mut io::stdin().lock(), &mut spool)?;
        Ok(Input::Spooled(spool))
    }

    fn reader(&self) -> anyhow::Result<File> {
        Ok(match self {
            Input::Path(path) => File::open(path)
                .map_err(|e| UsageError(format!("--input: cannot open {}: {e}", path.display())))?,
            Input::Spooled(file) => {
                let mut again = file.try_clone()?;
                again.rewind()?;
                again
            }
        })
    }

    fn records(
        &self,
        format: InputFormat,
    ) -> anyhow::Result<
        impl Iterator<Item = Result<execute::input::InputRecord, execute::input::InputError>>,
    > {
        let reader: Box<dyn Read + Send> = Box::new(self.reader()?);
        Ok(execute::input::records(format, reader))
    }
}

async fn run_records(
    client: &ZuoraClient,
    procedure: Procedure,
    params: &Params,
    input: Input,
    format: InputFormat,
    json: bool,
) -> anyhow::Result<()> {
    let checked = match execute::check(procedure, input.records(format)?) {
        Ok(checked) => checked,
        Err(ExecuteError::InvalidInput { errors, total }) => {
            for error in &errors {
                eprintln!("{error}");
            }
            if total > errors.len() as u64 {
                eprintln!("… and {} more", total - errors.len() as u64);
            }
            return Err(UsageError(format!(
                "{total} input record(s) are invalid; nothing was sent"
            ))
            .into());
        }
        Err(other) => return Err(other.into()),
    };
    let stdout = io::stdout();
    let mut out = io::LineWriter::new(stdout.lock());
    if !json {
        writeln!(out, "{:>6}  {:<7} {:<32}  ERRORS", "LINE", "RESULT", "ID")?;
    }
    let report = execute::run(
        client,
        procedure,
        params,
        input.records(format)?,
        |result| write_result(&mut out, result, json),
    )
    .await?;
    out.flush()?;
    drop(out);
    let summary = &report.summary;
    eprintln!("{}", describe_summary(procedure, checked.records, summary));
    match summary.outcome() {
        Outcome::AllSucceeded => Ok(()),
        Outcome::SomeFailed => Err(RecordsFailed {
            failed: summary.failed,
            total: summary.records,
        }
        .into()),
        Outcome::AllCallsFailed => {
            let error = match report.last_call_error {
                Some(error) => anyhow::Error::new(error),
                None => anyhow::anyhow!("every call failed"),
            };
            Err(error.context(format!(
                "every call failed; none of the {} record(s) was done",
                summary.records
            )))
        }
    }
}

/// Some records failed (exit code 1); the result lines say which.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} record(s) failed; see the result lines")]
struct RecordsFailed {
    failed: u64,
    total: u64,
}

/// Prints one result: a JSON line, or a row of the table.
pub(crate) fn write_result(
    out: &mut impl Write,
    result: &RecordResult,
    json: bool,
) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, result)?;
        return writeln!(out);
    }
    let status = if result.success { "ok" } else { "FAILED" };
    let errors: Vec<String> = result
        .errors
        .iter()
        .map(|e| match &e.code {
            Some(code) => format!("{code}: {}", e.message),
            None => e.message.clone(),
        })
        .collect();
    let errors = errors.join("; ").replace('\n', " ");
    let id = result.id.as_deref().unwrap_or("-");
    writeln!(out, "{:>6}  {status:<7} {id:<32}  {errors}", result.line)
}

fn describe_summary(procedure: Procedure, records: u64, summary: &RunSummary) -> String {
    let mut text = format!(
        "{}: {records} record(s), {} succeeded, {} failed, in {} call(s)",
        procedure.name(),
        summary.succeeded,
        summary.failed,
        summary.calls
    );
    if summary.failed_calls > 0 {
        text.push_str(&format!(" ({} failed as a whole)", summary.failed_calls));
    }
    if let Some(reason) = &summary.stopped {
        text.push_str(&format!("; stopped sending: {reason}"));
    }
    text
}

fn print_token(
    client: &ZuoraClient,
    report: &TokenReport,
    show_secret: bool,
    json: bool,
) -> anyhow::Result<()> {
    let token = &report.token;
    if json {
        let mut view = json!({
            "expires_at": token.expires_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "scope": token.scope,
            "renewable": report.renewable,
            "renewed": report.renewed,
        });
        if show_secret {
            view["access_token"] = Value::String(token.access_token.expose_secret().to_string());
        }
        return output::json(&view);
    }
    let name = &client.connection().name;
    if report.renewed {
        println!("Renewed the access token of '{name}' through the token manager.");
    }
    match token.expires_at {
        Some(at) => {
            let minutes = (at - chrono::Utc::now()).num_minutes();
            println!(
                "expires  {} (in {minutes} min)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
        None => println!("expires  unknown (the token given in OAuthAccessToken)"),
    }
    let scope = if token.scope.is_empty() {
        "(none given)"
    } else {
        &token.scope
    };
    println!("scope    {scope}");
    if show_secret {
        println!("token    {}", token.access_token.expose_secret());
    } else {
        println!("token    hidden; add --show-secret to print it");
    }
    Ok(())
}

async fn create_schema(
    client: &ZuoraClient,
    table: &str,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let (schema, unknown) = execute::create_schema(client, table).await?;
    for error in &unknown {
        eprintln!("warning: left out of the schema: {error}");
    }
    let text = serde_json::to_string_pretty(&schema)?;
    match output {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))?;
            let fields = schema["properties"].as_object().map_or(0, |p| p.len());
            eprintln!(
                "Wrote the schema of {table} ({fields} fields) to {}",
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

/// Runs `zbridge procedures NAME`.
pub async fn procedures(name: &str, json: bool) -> anyhow::Result<()> {
    let store = super::open_store().await?;
    // The connection must exist, as for every command that names one.
    store.load_connection(name).await?;
    if json {
        let list: Vec<Value> = Procedure::ALL
            .iter()
            .map(|p| {
                json!({
                    "name": p.name(),
                    "description": p.description(),
                    "takes_input": p.takes_input(),
                    "params": p.params(),
                    "input_schema": p.input_schema(),
                    "output_schema": p.output_schema(),
                })
            })
            .collect();
        return output::json(&list);
    }
    let mut table = output::table(&[
        "Procedure",
        "Parameters",
        "Input record",
        "Output",
        "What it does",
    ]);
    for p in Procedure::ALL {
        let params: Vec<String> = p
            .params()
            .iter()
            .map(|s| {
                if s.required {
                    format!("{}=…", s.name)
                } else {
                    format!("[{}=…]", s.name)
                }
            })
            .collect();
        table.add_row(vec![
            p.name().to_string(),
            params.join(" "),
            p.input_summary().to_string(),
            p.output_summary().to_string(),
            p.description().to_string(),
        ]);
    }
    println!("{table}");
    println!("`zbridge procedures {name} --json` gives the input and output JSON Schemas.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_rows_show_code_and_message_on_one_line() {
        let result = RecordResult {
            line: 7,
            id: None,
            success: false,
            errors: vec![execute::RecordError {
                code: Some("INVALID_VALUE".into()),
                message: "bad\nvalue".into(),
            }],
            details: Default::default(),
        };
        let mut out = Vec::new();
        write_result(&mut out, &result, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("     7  FAILED  -"), "{text}");
        assert!(text.ends_with("INVALID_VALUE: bad value\n"), "{text}");
        let mut out = Vec::new();
        write_result(&mut out, &result, true).unwrap();
        let line: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["line"], 7);
        assert_eq!(line["errors"][0]["code"], "INVALID_VALUE");
    }

    #[test]
    fn non_utf8_input_names_the_offset_and_line_of_the_first_bad_byte() {
        assert!(check_utf8("a.jsonl", "{\"é\": 1}\n".as_bytes()).is_ok());
        assert!(check_utf8("a.jsonl", &[][..]).is_ok());
        let mut bytes = b"{\"a\": 1}\n{\"b\": \"".to_vec();
        bytes.push(0xFF);
        let err = check_utf8("a.jsonl", &bytes[..]).unwrap_err().to_string();
        assert_eq!(
            err,
            "--input a.jsonl: not UTF-8: invalid byte 0xFF at byte offset 16 (line 2); save the file as UTF-8"
        );
        // A multi-byte character split across reads is valid; a truncated one at the end is not.
        let mut long = "x".repeat(64 * 1024 - 1).into_bytes();
        long.extend_from_slice("é\n".as_bytes());
        assert!(check_utf8("big", &long[..]).is_ok());
        long.extend_from_slice(&[0xC3]);
        let err = check_utf8("big", &long[..]).unwrap_err().to_string();
        assert!(err.contains("0xC3 at byte offset 65538 (line 2)"), "{err}");
        let err = check_utf8("-", &[0xFF, 0xFE, b'{', 0][..])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--input stdin: not UTF-8"), "{err}");
        assert!(err.contains("UTF-16"), "{err}");
    }

    #[test]
    fn formats_come_from_the_flag_then_the_file_name() {
        assert_eq!(input_format("-", None).unwrap(), InputFormat::JsonLines);
        assert_eq!(input_format("a.csv", None).unwrap(), InputFormat::Csv);
        assert_eq!(
            input_format("a.txt", Some("csv")).unwrap(),
            InputFormat::Csv
        );
        assert!(input_format("a.txt", Some("xml")).is_err());
    }
}
