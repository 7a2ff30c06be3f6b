//! The preset catalog: every preset is data, one TOML file per provider. The built-in
//! files (`crates/hookgate-core/presets/<name>.toml`) are embedded in the binary; an
//! operator can add more from `presets_dir` without a release.
//!
//! A preset file holds the scheme fields of a `[providers.<name>]` table, plus:
//!
//! - `aliases = [...]`: other names for the same preset (`svix`);
//! - `[docs]`: the display name, the provider's documentation page, the dashboard steps
//!   (what to paste where) and what each variable holds;
//! - `[handshake]`: the endpoint-verification handshake ([`crate::handshake`]);
//! - `[[vectors]]`: known-answer requests (published by the provider where it publishes
//!   one), each with its expected outcome; one test runs every vector of every file.
//!
//! Fields only an operator may set (`secrets`, `secrets_env`, `public_url`,
//! `verify_token_env`, rate limits, `preset`, and the fetched-key fields that name the
//! operator's own endpoint: `audience`, `service_account_email`, `webhook_id`,
//! `key_fetch_insecure`) are refused in a preset file.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, OnceLock},
};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
    value::Value,
};
use serde::Deserialize;

use crate::{
    config::{ConfigError, OneOrMany, ProviderConfig, SchemeKind},
    handshake::HandshakeSpec,
};

/// The built-in preset files, embedded. A unit test keeps this list and the directory
/// equal.
const BUILTIN: &[(&str, &str)] = &[
    ("aws-sns", include_str!("../presets/aws-sns.toml")),
    ("bitbucket", include_str!("../presets/bitbucket.toml")),
    ("calendly", include_str!("../presets/calendly.toml")),
    ("clerk", include_str!("../presets/clerk.toml")),
    ("coinbase", include_str!("../presets/coinbase.toml")),
    ("discord", include_str!("../presets/discord.toml")),
    ("dropbox", include_str!("../presets/dropbox.toml")),
    ("github", include_str!("../presets/github.toml")),
    ("gitlab", include_str!("../presets/gitlab.toml")),
    (
        "google-pubsub",
        include_str!("../presets/google-pubsub.toml"),
    ),
    ("groq", include_str!("../presets/groq.toml")),
    ("hubspot", include_str!("../presets/hubspot.toml")),
    ("intercom", include_str!("../presets/intercom.toml")),
    ("jira", include_str!("../presets/jira.toml")),
    ("linear", include_str!("../presets/linear.toml")),
    ("mailgun", include_str!("../presets/mailgun.toml")),
    ("meta", include_str!("../presets/meta.toml")),
    (
        "microsoft-graph",
        include_str!("../presets/microsoft-graph.toml"),
    ),
    ("okta", include_str!("../presets/okta.toml")),
    ("paddle", include_str!("../presets/paddle.toml")),
    ("pagerduty", include_str!("../presets/pagerduty.toml")),
    ("paypal", include_str!("../presets/paypal.toml")),
    ("postmark", include_str!("../presets/postmark.toml")),
    ("resend", include_str!("../presets/resend.toml")),
    ("sendgrid", include_str!("../presets/sendgrid.toml")),
    ("sentry", include_str!("../presets/sentry.toml")),
    ("shopify", include_str!("../presets/shopify.toml")),
    ("slack", include_str!("../presets/slack.toml")),
    ("square", include_str!("../presets/square.toml")),
    (
        "standard-webhooks",
        include_str!("../presets/standard-webhooks.toml"),
    ),
    ("stripe", include_str!("../presets/stripe.toml")),
    ("twilio", include_str!("../presets/twilio.toml")),
    ("twitch", include_str!("../presets/twitch.toml")),
    ("typeform", include_str!("../presets/typeform.toml")),
    ("vastai", include_str!("../presets/vastai.toml")),
    ("vercel", include_str!("../presets/vercel.toml")),
    ("x", include_str!("../presets/x.toml")),
    ("zoom", include_str!("../presets/zoom.toml")),
];

/// Keys of a preset file that are not scheme fields.
const BLOCKS: [&str; 4] = ["aliases", "docs", "handshake", "vectors"];

/// Scheme-table fields only an operator may set.
const OPERATOR_ONLY: &[&str] = &[
    "preset",
    "secrets",
    "secrets_env",
    "public_url",
    "verify_token_env",
    "rate_limit",
    "rate_burst",
    "key_fetch_insecure",
    "audience",
    "service_account_email",
    "webhook_id",
];

/// The `[docs]` block: what an operator needs to connect the provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetDocs {
    /// The provider's name as it writes it, e.g. `GitHub`.
    pub display_name: String,
    /// The provider's page on verifying its webhooks.
    pub docs_url: String,
    /// Dashboard steps, in order: where to paste the gateway URL, where the secret is.
    #[serde(default)]
    pub dashboard: Vec<String>,
    /// What each config variable holds, by field (`secrets_env`, `public_url`, ...).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Caveats (what is not signed, what the gateway cannot check).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One known-answer request of a preset file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// What the vector shows.
    pub name: String,
    /// Where it comes from: a published example (repository and path, or a docs page), or
    /// how it was computed independently.
    pub source: String,
    /// The key material the provider is configured with.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `public_url` of the provider, for URL-signing schemes.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Value of the `verify_token_env` variable, for `verify-token` handshakes.
    #[serde(default)]
    pub verify_token: Option<String>,
    /// Request method (default `POST`).
    #[serde(default = "post")]
    pub method: String,
    /// Raw query string, without `?`.
    #[serde(default)]
    pub query: String,
    /// Unix time (seconds) at which the request is checked.
    pub now: i64,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body, exactly.
    #[serde(default)]
    pub body: String,
    /// `accepted`, `handshake`, `method_not_allowed` or a rejection code
    /// (`invalid_signature`, ...).
    pub expect: String,
    /// Expected event ID when accepted.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Expected event type when accepted.
    #[serde(default)]
    pub event_type: Option<String>,
    /// Expected handshake status.
    #[serde(default)]
    pub reply_status: Option<u16>,
    /// Expected handshake body, exactly.
    #[serde(default)]
    pub reply_body: Option<String>,
}

fn post() -> String {
    "POST".into()
}

/// One preset: its scheme fields, docs, handshake and vectors.
#[derive(Debug, Clone)]
pub struct Preset {
    name: String,
    origin: String,
    aliases: Vec<String>,
    config: ProviderConfig,
    docs: PresetDocs,
    handshake: Option<HandshakeSpec>,
    vectors: Vec<Vector>,
}

impl Preset {
    /// Parse a preset file's text; `origin` names it in errors.
    pub fn parse(name: &str, origin: &str, text: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::invalid(origin, reason);
        let root: Value = Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| invalid(e.to_string()))?;
        let Value::Dict(_, mut dict) = root else {
            return Err(invalid("a preset file is a TOML table".into()));
        };
        let [aliases, docs, handshake, vectors] = BLOCKS.map(|key| dict.remove(key));
        if let Some(field) = OPERATOR_ONLY.iter().find(|f| dict.contains_key(**f)) {
            return Err(invalid(format!(
                "`{field}` belongs in the operator's [providers.<name>] table, not in a preset"
            )));
        }
        let config: ProviderConfig = Figment::from(Serialized::defaults(dict))
            .extract()
            .map_err(|e| invalid(e.to_string()))?;
        if config.scheme.is_none() {
            return Err(invalid("a preset must set `scheme`".into()));
        }
        let docs: PresetDocs = docs
            .ok_or_else(|| invalid("a preset needs a [docs] block".into()))?
            .deserialize()
            .map_err(|e| invalid(format!("[docs]: {e}")))?;
        let handshake = typed::<HandshakeSpec>(handshake, "[handshake]", &invalid)?;
        let vectors = typed::<Vec<Vector>>(vectors, "[[vectors]]", &invalid)?.unwrap_or_default();
        let aliases = typed::<Vec<String>>(aliases, "aliases", &invalid)?.unwrap_or_default();
        Ok(Self {
            name: name.to_owned(),
            origin: origin.to_owned(),
            aliases,
            config,
            docs,
            handshake,
            vectors,
        })
    }

    /// The preset's name (`preset = "<name>"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it was loaded from: `presets/<name>.toml` (built in) or a file path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Other names for it.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// Its scheme fields.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Its scheme.
    pub fn scheme(&self) -> SchemeKind {
        self.config.scheme.unwrap_or(SchemeKind::Hmac)
    }

    /// The header carrying the signature (the first, when several are accepted), or the
    /// token header of `token`/`basic`; `None` for schemes that sign inside the body.
    pub fn signature_header(&self) -> Option<String> {
        match self.scheme() {
            SchemeKind::Token => Some(
                self.config
                    .token_header
                    .clone()
                    .unwrap_or_else(|| "authorization".into()),
            ),
            SchemeKind::Basic | SchemeKind::GooglePubsub => Some("authorization".into()),
            SchemeKind::Paypal => Some("paypal-transmission-sig".into()),
            SchemeKind::Mailgun | SchemeKind::ClientState | SchemeKind::AwsSns => None,
            _ => self.config.signature_header.as_ref().map(|h| match h {
                OneOrMany::One(s) => s.clone(),
                OneOrMany::Many(v) => v.join(", "),
            }),
        }
    }

    /// Its handshake, if the provider has one.
    pub fn handshake(&self) -> Option<&HandshakeSpec> {
        self.handshake.as_ref()
    }

    /// Its docs block.
    pub fn docs(&self) -> &PresetDocs {
        &self.docs
    }

    /// Its known-answer vectors.
    pub fn vectors(&self) -> &[Vector] {
        &self.vectors
    }
}

/// One row of `hookgate presets` (and of the README's provider guide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetSummary {
    /// Preset name.
    pub name: String,
    /// Other names for it.
    pub aliases: Vec<String>,
    /// Scheme.
    pub scheme: SchemeKind,
    /// Signature (or token) header; `None` when the proof is inside the body.
    pub signature_header: Option<String>,
    /// Handshake kind (`challenge`, `verify-token`, ...), if any.
    pub handshake: Option<&'static str>,
    /// Whether the handshake arrives as a GET.
    pub handshake_get: bool,
    /// Whether the preset ships with known-answer vectors.
    pub has_vectors: bool,
    /// The docs block.
    pub docs: PresetDocs,
}

/// Every preset a config can name: the built-in ones, plus the operator's.
#[derive(Debug, Clone, Default)]
pub struct PresetCatalog {
    presets: BTreeMap<String, Arc<Preset>>,
    aliases: BTreeMap<String, String>,
}

impl PresetCatalog {
    /// The built-in presets, parsed once.
    pub fn builtin() -> Result<&'static PresetCatalog, ConfigError> {
        static BUILT: OnceLock<Result<PresetCatalog, (String, String)>> = OnceLock::new();
        BUILT
            .get_or_init(|| {
                let mut catalog = PresetCatalog::default();
                for (name, text) in BUILTIN {
                    let origin = format!("presets/{name}.toml");
                    let preset = Preset::parse(name, &origin, text)
                        .map_err(|e| (origin.clone(), e.to_string()))?;
                    catalog
                        .insert(preset)
                        .map_err(|e| (origin.clone(), e.to_string()))?;
                }
                Ok(catalog)
            })
            .as_ref()
            .map_err(|(origin, reason)| ConfigError::invalid(origin.clone(), reason.clone()))
    }

    /// The built-in presets plus every `*.toml` file in `dir` (the preset's name is the
    /// file's stem). A name or alias that clashes with a built-in preset is an error
    /// naming the file.
    pub fn with_dir(dir: &Path) -> Result<PresetCatalog, ConfigError> {
        let mut catalog = Self::builtin()?.clone();
        let key = |path: &Path| format!("presets_dir ({})", path.display());
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ConfigError::invalid(key(dir), format!("cannot read directory: {e}")))?;
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| valid_name(s))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        key(&path),
                        "preset file names may only contain a-z, 0-9, '-' and '_'",
                    )
                })?
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::invalid(key(&path), format!("cannot read: {e}")))?;
            let preset = Preset::parse(&name, &key(&path), &text)?;
            catalog
                .insert(preset)
                .map_err(|reason| ConfigError::invalid(key(&path), reason))?;
        }
        Ok(catalog)
    }

    fn insert(&mut self, preset: Preset) -> Result<(), String> {
        let names = std::iter::once(preset.name.clone()).chain(preset.aliases.iter().cloned());
        for name in names.clone() {
            if let Some(existing) = self.get(&name) {
                return Err(format!(
                    "preset name {name:?} clashes with the preset from {}",
                    existing.origin
                ));
            }
        }
        for alias in &preset.aliases {
            self.aliases.insert(alias.clone(), preset.name.clone());
        }
        self.presets.insert(preset.name.clone(), Arc::new(preset));
        Ok(())
    }

    /// The preset called `name` (or aliased so).
    pub fn get(&self, name: &str) -> Option<&Preset> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.presets.get(name).map(Arc::as_ref)
    }

    /// Every preset, by name (aliases not repeated).
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values().map(Arc::as_ref)
    }

    /// Every name a config may use, aliases included, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .presets
            .keys()
            .chain(self.aliases.keys())
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }

    /// The listing behind `hookgate presets` and the README's provider guide.
    pub fn list(&self) -> Vec<PresetSummary> {
        self.iter()
            .map(|p| PresetSummary {
                name: p.name.clone(),
                aliases: p.aliases.clone(),
                scheme: p.scheme(),
                signature_header: p.signature_header(),
                handshake: p.handshake().map(HandshakeSpec::kind),
                handshake_get: p.handshake().is_some_and(HandshakeSpec::answers_get),
                has_vectors: !p.vectors.is_empty(),
                docs: p.docs.clone(),
            })
            .collect()
    }
}

/// Deserialise an optional block of a preset file.
fn typed<T: serde::de::DeserializeOwned>(
    value: Option<Value>,
    what: &str,
    invalid: &impl Fn(String) -> ConfigError,
) -> Result<Option<T>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => match v.deserialize::<T>() {
            Ok(t) => Ok(Some(t)),
            Err(e) => Err(invalid(format!("{what}: {e}"))),
        },
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_presets_directory_is_embedded_and_vice_versa() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("presets dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN.iter().map(|(n, _)| format!("{n}.toml")).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        for (name, text) in BUILTIN {
            let file = std::fs::read_to_string(dir.join(format!("{name}.toml"))).expect("read");
            assert_eq!(&file, text, "{name}");
        }
    }

    #[test]
    fn every_builtin_preset_parses_with_docs() {
        let catalog = PresetCatalog::builtin().expect("built-in presets parse");
        assert_eq!(catalog.iter().count(), BUILTIN.len());
        for p in catalog.iter() {
            assert!(!p.docs().display_name.is_empty(), "{}", p.name());
            assert!(p.docs().docs_url.starts_with("https://"), "{}", p.name());
            assert!(!p.docs().dashboard.is_empty(), "{}", p.name());
        }
        assert_eq!(
            catalog.get("svix").map(Preset::name),
            Some("standard-webhooks")
        );
        assert!(catalog.get("paypal").is_some());
    }

    #[test]
    fn operator_only_fields_are_refused_in_a_preset() {
        let err = Preset::parse(
            "x",
            "presets/x.toml",
            "scheme = \"hmac\"\nsecrets = [\"s\"]\n[docs]\ndisplay_name = \"X\"\ndocs_url = \"https://x\"\n",
        )
        .expect_err("secrets refused");
        assert!(err.to_string().contains("secrets"), "{err}");
        let err = Preset::parse("x", "presets/x.toml", "scheme = \"hmac\"\nbogus = 1\n[docs]\ndisplay_name = \"X\"\ndocs_url = \"https://x\"\n")
            .expect_err("unknown field refused");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
