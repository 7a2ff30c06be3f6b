//! Retention statements: delete expired event keys and drop expired payloads, a bounded
//! batch per statement.

use std::time::Duration;

use sqlx::PgPool;

/// Delete up to `limit` event keys older than `age`. Unpublished rows are kept unless the
/// broker returned them (no queue wanted them), so a long broker outage loses nothing.
pub async fn purge_events(pool: &PgPool, age: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH doomed AS (
             SELECT e.id FROM events e LEFT JOIN outbox o ON o.event_pk = e.id
             WHERE e.received_at < now() - make_interval(secs => $1)
               AND (o.event_pk IS NULL OR o.returns > 0)
             LIMIT $2
         ), unqueued AS (
             DELETE FROM outbox WHERE event_pk IN (SELECT id FROM doomed)
         )
         DELETE FROM events WHERE id IN (SELECT id FROM doomed)",
    )
    .bind(age.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Clear up to `limit` bodies of published events older than `age`.
pub async fn drop_payloads(pool: &PgPool, age: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE events SET body = NULL WHERE id IN (
             SELECT e.id FROM events e
             WHERE e.received_at < now() - make_interval(secs => $1)
               AND e.body IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.id)
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
