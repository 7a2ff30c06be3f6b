//! Unique names for the databases, exchanges and queues of one test, and the sweep of
//! leftovers from crashed runs.
//!
//! Every name is `<prefix>_<pid>_<nanos>_<n>`. A test removes its own on `Drop`; a process
//! killed mid-run cannot, so [`sweep_leftovers`] (run once per test process) removes the
//! names of known prefixes whose process no longer exists.

use std::sync::{
    Once,
    atomic::{AtomicU32, Ordering},
};

use sqlx::{Connection, PgConnection};

/// Prefixes of the test databases.
pub const DATABASE_PREFIX: &str = "hookgate_test";
/// Prefixes of broker objects tests create.
pub const BROKER_PREFIXES: &[&str] = &["hookgate.test", "consumer-test", "q"];

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{:x}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pid inside a name made by [`unique`] with `prefix` (or a queue derived from one:
/// `<name>.dlq`, `<name>.retry.<n>`), if it is one. Also reads the format of earlier
/// consumer tests, `<prefix>.<pid>.<hex nanos>`.
fn owner(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let base = rest.split('.').collect::<Vec<_>>();
    if let Some(current) = base[0].strip_prefix('_') {
        let mut parts = current.split('_');
        let pid = parts.next()?.parse().ok()?;
        // The remaining parts must be the nanos and the counter.
        return (parts.count() == 2).then_some(pid);
    }
    match base.as_slice() {
        ["", pid, nanos, ..] if u128::from_str_radix(nanos, 16).is_ok() => pid.parse().ok(),
        _ => None,
    }
}

/// Whether a process with `pid` still runs (on Linux; elsewhere assume it does).
fn alive(pid: u32) -> bool {
    !std::path::Path::new("/proc/self").exists()
        || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A leftover: made by [`unique`] with one of `prefixes` by a process that is gone.
pub fn is_leftover(name: &str, prefixes: &[&str]) -> bool {
    prefixes
        .iter()
        .filter_map(|p| owner(name, p))
        .any(|pid| !alive(pid))
}

/// Once per process: drop test databases and delete test exchanges and queues whose
/// process is gone. Best effort: a missing `rabbitmqctl` only skips the broker part.
pub fn sweep_leftovers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        crate::block_on_side(async {
            sweep_databases().await;
            sweep_broker().await;
        });
    });
}

async fn sweep_databases() {
    let Ok(mut admin) = PgConnection::connect(&format!("{}/postgres", crate::PG)).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{DATABASE_PREFIX}_%"))
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    for name in names.iter().filter(|n| is_leftover(n, &[DATABASE_PREFIX])) {
        crate::database::drop_database_on(&mut admin, name).await;
    }
}

async fn sweep_broker() {
    let list = |what: &str| {
        std::process::Command::new("rabbitmqctl")
            .args(["-q", "--no-table-headers", what, "name"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| is_leftover(l, BROKER_PREFIXES))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let (exchanges, queues) = (list("list_exchanges"), list("list_queues"));
    if exchanges.is_empty() && queues.is_empty() {
        return;
    }
    crate::broker::delete_all(exchanges, queues).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_dead_processes_are_leftovers() {
        let mine = unique("hookgate.test");
        assert!(!is_leftover(&mine, BROKER_PREFIXES), "{mine}");
        // pid 0 never names a user process.
        assert!(is_leftover("hookgate.test_0_1f_3", BROKER_PREFIXES));
        assert!(!is_leftover("hookgate.test_0_1f", BROKER_PREFIXES));
        assert!(!is_leftover("billing", BROKER_PREFIXES));
        assert!(!is_leftover("hookgate.events", BROKER_PREFIXES));
        assert!(is_leftover("consumer-test_0_1f_3.retry.2", BROKER_PREFIXES));
        assert!(is_leftover("consumer-test.0.18eaab8.dlq", BROKER_PREFIXES));
        let own = format!("consumer-test.{}.18eaab8.dlq", std::process::id());
        assert!(!is_leftover(&own, BROKER_PREFIXES));
    }
}
