//! The shipped files agree with the config types: every config field is documented in the
//! README (and, for the service sections, in config/hookgate.toml), and docker-compose,
//! the Dockerfile, the Kubernetes manifests and .env.example match the shipped config.
//! The README's provider guide is what the preset files generate (`scripts/gen-provider-guide`),
//! rendered by the CLI's own `guide` module, compiled in here.

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use hookgate_core::{PresetCatalog, config::Config};

/// The renderer behind `hookgate presets --markdown`, the same file the CLI compiles.
#[path = "../../../hookgate-cli/src/guide.rs"]
mod guide;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The field names of a section, from the types themselves: serde's "unknown field"
/// error lists every expected field.
fn fields(section: &str, extra: &str) -> Vec<String> {
    let mut toml = String::new();
    if section == "top" {
        // Top-level keys come before the first table.
        toml.push_str(extra);
    }
    for required in ["database", "amqp"] {
        toml.push_str(&format!("[{required}]\nurl = \"x\"\n"));
        if required == section {
            toml.push_str("zzz_unknown = 1\n");
        }
    }
    if !matches!(section, "database" | "amqp" | "top") {
        toml.push_str(extra);
    }
    let err = Figment::from(Toml::string(&toml))
        .extract::<Config>()
        .expect_err("unknown key is rejected")
        .to_string();
    // "unknown field: found `zzz_unknown`, expected `one of `a`, `b``` for key ..."
    let listed = err
        .split("expected")
        .nth(1)
        .unwrap_or_else(|| panic!("no field list in {err:?}"));
    let listed = listed.split(" for key").next().unwrap_or(listed);
    listed
        .split('`')
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

fn shipped() -> Config {
    Figment::from(Toml::file_exact(root().join("config/hookgate.toml")))
        .extract()
        .expect("shipped config parses")
}

#[test]
fn every_config_field_is_documented() {
    let readme = read("README.md");
    let shipped_toml = read("config/hookgate.toml");
    let mut checked = 0;
    for section in [
        "server",
        "database",
        "amqp",
        "writer",
        "relay",
        "retention",
        "admin",
    ] {
        for field in fields(section, &format!("[{section}]\nzzz_unknown = 1\n")) {
            let key = format!("{section}.{field}");
            let documented =
                readme.contains(&format!("`{key}`")) || readme.contains(&format!("`[[{key}]]`"));
            assert!(documented, "README does not document {key}");
            if field != "queues" {
                assert!(
                    shipped_toml.contains(&format!("\n{field} =")),
                    "config/hookgate.toml does not show {key}"
                );
            }
            checked += 1;
        }
    }
    for field in fields("queues", "[[amqp.queues]]\nname = \"q\"\nzzz_unknown = 1\n") {
        assert!(
            readme.contains(&format!("`{field}`")),
            "README does not document amqp.queues {field}"
        );
        checked += 1;
    }
    for field in fields("providers", "[providers.p]\nzzz_unknown = 1\n") {
        assert!(
            readme.contains(&format!("\n{field} =")),
            "README's provider reference lacks {field}"
        );
        checked += 1;
    }
    for field in fields("top", "zzz_unknown = 1\n") {
        if matches!(
            field.as_str(),
            "server"
                | "database"
                | "amqp"
                | "writer"
                | "relay"
                | "retention"
                | "admin"
                | "providers"
        ) {
            continue;
        }
        assert!(
            readme.contains(&format!("`{field}`")),
            "README does not document the top-level {field}"
        );
        checked += 1;
    }
    assert!(
        checked > 40,
        "only {checked} fields found: the field listing broke"
    );
}

#[test]
fn the_readme_provider_guide_is_generated_from_the_presets() {
    let readme = read("README.md");
    let catalog = PresetCatalog::builtin().expect("built-in presets");
    let start = readme
        .find(guide::BEGIN)
        .expect("README has the presets:begin marker");
    let end = readme[start..]
        .find(guide::END)
        .map(|at| start + at + guide::END.len())
        .expect("README has the presets:end marker");
    let expected = format!(
        "{}\n{}{}",
        guide::BEGIN,
        guide::markdown(catalog),
        guide::END
    );
    assert!(
        readme[start..end] == expected,
        "README.md's provider guide differs from the preset files: run scripts/gen-provider-guide"
    );
    for preset in catalog.iter() {
        assert!(
            readme.contains(&format!("preset = \"{}\"", preset.name())),
            "README lacks a snippet for {}",
            preset.name()
        );
    }
    // The guide sits in the README's provider setup section.
    let setup = readme
        .find("### Provider setup")
        .expect("Provider setup section");
    assert!(setup < start, "the guide belongs under ### Provider setup");
}

#[test]
fn the_readme_documents_the_command_line() {
    let readme = read("README.md");
    for command in [
        "presets",
        "explain --provider",
        "sign --provider",
        "--private-key",
    ] {
        assert!(
            readme.contains(command),
            "README does not mention `{command}`"
        );
    }
    assert!(
        readme.contains("## Troubleshooting"),
        "README lacks Troubleshooting"
    );
}

#[test]
fn compose_dockerfile_and_kubernetes_match_the_shipped_config() {
    let config = shipped();
    let port = config.server.listen.rsplit(':').next().expect("port");
    let compose = read("docker-compose.yml");
    let dockerfile = read("deploy/Dockerfile");
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let in_container = "/etc/hookgate/hookgate.toml";

    assert!(
        compose.contains(&format!("\"{port}:{port}\"")),
        "compose publishes the listen port {port}"
    );
    assert!(compose.contains(&format!("HOOKGATE_CONFIG: {in_container}")));
    assert!(
        compose.contains("./config:/etc/hookgate:ro"),
        "compose mounts config/ where HOOKGATE_CONFIG points"
    );
    assert!(compose.contains("dockerfile: deploy/Dockerfile"));
    assert!(dockerfile.contains(&format!("ENV HOOKGATE_CONFIG={in_container}")));
    assert!(dockerfile.contains(&format!("EXPOSE {port}")));
    assert!(dockerfile.contains(&format!("http://127.0.0.1:{port}/health/ready")));
    assert!(deployment.contains(&format!("value: {in_container}")));
    assert!(deployment.contains(&format!("containerPort: {port}")));
    // Every overridden URL targets a section that exists.
    for var in ["HOOKGATE_DATABASE__URL", "HOOKGATE_AMQP__URL"] {
        assert!(compose.contains(var), "compose sets {var}");
    }

    // Every secret variable the shipped config names has a value in .env.example and a
    // key in the Kubernetes Secret example.
    let env_example = read(".env.example");
    let secret = read("deploy/kubernetes/secret.example.yaml");
    let names: Vec<&String> = config
        .providers
        .values()
        .flat_map(|p| &p.secrets_env)
        .collect();
    assert!(!names.is_empty());
    for name in names {
        assert!(
            env_example
                .lines()
                .any(|l| l.starts_with(&format!("{name}="))),
            ".env.example lacks {name}"
        );
        assert!(
            secret.contains(&format!("{name}:")),
            "secret.example.yaml lacks {name}"
        );
    }
    assert!(compose.contains("path: .env.example"));
}

#[test]
fn the_configmap_embeds_the_shipped_config_verbatim() {
    let configmap = read("deploy/kubernetes/configmap.yaml");
    let embedded: String = configmap
        .split_once("hookgate.toml: |\n")
        .expect("hookgate.toml key")
        .1
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        embedded.trim_end(),
        read("config/hookgate.toml").trim_end(),
        "run scripts/gen-configmap"
    );
}
