//! `hookgate presets`: lists every built-in preset (and alias) without a config or any
//! secret, as a table and as JSON, and adds the operator's `presets_dir` files.

use hookgate_core::PresetCatalog;

use crate::cli::{Scratch, hookgate};

#[test]
fn presets_lists_every_builtin_name_without_a_config() {
    let dir = Scratch::new("presets");
    let run = hookgate(&dir.0.join("missing.toml"), &["presets"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = PresetCatalog::builtin().expect("catalog").names();
    assert_eq!(names.len(), 39, "38 presets and the svix alias");
    let words: Vec<&str> = run
        .stdout
        .split(|c: char| c.is_whitespace() || c == ',')
        .collect();
    for name in &names {
        assert!(words.contains(name), "{name} not listed:\n{}", run.stdout);
    }
    for column in [
        "SCHEME",
        "SIGNATURE HEADER",
        "HANDSHAKE",
        "verify-token (GET)",
        "ecdsa-p256",
    ] {
        assert!(run.stdout.contains(column), "{column} missing");
    }

    let json = hookgate(&dir.0.join("missing.toml"), &["presets", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(rows.len(), 38);
    let discord = rows
        .iter()
        .find(|r| r["name"] == "discord")
        .expect("discord");
    assert_eq!(discord["scheme"], "ed25519");
    assert_eq!(discord["signature_header"], "x-signature-ed25519");
    assert_eq!(discord["handshake"], "fixed");
    let meta = rows.iter().find(|r| r["name"] == "meta").expect("meta");
    assert_eq!(meta["handshake_get"], true);
}

#[test]
fn presets_adds_the_operators_presets_dir_and_needs_no_secrets() {
    let dir = Scratch::new("presets-dir");
    std::fs::create_dir_all(dir.0.join("presets")).expect("mkdir");
    dir.write(
        "presets/acme.toml",
        "scheme = \"hmac\"\nsignature_header = \"x-acme-signature\"\n[docs]\ndisplay_name = \"Acme\"\ndocs_url = \"https://acme.example/hooks\"\ndashboard = [\"paste the URL\"]\n",
    );
    // A config whose secret variable is unset: `presets` must not care.
    let config = dir.write(
        "hookgate.toml",
        format!(
            "presets_dir = {:?}\n{}[providers.a]\npreset = \"acme\"\nsecrets_env = [\"UNSET_VARIABLE_FOR_PRESETS_TEST\"]\n",
            dir.0.join("presets").display().to_string(),
            crate::cli::SERVICES
        ),
    );
    let run = hookgate(&config, &["presets"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("acme"), "{}", run.stdout);
    assert!(run.stdout.contains("x-acme-signature"));
    assert!(run.stdout.contains("39 presets"), "{}", run.stdout);
    let builtin = hookgate(&config, &["presets", "--builtin"]);
    assert!(!builtin.stdout.contains("acme"));
    // The markdown guide carries its markers and every preset's snippet.
    let md = hookgate(&config, &["presets", "--builtin", "--markdown"]);
    assert!(md.stdout.starts_with("<!-- presets:begin"));
    assert!(md.stdout.trim_end().ends_with("<!-- presets:end -->"));
    assert!(
        md.stdout
            .contains("[providers.twilio]\npreset = \"twilio\"")
    );
    assert!(md.stdout.contains("public_url = "));
}
