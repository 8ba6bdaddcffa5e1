//! The loopback redirect listener of `setup-oauth`: binds 127.0.0.1 (port 0 or a configured
//! port), answers the browser's redirect with a short page, and hands back the redirected URL.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::{Result, SalesforceError};

/// The callback path registered in the connected app.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// A listener waiting for one OAuth redirect.
pub struct CallbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl CallbackListener {
    /// Binds 127.0.0.1 on `port` (0 for any free port).
    pub async fn bind(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            SalesforceError::Local(format!("cannot listen on 127.0.0.1:{port}: {e}"))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| SalesforceError::Local(e.to_string()))?
            .port();
        Ok(CallbackListener {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// The redirect URI to send in the authorize request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser to arrive at the callback path; returns the full redirected URL.
    /// Other paths (a favicon) get a 404 and waiting goes on.
    pub async fn wait(self) -> Result<String> {
        loop {
            let (mut socket, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| SalesforceError::Local(format!("OAuth callback listener: {e}")))?;
            let mut buf = vec![0u8; 16 * 1024];
            let mut filled = 0;
            while filled < buf.len() {
                let n = socket.read(&mut buf[filled..]).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                filled += n;
                if buf[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..filled]);
            let target = head
                .lines()
                .next()
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or_default()
                .to_string();
            if target.split('?').next() == Some(CALLBACK_PATH) {
                let page = "<!DOCTYPE html><html><body><p>zbridge received the Salesforce authorisation. You can close this window.</p></body></html>";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
                let base = self.redirect_uri.trim_end_matches(CALLBACK_PATH);
                return Ok(format!("{base}{target}"));
            }
            let _ = socket
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }
}
