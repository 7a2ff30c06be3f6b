//! Differential fuzzing of event-ID/type extraction: for any body and pointer, the
//! streaming JSON seek must agree with `serde_json::Value::pointer`, and never panic.
#![no_main]

use hookgate_core::extract::{Body, Source, first_present};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // Layout: pointer bytes, 0xFF, body bytes.
    let Some(split) = data.iter().position(|b| *b == 0xFF) else { return };
    let (pointer, body) = (&data[..split], &data[split + 1..]);
    let Ok(pointer) = std::str::from_utf8(pointer) else { return };
    let Ok(source) = Source::parse(&format!("json:{pointer}")) else { return };
    let no_headers: Vec<(String, String)> = Vec::new();
    let ours = first_present(std::slice::from_ref(&source), &no_headers, &Body::new(body));
    // The oracle only speaks for documents serde_json accepts as a whole; for others the
    // seek may still find a value before the error (it skips ignored strings unvalidated).
    if let Ok(doc) = serde_json::from_slice::<Value>(body) {
        let expected = match doc.pointer(pointer) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        assert_eq!(ours.expect("valid JSON must not be rejected"), expected, "pointer {pointer:?}");
    }
});
