//! Postgres connection pool, database creation and the migrations embedded from
//! `migrations/` (so the binary carries its schema).

use std::str::FromStr;

use anyhow::Context;
use hookgate_core::config::DatabaseConfig;
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The migrations in `migrations/`, embedded at build time (a new file there is picked up
/// without touching this code).
pub fn migrator() -> Migrator {
    sqlx::migrate!("../../migrations")
}

/// Connection options from the URL, with `synchronous_commit` forced on: an answer of 200
/// must mean the event is on disk.
pub fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)
        .context("database.url is not a valid Postgres URL")?
        .options([("synchronous_commit", "on")])
        .application_name("hookgate")
        .disable_statement_logging())
}

/// The database `options` connect to (Postgres' default, `postgres`, when the URL names
/// none).
pub fn database_name(options: &PgConnectOptions) -> String {
    options.get_database().unwrap_or("postgres").to_owned()
}

/// A lazily connecting pool: the gateway starts even while the database is down (requests
/// answer 503 until it is back).
///
/// Connections are not pinged on acquire (sqlx's default sends a round trip on every
/// acquire): a dead connection fails its statement instead, which the writer answers with
/// 503 (the provider retries) and the relay retries, and sqlx drops it from the pool.
/// sqlx still sends one on every release; the writer avoids that per group commit by
/// keeping its connections (`writer::Slot`), which come from [`writer_pool`]s, not from
/// this one.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    Ok(lazy_pool(
        options(&config.url)?,
        config.acquire_timeout,
        config.pool_max,
    ))
}

/// A writer's own pool ([`crate::writer::Writers`]): `slots` connections, opened lazily
/// by the server worker that owns the writer, so their sockets are polled by that
/// worker's thread. Otherwise as [`pool`].
pub fn writer_pool(
    options: PgConnectOptions,
    acquire_timeout: std::time::Duration,
    slots: usize,
) -> PgPool {
    lazy_pool(
        options,
        acquire_timeout,
        u32::try_from(slots).unwrap_or(u32::MAX),
    )
}

/// The pool both share: lazy, no ping on acquire.
fn lazy_pool(options: PgConnectOptions, acquire_timeout: std::time::Duration, max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(false)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options)
}

/// Create the configured database if it does not exist (and the role may).
#[tracing::instrument(skip_all)]
pub async fn create_if_missing(url: &str) -> anyhow::Result<()> {
    let opts = options(url)?;
    let name = database_name(&opts);
    let mut admin = opts
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to the postgres maintenance database")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = name.replace('"', "\"\"");
        match sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\"")))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance may have created it at the same moment.
            Err(e) if is_duplicate_database(&e) => {}
            Err(e) => return Err(e).context(format!("creating database {name}")),
        }
    }
    admin.close().await.ok();
    Ok(())
}

fn is_duplicate_database(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "42P04" || c == "23505")
}

/// Apply the embedded migrations.
#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    migrator().run(pool).await.context("applying migrations")?;
    Ok(())
}
