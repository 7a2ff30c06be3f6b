//! What the gateway's tables take on disk: one catalog query, cheap whatever they hold
//! (sizes come from the partitions' files, never from their rows). Retention reports it
//! after every pass as `hookgate_storage_bytes{table}`; the soak benchmark samples it.

use serde::Serialize;
use sqlx::{FromRow, PgConnection};

/// Bytes on disk (heap, indexes and TOAST) of each table, all partitions included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, FromRow)]
pub struct Footprint {
    /// `event_records` (metadata).
    pub event_records: i64,
    /// `event_payloads` (bodies).
    pub event_payloads: i64,
    /// `event_keys` (dedup keys).
    pub event_keys: i64,
    /// `outbox` (unconfirmed events).
    pub outbox: i64,
    /// The whole database (`pg_database_size`).
    pub database: i64,
}

impl Footprint {
    /// `(table, bytes)` for the four tables, in a fixed order.
    pub fn tables(&self) -> [(&'static str, i64); 4] {
        [
            ("event_records", self.event_records),
            ("event_payloads", self.event_payloads),
            ("event_keys", self.event_keys),
            ("outbox", self.outbox),
        ]
    }
}

/// Measure the footprint now.
pub async fn measure(conn: &mut PgConnection) -> Result<Footprint, sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::int8
                 FROM pg_partition_tree('event_records')) AS event_records,
                (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::int8
                 FROM pg_partition_tree('event_payloads')) AS event_payloads,
                (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::int8
                 FROM pg_partition_tree('event_keys')) AS event_keys,
                pg_total_relation_size('outbox') AS outbox,
                pg_database_size(current_database()) AS database",
    )
    .fetch_one(conn)
    .await
}
