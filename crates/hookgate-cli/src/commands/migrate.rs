//! `hookgate migrate`: create the database if needed and apply the embedded migrations.

use std::process::ExitCode;

use hookgate::db;
use hookgate_core::config::Config;

/// Create and migrate.
pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    crate::tokio_runtime()?.block_on(async {
        db::create_if_missing(&config.database.url).await?;
        let pool = db::pool(&config.database)?;
        db::migrate(&pool).await?;
        println!("migrations applied");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
