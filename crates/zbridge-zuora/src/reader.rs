//! Streaming result files: HTTP body → (gzip) → NUL bytes removed → a real CSV parser.
//!
//! Nothing holds a whole file: the body is read chunk by chunk, each chunk with an idle timeout,
//! decompressed on the fly when it starts with the gzip magic bytes, and parsed by `csv-async`,
//! which handles quoted newlines and strips a leading BOM. Rows must all have the header's
//! width; a ragged file is a damaged download (lessons L33–L35, L38).
//!
//! Rows are handed out borrowed ([`ResultRows::next_row`]): the parsers fill buffers that are
//! reused from row to row, so reading a cell costs no allocation.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio_util::io::StreamReader;

use crate::client::ZuoraClient;
use crate::error::ZuoraError;
use crate::jobs::{self, ResultFile};

type Body = Pin<Box<dyn AsyncRead + Send>>;

/// A CSV result file being read.
pub struct CsvStream {
    reader: csv_async::AsyncReader<Body>,
    header: Vec<String>,
    record: csv_async::StringRecord,
    name: String,
    rows: u64,
}

impl std::fmt::Debug for CsvStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvStream")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl CsvStream {
    /// The header row as written in the file.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next row, or `None` at the clean end of the file.
    pub async fn next_record(&mut self) -> Result<Option<&csv_async::StringRecord>, ZuoraError> {
        match self.reader.read_record(&mut self.record).await {
            Ok(true) => {
                self.rows += 1;
                Ok(Some(&self.record))
            }
            Ok(false) => Ok(None),
            Err(error) => Err(ZuoraError::BadDownload {
                file: self.name.clone(),
                detail: error.to_string(),
            }),
        }
    }
}

/// A result file being read, row by row as cells (`None` is a null).
#[derive(Debug)]
pub enum ResultRows {
    /// A CSV file (AQuA): every cell is text; nulls are marked by the null marker.
    Csv(CsvStream),
    /// A JSON Lines file (Data Query).
    Jsonl(JsonlStream),
}

/// One row of a result file, borrowed until the next read.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// A CSV record: every cell is text.
    Csv(&'a csv_async::StringRecord),
    /// A JSON Lines object's values.
    Jsonl(&'a JsonCells),
}

impl<'a> Row<'a> {
    /// The number of cells.
    pub fn len(&self) -> usize {
        match self {
            Row::Csv(record) => record.len(),
            Row::Jsonl(cells) => cells.spans.len(),
        }
    }

    /// Whether the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `i`: `None` for a JSON null or a missing cell.
    pub fn cell(&self, i: usize) -> Option<&'a str> {
        match self {
            Row::Csv(record) => record.get(i),
            Row::Jsonl(cells) => cells.get(i),
        }
    }
}

impl ResultRows {
    /// The column names, in file order.
    pub fn header(&self) -> &[String] {
        match self {
            ResultRows::Csv(csv) => csv.header(),
            ResultRows::Jsonl(jsonl) => &jsonl.header,
        }
    }

    /// The next row, or `None` at the clean end of the file.
    pub async fn next_row(&mut self) -> Result<Option<Row<'_>>, ZuoraError> {
        match self {
            ResultRows::Csv(csv) => Ok(csv.next_record().await?.map(Row::Csv)),
            ResultRows::Jsonl(jsonl) => Ok(jsonl.next_row().await?.map(Row::Jsonl)),
        }
    }

    /// The next row's cells, owned, or `None` at the clean end of the file.
    pub async fn next_cells(&mut self) -> Result<Option<Vec<Option<String>>>, ZuoraError> {
        Ok(self.next_row().await?.map(|row| {
            (0..row.len())
                .map(|i| row.cell(i).map(str::to_string))
                .collect()
        }))
    }
}

/// Opens a result file: JSON Lines when the data is JSON, CSV otherwise.
pub async fn open_rows(client: &ZuoraClient, file: &ResultFile) -> Result<ResultRows, ZuoraError> {
    let (body, name) = open_body(client, file).await?;
    let mut body = BufReader::with_capacity(64 * 1024, body);
    let head = body.fill_buf().await.map_err(|e| ZuoraError::BadDownload {
        file: name.clone(),
        detail: e.to_string(),
    })?;
    let first = head
        .iter()
        .find(|b| !b.is_ascii_whitespace() && !matches!(**b, 0xef | 0xbb | 0xbf));
    if first == Some(&b'{') {
        return JsonlStream::open(Box::pin(body), name)
            .await
            .map(ResultRows::Jsonl);
    }
    csv_stream(Box::pin(body), name).await.map(ResultRows::Csv)
}

/// The cells of one JSON Lines row: their text, unescaped, in one reused buffer.
#[derive(Debug, Default)]
pub struct JsonCells {
    text: String,
    /// Byte ranges into `text`; `None` is a JSON null.
    spans: Vec<Option<(usize, usize)>>,
}

impl JsonCells {
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    fn get(&self, i: usize) -> Option<&str> {
        let (start, end) = (*self.spans.get(i)?)?;
        self.text.get(start..end)
    }

    /// Appends one JSON value as a cell: strings unescaped, numbers and booleans with their
    /// exact text, null as `None`.
    fn push_raw(&mut self, raw: &str) -> Result<(), serde_json::Error> {
        let start = self.text.len();
        match raw.as_bytes().first() {
            Some(b'n') => {
                self.spans.push(None);
                return Ok(());
            }
            // Most strings have no escapes: their text is the slice between the quotes.
            Some(b'"') if !raw.contains('\\') => self.text.push_str(&raw[1..raw.len() - 1]),
            Some(b'"') => self.text.push_str(&serde_json::from_str::<String>(raw)?),
            _ => self.text.push_str(raw),
        }
        self.spans.push(Some((start, self.text.len())));
        Ok(())
    }
}

/// A JSON Lines result: one object per line, the same keys in the same order on every line.
pub struct JsonlStream {
    body: BufReader<Body>,
    line: Vec<u8>,
    header: Vec<String>,
    cells: JsonCells,
    /// The first line was read (to learn the header) and not handed out yet.
    pending_first: bool,
    name: String,
}

impl std::fmt::Debug for JsonlStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlStream")
            .field("name", &self.name)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl JsonlStream {
    async fn open(body: Body, name: String) -> Result<Self, ZuoraError> {
        let mut stream = JsonlStream {
            body: BufReader::with_capacity(64 * 1024, body),
            line: Vec::new(),
            header: Vec::new(),
            cells: JsonCells::default(),
            pending_first: false,
            name,
        };
        if stream.next_line().await? {
            stream.parse(true)?;
            stream.pending_first = true;
        }
        Ok(stream)
    }

    fn damaged(&self, detail: String) -> ZuoraError {
        ZuoraError::BadDownload {
            file: self.name.clone(),
            detail,
        }
    }

    /// Reads the next non-blank line into `self.line`; false at the end of the file.
    async fn next_line(&mut self) -> Result<bool, ZuoraError> {
        loop {
            self.line.clear();
            match self.body.read_until(b'\n', &mut self.line).await {
                Ok(0) => return Ok(false),
                Ok(_) if self.line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(_) => return Ok(true),
                Err(e) => return Err(self.damaged(e.to_string())),
            }
        }
    }

    /// Parses `self.line` into `self.cells`; with `learn`, its keys become the header,
    /// otherwise they must be the header's.
    fn parse(&mut self, learn: bool) -> Result<(), ZuoraError> {
        self.cells.clear();
        let mut de = serde_json::Deserializer::from_slice(&self.line);
        let seed = LineSeed {
            header: &mut self.header,
            learn,
            cells: &mut self.cells,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        parsed.map_err(|e| self.damaged(format!("a line is not a JSON object like the first: {e}")))
    }

    async fn next_row(&mut self) -> Result<Option<&JsonCells>, ZuoraError> {
        if std::mem::take(&mut self.pending_first) {
            return Ok(Some(&self.cells));
        }
        if !self.next_line().await? {
            return Ok(None);
        }
        self.parse(false)?;
        Ok(Some(&self.cells))
    }
}

/// Reads one JSON object into [`JsonCells`] without building a map: keys are compared with
/// the header in order, values are copied as text.
struct LineSeed<'a> {
    header: &'a mut Vec<String>,
    learn: bool,
    cells: &'a mut JsonCells,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.learn {
                self.header.push(key.as_str().to_string());
            } else if self.header.get(index).map(String::as_str) != Some(key.as_str()) {
                return Err(de::Error::custom("a line has other keys than the first"));
            }
            let value: &'de RawValue = map.next_value()?;
            self.cells
                .push_raw(value.get())
                .map_err(de::Error::custom)?;
            index += 1;
        }
        if index != self.header.len() {
            return Err(de::Error::custom("a line has other keys than the first"));
        }
        Ok(())
    }
}

/// An object key, borrowed from the line unless it had escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Opens a result file as CSV; a Data Query link that expired is renewed once.
pub async fn open_csv(client: &ZuoraClient, file: &ResultFile) -> Result<CsvStream, ZuoraError> {
    let (body, name) = open_body(client, file).await?;
    csv_stream(body, name).await
}

async fn csv_stream(body: Body, name: String) -> Result<CsvStream, ZuoraError> {
    let mut reader = csv_async::AsyncReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .create_reader(body);
    let header = reader
        .headers()
        .await
        .map_err(|e| ZuoraError::BadDownload {
            file: name.clone(),
            detail: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    Ok(CsvStream {
        reader,
        header,
        record: csv_async::StringRecord::new(),
        name,
        rows: 0,
    })
}

/// The decoded body of a result file, and a name for messages; a Data Query link that expired
/// is renewed once.
async fn open_body(client: &ZuoraClient, file: &ResultFile) -> Result<(Body, String), ZuoraError> {
    let (response, name) = match file {
        ResultFile::Zuora { file_id } => (
            client
                .open_download(&format!("/v1/files/{file_id}"))
                .await?,
            format!("file {file_id}"),
        ),
        ResultFile::Presigned { job_id, url } => {
            let name = format!("the result of job {job_id}");
            match client.open_download(url).await {
                Ok(response) => (response, name),
                Err(ZuoraError::LinkExpired) => {
                    let fresh = jobs::fresh_data_file(client, job_id).await?;
                    (client.open_download(&fresh).await?, name)
                }
                Err(other) => return Err(other),
            }
        }
    };
    let idle = client.connection().settings.download_idle_timeout;
    let body = decoded_body(response, idle, name.clone()).await?;
    Ok((body, name))
}

/// The body as a byte stream: idle timeout per chunk, gzip decoded when the data is gzip, NUL
/// bytes dropped.
async fn decoded_body(
    response: reqwest::Response,
    idle: std::time::Duration,
    name: String,
) -> Result<Body, ZuoraError> {
    let chunks = futures::stream::try_unfold(response, move |mut response| async move {
        match tokio::time::timeout(idle, response.chunk()).await {
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no data for {} s", idle.as_secs()),
            )),
            Ok(Err(error)) => Err(io::Error::other(error.without_url())),
            Ok(Ok(Some(chunk))) => Ok(Some((chunk, response))),
            Ok(Ok(None)) => Ok(None),
        }
    })
    .boxed();
    let mut raw = BufReader::with_capacity(64 * 1024, StreamReader::new(chunks));
    let head = raw.fill_buf().await.map_err(|e| ZuoraError::BadDownload {
        file: name,
        detail: e.to_string(),
    })?;
    let body: Body = if head.starts_with(&[0x1f, 0x8b]) {
        let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(raw);
        decoder.multiple_members(true);
        Box::pin(BufReader::with_capacity(64 * 1024, decoder))
    } else {
        Box::pin(raw)
    };
    Ok(Box::pin(WithoutNul { inner: body }))
}

/// Drops NUL bytes, which Zuora exports can contain and CSV readers choke on (lessons L34).
struct WithoutNul {
    inner: Body,
}

impl AsyncRead for WithoutNul {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let start = buf.filled().len();
            match self.inner.as_mut().poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    let filled = buf.filled_mut();
                    let fresh = &mut filled[start..];
                    if !fresh.contains(&0) {
                        return Poll::Ready(Ok(()));
                    }
                    let kept = compact_without_nul(fresh);
                    let read = fresh.len();
                    buf.set_filled(start + kept);
                    // A chunk of only NULs must not look like the end of the file.
                    if kept > 0 || read == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                other => return other,
            }
        }
    }
}

/// Moves the non-NUL bytes of `bytes` to its front and returns how many there are.
fn compact_without_nul(bytes: &mut [u8]) -> usize {
    let mut kept = 0;
    for i in 0..bytes.len() {
        if bytes[i] != 0 {
            bytes[kept] = bytes[i];
            kept += 1;
        }
    }
    kept
}

/// Reads everything from a stream (tests and small files).
pub async fn read_all(mut reader: impl AsyncRead + Unpin) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nul_bytes_are_dropped_even_when_a_read_is_all_nul() {
        let data: &[u8] = b"a,b\n\0\0\0\n1,\0\"x\ny\"\n";
        let inner: Body = Box::pin(data);
        let out = read_all(WithoutNul { inner }).await.unwrap();
        assert_eq!(out, b"a,b\n\n1,\"x\ny\"\n");
    }

    async fn jsonl(text: &'static str) -> Result<Vec<Vec<Option<String>>>, ZuoraError> {
        let body: Body = Box::pin(text.as_bytes());
        let mut rows = ResultRows::Jsonl(JsonlStream::open(body, "test".into()).await?);
        let mut out = Vec::new();
        while let Some(cells) = rows.next_cells().await? {
            out.push(cells);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn json_lines_cells_keep_text_exactly_and_nulls() {
        let rows = jsonl(
            "{\"id\":\"a\",\"n\":1.50,\"t\":\"x\\\"y\\u00e9\",\"b\":true,\"z\":null}\n\n{\"id\":\"b\",\"n\":-2,\"t\":\"\",\"b\":false,\"z\":\"q\"}\n",
        )
        .await
        .unwrap();
        let cell = |s: &str| Some(s.to_string());
        assert_eq!(
            rows,
            vec![
                vec![cell("a"), cell("1.50"), cell("x\"yé"), cell("true"), None],
                vec![cell("b"), cell("-2"), cell(""), cell("false"), cell("q")],
            ]
        );
    }

    #[tokio::test]
    async fn json_lines_with_other_keys_are_damaged() {
        for text in [
            "{\"a\":1,\"b\":2}\n{\"b\":2,\"a\":1}\n",
            "{\"a\":1,\"b\":2}\n{\"a\":1}\n",
            "{\"a\":1}\n{\"a\":1,\"b\":2}\n",
            "{\"a\":1}\n[1]\n",
            "{\"a\":1}\n{\"a\":1} x\n",
        ] {
            let error = jsonl(text).await.unwrap_err();
            assert!(
                matches!(error, ZuoraError::BadDownload { .. }),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn compaction_keeps_order() {
        let mut bytes = *b"\0a\0\0bc\0";
        let kept = compact_without_nul(&mut bytes);
        assert_eq!(&bytes[..kept], b"abc");
    }
}
