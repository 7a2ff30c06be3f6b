//! The pre-signed corpus: every request of a run, serialised (request line, headers,
//! signature, body) before the timed phase starts, so the load threads only write bytes.
//! Built on every core; also written to a file that `scripts/bench.lua` replays with wrk.

use std::{io::Write, path::Path, sync::Arc};

use hookgate_core::Provider;

/// Event type of every bench event.
pub const EVENT_TYPE: &str = "bench.event";

/// Pre-serialised requests and the event number each one carries.
pub struct Corpus {
    /// Event IDs are `<prefix><number>`.
    pub prefix: String,
    /// Whole HTTP/1.1 requests, in send order.
    pub requests: Vec<Box<[u8]>>,
    /// Event number of each request (a resend repeats an earlier number).
    pub event: Vec<u64>,
}

/// What to build.
pub struct Spec<'a> {
    /// Signing provider.
    pub provider: &'a Arc<Provider>,
    /// `host:port` for the `Host` header.
    pub host: &'a str,
    /// Event ID prefix.
    pub prefix: &'a str,
    /// Number of requests.
    pub count: usize,
    /// Body size in bytes.
    pub body_size: usize,
    /// Fraction of requests that resend an earlier event.
    pub duplicates: f64,
    /// Threads to sign on.
    pub threads: usize,
    /// Open loop at this rate: request `n` is signed for its due time, `n / rate` seconds
    /// after signing starts, so a run longer than the provider's tolerance (a soak) stays
    /// valid to its end. `None`: every request is signed for now.
    pub rate: Option<u64>,
}

/// splitmix64: a cheap, well-mixed hash for choosing duplicates reproducibly.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Event number of request `n`: `n` itself, or an earlier one for a resend.
fn event_number(n: u64, duplicates: f64) -> u64 {
    let roll = (mix(n) >> 11) as f64 / (1u64 << 53) as f64;
    if n > 0 && roll < duplicates {
        mix(n ^ 0xD1B5) % n
    } else {
        n
    }
}

impl Corpus {
    /// Sign and serialise `spec.count` requests on `spec.threads` threads.
    pub fn build(spec: &Spec<'_>) -> Self {
        let now = hookgate::unix_now();
        let threads = spec.threads.max(1);
        let chunk = spec.count.div_ceil(threads).max(1);
        let path = format!("/webhooks/{}", spec.provider.name());
        let parts: Vec<Vec<(u64, Box<[u8]>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let path = &path;
                    scope.spawn(move || {
                        let start = t * chunk;
                        let end = ((t + 1) * chunk).min(spec.count);
                        (start..end)
                            .map(|n| {
                                let event = event_number(n as u64, spec.duplicates);
                                let due = spec.rate.map_or(0, |r| n as u64 / r.max(1)) as i64;
                                (event, request(spec, path, event, now + due))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let (mut requests, mut event) = (
            Vec::with_capacity(spec.count),
            Vec::with_capacity(spec.count),
        );
        for (n, bytes) in parts.into_iter().flatten() {
            event.push(n);
            requests.push(bytes);
        }
        Self {
            prefix: spec.prefix.to_owned(),
            requests,
            event,
        }
    }

    /// The event ID of event number `n`.
    pub fn event_id(&self, n: u64) -> String {
        format!("{}{n}", self.prefix)
    }

    /// The event number of an event ID of this corpus.
    pub fn number_of(&self, event_id: &str) -> Option<u64> {
        event_id.strip_prefix(&self.prefix)?.parse().ok()
    }

    /// Write the requests for `scripts/bench.lua`: for each, its length in decimal on a
    /// line, then its bytes.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for request in &self.requests {
            writeln!(out, "{}", request.len())?;
            out.write_all(request)?;
        }
        out.flush()
    }
}

fn request(spec: &Spec<'_>, path: &str, event: u64, now: i64) -> Box<[u8]> {
    let id = format!("{}{event}", spec.prefix);
    let body = spec.provider.sample_body(&id, EVENT_TYPE, spec.body_size);
    let headers = spec.provider.sign(&body, &id, EVENT_TYPE, now);
    let mut out = Vec::with_capacity(body.len() + 320);
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(spec.host.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_repeat_earlier_numbers_only() {
        for n in 0..1000 {
            assert!(event_number(n, 0.5) <= n);
            assert_eq!(event_number(n, 0.0), n);
        }
        let resends = (0..1000).filter(|&n| event_number(n, 0.5) != n).count();
        assert!((400..600).contains(&resends), "{resends}");
    }
}
