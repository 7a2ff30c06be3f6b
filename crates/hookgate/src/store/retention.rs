//! Retention's statements on the `outbox`: whether an expired partition still holds events
//! the broker has not taken, and giving up on the returned (unroutable) ones whose
//! partition goes (each one range scan of the outbox's primary key: ids carry their
//! partition's time, so the cost follows the outbox backlog, never the event tables); and
//! the outbox's own vacuum, so its dead rows never pile up, even where autovacuum is off or
//! falls behind.

use sqlx::PgConnection;

/// Whether ids in `[lower, upper)` have outbox rows the relay still has to publish (not
/// returned by the broker): their partition must not be dropped yet, whatever its age, so
/// a broker outage longer than the window loses nothing.
pub async fn holds_unpublished(
    conn: &mut PgConnection,
    lower: i64,
    upper: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox
                        WHERE event_pk >= $1 AND event_pk < $2 AND returns = 0)",
    )
    .bind(lower)
    .bind(upper)
    .fetch_one(conn)
    .await
}

/// Delete the outbox rows of ids in `[lower, upper)` that the broker returned as
/// unroutable: their partition is going, and no queue wanted them within the window.
pub async fn forget_returned(
    conn: &mut PgConnection,
    lower: i64,
    upper: i64,
) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM outbox WHERE event_pk >= $1 AND event_pk < $2 AND returns > 0")
            .bind(lower)
            .bind(upper)
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}

/// Dead row versions in the outbox, from the statistics system (no scan; approximate).
pub async fn outbox_dead_rows(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let dead: Option<i64> = sqlx::query_scalar(
        "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass",
    )
    .fetch_optional(conn)
    .await?;
    Ok(dead.unwrap_or(0))
}

/// `VACUUM` the outbox (skipped if another vacuum holds it). It reads only the outbox, a
/// queue table kept small, and takes no lock that blocks inserts, deletes or claims: the
/// final truncation of empty pages at the end of the table, which would take an `ACCESS
/// EXCLUSIVE` lock, is turned off (the pages are reused by the next inserts anyway).
pub async fn vacuum_outbox(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("VACUUM (SKIP_LOCKED, TRUNCATE false) outbox")
        .execute(conn)
        .await?;
    Ok(())
}
