//! A provider resolved from its config table (preset, overrides, key material) and the
//! [`ProviderRegistry`] the server looks providers up in by path segment.
//!
//! [`Provider::receive`] is the one entry point for a request: it answers the provider's
//! handshakes (GET or POST, before or after verification as the provider requires) and
//! otherwise verifies the request into an event.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use crate::{
    catalog::PresetCatalog,
    config::{ConfigError, ProviderConfig, SchemeKind},
    extract::{self, Body, Source},
    handshake::{Handshake, HandshakeReply},
    resolve::resolve,
    scheme::{
        Scheme,
        fetched::{KeyRef, Subscription},
    },
    verify::{Headers, Rejection, Unverified, Verified},
};

/// Default `max_body` when neither the config nor the preset sets one.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// Default replay window when a timestamp is signed and no tolerance is set.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// One configured provider, ready to verify requests. `Debug` never shows key material.
#[derive(Clone)]
pub struct Provider {
    pub(crate) name: Arc<str>,
    pub(crate) kind: SchemeKind,
    pub(crate) scheme: Scheme,
    pub(crate) event_id: Vec<Source>,
    pub(crate) event_type: Vec<Source>,
    pub(crate) max_body: usize,
    pub(crate) rate_limit: Option<(f64, u32)>,
    pub(crate) handshake: Option<Handshake>,
    pub(crate) handshake_kind: Option<&'static str>,
    pub(crate) inline_secrets: bool,
}

/// What a request to a provider's endpoint turned out to be. Exhaustive on purpose: the
/// server must decide what each new kind of request gets.
#[derive(Debug)]
pub enum Received<B> {
    /// A verified event: store and publish it.
    Event(Verified<B>),
    /// The provider's endpoint-verification handshake: render the reply, store nothing,
    /// count it as `outcome="handshake"`.
    Handshake(HandshakeReply),
    /// A GET (or HEAD) that is not this provider's handshake: answer 405.
    MethodNotAllowed,
    /// A verified SNS subscription message: confirm it (a GET of its already checked
    /// `SubscribeURL`) or log it, then answer [`Subscription::reply`]; store nothing,
    /// count it as `outcome="handshake"`.
    Subscription(Subscription),
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("scheme", &self.kind)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.scheme.key_count()),
            )
            .field("handshake", &self.handshake_kind)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider's name (its path segment).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Its signature scheme.
    pub fn scheme(&self) -> SchemeKind {
        self.kind
    }

    /// Largest accepted body in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The rate limit as (requests per second, burst), when one is configured.
    pub fn rate_limit(&self) -> Option<(f64, u32)> {
        self.rate_limit
    }

    /// Whether any secret came from the config file rather than the environment.
    pub fn has_inline_secrets(&self) -> bool {
        self.inline_secrets
    }

    /// The handshake kind of its preset (`challenge`, `verify-token`, ...), if any.
    pub fn handshake_kind(&self) -> Option<&'static str> {
        self.handshake_kind
    }

    /// Whether `GET /webhooks/{name}` is this provider's handshake; for every other
    /// provider the server answers GET with 405.
    pub fn answers_get(&self) -> bool {
        self.handshake.as_ref().is_some_and(Handshake::answers_get)
    }

    /// Handle one request: answer a handshake, or verify it into an event.
    ///
    /// - GET/HEAD: the provider's GET handshake, or [`Received::MethodNotAllowed`].
    /// - Otherwise: an unsigned POST handshake (Graph's `validationToken`) is answered
    ///   first; then the request is verified ([`Provider::verify`]); a verified request
    ///   that is the provider's signed handshake (Slack, Zoom, Twitch, Discord) is
    ///   answered instead of being returned as an event.
    pub fn receive<B: AsRef<[u8]>>(
        &self,
        request: Unverified<'_, B>,
        now: i64,
    ) -> Result<Received<B>, Rejection> {
        let is_get = request.method.eq_ignore_ascii_case("GET")
            || request.method.eq_ignore_ascii_case("HEAD");
        if let Some(h) = &self.handshake {
            let parts = request.parts();
            let mac = self.scheme.first_mac_key();
            if let Some(reply) = h.unsigned(&parts, mac, || self.scheme.verify(&parts, now))? {
                return Ok(Received::Handshake(reply));
            }
        }
        if is_get {
            return Ok(Received::MethodNotAllowed);
        }
        let headers = request.headers;
        let verified = self.verify(request, now)?;
        if let Some(fetched) = self.scheme.fetched()
            && let Some(subscription) = fetched.subscription(verified.body().as_ref())?
        {
            return Ok(Received::Subscription(subscription));
        }
        if let Some(h) = &self.handshake
            && let Some(reply) = h.signed(
                headers,
                verified.event_type(),
                verified.body().as_ref(),
                self.scheme.first_mac_key(),
            )
        {
            return Ok(Received::Handshake(reply));
        }
        Ok(Received::Event(verified))
    }

    /// For a verified request that is the provider's JSON `challenge` handshake (Slack's
    /// `url_verification`), the challenge to answer with. Kept from the first release;
    /// [`Provider::receive`] answers every handshake kind.
    ///
    /// The event type `verify` extracted is checked first, so ordinary events cost no
    /// extra pass over the body.
    pub fn handshake_reply<B: AsRef<[u8]>>(&self, verified: &Verified<B>) -> Option<String> {
        self.handshake
            .as_ref()?
            .json_challenge(verified.event_type(), verified.body().as_ref())
    }

    /// Verify the signature over the exact bytes, then (and only then) extract the event
    /// ID and type. `now` is the current unix time in seconds.
    pub fn verify<B: AsRef<[u8]>>(
        &self,
        request: Unverified<'_, B>,
        now: i64,
    ) -> Result<Verified<B>, Rejection> {
        self.scheme.verify(&request.parts(), now)?;
        let headers = request.headers;
        let body = Body::new(request.body.as_ref());
        let event_id = extract::event_id(&self.event_id, headers, &body)
            .map_err(|_| Rejection::MalformedPayload)?;
        let implied = match self.scheme.fetched() {
            Some(f) if self.event_type.is_empty() => f.implied_event_type(request.body.as_ref()),
            _ => None,
        };
        let event_type = match implied {
            Some(t) => t,
            None => extract::event_type(&self.event_type, headers, &body)
                .map_err(|_| Rejection::MalformedPayload)?,
        };
        Ok(Verified {
            provider: self.name.clone(),
            event_id,
            event_type,
            body: request.body,
        })
    }

    /// For a provider that verifies with fetched keys (`aws-sns`, `google-pubsub`,
    /// `paypal`): the key this request needs, once its URL passed the provider's
    /// `key_hosts` rule. Fetch it, then pass it with [`Unverified::with_keys`] to
    /// [`Provider::receive`]. A URL outside the rule, or a request that names no key, is
    /// a rejection: nothing is to be fetched. `None` for every other provider.
    pub fn key_ref<B: AsRef<[u8]>>(
        &self,
        request: &Unverified<'_, B>,
    ) -> Result<Option<KeyRef>, Rejection> {
        match self.scheme.fetched() {
            Some(f) => f.key_ref(&request.parts()).map(Some),
            None => Ok(None),
        }
    }

    /// Only the signature check of [`Provider::verify`] (no extraction) for a `POST`
    /// without a query string; for benchmarks and diagnostics.
    pub fn check_signature(
        &self,
        headers: &dyn Headers,
        body: &[u8],
        now: i64,
    ) -> Result<(), Rejection> {
        self.check(&Unverified::new(headers, body), now)
    }

    /// Only the signature check of [`Provider::verify`], for a request with its method
    /// and query string.
    pub fn check<B: AsRef<[u8]>>(
        &self,
        request: &Unverified<'_, B>,
        now: i64,
    ) -> Result<(), Rejection> {
        self.scheme.verify(&request.parts(), now)
    }
}

/// All configured providers, by name.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<Provider>>,
}

impl ProviderRegistry {
    /// The provider serving `POST /webhooks/{name}`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.get(name)
    }

    /// Every provider, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    /// Every provider's name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|p| p.name().to_string()).collect()
    }

    /// Resolve every `[providers.<name>]` table against the built-in presets; `env`
    /// looks up secret variables.
    pub fn from_config(
        tables: &BTreeMap<String, ProviderConfig>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::from_config_with(tables, PresetCatalog::builtin()?, env)
    }

    /// Resolve every `[providers.<name>]` table against `catalog` (built-in presets plus
    /// an operator's `presets_dir`).
    pub fn from_config_with(
        tables: &BTreeMap<String, ProviderConfig>,
        catalog: &PresetCatalog,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut providers = BTreeMap::new();
        for (name, table) in tables {
            let provider = resolve(name, table, catalog, &env)?;
            providers.insert(name.clone(), Arc::new(provider));
        }
        Ok(Self { providers })
    }
}
