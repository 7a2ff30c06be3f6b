//! Configuration loading with `figment::Jail`: the file, environment overrides, and every
//! validation error naming its key.

// `Jail::expect_with` fixes the closure's error type to `figment::Error`.
#![allow(clippy::result_large_err)]

use std::path::Path;

use figment::Jail;
use hookgate_core::config::{self, ConfigError};

const BASE: &str = r#"
[database]
url = "postgres://postgres@127.0.0.1:5432/hookgate"

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"

[providers.groq]
preset = "groq"
secrets_env = ["GROQ_WEBHOOK_SECRET"]
"#;

fn load_err(jail: &mut Jail, toml: &str) -> String {
    jail.create_file("hookgate.toml", toml).expect("write");
    let err = config::load(Path::new("hookgate.toml")).expect_err("config must be rejected");
    err.to_string()
}

#[test]
fn file_then_env_overrides() {
    Jail::expect_with(|jail| {
        jail.create_file("hookgate.toml", BASE)?;
        jail.set_env("GROQ_WEBHOOK_SECRET", "s3cret-value");
        jail.set_env("HOOKGATE_DATABASE__URL", "postgres://other/db");
        jail.set_env("HOOKGATE_SERVER__LISTEN", "127.0.0.1:9999");
        jail.set_env("HOOKGATE_RETENTION__EVENTS", "3d");
        jail.set_env("HOOKGATE_RETENTION__PAYLOADS", "1d");
        jail.set_env("HOOKGATE_PROVIDERS__GROQ__MAX_BODY", "2MiB");
        jail.set_env("HOOKGATE_CONFIG", "ignored-by-the-loader.toml");
        let (cfg, registry) = config::load(Path::new("hookgate.toml")).expect("loads");
        assert_eq!(cfg.database.url, "postgres://other/db");
        assert_eq!(cfg.server.listen, "127.0.0.1:9999");
        assert_eq!(cfg.retention.events.as_secs(), 3 * 86400);
        assert_eq!(
            registry.get("groq").expect("groq").max_body(),
            2 * 1024 * 1024
        );
        Ok(())
    });
}

#[test]
fn the_shipped_config_loads_with_its_secrets_set() {
    Jail::expect_with(|jail| {
        for var in [
            "GROQ_WEBHOOK_SECRET",
            "VASTAI_WEBHOOK_SECRET",
            "VASTAI_WEBHOOK_SECRET_PREVIOUS",
        ] {
            jail.set_env(var, "dev-secret");
        }
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hookgate.toml");
        let (cfg, registry) = config::load(&shipped).expect("shipped config is valid");
        assert!(registry.get("groq").is_some() && registry.get("vastai").is_some());
        assert_eq!(
            cfg.amqp.routing_key.render("groq", "resource.created"),
            "groq.resource.created"
        );
        Ok(())
    });
}

#[test]
fn every_validation_error_names_its_key() {
    Jail::expect_with(|jail| {
        jail.set_env("GROQ_WEBHOOK_SECRET", "s3cret-value");
        let cases: &[(&str, &str)] = &[
            ("[server]\nlisten = \"0.0.0.0:1\"\ntypo = 1\n", "typo"),
            (
                "[providers.acme]\npreset = \"no-such-provider\"\nsecrets = [\"x\"]\n",
                "providers.acme.preset",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\nsecrets_env = [\"HOOKGATE_TEST_UNSET_VAR\"]\n",
                "HOOKGATE_TEST_UNSET_VAR",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\n",
                "providers.acme.secrets_env",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\nsigned_payload = \"{ts}.{body}\"\nsecrets = [\"x\"]\n",
                "providers.acme.signed_payload",
            ),
            (
                "[providers.acme]\nscheme = \"hmac\"\nsignature_header = \"x-s\"\nsigned_payload = \"{timestamp}.{body}\"\nsecrets = [\"x\"]\n",
                "providers.acme.signed_payload",
            ),
            (
                "[providers.acme]\nscheme = \"hmac\"\nsecrets = [\"x\"]\n",
                "providers.acme.signature_header",
            ),
            (
                "[providers.acme]\nsignature_header = \"x-s\"\nsecrets = [\"x\"]\n",
                "providers.acme.scheme",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\nevent_id = [\"query:id\"]\nsecrets = [\"x\"]\n",
                "providers.acme.event_id",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\nsecrets = [\"\"]\n",
                "providers.acme.secrets",
            ),
            (
                "[providers.acme]\npreset = \"svix\"\nsecrets = [\"whsec_!!!\"]\n",
                "providers.acme.secrets[0]",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\nsecrets = [\"x\"]\nbogus = 1\n",
                "bogus",
            ),
            (
                "[providers.Acme]\npreset = \"groq\"\nsecrets = [\"x\"]\n",
                "providers.Acme",
            ),
            (
                "[providers.acme]\npreset = \"groq\"\ntolerance = \"five minutes\"\nsecrets = [\"x\"]\n",
                "tolerance",
            ),
            (
                "[retention]\nevents = \"1d\"\npayloads = \"2d\"\n",
                "retention.payloads",
            ),
            ("[writer]\nbatch_max = 0\n", "writer.batch_max"),
            ("[writer]\nconcurrency = 0\n", "writer.concurrency"),
            (
                "[relay]\nbackpressure_wait = \"3s\"\n",
                "relay.backpressure_wait",
            ),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[server]\nworkers = 513\n", "server.workers"),
            ("[server]\nmax_headers = 0\n", "server.max_headers"),
        ];
        for (extra, key) in cases {
            let msg = load_err(jail, &format!("{BASE}\n{extra}"));
            assert!(
                msg.contains(key),
                "error for {extra:?} should name {key:?}: {msg}"
            );
            assert!(!msg.contains("s3cret-value"), "error leaks a secret: {msg}");
        }
        let bad_key = load_err(
            jail,
            &BASE
                .replace("{provider}", "")
                .replace("[amqp]\n", "[amqp]\nrouting_key = \"{provider}.{oops}\"\n"),
        );
        assert!(bad_key.contains("amqp.routing_key"), "{bad_key}");
        let small_pool = load_err(
            jail,
            &BASE.replace("[database]\n", "[database]\npool_max = 1\n"),
        );
        assert!(small_pool.contains("database.pool_max"), "{small_pool}");
        Ok(())
    });
}

#[test]
fn inline_secrets_are_flagged_and_debug_is_redacted() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "hookgate.toml",
            &format!(
                "{BASE}\n[providers.dev]\npreset = \"github\"\nsecrets = [\"inline-dev-secret\"]\n"
            ),
        )?;
        jail.set_env("GROQ_WEBHOOK_SECRET", "s3cret-value");
        let (cfg, registry) = config::load(Path::new("hookgate.toml")).expect("loads");
        assert!(registry.get("dev").expect("dev").has_inline_secrets());
        assert!(!registry.get("groq").expect("groq").has_inline_secrets());
        let shown = format!("{cfg:?} {registry:?}");
        assert!(
            !shown.contains("inline-dev-secret") && !shown.contains("s3cret-value"),
            "{shown}"
        );
        Ok(())
    });
}

#[test]
fn missing_file_is_an_error_naming_it() {
    Jail::expect_with(|_| {
        let err = config::load(Path::new("nowhere.toml")).expect_err("missing file");
        assert!(matches!(err, ConfigError::Load(_)));
        assert!(err.to_string().contains("nowhere.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn admin_token_comes_from_the_named_variable_only_when_set() {
    use secrecy::ExposeSecret;
    let admin = config::AdminConfig {
        token_env: Some("ADMIN_TOKEN".into()),
    };
    let token = admin.token(|name| (name == "ADMIN_TOKEN").then(|| "t0ken".to_string()));
    assert_eq!(
        token.map(|t| t.expose_secret().to_owned()),
        Some("t0ken".into())
    );
    assert!(
        admin.token(|_| Some(String::new())).is_none(),
        "empty means off"
    );
    assert!(admin.token(|_| None).is_none(), "unset means off");
    assert!(
        config::AdminConfig::default()
            .token(|_| Some("x".into()))
            .is_none(),
        "no token_env means off"
    );
}

#[test]
fn a_syntax_error_never_quotes_the_line_holding_a_secret() {
    // Found by fuzzing: TOML parse errors quote the offending source line.
    Jail::expect_with(|jail| {
        let msg = load_err(
            jail,
            &format!(
                "{BASE}\n[providers.dev]\npreset = \"github\"\nsecrets = [\"inline-s3cret-xyz\" oops]\n"
            ),
        );
        assert!(!msg.contains("inline-s3cret-xyz"), "{msg}");
        assert!(msg.contains("line"), "the position is kept: {msg}");
        Ok(())
    });
}
