//! The connection Test: obtain a token, make one cheap authenticated call, and say what was
//! checked.

use serde::Serialize;
use zbridge_core::ZuoraService;

use crate::client::{Call, ZuoraClient};
use crate::error::ZuoraError;

/// One thing the test checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// What was found.
    pub detail: String,
}

/// Runs the Test; on success returns the checks made, in order.
pub async fn test_connection(client: &ZuoraClient) -> Result<Vec<Check>, ZuoraError> {
    let conn = client.connection();
    let mut checks = vec![Check {
        what: "settings".into(),
        detail: format!(
            "variables expanded; tenant {}, service {}, host {}",
            conn.tenant, conn.service, conn.base_url
        ),
    }];
    let token = client.tokens().token().await?;
    let detail = if client.tokens().is_fixed() {
        "using the access token given in OAuthAccessToken (InitiateOAuth=OFF)".to_string()
    } else {
        let minutes = token
            .expires_at
            .map(|at| (at - chrono::Utc::now()).num_minutes())
            .unwrap_or_default();
        let entities = token.entities().len();
        format!(
            "client credentials accepted; token valid for {minutes} min, {entities} entit{}",
            if entities == 1 { "y" } else { "ies" }
        )
    };
    checks.push(Check {
        what: "OAuth".into(),
        detail,
    });
    let path = crate::clock::probe_path(conn.service);
    let what = match conn.service {
        ZuoraService::AQuADataExport => "describe API (AQuA)",
        ZuoraService::DataQuery => "Data Query jobs API",
    };
    let response = client.send(Call::get(path)).await?;
    checks.push(Check {
        what: what.into(),
        detail: format!(
            "GET {path} answered HTTP {} ({} bytes)",
            response.status,
            response.body.len()
        ),
    });
    if let Some(warning) = client.clock().and_then(|time| time.warning()) {
        checks.push(Check {
            what: "clock".into(),
            detail: warning,
        });
    }
    Ok(checks)
}
