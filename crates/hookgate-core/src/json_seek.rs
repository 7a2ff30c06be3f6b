//! One-pass JSON pointer lookup: walks the document with serde's visitor API, keeps the
//! value at the pointer (a string or number, as text) and skips everything else without
//! allocating, while still rejecting anything that is not valid JSON.
//!
//! Kept instead of `serde_json::Value` on purpose: extraction runs on every accepted
//! request, and a seek that keeps only the pointer's value is measurably faster than
//! building the whole tree (BENCHMARKS.md, verification section). It is fuzzed
//! differentially against `serde_json` (`fuzz/fuzz_targets/extract.rs`), so both agree on
//! what is JSON and what the pointer finds.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The string or number at `tokens` in `raw`; `Ok(None)` when absent or of another kind;
/// `Err` when `raw` is not JSON.
pub(crate) fn seek(raw: &[u8], tokens: &[String]) -> Result<Option<String>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let found = Seek(tokens).deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Looks for the value at the remaining tokens.
struct Seek<'t>(&'t [String]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.0.is_empty() {
            d.deserialize_any(Leaf)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (head, rest) = (&self.0[0], &self.0[1..]);
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(head))? {
            // A repeated key: the last one wins, as in serde_json's `Value` and JSON.parse.
            if matches {
                found = map.next_value_seed(Seek(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let index = array_index(&self.0[0]);
        let mut found = None;
        let mut i = 0;
        loop {
            let item = if Some(i) == index {
                seq.next_element_seed(Seek(&self.0[1..]))?
                    .map(|v| found = v)
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if item.is_none() {
                return Ok(found);
            }
            i += 1;
        }
    }

    // A scalar where the pointer goes deeper: absent.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An RFC 6901 array index: `0` or digits without a sign or a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = token.bytes().all(|b| b.is_ascii_digit());
    if token.is_empty() || !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// The value at the pointer: strings and numbers as text, anything else absent.
struct Leaf;

impl<'de> Visitor<'de> for Leaf {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Formatted as serde_json formats numbers (e.g. `1e+20`, not `100000000000000000000`).
        Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Compares an object key with a token without allocating (escaped keys arrive unescaped).
struct KeyIs<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn finds_values_and_validates_the_whole_document() {
        let doc = br#"{"a":{"b":["x",{"c":"deep"}]},"n":12,"f":1.5,"s":"es\"c","o":{},"z":null}"#;
        assert_eq!(
            seek(doc, &t(&["a", "b", "1", "c"])).expect("json"),
            Some("deep".into())
        );
        assert_eq!(seek(doc, &t(&["n"])).expect("json"), Some("12".into()));
        assert_eq!(seek(doc, &t(&["s"])).expect("json"), Some("es\"c".into()));
        assert_eq!(seek(doc, &t(&["o"])).expect("json"), None);
        assert_eq!(seek(doc, &t(&["z"])).expect("json"), None);
        assert_eq!(seek(doc, &t(&["n", "deeper"])).expect("json"), None);
        assert_eq!(seek(doc, &t(&["missing"])).expect("json"), None);
        assert!(seek(br#"{"a":1} trailing"#, &t(&["a"])).is_err());
        assert!(
            seek(br#"{"a":1,"b":}"#, &t(&["a"])).is_err(),
            "errors after the match count"
        );
        assert!(seek(b"a=1&b=2", &t(&["a"])).is_err());
        // Found by fuzzing: only plain digits index an array (RFC 6901), as in serde_json.
        for bad in ["+0", "01", "-1", " 0"] {
            assert_eq!(seek(b"[8,9]", &t(&[bad])).expect("json"), None, "{bad:?}");
        }
        assert_eq!(seek(b"[8,9]", &t(&["1"])).expect("json"), Some("9".into()));
        let last = seek(br#"{"a":"first","a":"last"}"#, &t(&["a"])).expect("json");
        assert_eq!(last, Some("last".into()), "a repeated key: the last wins");
        assert_eq!(
            seek(br#"{"f":1e20}"#, &t(&["f"])).expect("json"),
            Some("1e+20".into())
        );
        assert_eq!(
            seek(br#"{"k\u0065y":"v"}"#, &t(&["key"])).expect("json"),
            Some("v".into())
        );
    }
}
