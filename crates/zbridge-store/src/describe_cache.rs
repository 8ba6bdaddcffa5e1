//! Cached discovery results (table lists and describes) of a connection.

use std::time::Duration;

use crate::db::on_pool;
use crate::{Store, StoreError, now_millis};

impl Store {
    /// A cached discovery body no older than `max_age`; `object` is empty for the table list.
    pub async fn cached_describe(
        &self,
        connection_id: &str,
        service: &str,
        object: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT body, fetched_at FROM describe_cache \
             WHERE connection_id = $1 AND service = $2 AND object = $3";
        let row: Option<(String, i64)> = on_pool!(&self.db, pool => sqlx::query_as(SQL)
            .bind(connection_id).bind(service).bind(object.to_lowercase())
            .fetch_optional(pool).await)?;
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        Ok(row
            .filter(|(_, at)| now_millis().saturating_sub(*at) <= max_age_ms)
            .map(|(body, _)| body))
    }

    /// Stores a discovery body.
    pub async fn cache_describe(
        &self,
        connection_id: &str,
        service: &str,
        object: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO describe_cache (connection_id, service, object, body, fetched_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_id, service, object) \
             DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at";
        on_pool!(&self.db, pool => sqlx::query(SQL)
            .bind(connection_id).bind(service).bind(object.to_lowercase()).bind(body).bind(now_millis())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
