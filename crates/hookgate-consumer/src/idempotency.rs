//! Idempotency by `message_id`: a handled message that is delivered again (a gateway
//! republish after a connection loss, a requeue) is acked without calling the handler.

use std::{
    collections::{HashSet, VecDeque},
    future::Future,
    pin::Pin,
    sync::Mutex,
};

use sqlx::PgPool;

/// Boxed future returned by store methods (keeps the trait object-safe).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// Remembers which message IDs were handled successfully.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Whether `id` was already handled.
    fn seen<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
    /// Record `id` as handled.
    fn record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()>;
}

/// In-memory store of the last `capacity` handled IDs (the default; per process).
pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl MemoryStore {
    /// Keep at most `capacity` IDs, forgetting the oldest first.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl IdempotencyStore for MemoryStore {
    fn seen<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let seen = self.inner.lock().map(|g| g.0.contains(id)).unwrap_or(false);
        Box::pin(async move { Ok(seen) })
    }

    fn record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        if let Ok(mut guard) = self.inner.lock() {
            let (set, order) = &mut *guard;
            if set.insert(id.to_owned()) {
                order.push_back(id.to_owned());
                while order.len() > self.capacity {
                    if let Some(old) = order.pop_front() {
                        set.remove(&old);
                    }
                }
            }
        }
        Box::pin(async { Ok(()) })
    }
}

/// Postgres store, for consumers that must remember across restarts or share the record
/// between replicas. Creates its table on first use.
pub struct PostgresStore {
    pool: PgPool,
    consumer: String,
}

impl PostgresStore {
    /// A store for `consumer` (a name; several consumers can share one table).
    pub async fn new(pool: PgPool, consumer: impl Into<String>) -> anyhow::Result<Self> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS hookgate_consumer_handled (
                 consumer   text        NOT NULL,
                 message_id text        NOT NULL,
                 handled_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (consumer, message_id))",
        )
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            consumer: consumer.into(),
        })
    }
}

impl IdempotencyStore for PostgresStore {
    fn seen<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM hookgate_consumer_handled
                                WHERE consumer = $1 AND message_id = $2)",
            )
            .bind(&self.consumer)
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
        })
    }

    fn record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO hookgate_consumer_handled (consumer, message_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&self.consumer)
            .bind(id)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_is_bounded() {
        let store = MemoryStore::new(2);
        for id in ["a", "b", "c"] {
            store.record(id).await.expect("record");
        }
        assert!(!store.seen("a").await.expect("seen"), "oldest forgotten");
        assert!(store.seen("b").await.expect("seen") && store.seen("c").await.expect("seen"));
    }
}
