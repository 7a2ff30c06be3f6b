//! Reading a request body within the provider's `max_body` and the server's
//! `body_timeout`: a declared `Content-Length` over the limit is refused before a byte is
//! read, a streamed body is cut off as soon as it passes the limit, and a body that has
//! not fully arrived by the deadline is abandoned (408, connection closed), so a client
//! trickling bytes cannot hold a connection for longer than the deadline.

use std::time::Duration;

use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::time::{Instant, timeout_at};

use super::IngestError;

/// Read at most `limit` bytes within `deadline`; refuse early when the declared length is
/// already too big.
pub(super) async fn read(
    mut payload: web::Payload,
    limit: usize,
    declared: Option<u64>,
    deadline: Duration,
) -> Result<Bytes, IngestError> {
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(IngestError::PayloadTooLarge);
    }
    let deadline = Instant::now() + deadline;
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    loop {
        let next = timeout_at(deadline, payload.next())
            .await
            .map_err(|_| IngestError::RequestTimeout)?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| IngestError::BadRequest)?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
