//! Reading a request body within the provider's `max_body`: a declared `Content-Length`
//! over the limit is refused before a byte is read, and a streamed body is cut off as soon
//! as it passes the limit.

use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;

use super::IngestError;

/// Read at most `limit` bytes; refuse early when the declared length is already too big.
pub(super) async fn read(
    mut payload: web::Payload,
    limit: usize,
    declared: Option<u64>,
) -> Result<Bytes, IngestError> {
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(IngestError::PayloadTooLarge);
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| IngestError::BadRequest)?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
