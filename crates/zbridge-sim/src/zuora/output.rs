//! Result files: Data Query CSV / TSV / DSV / JSON Lines and AQuA CSV, optionally gzip or zip,
//! written row by row to a spool file so memory stays flat whatever the result size.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;

use super::format::{push_padded, write_days, write_iso_at, write_sql_timestamp};
use super::query::exec::{OutType, Plan, ResultRows};
use super::store::{Store, Value, format_date, write_decimal};

/// Compression of a result file body (not `Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// A gzip stream.
    Gzip,
    /// A zip archive with one entry.
    Zip,
}

/// How values and headers are rendered.
#[derive(Debug, Clone)]
pub enum Style {
    /// Data Query delimited text (CSV, TSV, DSV): lowercase headers, Trino value forms.
    DataQuery {
        /// Field separator.
        separator: u8,
    },
    /// Data Query JSON Lines.
    DataQueryJson,
    /// AQuA CSV.
    Aqua {
        /// API-name headers (`useQueryLabels`) instead of labels.
        api_names: bool,
        /// Datetimes with an explicit `±hhmm` offset, the tenant's (`dateTimeUtc`).
        utc: bool,
        /// Text written for NULL.
        null: String,
    },
}

/// Everything needed to render values.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Header and value style.
    pub style: Style,
    /// The tenant's zone, minutes east of UTC.
    pub tenant_offset_minutes: i32,
}

/// Rows to write: a plan's result, or fixed text rows.
pub enum Source<'a> {
    /// Tuples of a plan over a store.
    Plan {
        /// The plan.
        plan: &'a Plan,
        /// The rows it selected.
        rows: &'a ResultRows,
        /// The data.
        store: &'a Store,
        /// Which result rows go in this file.
        range: std::ops::Range<usize>,
    },
    /// Fixed rows.
    Fixed {
        /// Header.
        headers: &'a [String],
        /// Rows.
        rows: &'a [Vec<String>],
    },
}

/// Writes `source` to `path` and returns the file size in bytes.
pub fn write_file(
    path: &Path,
    entry_name: &str,
    source: &Source<'_>,
    opts: &RenderOptions,
    compression: Compression,
) -> io::Result<u64> {
    let file = BufWriter::with_capacity(256 * 1024, File::create(path)?);
    let mut file = match compression {
        Compression::None => {
            let mut w = file;
            write_rows(&mut w, source, opts)?;
            w
        }
        Compression::Gzip => {
            let mut w = GzEncoder::new(file, GzLevel::fast());
            write_rows(&mut w, source, opts)?;
            w.finish()?
        }
        Compression::Zip => {
            let mut z = zip::ZipWriter::new(file);
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .compression_level(Some(1))
                .large_file(true);
            z.start_file(entry_name, options)
                .map_err(io::Error::other)?;
            write_rows(&mut z, source, opts)?;
            z.finish().map_err(io::Error::other)?
        }
    };
    file.flush()?;
    file.stream_position()
}

fn write_rows(w: &mut dyn Write, source: &Source<'_>, opts: &RenderOptions) -> io::Result<()> {
    let mut line = String::with_capacity(1024);
    let mut cell = String::with_capacity(64);
    match source {
        Source::Fixed { headers, rows } => {
            header_line(&mut line, headers.iter().map(String::as_str), opts);
            w.write_all(line.as_bytes())?;
            for r in *rows {
                line.clear();
                if matches!(opts.style, Style::DataQueryJson) {
                    json_object(
                        &mut line,
                        headers
                            .iter()
                            .map(String::as_str)
                            .zip(r.iter().map(|v| Some(JsonCell::Str(v)))),
                    );
                } else {
                    for (i, v) in r.iter().enumerate() {
                        push_delimited(&mut line, i, v, separator(opts));
                    }
                    line.push('\n');
                }
                w.write_all(line.as_bytes())?;
            }
        }
        Source::Plan {
            plan,
            rows,
            store,
            range,
        } => {
            let headers: Vec<&str> = plan
                .outputs
                .iter()
                .map(|o| match &opts.style {
                    Style::Aqua {
                        api_names: true, ..
                    } => o.api_name.as_str(),
                    Style::Aqua {
                        api_names: false, ..
                    } => o.label.as_str(),
                    _ => o.sql_name.as_str(),
                })
                .collect();
            line.clear();
            header_line(&mut line, headers.iter().copied(), opts);
            w.write_all(line.as_bytes())?;
            if let Some(count) = rows.count {
                line.clear();
                if matches!(opts.style, Style::DataQueryJson) {
                    line.push_str(&format!("{{\"{}\":{count}}}\n", headers[0]));
                } else {
                    line.push_str(&format!("{count}\n"));
                }
                return w.write_all(line.as_bytes());
            }
            for i in range.clone() {
                let tuple = rows.tuple(i);
                line.clear();
                if matches!(opts.style, Style::DataQueryJson) {
                    line.push('{');
                    for (c, out) in plan.outputs.iter().enumerate() {
                        if c > 0 {
                            line.push(',');
                        }
                        push_json_string(&mut line, &out.sql_name);
                        line.push(':');
                        let v = plan.output_value(c, store, tuple);
                        json_value(&mut line, &v, out.ty, store, opts);
                    }
                    line.push_str("}\n");
                } else {
                    for (c, out) in plan.outputs.iter().enumerate() {
                        cell.clear();
                        let v = plan.output_value(c, store, tuple);
                        render(&mut cell, &v, out.ty, store, opts);
                        push_delimited(&mut line, c, &cell, separator(opts));
                    }
                    line.push('\n');
                }
                w.write_all(line.as_bytes())?;
            }
        }
    }
    Ok(())
}

fn separator(opts: &RenderOptions) -> u8 {
    match opts.style {
        Style::DataQuery { separator } => separator,
        _ => b',',
    }
}

fn header_line<'a>(
    line: &mut String,
    headers: impl Iterator<Item = &'a str>,
    opts: &RenderOptions,
) {
    if matches!(opts.style, Style::DataQueryJson) {
        // JSON Lines has no header row.
        return;
    }
    for (i, h) in headers.enumerate() {
        push_delimited(line, i, h, separator(opts));
    }
    line.push('\n');
}

fn push_delimited(line: &mut String, index: usize, value: &str, sep: u8) {
    if index > 0 {
        line.push(sep as char);
    }
    let needs_quotes = value
        .bytes()
        .any(|b| b == sep || b == b'"' || b == b'\n' || b == b'\r');
    if needs_quotes {
        line.push('"');
        for ch in value.chars() {
            if ch == '"' {
                line.push('"');
            }
            line.push(ch);
        }
        line.push('"');
    } else {
        line.push_str(value);
    }
}

/// Renders one value as text in the style's conventions.
pub fn render(out: &mut String, v: &Value<'_>, ty: OutType, store: &Store, opts: &RenderOptions) {
    match v {
        Value::Null => {
            if let Style::Aqua { null, .. } = &opts.style {
                out.push_str(null);
            }
        }
        Value::Bool(b) => match ty {
            OutType::DeletedNumeric => out.push(if *b { '1' } else { '0' }),
            _ => out.push_str(if *b { "true" } else { "false" }),
        },
        Value::Int(i) => match u32::try_from(*i) {
            Ok(small) => push_padded(out, small, 1),
            Err(_) => {
                let _ = write!(out, "{i}");
            }
        },
        Value::Dec(d) => write_decimal(
            *d,
            if matches!(opts.style, Style::Aqua { .. }) {
                2
            } else {
                6
            },
            out,
        ),
        Value::Str(s) => out.push_str(s),
        Value::Date(d) => {
            if !write_days(out, i64::from(*d)) {
                out.push_str(&format_date(*d));
            }
        }
        Value::Ts(ms) => match &opts.style {
            // zuora-api.md §7.3's observed example, `2026-08-04T20:11:15+1000`: an explicit
            // offset without a colon, the tenant's (not UTC's, despite the flag's name).
            Style::Aqua { utc: true, .. } => {
                write_iso_at(out, *ms, opts.tenant_offset_minutes, false)
            }
            Style::Aqua { utc: false, .. } => {
                write_iso_at(out, *ms, opts.tenant_offset_minutes, true)
            }
            _ => write_sql_timestamp(out, *ms, opts.tenant_offset_minutes),
        },
        Value::Id(k, r) => store.codec.write(*k, *r, out),
    }
}

enum JsonCell<'a> {
    Str(&'a str),
}

fn json_object<'a>(
    line: &mut String,
    cells: impl Iterator<Item = (&'a str, Option<JsonCell<'a>>)>,
) {
    line.push('{');
    for (i, (k, v)) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_json_string(line, k);
        line.push(':');
        match v {
            Some(JsonCell::Str(s)) => push_json_string(line, s),
            None => line.push_str("null"),
        }
    }
    line.push_str("}\n");
}

fn json_value(line: &mut String, v: &Value<'_>, ty: OutType, store: &Store, opts: &RenderOptions) {
    match v {
        Value::Null => line.push_str("null"),
        Value::Bool(_) | Value::Int(_) | Value::Dec(_) => render(line, v, ty, store, opts),
        _ => {
            // Rendered in place; only text that needs escaping is rendered again.
            line.push('"');
            let start = line.len();
            render(line, v, ty, store, opts);
            if line[start..]
                .bytes()
                .any(|b| b == b'"' || b == b'\\' || b < 0x20)
            {
                let raw = line.split_off(start);
                line.truncate(start - 1);
                push_json_string(line, &raw);
            } else {
                line.push('"');
            }
        }
    }
}

fn push_json_string(line: &mut String, s: &str) {
    line.push('"');
    for ch in s.chars() {
        match ch {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if (c as u32) < 0x20 => line.push_str(&format!("\\u{:04x}", c as u32)),
            c => line.push(c),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_doubles_quotes_and_wraps_newlines() {
        let mut line = String::new();
        push_delimited(&mut line, 0, "plain", b',');
        push_delimited(&mut line, 1, "a,b", b',');
        push_delimited(&mut line, 2, "say \"hi\"\nbye", b',');
        assert_eq!(line, "plain,\"a,b\",\"say \"\"hi\"\"\nbye\"");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let rec = reader.records().next().unwrap().unwrap();
        assert_eq!(&rec[2], "say \"hi\"\nbye");
    }

    #[test]
    fn json_strings_escape_controls() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}");
    }
}
