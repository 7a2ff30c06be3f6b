//! The `twilio` scheme: `X-Twilio-Signature` is base64 HMAC-SHA1 (key: the auth token)
//! over the signed URL followed by every form field's name and value, sorted by name then
//! value (a repeated identical pair counts once, as in twilio-python).
//!
//! JSON requests: Twilio adds `bodySHA256=<hex SHA-256 of the body>` to the URL's query and
//! signs the URL alone; the body must hash to that value. Both spellings of the URL are
//! tried, with and without the port (`https://host:443/…` and `https://host/…`), because
//! Twilio signs either (twilio-python `RequestValidator.validate`).
//!
//! The form body is decoded before the signature is known to be valid: it *is* the signed
//! data. It is parsed with `form_urlencoded` into borrowed slices where possible.

use std::borrow::Cow;

use subtle::ConstantTimeEq;

use super::{MAX_SIGNATURE, Request, first_header, sha256, signed_url};
use crate::{
    config::Encoding,
    verify::{Key, Rejection},
};

/// A configured Twilio scheme.
#[derive(Clone)]
pub(crate) struct TwilioScheme {
    pub(crate) signature_headers: Vec<String>,
    pub(crate) public_url: String,
    pub(crate) keys: Vec<Key>,
}

impl TwilioScheme {
    pub(crate) fn verify(&self, request: &Request<'_>) -> Result<(), Rejection> {
        let header = first_header(request.headers, &self.signature_headers)
            .ok_or(Rejection::MissingSignature)?;
        let mut buf = [0u8; MAX_SIGNATURE];
        let n = super::decode_into(Encoding::Base64, header.trim_ascii(), &mut buf)
            .ok_or(Rejection::InvalidSignature)?;
        let signature = &buf[..n];
        let url = signed_url(&self.public_url, request.query);
        let url = std::str::from_utf8(&url).map_err(|_| Rejection::InvalidSignature)?;
        let params = match body_hash(url) {
            Some(expected) => {
                let actual = hex::encode(sha256(request.body));
                if !bool::from(actual.as_bytes().ct_eq(expected.as_bytes())) {
                    return Err(Rejection::InvalidSignature);
                }
                Vec::new()
            }
            None => sorted_params(request.body),
        };
        let mut matched = false;
        for variant in port_variants(url) {
            for key in &self.keys {
                let tag = key.tag(|sink| feed(&variant, &params, sink));
                matched |= tag.matches(signature);
            }
        }
        if matched {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}

/// The signed bytes: the URL, then each name and value.
pub(crate) fn feed(
    url: &str,
    params: &[(Cow<'_, str>, Cow<'_, str>)],
    sink: &mut dyn FnMut(&[u8]),
) {
    sink(url.as_bytes());
    for (name, value) in params {
        sink(name.as_bytes());
        sink(value.as_bytes());
    }
}

/// The form fields of `body`, decoded, sorted by name then value, identical pairs once.
pub(crate) fn sorted_params(body: &[u8]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut params: Vec<_> = form_urlencoded::parse(body).collect();
    params.sort();
    params.dedup();
    params
}

/// The `bodySHA256` query parameter of `url`, if any.
pub(crate) fn body_hash(url: &str) -> Option<Cow<'_, str>> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value)
}

/// `url` without its port and with its port (the scheme's default added when absent).
pub(crate) fn port_variants(url: &str) -> [Cow<'_, str>; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host = &authority[host_start..];
    let port_colon = host
        .rfind(':')
        .filter(|&c| !host[c..].contains(']'))
        .filter(|&c| {
            let port = &host[c + 1..];
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        });
    let prefix_len = scheme.len() + 3 + host_start;
    match port_colon {
        Some(c) => {
            let without = format!(
                "{}{}",
                &url[..prefix_len + c],
                &url[prefix_len + host.len()..]
            );
            [Cow::Owned(without), Cow::Borrowed(url)]
        }
        None => {
            let port = if scheme.eq_ignore_ascii_case("https") {
                "443"
            } else {
                "80"
            };
            let split = scheme.len() + 3 + authority_end;
            let with = format!("{}:{port}{}", &url[..split], &url[split..]);
            [Cow::Borrowed(url), Cow::Owned(with)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variants_add_and_remove_the_port() {
        assert_eq!(
            port_variants("https://mycompany.com/myapp.php?foo=1&bar=2"),
            [
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            ]
        );
        assert_eq!(
            port_variants("http://mycompany.com:1234/x"),
            ["http://mycompany.com/x", "http://mycompany.com:1234/x"]
        );
        assert_eq!(
            port_variants("http://u:p@[::1]/x"),
            ["http://u:p@[::1]/x", "http://u:p@[::1]:80/x"]
        );
        assert_eq!(port_variants("not a url"), ["not a url", "not a url"]);
    }

    #[test]
    fn params_sort_by_name_then_value_and_dedup() {
        let p = sorted_params(b"b=2&a=2&a=1&a=1&c=%2B1+x");
        let flat: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(flat, [("a", "1"), ("a", "2"), ("b", "2"), ("c", "+1 x")]);
    }
}
