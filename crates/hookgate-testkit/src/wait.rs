//! Waiting on a condition with a deadline: the synchronisation tests use instead of sleeps.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Poll `cond` until true; panics after `limit` (a deadline, not a synchronisation sleep).
pub async fn eventually<F, Fut>(limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
