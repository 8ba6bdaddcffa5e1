//! The sealed OAuth token cache of Zuora connections.

use secrecy::SecretString;

use crate::db::on_pool;
use crate::{Store, StoreError, from_millis, now_millis};

/// A cached access token.
#[derive(Debug, Clone)]
pub struct StoredToken {
    /// The bearer token.
    pub access_token: SecretString,
    /// The token's scope as Zuora returned it.
    pub scope: String,
    /// When it expires.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

fn aad(connection_id: &str, binding: &str) -> String {
    format!("token:{connection_id}/{binding}")
}

impl Store {
    /// The cached token of a connection, if one was stored for the same `binding` (the
    /// credentials it was issued for, e.g. base URL and client id). A token stored for other
    /// credentials does not open and is reported as absent.
    pub async fn load_token(
        &self,
        connection_id: &str,
        binding: &str,
    ) -> Result<Option<StoredToken>, StoreError> {
        const SQL: &str =
            "SELECT sealed, scope, expires_at FROM oauth_tokens WHERE connection_id = $1";
        let row: Option<(Vec<u8>, String, i64)> = on_pool!(&self.db, pool =>
            sqlx::query_as(SQL).bind(connection_id).fetch_optional(pool).await)?;
        let Some((sealed, scope, expires_at)) = row else {
            return Ok(None);
        };
        match self
            .sealer
            .open_secret(&sealed, &aad(connection_id, binding))
        {
            Ok(access_token) => Ok(Some(StoredToken {
                access_token,
                scope,
                expires_at: from_millis(expires_at),
            })),
            Err(_) => Ok(None),
        }
    }

    /// Stores (or replaces) the token of a connection.
    pub async fn save_token(
        &self,
        connection_id: &str,
        binding: &str,
        token: &StoredToken,
    ) -> Result<(), StoreError> {
        let sealed = self
            .sealer
            .seal_secret(&token.access_token, &aad(connection_id, binding))?;
        const SQL: &str = "INSERT INTO oauth_tokens (connection_id, sealed, scope, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed, \
             scope = excluded.scope, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
        on_pool!(&self.db, pool => sqlx::query(SQL)
            .bind(connection_id).bind(&sealed).bind(&token.scope)
            .bind(token.expires_at.timestamp_millis()).bind(now_millis())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the token of a connection.
    pub async fn delete_token(&self, connection_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => sqlx::query("DELETE FROM oauth_tokens WHERE connection_id = $1")
            .bind(connection_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The sealer, for callers that keep sealed data outside the database (a token cache file).
    pub fn sealer(&self) -> &crate::seal::Sealer {
        &self.sealer
    }
}
