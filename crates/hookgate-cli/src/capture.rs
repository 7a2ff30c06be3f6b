//! A captured raw HTTP/1.1 request, as `hookgate explain` reads it: request line, headers,
//! a blank line, the body. Line endings may be `\r\n` or `\n` (a capture pasted into an
//! editor); folded header lines are joined; the body is `Content-Length` bytes when the
//! header is there, decoded when it is `chunked`, else everything after the blank line.
//! What the reader had to assume is returned as notes, because a changed byte (an editor's
//! trailing newline) is exactly what makes a signature fail.

use hookgate_core::verify::Headers;

/// A parsed capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Request method, e.g. `POST`.
    pub method: String,
    /// Path of the request target, without the query.
    pub path: String,
    /// Raw query string, without `?` (empty when none).
    pub query: String,
    /// Headers in order, names as sent.
    pub headers: CapturedHeaders,
    /// The body bytes.
    pub body: Vec<u8>,
    /// What the reader assumed or ignored.
    pub notes: Vec<String>,
}

/// Headers of a capture; lookup is case-insensitive, first value wins (as the gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedHeaders(pub Vec<(String, Vec<u8>)>);

impl Headers for CapturedHeaders {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Parse a raw HTTP/1.1 request.
pub fn parse(raw: &[u8]) -> Result<Captured, String> {
    let mut notes = Vec::new();
    let mut rest = raw;
    // Lines up to the blank line; each without its `\n` and a trailing `\r`.
    let next_line = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        if rest.is_empty() {
            return None;
        }
        let (line, after) = match rest.iter().position(|b| *b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (*rest, &b""[..]),
        };
        *rest = after;
        Some(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
    };
    let request_line = loop {
        match next_line(&mut rest) {
            None => return Err("the file is empty: expected a request line".into()),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let request_line =
        String::from_utf8(request_line).map_err(|_| "the request line is not UTF-8".to_string())?;
    let mut parts = request_line.split_ascii_whitespace();
    let (Some(method), Some(target), version) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "expected a request line like `POST /webhooks/github HTTP/1.1`, found {request_line:?}"
        ));
    };
    if method.starts_with("HTTP/") {
        return Err("this is a response, not a request (the first line is a status line)".into());
    }
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(format!(
            "expected HTTP/1.x at the end of the request line {request_line:?}"
        ));
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = match path.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |at| &after[at..]),
        None => path,
    };

    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ended = false;
    let mut number = 1;
    while let Some(line) = next_line(&mut rest) {
        number += 1;
        if line.is_empty() {
            ended = true;
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            let Some((_, value)) = headers.last_mut() else {
                return Err(format!(
                    "line {number}: a continuation line before any header"
                ));
            };
            value.push(b' ');
            value.extend_from_slice(line.trim_ascii());
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Err(format!("line {number}: not a `Name: value` header line"));
        };
        let name = std::str::from_utf8(&line[..colon])
            .ok()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| format!("line {number}: not a valid header name"))?;
        headers.push((name.to_owned(), line[colon + 1..].trim_ascii().to_vec()));
    }
    if !ended {
        notes.push("no blank line after the headers: the body is empty".into());
    }
    let headers = CapturedHeaders(headers);
    let chunked = headers
        .0
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
        .any(|(_, v)| {
            String::from_utf8_lossy(v)
                .to_ascii_lowercase()
                .contains("chunked")
        });
    let lengths: Vec<&[u8]> = headers
        .0
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_slice())
        .collect();
    let body = if chunked {
        notes.push("Transfer-Encoding: chunked: the body was de-chunked".into());
        dechunk(rest)?
    } else if let Some(first) = lengths.first() {
        if lengths.iter().any(|l| l != first) {
            return Err("several different Content-Length headers".into());
        }
        let n: usize = std::str::from_utf8(first)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("Content-Length is not a number")?;
        if rest.len() < n {
            return Err(format!(
                "truncated capture: Content-Length is {n} but only {} byte(s) follow the headers",
                rest.len()
            ));
        }
        if rest.len() > n {
            notes.push(format!(
                "{} byte(s) after the Content-Length body were ignored (a trailing newline, or a \
                 second request)",
                rest.len() - n
            ));
        }
        rest[..n].to_vec()
    } else {
        if !rest.is_empty() {
            notes.push(format!(
                "no Content-Length: the body is everything after the blank line ({} bytes); an \
                 editor's trailing newline would be part of it",
                rest.len()
            ));
        }
        rest.to_vec()
    };
    Ok(Captured {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
        notes,
    })
}

/// Decode a chunked body (`\r\n` or `\n` line endings; trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let at = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("chunked body: a chunk-size line without a line end")?;
        let line = rest[..at].strip_suffix(b"\r").unwrap_or(&rest[..at]);
        let size = std::str::from_utf8(line)
            .ok()
            .map(|l| l.split(';').next().unwrap_or("").trim())
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .ok_or("chunked body: a chunk size is not hexadecimal")?;
        rest = &rest[at + 1..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("chunked body: truncated chunk")?;
        body.extend_from_slice(chunk);
        rest = &rest[size..];
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .ok_or("chunked body: a chunk is not followed by a line end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_capture_with_content_length() {
        let raw = b"POST /webhooks/github?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello\r\n";
        let c = parse(raw).unwrap();
        assert_eq!(c.method, "POST");
        assert_eq!(c.path, "/webhooks/github");
        assert_eq!(c.query, "x=1");
        assert_eq!(c.headers.get("x-a"), Some(&b"1"[..]));
        assert_eq!(c.body, b"hello");
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
    }

    #[test]
    fn lf_capture_without_content_length_and_folded_header() {
        let raw = b"\nPOST https://h.example/webhooks/p HTTP/1.1\nX-Long: a\n  b\n\n{\"a\":1}";
        let c = parse(raw).unwrap();
        assert_eq!(c.path, "/webhooks/p");
        assert_eq!(c.headers.get("X-LONG"), Some(&b"a b"[..]));
        assert_eq!(c.body, b"{\"a\":1}");
    }

    #[test]
    fn chunked_body_is_decoded() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(raw).unwrap().body, b"abcde");
    }

    #[test]
    fn bad_captures_say_why() {
        assert!(parse(b"").unwrap_err().contains("empty"));
        assert!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n")
                .unwrap_err()
                .contains("response")
        );
        assert!(
            parse(b"POST /x HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc")
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            parse(b"POST /x HTTP/1.1\r\nno colon\r\n\r\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(parse(b"POST /x\r\n\r\n").unwrap_err().contains("HTTP/1"));
    }
}
