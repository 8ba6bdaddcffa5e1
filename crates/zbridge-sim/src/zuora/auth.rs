//! `POST /oauth/token`: the client-credentials grant, the only one Zuora has.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::{Sim, Token, lock};

/// Decodes an `application/x-www-form-urlencoded` body.
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Issues a bearer token.
///
/// Failure bodies are undocumented by Zuora; this simulator answers in the RFC 6749 shape:
/// 400 `unsupported_grant_type` (any grant other than `client_credentials`, including
/// `refresh_token`), 400 `invalid_request` (missing fields) and 401 `invalid_client`.
pub(crate) async fn token(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            );
        }
    }
    let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    if id.len() != 36 || secret.len() > 42 || *id != sim.client_id || *secret != sim.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        );
    }
    let access_token = sim.new_hex_id();
    let lifetime_ms = i64::try_from(sim.cfg.token_lifetime.as_millis()).unwrap_or(i64::MAX / 4);
    lock(&sim.tokens).insert(
        access_token.clone(),
        Token {
            expires_ms: sim.now_ms() + lifetime_ms,
        },
    );
    let mut scope = format!("user.{}", &sim.client_id.replace('-', ""));
    for e in &sim.entities {
        scope.push_str(&format!(" entity.{}", e.uuid));
    }
    scope.push_str(" service.echo.read tenant.19");
    let expires_in = (lifetime_ms / 1000 - 1).max(0);
    axum::Json(json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "jti": sim.new_hex_id(),
        "scope": scope,
        "token_type": "bearer",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let f =
            parse_form(b"client_id=a%2Bb&client_secret=x+y&grant_type=client_credentials&bad=%zz");
        assert_eq!(f["client_id"], "a+b");
        assert_eq!(f["client_secret"], "x y");
        assert_eq!(f["bad"], "%zz");
    }
}
