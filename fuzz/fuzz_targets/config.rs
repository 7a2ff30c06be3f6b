//! Fuzz config parsing and validation: arbitrary TOML must load or fail with an error,
//! never panic, and an error never echoes a secret value.
#![no_main]

use figment::{
    Figment,
    providers::{Format, Toml},
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret-value-7f3a";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Keys are echoed in errors by design; the secret must only be the skeleton's value.
    if text.contains(SECRET) {
        return;
    }
    // Give every run a valid skeleton half of the time, so validation code is reached.
    let toml = if data.first().is_some_and(|b| b % 2 == 0) {
        format!(
            "[database]\nurl = \"postgres://x/y\"\n[amqp]\nurl = \"amqp://x\"\n[providers.p]\nsecrets = [\"{SECRET}\"]\n{text}"
        )
    } else {
        text.into_owned()
    };
    if let Err(e) = hookgate_core::config::from_figment(Figment::from(Toml::string(&toml))) {
        assert!(!e.to_string().contains(SECRET), "error echoes a secret: {e}");
    }
});
