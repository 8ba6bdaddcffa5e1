//! Reading the records of an Execute call: JSON Lines or CSV, one record at a time, each with
//! the line it starts on so every error and result can point back at the input.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

/// How the input is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One JSON object per line; blank lines are skipped.
    JsonLines,
    /// A header row, then one record per row; `a.b` headers build nested objects and
    /// `a.0.b` arrays. Empty cells are left out of the record.
    Csv,
}

impl InputFormat {
    /// Parses `--format`: `jsonl` (also `json`, `ndjson`) or `csv`.
    pub fn parse(text: &str) -> Option<InputFormat> {
        match text.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" | "jsonlines" => Some(InputFormat::JsonLines),
            "csv" => Some(InputFormat::Csv),
            _ => None,
        }
    }

    /// The format a file name implies: `.csv` is CSV, anything else JSON Lines.
    pub fn from_path(path: &std::path::Path) -> InputFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => InputFormat::Csv,
            _ => InputFormat::JsonLines,
        }
    }
}

/// One input record and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct InputRecord {
    /// The line of the input the record starts on.
    pub line: u64,
    /// The record.
    pub fields: Map<String, Value>,
}

/// A record that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The line of the input.
    pub line: u64,
    /// What is wrong, phrased so the user can fix it.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What reading one record can give besides a record.
#[derive(Debug)]
pub enum InputError {
    /// The record is malformed.
    Row(RowError),
    /// The input could not be read at all.
    Io(std::io::Error),
}

/// The records of `reader`, read lazily.
pub fn records<R>(
    format: InputFormat,
    reader: R,
) -> Box<dyn Iterator<Item = Result<InputRecord, InputError>> + Send>
where
    R: Read + Send + 'static,
{
    match format {
        InputFormat::JsonLines => Box::new(JsonLines::new(reader)),
        InputFormat::Csv => Box::new(CsvRecords::new(reader)),
    }
}

struct JsonLines<R> {
    reader: BufReader<R>,
    line: u64,
    buffer: String,
}

impl<R: Read> JsonLines<R> {
    fn new(reader: R) -> Self {
        JsonLines {
            reader: BufReader::new(reader),
            line: 0,
            buffer: String::new(),
        }
    }
}

impl<R: Read> Iterator for JsonLines<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buffer.clear();
            match self.reader.read_line(&mut self.buffer) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(InputError::Io(e))),
            }
            self.line += 1;
            let mut text = self.buffer.trim();
            if self.line == 1 {
                text = text.trim_start_matches('\u{feff}');
            }
            if text.is_empty() {
                continue;
            }
            let row = |message: String| {
                InputError::Row(RowError {
                    line: self.line,
                    message,
                })
            };
            return Some(match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => Ok(InputRecord {
                    line: self.line,
                    fields,
                }),
                Ok(other) => Err(row(format!(
                    "expected a JSON object, found {}",
                    kind_of(&other)
                ))),
                Err(e) => Err(row(format!("not valid JSON: {e}"))),
            });
        }
    }
}

struct CsvRecords<R> {
    reader: csv::Reader<R>,
    header: Option<Result<Vec<Vec<String>>, RowError>>,
    record: csv::StringRecord,
    failed: bool,
}

impl<R: Read> CsvRecords<R> {
    fn new(reader: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        CsvRecords {
            reader,
            header: None,
            record: csv::StringRecord::new(),
            failed: false,
        }
    }

    fn read(&mut self) -> Result<bool, InputError> {
        self.reader.read_record(&mut self.record).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            match e.into_kind() {
                csv::ErrorKind::Io(io) => InputError::Io(io),
                other => InputError::Row(RowError {
                    line,
                    message: format!("not valid CSV: {other:?}"),
                }),
            }
        })
    }

    fn line(&self) -> u64 {
        self.record.position().map(|p| p.line()).unwrap_or(0)
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.header.is_none() {
            match self.read() {
                Ok(false) => return None,
                Ok(true) => {
                    let cells: Vec<&str> = self.record.iter().collect();
                    self.header = Some(parse_header(&cells, self.line()));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let header = match self.header.as_ref() {
            Some(Ok(header)) => header.clone(),
            Some(Err(e)) => {
                // A bad header makes every row meaningless: report it once and stop.
                self.failed = true;
                return Some(Err(InputError::Row(e.clone())));
            }
            None => return None,
        };
        loop {
            match self.read() {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => return Some(Err(e)),
            }
            let line = self.line();
            if self.record.len() == 1 && self.record.get(0) == Some("") && header.len() > 1 {
                continue; // a blank line
            }
            if self.record.len() != header.len() {
                return Some(Err(InputError::Row(RowError {
                    line,
                    message: format!(
                        "has {} fields, the header has {}",
                        self.record.len(),
                        header.len()
                    ),
                })));
            }
            let mut fields = Map::new();
            for (path, cell) in header.iter().zip(self.record.iter()) {
                if cell.is_empty() {
                    continue;
                }
                if let Err(message) = insert_path(&mut fields, path, Value::String(cell.into())) {
                    return Some(Err(InputError::Row(RowError { line, message })));
                }
            }
            return Some(Ok(InputRecord { line, fields }));
        }
    }
}

/// Splits the header cells into paths, refusing empty, duplicate and clashing names (`a` and
/// `a.b` cannot both be columns).
fn parse_header(cells: &[&str], line: u64) -> Result<Vec<Vec<String>>, RowError> {
    let error = |message: String| RowError { line, message };
    let mut paths: Vec<Vec<String>> = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        let name = cell.trim();
        let path: Vec<String> = name.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(error(format!(
                "header column {} has an empty name ({name:?})",
                i + 1
            )));
        }
        for other in &paths {
            let shorter = other.len().min(path.len());
            if other[..shorter] == path[..shorter] {
                return Err(error(format!(
                    "header columns {:?} and {name:?} clash",
                    other.join(".")
                )));
            }
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Puts `value` at `path` in `fields`, creating objects, and arrays for numeric segments.
fn insert_path(
    fields: &mut Map<String, Value>,
    path: &[String],
    value: Value,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        fields.insert(first.clone(), value);
        return Ok(());
    }
    let slot = fields
        .entry(first.clone())
        .or_insert_with(|| empty_container(&rest[0]));
    insert_into(slot, rest, value, first)
}

fn insert_into(slot: &mut Value, path: &[String], value: Value, at: &str) -> Result<(), String> {
    let Some((segment, rest)) = path.split_first() else {
        *slot = value;
        return Ok(());
    };
    let child = match slot {
        Value::Object(map) => map.entry(segment.clone()).or_insert_with(|| {
            rest.first()
                .map(|s| empty_container(s))
                .unwrap_or(Value::Null)
        }),
        Value::Array(items) => {
            let index: usize = segment
                .parse()
                .map_err(|_| format!("{at}: expected an array index, found {segment:?}"))?;
            if index > 1000 {
                return Err(format!("{at}.{segment}: array indexes stop at 1000"));
            }
            while items.len() <= index {
                items.push(Value::Null);
            }
            let item = &mut items[index];
            if item.is_null()
                && let Some(next) = rest.first()
            {
                *item = empty_container(next);
            }
            item
        }
        _ => return Err(format!("{at}: cannot hold both a value and nested fields")),
    };
    insert_into(child, rest, value, &format!("{at}.{segment}"))
}

fn empty_container(next_segment: &str) -> Value {
    if next_segment.bytes().all(|b| b.is_ascii_digit()) {
        Value::Array(Vec::new())
    } else {
        Value::Object(Map::new())
    }
}

/// A short name of a JSON value's type, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(format: InputFormat, text: &str) -> Vec<Result<InputRecord, String>> {
        records(format, std::io::Cursor::new(text.to_string()))
            .map(|r| {
                r.map_err(|e| match e {
                    InputError::Row(row) => row.to_string(),
                    InputError::Io(io) => io.to_string(),
                })
            })
            .collect()
    }

    #[test]
    fn json_lines_keep_physical_line_numbers_and_skip_blank_lines() {
        let got = read(
            InputFormat::JsonLines,
            "\u{feff}{\"Name\":\"a\"}\n\n  \n{\"Name\":\"b\"}\n[1]\n{oops\n",
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap().line, 1);
        assert_eq!(got[1].as_ref().unwrap().line, 4);
        assert_eq!(got[1].as_ref().unwrap().fields["Name"], "b");
        assert_eq!(
            got[2].as_ref().unwrap_err(),
            "line 5: expected a JSON object, found an array"
        );
        assert!(
            got[3]
                .as_ref()
                .unwrap_err()
                .starts_with("line 6: not valid JSON")
        );
    }

    #[test]
    fn csv_builds_nested_records_and_leaves_empty_cells_out() {
        let text = "Account.Name,SubscriptionData.RatePlanData.0.RatePlan.ProductRatePlanId,Notes\n\
                    Acme,p1,\n\"Multi\nline\",p2,hi\n";
        let got = read(InputFormat::Csv, text);
        let first = got[0].as_ref().unwrap();
        assert_eq!(first.line, 2);
        assert_eq!(
            Value::Object(first.fields.clone()),
            json!({"Account": {"Name": "Acme"},
                   "SubscriptionData": {"RatePlanData": [{"RatePlan": {"ProductRatePlanId": "p1"}}]}})
        );
        let second = got[1].as_ref().unwrap();
        assert_eq!(second.line, 3);
        assert_eq!(second.fields["Account"]["Name"], "Multi\nline");
        assert_eq!(second.fields["Notes"], "hi");
    }

    #[test]
    fn csv_rows_with_too_many_fields_are_reported_with_their_line() {
        let got = read(InputFormat::Csv, "Id\na\nb,c\nd\n");
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1].as_ref().unwrap_err(),
            "line 3: has 2 fields, the header has 1"
        );
        assert_eq!(got[2].as_ref().unwrap().line, 4);
    }

    #[test]
    fn clashing_csv_headers_are_refused_once() {
        let got = read(InputFormat::Csv, "Account,Account.Name\nx,y\nz,w\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().unwrap_err().contains("clash"));
    }

    #[test]
    fn formats_come_from_the_flag_or_the_extension() {
        assert_eq!(InputFormat::parse("CSV"), Some(InputFormat::Csv));
        assert_eq!(InputFormat::parse("ndjson"), Some(InputFormat::JsonLines));
        assert_eq!(InputFormat::parse("xml"), None);
        assert_eq!(
            InputFormat::from_path(std::path::Path::new("a/b.CSV")),
            InputFormat::Csv
        );
        assert_eq!(
            InputFormat::from_path(std::path::Path::new("a/b.jsonl")),
            InputFormat::JsonLines
        );
    }

    proptest::proptest! {
        /// Any string cell survives the CSV round trip into the record unchanged.
        #[test]
        fn csv_cells_round_trip(cells in proptest::collection::vec("[^\u{0}]{1,20}", 1..5)) {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let header: Vec<String> = (0..cells.len()).map(|i| format!("f{i}")).collect();
            writer.write_record(&header).unwrap();
            writer.write_record(&cells).unwrap();
            let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            let got = read(InputFormat::Csv, &text);
            let record = got[0].as_ref().unwrap();
            for (i, cell) in cells.iter().enumerate() {
                proptest::prop_assert_eq!(record.fields[&format!("f{i}")].as_str(), Some(cell.as_str()));
            }
        }
    }
}
