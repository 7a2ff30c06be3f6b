//! The rule every URL passes before the gateway requests it (a certificate, a JWKS, an
//! SNS `SubscribeURL`): a strict parse, then the provider's `key_hosts` allowlist.
//!
//! The parse is deliberately narrower than RFC 3986, so that what is checked is what a
//! client connects to: `https` only (`http` too with `key_fetch_insecure`), no userinfo
//! (`@`), no fragment, no percent-encoding, backslash, whitespace or non-ASCII anywhere,
//! no IPv6 literal, no empty host label, no `.` or `..` path segment. A port must be
//! listed in `key_hosts` with the host (`127.0.0.1:8443`); a URL without a port matches
//! only entries without one.
//!
//! An entry of `key_hosts` is a host name, optionally with `:port`, in which a label may be
//! `{region}`: an AWS region name (`us-east-1`, `us-gov-west-1`, `cn-north-1`), two letters
//! then dash-separated words and a number. It is narrower than the official SNS
//! validators' `[a-zA-Z0-9-]{3,}`, which also matches legacy S3 website hosts such as
//! `sns.s3-ap-southeast-2.amazonaws.com` (a bucket called `sns`).

use std::fmt;

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `https://` (or `http://` with `key_fetch_insecure`).
    #[error("the scheme must be https")]
    Scheme,
    /// A character that has no place in the URLs providers send.
    #[error("the URL has a character outside the allowed set")]
    Character,
    /// `user@host`.
    #[error("the URL carries userinfo")]
    Userinfo,
    /// The host or port does not parse.
    #[error("the host or port is malformed")]
    Authority,
    /// The host (and port) is not in `key_hosts`.
    #[error("the host is not in key_hosts")]
    Host,
    /// The path does not have the shape this provider's URLs have.
    #[error("the path is not the provider's key path")]
    Path,
    /// A query string or fragment where none belongs.
    #[error("the URL has a query string or fragment")]
    Query,
}

/// A URL that passed the strict parse (not yet the allowlist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedUrl<'a> {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// One label of a host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Exact(String),
    Region,
}

/// One `key_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    labels: Vec<Label>,
    port: Option<u16>,
}

/// A provider's allowlist: `key_hosts` and whether plain `http` is allowed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct UrlRule {
    hosts: Vec<HostPattern>,
    insecure: bool,
}

impl fmt::Debug for UrlRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlRule")
            .field("hosts", &self.hosts.len())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl UrlRule {
    /// Compile `key_hosts`; the error says which entry is wrong and why.
    pub(crate) fn new(hosts: &[String], insecure: bool) -> Result<Self, String> {
        if hosts.is_empty() {
            return Err("must list at least one host".into());
        }
        let hosts = hosts
            .iter()
            .map(|h| HostPattern::parse(h).map_err(|why| format!("entry {h:?}: {why}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { hosts, insecure })
    }

    /// Parse `url` strictly and check its host against the allowlist.
    pub(crate) fn check<'a>(&self, url: &'a str) -> Result<ParsedUrl<'a>, UrlError> {
        let parsed = parse(url, self.insecure)?;
        if self
            .hosts
            .iter()
            .any(|p| p.matches(&parsed.host, parsed.port))
        {
            Ok(parsed)
        } else {
            Err(UrlError::Host)
        }
    }
}

impl HostPattern {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim().to_ascii_lowercase();
        let (host, port) = split_port(&entry).map_err(|_| "malformed port".to_owned())?;
        if host.is_empty() {
            return Err("empty host".into());
        }
        let labels = host
            .split('.')
            .map(|label| match label {
                "{region}" => Ok(Label::Region),
                l if valid_label(l) => Ok(Label::Exact(l.to_owned())),
                _ => Err(format!(
                    "label {label:?}: use a-z, 0-9 and '-', or {{region}}"
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { labels, port })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if self.port != port {
            return false;
        }
        let mut labels = host.split('.');
        for pattern in &self.labels {
            let Some(label) = labels.next() else {
                return false;
            };
            let ok = match pattern {
                Label::Exact(l) => l == label,
                Label::Region => is_region(label),
            };
            if !ok {
                return false;
            }
        }
        labels.next().is_none()
    }
}

/// An AWS region name: two letters, one or more `-word`s, then `-<digits>`.
fn is_region(label: &str) -> bool {
    let mut parts = label.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let Some((number, words)) = rest.split_last() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    match authority.rsplit_once(':') {
        None => Ok((authority, None)),
        Some((host, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UrlError::Authority);
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok((host, Some(p))),
                _ => Err(UrlError::Authority),
            }
        }
    }
}

/// The strict parse of the module docs.
pub(crate) fn parse(url: &str, insecure: bool) -> Result<ParsedUrl<'_>, UrlError> {
    if url.len() > 2048 || !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(UrlError::Character);
    }
    if url.contains('\\') || url.contains('%') {
        return Err(UrlError::Character);
    }
    if url.contains('#') {
        return Err(UrlError::Query);
    }
    let lower_prefix = |p: &str| {
        url.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    let (https, rest) = if lower_prefix("https://") {
        (true, &url["https://".len()..])
    } else if insecure && lower_prefix("http://") {
        (false, &url["http://".len()..])
    } else {
        return Err(UrlError::Scheme);
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    if authority.starts_with('[') {
        return Err(UrlError::Authority);
    }
    let (host, port) = split_port(authority)?;
    let host = host.to_ascii_lowercase();
    if host.is_empty() || !host.split('.').all(valid_label) {
        return Err(UrlError::Authority);
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    if !path.starts_with('/')
        || !path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
        || path.split('/').any(|seg| seg == "." || seg == "..")
    {
        return Err(UrlError::Path);
    }
    Ok(ParsedUrl {
        https,
        host,
        port,
        path,
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sns() -> UrlRule {
        UrlRule::new(
            &[
                "sns.{region}.amazonaws.com".into(),
                "sns.{region}.amazonaws.com.cn".into(),
            ],
            false,
        )
        .expect("rule")
    }

    #[test]
    fn regions_are_two_letters_words_and_a_number() {
        for ok in [
            "us-east-1",
            "us-east-2",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-2",
            "eu-central-1",
            "us-isob-east-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "s3-ap-southeast-2",
            "s3",
            "us",
            "us-1",
            "us-east",
            "useast-1",
            "us--1",
            "us-east-1a",
            "x-east-1",
            "",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn official_sns_hosts_pass() {
        let rule = sns();
        for url in [
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
            "HTTPS://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-1.pem",
        ] {
            assert!(rule.check(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn lookalike_and_malformed_urls_are_refused() {
        let rule = sns();
        let cases = [
            // legacy S3 website host: a bucket called "sns"
            (
                "https://sns.s3-ap-southeast-2.amazonaws.com/x.pem",
                UrlError::Host,
            ),
            ("https://s3.amazonaws.com/sns/x.pem", UrlError::Host),
            (
                "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
                UrlError::Host,
            ),
            (
                "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
                UrlError::Host,
            ),
            ("https://amazonaws.com/x.pem", UrlError::Host),
            // userinfo: the real host is after the @
            (
                "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
                UrlError::Userinfo,
            ),
            (
                "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
                UrlError::Userinfo,
            ),
            // ports must be listed
            (
                "https://sns.us-east-1.amazonaws.com:443/x.pem",
                UrlError::Host,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/x.pem",
                UrlError::Host,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:/x.pem",
                UrlError::Authority,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:99999/x.pem",
                UrlError::Authority,
            ),
            ("http://sns.us-east-1.amazonaws.com/x.pem", UrlError::Scheme),
            ("ftp://sns.us-east-1.amazonaws.com/x.pem", UrlError::Scheme),
            ("//sns.us-east-1.amazonaws.com/x.pem", UrlError::Scheme),
            (
                "https://sns.us-east-1.amazonaws.com./x.pem",
                UrlError::Authority,
            ),
            ("https://[::1]/x.pem", UrlError::Authority),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem#frag",
                UrlError::Query,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/%2e%2e/x.pem",
                UrlError::Character,
            ),
            (
                "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
                UrlError::Character,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/a b.pem",
                UrlError::Character,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/../x.pem",
                UrlError::Path,
            ),
            ("https://sns.us-east-1.amazonaws.com", UrlError::Path),
        ];
        for (url, why) in cases {
            assert_eq!(rule.check(url).map(|_| ()), Err(why), "{url}");
        }
    }

    #[test]
    fn queries_are_split_off_for_the_caller_to_judge() {
        let parsed = sns()
            .check("https://sns.us-east-1.amazonaws.com/x?.pem")
            .expect("parses");
        assert_eq!((parsed.path, parsed.query), ("/x", Some(".pem")));
    }

    #[test]
    fn ports_and_insecure_http_for_tests() {
        let rule = UrlRule::new(&["127.0.0.1:8080".into()], true).expect("rule");
        assert!(rule.check("http://127.0.0.1:8080/k.pem").is_ok());
        assert!(rule.check("https://127.0.0.1:8080/k.pem").is_ok());
        assert_eq!(
            rule.check("http://127.0.0.1/k.pem").map(|_| ()),
            Err(UrlError::Host)
        );
        assert_eq!(
            rule.check("http://127.0.0.1:8081/k.pem").map(|_| ()),
            Err(UrlError::Host)
        );
        let strict = UrlRule::new(&["127.0.0.1:8080".into()], false).expect("rule");
        assert_eq!(
            strict.check("http://127.0.0.1:8080/k.pem").map(|_| ()),
            Err(UrlError::Scheme)
        );
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(UrlRule::new(&[], false).is_err());
        let err = UrlRule::new(&["*.amazonaws.com".into()], false).expect_err("wildcard");
        assert!(err.contains("*.amazonaws.com"), "{err}");
        assert!(UrlRule::new(&["host:0".into()], false).is_err());
    }
}
