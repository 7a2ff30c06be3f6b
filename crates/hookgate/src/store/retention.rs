//! Retention's statements on the `outbox`: whether an expired partition still holds events
//! the broker has not taken, and giving up on the returned (unroutable) ones whose
//! partition goes. Each is one range scan of the outbox's primary key (ids carry their
//! partition's time), so its cost follows the outbox backlog, never the event tables.

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
