//! A lean HTTP/1.1 keep-alive client for the load: one TCP connection that writes a
//! pre-serialised request and reads one answer (status line, `Content-Length` body). No
//! pipelining, no chunked answers (the gateway always sends `Content-Length`), no TLS: the
//! point is to spend as little CPU per request as the gateway's own framing.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed.
    #[error("transport: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection before a whole answer arrived.
    #[error("connection closed mid-answer")]
    Closed,
    /// The answer was not HTTP/1.1 as the gateway writes it.
    #[error("malformed answer")]
    Malformed,
}

/// One answer, reduced to what the bench records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body said `duplicate`.
    pub duplicate: bool,
}

/// A keep-alive connection; reconnects lazily after an error.
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// A connection to `addr`, opened on first use.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Send `request` (a whole HTTP/1.1 request) and read its answer. On any error the
    /// connection is dropped and the next call opens a new one.
    pub async fn send(&mut self, request: &[u8]) -> Result<Answer, ClientError> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Answer, ClientError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(ClientError::Closed);
        };
        stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if let Some(head_end) = find(&self.buf, b"\r\n\r\n") {
                let (status, length, close) = parse_head(&self.buf[..head_end])?;
                let total = head_end + 4 + length;
                while self.buf.len() < total {
                    read_more(stream, &mut self.buf).await?;
                }
                let duplicate = find(&self.buf[head_end + 4..total], b"duplicate").is_some();
                if close {
                    self.stream = None;
                }
                return Ok(Answer { status, duplicate });
            }
            read_more(stream, &mut self.buf).await?;
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ClientError> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(ClientError::Closed);
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status, `Content-Length` (0 when absent) and whether the server closes the connection.
fn parse_head(head: &[u8]) -> Result<(u16, usize, bool), ClientError> {
    let text = std::str::from_utf8(head).map_err(|_| ClientError::Malformed)?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(ClientError::Malformed)?;
    let (mut length, mut close) = (0, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| ClientError::Malformed)?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    Ok((status, length, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_length_and_close() {
        let head = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 23\r\nConnection: close";
        assert_eq!(parse_head(head).expect("head"), (503, 23, true));
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json";
        assert_eq!(parse_head(head).expect("head"), (200, 0, false));
        assert!(parse_head(b"garbage").is_err());
    }
}
