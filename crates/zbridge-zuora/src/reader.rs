//! Streaming result files: HTTP body → (gzip) → NUL bytes removed → a real CSV parser.
//!
//! Nothing holds a whole file: the body is read chunk by chunk, each chunk with an idle timeout,
//! decompressed on the fly when it starts with the gzip magic bytes, and parsed by `csv-async`,
//! which handles quoted newlines and strips a leading BOM. Rows must all have the header's
//! width; a ragged file is a damaged download (lessons L33–L35, L38).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
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

impl ResultRows {
    /// The column names, in file order.
    pub fn header(&self) -> &[String] {
        match self {
            ResultRows::Csv(csv) => csv.header(),
            ResultRows::Jsonl(jsonl) => &jsonl.header,
        }
    }

    /// The next row's cells, or `None` at the clean end of the file.
    pub async fn next_cells(&mut self) -> Result<Option<Vec<Option<String>>>, ZuoraError> {
        match self {
            ResultRows::Csv(csv) => Ok(csv
                .next_record()
                .await?
                .map(|r| r.iter().map(|c| Some(c.to_string())).collect())),
            ResultRows::Jsonl(jsonl) => jsonl.next_cells().await,
        }
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

/// A JSON Lines result: one object per line, keys in file order.
pub struct JsonlStream {
    lines: tokio::io::Lines<BufReader<Body>>,
    header: Vec<String>,
    first: Option<Vec<Option<String>>>,
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

type Cells = indexmap::IndexMap<String, Option<String>>;

impl JsonlStream {
    async fn open(body: Body, name: String) -> Result<Self, ZuoraError> {
        let mut stream = JsonlStream {
            lines: BufReader::new(body).lines(),
            header: Vec::new(),
            first: None,
            name,
        };
        if let Some(line) = stream.next_line().await? {
            let object = stream.parse(&line)?;
            stream.header = object.keys().cloned().collect();
            stream.first = Some(object.into_values().collect());
        }
        Ok(stream)
    }

    fn damaged(&self, detail: String) -> ZuoraError {
        ZuoraError::BadDownload {
            file: self.name.clone(),
            detail,
        }
    }

    async fn next_line(&mut self) -> Result<Option<String>, ZuoraError> {
        loop {
            match self.lines.next_line().await {
                Ok(Some(line)) if line.trim().is_empty() => continue,
                Ok(other) => return Ok(other),
                Err(e) => return Err(self.damaged(e.to_string())),
            }
        }
    }

    /// One line as (key, cell) pairs in file order: strings unescaped, numbers and booleans
    /// with their exact text, null as `None`.
    fn parse(&self, line: &str) -> Result<Cells, ZuoraError> {
        let raw: indexmap::IndexMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(line)
                .map_err(|e| self.damaged(format!("a line is not a JSON object: {e}")))?;
        raw.into_iter()
            .map(|(key, value)| {
                let text = value.get();
                let cell = match text.as_bytes().first() {
                    Some(b'n') => None,
                    Some(b'"') => Some(
                        serde_json::from_str::<String>(text)
                            .map_err(|e| self.damaged(e.to_string()))?,
                    ),
                    _ => Some(text.to_string()),
                };
                Ok((key, cell))
            })
            .collect()
    }

    async fn next_cells(&mut self) -> Result<Option<Vec<Option<String>>>, ZuoraError> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let Some(line) = self.next_line().await? else {
            return Ok(None);
        };
        let object = self.parse(&line)?;
        let same_keys = object.len() == self.header.len()
            && object.keys().zip(&self.header).all(|(a, b)| a == b);
        if !same_keys {
            return Err(self.damaged("a line has other keys than the first".into()));
        }
        Ok(Some(object.into_values().collect()))
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

    #[test]
    fn compaction_keeps_order() {
        let mut bytes = *b"\0a\0\0bc\0";
        let kept = compact_without_nul(&mut bytes);
        assert_eq!(&bytes[..kept], b"abc");
    }
}
