//! Where query rows go: CSV, JSON Lines, a JSON array, or Singer messages.
//!
//! Every sink writes through a buffered writer, row by row: nothing is collected in memory.
//! Headers and keys are API names, never labels.

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};
use serde_json::json;
use zbridge_core::value::Value;

use crate::query::{OutputColumn, RecordSink};

/// The output formats of the Query activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// One JSON array.
    Json,
    /// Singer SCHEMA, RECORD and STATE messages.
    Singer,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "jsonl" | "jsonlines" | "ndjson" => Ok(Format::JsonLines),
            "json" => Ok(Format::Json),
            "singer" => Ok(Format::Singer),
            _ => Err(format!(
                "unknown format '{s}'; use csv, jsonl, json or singer"
            )),
        }
    }
}

/// A sink of `format` writing to `out`. `stream` names the Singer stream (the table);
/// `bookmark` is the Singer state written at the end, if any.
pub fn sink<'w>(
    format: Format,
    out: Box<dyn Write + Send + 'w>,
    stream: &str,
    key: Option<&str>,
) -> Box<dyn RecordSink + 'w> {
    match format {
        Format::Csv => Box::new(CsvSink {
            out: csv::WriterBuilder::new().from_writer(out),
            columns: 0,
            field: String::new(),
        }),
        Format::JsonLines => Box::new(JsonSink {
            out,
            columns: Vec::new(),
            array: false,
            first: true,
        }),
        Format::Json => Box::new(JsonSink {
            out,
            columns: Vec::new(),
            array: true,
            first: true,
        }),
        Format::Singer => Box::new(SingerSink {
            out,
            columns: Vec::new(),
            stream: stream.to_string(),
            key: key.map(str::to_string),
            state: None,
        }),
    }
}

struct CsvSink<'w> {
    out: csv::Writer<Box<dyn Write + Send + 'w>>,
    columns: usize,
    /// Reused for the text of each non-text value.
    field: String,
}

/// Appends a value's CSV text, as its `Display` writes it; dates and datetimes take
/// [`crate::fast`]'s writers, which skip `strftime`.
fn write_value(value: &Value, out: &mut String) {
    use std::fmt::Write as _;
    let written = match value {
        Value::Date(date) => crate::fast::write_date(*date, out),
        Value::DateTime(instant) => crate::fast::write_datetime(instant.to_utc(), out),
        Value::Bool(b) => {
            out.push_str(if *b { "true" } else { "false" });
            true
        }
        _ => false,
    };
    if !written {
        let _ = write!(out, "{value}");
    }
}

fn csv_error(e: csv::Error) -> io::Error {
    io::Error::other(e)
}

impl RecordSink for CsvSink<'_> {
    fn start(&mut self, columns: &[OutputColumn]) -> io::Result<()> {
        self.columns = columns.len();
        self.out
            .write_record(columns.iter().map(|c| c.name.as_str()))
            .map_err(csv_error)
    }

    fn write(&mut self, row: &[Value]) -> io::Result<()> {
        for value in row {
            let text = match value {
                Value::Null => "",
                Value::Text(text) => text.as_str(),
                other => {
                    self.field.clear();
                    write_value(other, &mut self.field);
                    &self.field
                }
            };
            self.out.write_field(text).map_err(csv_error)?;
        }
        self.out.write_record(None::<&[u8]>).map_err(csv_error)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One row as a JSON object, serialised without building a map.
struct RowObject<'a> {
    columns: &'a [String],
    row: &'a [Value],
}

impl serde::Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (name, value) in self.columns.iter().zip(self.row) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

struct JsonSink<'w> {
    out: Box<dyn Write + Send + 'w>,
    columns: Vec<String>,
    array: bool,
    first: bool,
}

impl RecordSink for JsonSink<'_> {
    fn start(&mut self, columns: &[OutputColumn]) -> io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        if self.array {
            self.out.write_all(b"[")?;
        }
        Ok(())
    }

    fn write(&mut self, row: &[Value]) -> io::Result<()> {
        if self.array && !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        if self.array {
            self.out.write_all(b"\n")?;
        }
        serde_json::to_writer(
            &mut self.out,
            &RowObject {
                columns: &self.columns,
                row,
            },
        )?;
        if !self.array {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.array {
            self.out.write_all(b"\n]\n")?;
        }
        self.out.flush()
    }
}

/// Singer messages, as Singer targets read them: one SCHEMA, RECORDs, and a STATE.
pub struct SingerSink<'w> {
    out: Box<dyn Write + Send + 'w>,
    columns: Vec<String>,
    stream: String,
    key: Option<String>,
    state: Option<serde_json::Value>,
}

impl SingerSink<'_> {
    /// The STATE message value written after the last record.
    pub fn set_state(&mut self, state: serde_json::Value) {
        self.state = Some(state);
    }
}

impl RecordSink for SingerSink<'_> {
    fn start(&mut self, columns: &[OutputColumn]) -> io::Result<()> {
        self.columns = columns.iter().map(|c| c.name.clone()).collect();
        let mut properties = serde_json::Map::new();
        for column in columns {
            let schema = match &column.field {
                Some(field) => field.singer_schema().map_err(io::Error::other)?,
                None => json!({"type": ["null", "boolean"]}),
            };
            properties.insert(column.name.clone(), schema);
        }
        let key: Vec<&str> = self
            .key
            .iter()
            .map(String::as_str)
            .filter(|k| self.columns.iter().any(|c| c == k))
            .collect();
        let message = json!({
            "type": "SCHEMA",
            "stream": self.stream,
            "schema": {"type": "object", "properties": properties},
            "key_properties": key,
        });
        serde_json::to_writer(&mut self.out, &message)?;
        self.out.write_all(b"\n")
    }

    fn write(&mut self, row: &[Value]) -> io::Result<()> {
        #[derive(serde::Serialize)]
        struct Record<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            stream: &'a str,
            record: RowObject<'a>,
        }
        let record = Record {
            kind: "RECORD",
            stream: &self.stream,
            record: RowObject {
                columns: &self.columns,
                row,
            },
        };
        serde_json::to_writer(&mut self.out, &record)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(state) = &self.state {
            serde_json::to_writer(&mut self.out, &json!({"type": "STATE", "value": state}))?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbridge_core::schema::ValueKind;

    fn columns() -> Vec<OutputColumn> {
        ["Id", "Notes"]
            .iter()
            .map(|n| OutputColumn {
                name: n.to_string(),
                kind: ValueKind::Text,
                field: None,
            })
            .collect()
    }

    fn render(format: Format) -> String {
        let mut buffer = Vec::new();
        {
            let mut sink = sink(format, Box::new(&mut buffer), "Account", Some("Id"));
            sink.start(&columns()).unwrap();
            sink.write(&[
                Value::Text("a1".into()),
                Value::Text("two\nlines, \"quoted\"".into()),
            ])
            .unwrap();
            sink.write(&[Value::Text("a2".into()), Value::Null])
                .unwrap();
            sink.finish().unwrap();
        }
        String::from_utf8(buffer).unwrap()
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            render(Format::Csv),
            "Id,Notes\na1,\"two\nlines, \"\"quoted\"\"\"\na2,\n"
        );
    }

    #[test]
    fn json_lines_and_arrays() {
        assert_eq!(
            render(Format::JsonLines),
            "{\"Id\":\"a1\",\"Notes\":\"two\\nlines, \\\"quoted\\\"\"}\n{\"Id\":\"a2\",\"Notes\":null}\n"
        );
        let array: serde_json::Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(array.as_array().unwrap().len(), 2);
        let mut empty = Vec::new();
        {
            let mut sink = sink(Format::Json, Box::new(&mut empty), "Account", None);
            sink.start(&columns()).unwrap();
            sink.finish().unwrap();
        }
        let parsed: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(parsed, json!([]));
    }

    #[test]
    fn singer_messages_are_well_formed() {
        let text = render(Format::Singer);
        let messages: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(messages[0]["type"], "SCHEMA");
        assert_eq!(messages[0]["key_properties"], json!(["Id"]));
        assert_eq!(messages[1]["type"], "RECORD");
        assert_eq!(messages[1]["record"]["Id"], "a1");
        assert_eq!(messages.len(), 3);
    }
}
