//! [`TestDatabase`]: one Postgres database per test, created with the gateway's schema and
//! dropped when the value is dropped, also when the test panics.

use sqlx::{Connection, PgConnection, PgPool};

use crate::{PG, names};

/// A fresh, migrated database; dropped (with its connections) on `Drop`.
pub struct TestDatabase {
    /// Database name.
    pub name: String,
    /// A pool on it.
    pub pool: PgPool,
}

impl TestDatabase {
    /// Create and migrate a database with a unique name.
    pub async fn create() -> Self {
        Self::create_named(names::unique(names::DATABASE_PREFIX)).await
    }

    /// Create and migrate database `name`.
    pub async fn create_named(name: String) -> Self {
        names::sweep_leftovers();
        let url = Self::url_of(&name);
        hookgate::db::create_if_missing(&url)
            .await
            .expect("create test database");
        let pool = PgPool::connect(&url).await.expect("connect test database");
        hookgate::db::migrate(&pool).await.expect("migrate");
        Self { name, pool }
    }

    /// The direct URL of database `name`.
    pub fn url_of(name: &str) -> String {
        format!("{PG}/{name}")
    }

    /// The direct URL of this database.
    pub fn url(&self) -> String {
        Self::url_of(&self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (name, pool) = (self.name.clone(), self.pool.clone());
        crate::block_on_side(async move {
            // Bounded: a connection the test dropped a moment ago is returned by a task on
            // the test's runtime, which is blocked in this `drop`; `close` would wait for it
            // forever. `DROP DATABASE ... WITH (FORCE)` ends it anyway.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), pool.close()).await;
            drop_database(&name).await;
        });
    }
}

/// Drop database `name` (forcing its connections closed); errors are ignored.
pub async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&format!("{PG}/postgres")).await {
        drop_database_on(&mut admin, name).await;
    }
}

pub(crate) async fn drop_database_on(admin: &mut PgConnection, name: &str) {
    let quoted = name.replace('"', "\"\"");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
    )))
    .execute(admin)
    .await;
}

/// Drops database `name` when dropped: for tests whose database another process (the
/// real binary) creates.
pub struct DropDatabaseOnExit(pub String);

impl Drop for DropDatabaseOnExit {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        crate::block_on_side(async move { drop_database(&name).await });
    }
}
