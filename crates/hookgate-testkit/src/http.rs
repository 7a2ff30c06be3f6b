//! HTTP from the test side: a POST carrying given headers, and an [`Answer`] with the
//! status, `Retry-After` and the JSON (or text) body.

use std::time::Duration;

/// An HTTP answer: status, headers we care about, JSON body (or the text as a JSON string).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Retry-After`, if any.
    pub retry_after: Option<String>,
    /// Body as JSON; a non-JSON body becomes a JSON string.
    pub json: serde_json::Value,
}

/// A POST to `url` carrying `headers` (30 s timeout), ready to send.
pub fn post_request(url: &str, headers: &[(String, String)]) -> awc::ClientRequest {
    let mut req = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
        .post(url);
    for (k, v) in headers {
        req = req.insert_header((k.as_str(), v.as_str()));
    }
    req
}

/// POST `body` with `headers` and decode the answer.
pub async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    let mut res = post_request(url, headers)
        .send_body(body)
        .await
        .expect("POST");
    answer(&mut res).await
}

/// Decode an awc response.
pub async fn answer<S>(res: &mut awc::ClientResponse<S>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>>
        + Unpin,
{
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.body().limit(1 << 20).await.expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&body).into(),
    ));
    Answer {
        status: res.status().as_u16(),
        retry_after,
        json,
    }
}
