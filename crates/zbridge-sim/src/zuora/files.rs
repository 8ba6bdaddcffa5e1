//! Result file downloads: AQuA `/v1/files/{id}` (and the older `/v1/file/{id}`), and the
//! pre-signed "S3" URL of Data Query results. Bodies stream from the spool file; body faults
//! (reset, slow, truncated) are applied here.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::faults::{FaultKind, Phase};
use super::http::xml;
use super::state::{Sim, StoredFile, lock};

/// AQuA result files are purged after three days.
pub(crate) const AQUA_FILE_RETENTION_MS: i64 = 3 * 86_400_000;

const CHUNK: usize = 256 * 1024;

/// `GET /v1/files/{id}`, `/v1/file/{id}`, `/apps/api/file/{id}`.
pub(crate) async fn aqua_file(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let fault = lock(&sim.faults).check("aqua.file", Phase::Body);
    let file = lock(&sim.files)
        .get(&id)
        .filter(|_| !id.contains('.'))
        .cloned();
    let purged = file
        .as_ref()
        .is_none_or(|f| sim.now_ms() - f.created_ms > AQUA_FILE_RETENTION_MS);
    if purged || fault == Some(FaultKind::PurgedFile) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"reasons": [{"code": "ObjectNotFound", "message": format!("File {id} was not found; result files are kept 3 days")}]})),
        )
            .into_response();
    }
    if fault == Some(FaultKind::FileTooLarge) {
        return xml(
            StatusCode::FORBIDDEN,
            "<security:max-object-size>2047MB</security:max-object-size>".into(),
        );
    }
    match file {
        Some(f) => serve(&f, &id, fault).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
            uuid::Uuid::new_v4().simple()
        ),
    )
}

/// The pre-signed Data Query result URL: no bearer token (one is refused, as S3 refuses a second
/// auth mechanism), and it expires.
pub(crate) async fn data_file(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let deadline = q.get("X-Amz-Deadline").and_then(|d| d.parse::<i64>().ok());
    let signature = q.get("X-Amz-Signature");
    let (Some(deadline), Some(signature)) = (deadline, signature) else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    };
    if *signature != sim.sign(&name, deadline) {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if sim.now_ms() > deadline {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let fault = lock(&sim.faults).check("dq.file", Phase::Body);
    let file = lock(&sim.files).get(&name).cloned();
    match file {
        Some(f) => serve(&f, &name, fault).await,
        None => s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}

async fn serve(file: &StoredFile, name: &str, fault: Option<FaultKind>) -> Response {
    let f = match tokio::fs::File::open(&file.path).await {
        Ok(f) => f,
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"reasons": [{"code": "SystemError", "message": "internal server error"}]})),
            )
                .into_response();
        }
    };
    let (body, length) = match fault {
        Some(FaultKind::ResetBody) => {
            let cut = file.size / 2;
            let stream = ReaderStream::with_capacity(f.take(cut), CHUNK).chain(
                futures::stream::once(async {
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "connection reset by peer",
                    ))
                }),
            );
            (Body::from_stream(stream), file.size)
        }
        Some(FaultKind::TruncateFile) => {
            let mut bytes = Vec::new();
            let _ = tokio::io::BufReader::new(f).read_to_end(&mut bytes).await;
            let mut cut = bytes.len() * 6 / 10;
            while cut > 0 && cut < bytes.len() && (bytes[cut - 1] == b'\n' || bytes[cut] == b'\n') {
                cut -= 1;
            }
            bytes.truncate(cut);
            let len = bytes.len() as u64;
            (Body::from(bytes), len)
        }
        Some(FaultKind::SlowBody) => {
            let stream = ReaderStream::with_capacity(f, 16 * 1024).then(|chunk| async move {
                tokio::time::sleep(Duration::from_millis(25)).await;
                chunk
            });
            (Body::from_stream(stream), file.size)
        }
        _ => (
            Body::from_stream(ReaderStream::with_capacity(f, CHUNK)),
            file.size,
        ),
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    let ct = if file.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", file.content_type)
    } else {
        file.content_type.to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&ct) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    let _ = Bytes::new();
    r
}
