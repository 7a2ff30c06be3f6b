//! Partitioned storage: the dedup guarantee across key-bucket boundaries (over HTTP with a
//! 2 s window, and with racing transactions placed on either side of a boundary), partitions
//! created ahead and dropped when expired, unpublished events kept past retention, the
//! outbox vacuumed by retention, and the upgrade of a database created by the unpartitioned
//! schema.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::web::Bytes;
use hookgate::{
    db, retention,
    store::{
        self, NewEvent,
        partitions::{self, Layout},
    },
};
use hookgate_core::config::RetentionConfig;
use hookgate_testkit::{
    database::{DropDatabaseOnExit, TestDatabase},
    names,
};
use sqlx::PgPool;

use crate::helpers::*;

/// A 2 s dedup window: key buckets of 2 s, event partitions of 1 s.
fn short_window() -> RetentionConfig {
    RetentionConfig {
        events: Duration::from_secs(2),
        payloads: Duration::from_secs(2),
        interval: Duration::from_millis(250),
    }
}

fn short_window_settings() -> Settings {
    let mut settings = Settings::new();
    settings.tables_extra =
        "[retention]\nevents = \"2s\"\npayloads = \"2s\"\ninterval = \"250ms\"\n".into();
    settings
}

fn event(id: &str) -> NewEvent {
    NewEvent {
        provider: Arc::from("groq"),
        event_id: id.to_owned(),
        event_type: "t".into(),
        content_type: Some("application/json".into()),
        body: Bytes::from(format!("{{\"id\":\"{id}\"}}")),
        received_us: hookgate::unix_now() * 1_000_000,
    }
}

/// Starts (unix seconds) of the key buckets holding `event_id`.
async fn buckets_of(pool: &PgPool, event_id: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM bucket))::int8 FROM event_keys
         WHERE event_id = $1 ORDER BY 1",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await
    .expect("buckets")
}

/// Start of the key bucket inserts use now.
async fn current_bucket(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM current_bucket))::int8 FROM key_bucket_pair(now())",
    )
    .fetch_one(pool)
    .await
    .expect("current bucket")
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// The outbox lease of the writer's in-memory path is irrelevant here: rows are due at once.
const LEASE: std::time::Duration = std::time::Duration::ZERO;

/// How long the recovery sweep's claim pushes a row's lease (any value will do here).
const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The `(provider, event_id)` keys of the rows an insert reported new.
fn keys(inserted: Vec<store::events::Inserted>) -> std::collections::HashSet<(String, String)> {
    inserted.into_iter().map(|(_, p, i)| (p, i)).collect()
}

#[actix_web::test]
async fn a_duplicate_after_a_bucket_boundary_is_still_a_duplicate() {
    let app = spawn_app_with(short_window_settings()).await;
    // A round needs the copy to arrive while the next bucket is current. A machine that
    // stalls for a whole bucket (2 s) spoils a round, not the assertion: the copy is
    // bracketed by the clock, and a spoiled round is tried again with a new id.
    let mut checked = false;
    for round in 0..5 {
        let id = format!("evt_edge_{round}");
        let sent_in = current_bucket(&app.db.pool).await;
        let first = app.send("groq", &id, "t").await;
        assert_eq!(first.json["status"], "accepted", "{first:?}");
        let buckets = buckets_of(&app.db.pool, &id).await;
        if current_bucket(&app.db.pool).await != sent_in {
            // The clock crossed a boundary meanwhile: retention may already have purged
            // the older of the two buckets.
            continue;
        }
        assert_eq!(buckets.len(), 2, "a key in the current and the next bucket");
        assert_eq!(buckets[0], sent_in, "{buckets:?}");
        let next = buckets[1];
        assert!(next > sent_in, "{buckets:?}");

        // Once the clock has crossed into the next bucket, the copy finds the key there.
        eventually(Duration::from_secs(10), || async {
            current_bucket(&app.db.pool).await >= next
        })
        .await;
        let before = current_bucket(&app.db.pool).await;
        let copy = app.send("groq", &id, "t").await;
        let after = current_bucket(&app.db.pool).await;
        if before != next || after != next {
            continue;
        }
        assert_eq!(copy.json["status"], "duplicate", "{copy:?}");
        let stored = app.stored_ids().await;
        assert_eq!(stored.iter().filter(|s| **s == id).count(), 1, "{stored:?}");
        checked = true;
        break;
    }
    assert!(checked, "no round sent its copy within the next bucket");
    app.stop().await;
}

#[actix_web::test]
async fn a_copy_older_than_two_windows_is_accepted_again() {
    let app = spawn_app_with(short_window_settings()).await;
    let first = app.send("groq", "evt_late", "t").await;
    assert_eq!(first.json["status"], "accepted");
    let last = *buckets_of(&app.db.pool, "evt_late")
        .await
        .last()
        .expect("keys");
    // Two buckets later (at least one window, at most two after the first copy) the copy
    // meets no key: it is new again, as documented.
    eventually(Duration::from_secs(15), || async {
        current_bucket(&app.db.pool).await > last
    })
    .await;
    let copy = app.send("groq", "evt_late", "t").await;
    assert_eq!(copy.json["status"], "accepted", "{copy:?}");
    app.stop().await;
}

/// A database with partitions for a 2 s window.
async fn short_window_database() -> (TestDatabase, Layout) {
    let db = TestDatabase::create().await;
    let layout = Layout::new(&short_window());
    let mut conn = db.pool.acquire().await.expect("conn");
    partitions::ensure(&mut conn, &layout)
        .await
        .expect("partitions");
    (db, layout)
}

/// Close the pool inside the test's runtime. A pooled connection goes back to its pool in
/// a task of this runtime; `TestDatabase`'s `Drop` closes the pool from another runtime
/// while this one is blocked, which would wait forever for a connection still on its way.
async fn finish(db: TestDatabase) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    db.pool.close().await;
}

/// The first key-bucket boundary after now (unix seconds), with partitions made again
/// after reading it: the buckets on either side of it, the one after, and the event
/// partitions around it exist however long the test took to get here.
async fn next_boundary(pool: &PgPool, layout: &Layout) -> i64 {
    let boundary = sqlx::query_scalar(
        "SELECT floor(extract(epoch FROM next_bucket))::int8 FROM key_bucket_pair(now())",
    )
    .fetch_one(pool)
    .await
    .expect("boundary");
    let mut conn = pool.acquire().await.expect("conn");
    partitions::ensure(&mut conn, layout)
        .await
        .expect("partitions");
    boundary
}

#[actix_web::test]
async fn racing_copies_across_a_boundary_are_accepted_exactly_once() {
    let (db, layout) = short_window_database().await;
    let boundary = next_boundary(&db.pool, &layout).await * 1_000_000;
    let (before, after) = (Some(boundary - 300_000), Some(boundary + 300_000));
    // Many rounds of two concurrent batches of the same 20 keys, one just before the
    // boundary and one just after (alternating which starts first): every key is accepted
    // by exactly one of them, and no round deadlocks.
    for round in 0..100 {
        let events: Vec<NewEvent> = (0..20)
            .map(|i| event(&format!("evt_race_{round}_{i}")))
            .collect();
        let refs: Vec<&NewEvent> = events.iter().collect();
        let mut reversed = refs.clone();
        reversed.reverse();
        let (x, y) = if round % 2 == 0 {
            (before, after)
        } else {
            (after, before)
        };
        let (a, b) = tokio::join!(
            store::events::insert_batch_at(&db.pool, &refs, LEASE, x),
            store::events::insert_batch_at(&db.pool, &reversed, LEASE, y),
        );
        let (a, b) = (
            keys(a.expect("first batch")),
            keys(b.expect("second batch")),
        );
        for e in &events {
            let key = ("groq".to_owned(), e.event_id.clone());
            assert!(
                a.contains(&key) ^ b.contains(&key),
                "round {round}: {} accepted by both or by neither",
                e.event_id
            );
        }
    }
    assert_eq!(count(&db.pool, "SELECT count(*) FROM events").await, 2000);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM outbox").await, 2000);
    finish(db).await;
}

#[actix_web::test]
async fn the_later_copy_waits_for_the_earlier_and_follows_its_outcome() {
    let (db, layout) = short_window_database().await;
    let boundary = next_boundary(&db.pool, &layout).await * 1_000_000;
    for commit in [true, false] {
        let id = format!("evt_wait_{commit}");
        let e = event(&id);
        // The copy before the boundary is inserted but not committed yet ...
        let mut tx = db.pool.begin().await.expect("tx");
        let first =
            store::events::insert_batch_at(&mut *tx, &[&e], LEASE, Some(boundary - 500_000))
                .await
                .expect("first");
        assert_eq!(first.len(), 1);
        // ... the copy after the boundary meets its key in the later bucket and waits ...
        let second = tokio::spawn({
            let pool = db.pool.clone();
            let e = e.clone();
            async move {
                store::events::insert_batch_at(&pool, &[&e], LEASE, Some(boundary + 500_000))
                    .await
                    .expect("second")
            }
        });
        eventually(Duration::from_secs(10), || async {
            count(
                &db.pool,
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO event_keys%'",
            )
            .await
                == 1
        })
        .await;
        // ... and is a duplicate if the first commits, new if it aborts.
        if commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
        let second = second.await.expect("join");
        assert_eq!(second.len(), usize::from(!commit), "commit = {commit}");
        let stored = count(
            &db.pool,
            &format!("SELECT count(*) FROM events WHERE event_id = '{id}'"),
        )
        .await;
        assert_eq!(stored, 1);
    }
    finish(db).await;
}

/// Run retention passes (what the gateway's task runs) until `done` holds for the last
/// one; panics after a deadline.
async fn passes_until<F, Fut>(pool: &PgPool, layout: &Layout, mut done: F)
where
    F: FnMut(retention::Pass) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pass = retention::pass(pool, layout).await.expect("pass");
        if done(pass).await {
            return;
        }
        assert!(Instant::now() < deadline, "retention did not get there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `event_records` partition holding `event_id`.
async fn partition_of(pool: &PgPool, event_id: &str) -> String {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM event_records r
         JOIN pg_class c ON c.oid = r.tableoid WHERE r.event_id = $1",
    )
    .bind(event_id)
    .fetch_one(pool)
    .await
    .expect("partition")
}

#[actix_web::test]
async fn partitions_are_created_ahead_and_dropped_when_expired() {
    let (db, layout) = short_window_database().await;
    let pool = &db.pool;
    let ahead = count(
        pool,
        "SELECT count(*) FROM key_buckets WHERE starts_at > now()",
    )
    .await;
    assert!(
        ahead >= 2,
        "the next bucket and one after it exist: {ahead}"
    );
    let covered = count(
        pool,
        "SELECT count(*) FROM event_partitions WHERE ends_at > now() + interval '1 second'",
    )
    .await;
    assert!(covered >= 1, "event partitions cover the next seconds");

    let e = event("evt_expiring");
    store::events::insert_batch(pool, &[&e], LEASE)
        .await
        .expect("insert");
    let table = partition_of(pool, "evt_expiring").await;
    let bucket_tables: Vec<String> = buckets_of(pool, "evt_expiring")
        .await
        .into_iter()
        .map(|b| format!("event_keys_p{b}"))
        .collect();
    // Published: its outbox row goes, so nothing holds the partition.
    sqlx::query("DELETE FROM outbox")
        .execute(pool)
        .await
        .expect("publish");

    passes_until(pool, &layout, |_| async move {
        count(
            pool,
            "SELECT count(*) FROM events WHERE event_id = 'evt_expiring'",
        )
        .await
            == 0
            && count(
                pool,
                "SELECT count(*) FROM event_keys WHERE event_id = 'evt_expiring'",
            )
            .await
                == 0
    })
    .await;
    for gone in std::iter::once(&table).chain(&bucket_tables) {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(gone)
            .fetch_one(pool)
            .await
            .expect("regclass");
        assert!(!exists, "{gone} was dropped, not just emptied");
    }
    // And the pass keeps creating ahead.
    let ahead = count(
        pool,
        "SELECT count(*) FROM key_buckets WHERE starts_at > now()",
    )
    .await;
    assert!(ahead >= 2);
    let new = event("evt_after");
    assert_eq!(
        store::events::insert_batch(pool, &[&new], LEASE)
            .await
            .expect("insert")
            .len(),
        1
    );
    finish(db).await;
}

#[actix_web::test]
async fn a_pass_vacuums_a_churned_outbox_and_measures_the_tables() {
    let (db, layout) = short_window_database().await;
    let pool = &db.pool;
    // A quiet outbox is left alone.
    let quiet = retention::pass(pool, &layout).await.expect("pass");
    assert!(!quiet.outbox_vacuumed, "{quiet:?}");
    store::events::insert_batch(pool, &[&event("evt_footprint")], CLAIM_LEASE)
        .await
        .expect("insert");
    // The relay's churn: rows inserted and deleted again leave as many dead rows. Autovacuum
    // is kept off this table (the test's own database), so only the pass can remove them
    // whatever the server's settings; the statistics are flushed at once where the server
    // can (Postgres 15 and later), else within its idle flush interval.
    sqlx::raw_sql(
        "ALTER TABLE outbox SET (autovacuum_enabled = off);
         INSERT INTO outbox (event_pk, next_attempt_at)
         SELECT -g, now() + interval '1 hour' FROM generate_series(1, 12000) g;
         DELETE FROM outbox WHERE event_pk < 0;
         DO $$ BEGIN
             IF current_setting('server_version_num')::int >= 150000 THEN
                 PERFORM pg_stat_force_next_flush();
             END IF;
         END $$;",
    )
    .execute(pool)
    .await
    .expect("churn");
    let dead = "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables WHERE relname = 'outbox'";
    eventually(Duration::from_secs(30), || async {
        count(pool, dead).await >= retention::OUTBOX_VACUUM_AT
    })
    .await;
    let pass = retention::pass(pool, &layout).await.expect("pass");
    assert!(pass.outbox_vacuumed, "{pass:?}");
    assert!(pass.outbox_dead >= retention::OUTBOX_VACUUM_AT, "{pass:?}");
    let f = pass.footprint;
    assert!(
        f.event_records > 0 && f.event_payloads > 0 && f.event_keys > 0 && f.outbox > 0,
        "{f:?}"
    );
    assert!(f.database > f.event_records + f.event_payloads + f.event_keys + f.outbox);
    // The vacuum removed them (the statistics record the vacuum and the dead rows gone).
    eventually(Duration::from_secs(30), || async {
        count(
            pool,
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'",
        )
        .await
            >= 1
            && count(pool, dead).await < retention::OUTBOX_VACUUM_AT
    })
    .await;
    // The live outbox row of the stored event is still there.
    assert_eq!(count(pool, "SELECT count(*) FROM outbox").await, 1);
    finish(db).await;
}

#[actix_web::test]
async fn unpublished_events_survive_retention_and_returned_ones_go() {
    let (db, layout) = short_window_database().await;
    let pool = &db.pool;
    let kept = event("evt_unpublished");
    store::events::insert_batch(pool, &[&kept], LEASE)
        .await
        .expect("insert");
    // Another event, in a later partition, that the broker returned as unroutable.
    let first_partition = partition_of(pool, "evt_unpublished").await;
    eventually(Duration::from_secs(5), || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT now() >= ends_at FROM event_partitions WHERE 'event_records_' || suffix = $1",
        )
        .bind(&first_partition)
        .fetch_one(pool)
        .await
        .expect("partition end")
    })
    .await;
    let returned = event("evt_returned");
    store::events::insert_batch(pool, &[&returned], LEASE)
        .await
        .expect("insert");
    sqlx::query("UPDATE outbox SET returns = 1 WHERE event_pk = (SELECT id FROM events WHERE event_id = 'evt_returned')")
        .execute(pool)
        .await
        .expect("returned");

    // The returned event's partition expires and goes, its outbox row with it; the
    // unpublished one's partition is held (and counted) however old it gets.
    passes_until(pool, &layout, |pass| async move {
        pass.held >= 1
            && count(
                pool,
                "SELECT count(*) FROM events WHERE event_id = 'evt_returned'",
            )
            .await
                == 0
    })
    .await;
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_pk
             WHERE e.event_id = 'evt_unpublished' AND e.body IS NOT NULL"
        )
        .await,
        1,
        "the unpublished event and its body are still there"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM outbox").await, 1);
    let claimed = store::outbox::claim(pool, 10, CLAIM_LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].body, kept.body.to_vec());

    // Published at last: the next passes drop it.
    sqlx::query("DELETE FROM outbox")
        .execute(pool)
        .await
        .expect("publish");
    passes_until(pool, &layout, |pass| async move {
        pass.held == 0
            && count(
                pool,
                "SELECT count(*) FROM events WHERE event_id = 'evt_unpublished'",
            )
            .await
                == 0
    })
    .await;
    finish(db).await;
}

/// The insert of the unpartitioned schema (migrations/0001), as the previous release ran it.
const OLD_INSERT: &str = "WITH new AS (
        INSERT INTO events (provider, event_id, event_type, content_type, body, received_at)
        SELECT 'groq', 'evt_old_' || g, 't', 'application/json',
               convert_to('{\"n\":' || g || '}', 'UTF8'), now() - g * interval '1 minute'
        FROM generate_series(1, 200) g
        ON CONFLICT (provider, event_id) DO NOTHING
        RETURNING id
    )
    INSERT INTO outbox (event_pk) SELECT id FROM new WHERE id % 10 = 0";

#[actix_web::test]
async fn a_database_of_the_unpartitioned_schema_upgrades_without_losing_anything() {
    let name = names::unique(names::DATABASE_PREFIX);
    let _drop = DropDatabaseOnExit(name.clone());
    let url = TestDatabase::url_of(&name);
    db::create_if_missing(&url).await.expect("create");
    let pool = PgPool::connect(&url).await.expect("connect");
    // Only migration 1: the schema of the previous release, with its data.
    db::migrator().run_to(1, &pool).await.expect("migration 1");
    sqlx::query(OLD_INSERT)
        .execute(&pool)
        .await
        .expect("old rows");
    sqlx::query("UPDATE outbox SET returns = 2 WHERE event_pk = 100")
        .execute(&pool)
        .await
        .expect("a returned row");
    let before: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, event_id, body FROM events ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("before");
    let outbox_before: Vec<(i64, i32)> =
        sqlx::query_as("SELECT event_pk, returns FROM outbox ORDER BY event_pk")
            .fetch_all(&pool)
            .await
            .expect("outbox before");
    assert_eq!((before.len(), outbox_before.len()), (200, 20));

    // The new migrations, then the first maintenance pass (a 1-hour window).
    db::migrate(&pool).await.expect("upgrade");
    let layout = Layout::new(&RetentionConfig {
        events: Duration::from_secs(3600),
        payloads: Duration::from_secs(3600),
        interval: Duration::from_secs(60),
    });
    let mut conn = pool.acquire().await.expect("conn");
    let created = partitions::ensure(&mut conn, &layout)
        .await
        .expect("partitions");
    drop(conn);

    let after: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, event_id, body FROM events ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("after");
    assert_eq!(after, before, "every event, id and body kept");
    let outbox_after: Vec<(i64, i32)> =
        sqlx::query_as("SELECT event_pk, returns FROM outbox ORDER BY event_pk")
            .fetch_all(&pool)
            .await
            .expect("outbox after");
    assert_eq!(outbox_after, outbox_before, "every outbox row kept");
    // The relay still finds the old rows' events and bodies.
    let claimed = store::outbox::claim(&pool, 100, CLAIM_LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 20);
    assert!(claimed.iter().all(|r| !r.body.is_empty()));

    // Keys were seeded for the events of the last window (received 1..59 minutes ago), in
    // the current bucket and the next.
    assert_eq!(created.seeded_keys, 2 * 59);
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT event_id) FROM event_keys").await,
        59
    );
    // Dedup holds for the old events within the window; an old one outside it, and a new
    // one, are accepted.
    let recent = event("evt_old_30");
    let stale = event("evt_old_90");
    let fresh = event("evt_new");
    let new = store::events::insert_batch(&pool, &[&recent, &stale, &fresh], LEASE)
        .await
        .expect("insert");
    let new_ids: std::collections::BTreeSet<&str> =
        new.iter().map(|(_, _, id)| id.as_str()).collect();
    assert_eq!(new_ids, ["evt_new", "evt_old_90"].into_iter().collect());
    assert_eq!(count(&pool, "SELECT count(*) FROM events").await, 202);
    pool.close().await;
}
