//! Verification with keys the gateway fetches (SPEC §3.5): `aws-sns` (a certificate
//! named in the body), `google-pubsub` (an OIDC JWT checked against a JWKS) and `paypal`
//! (a certificate named in a header).
//!
//! The core stays free of IO: verification is two pure steps around one fetch that the
//! server makes.
//!
//! 1. [`crate::Provider::key_ref`] reads the unverified request and names the key it
//!    needs ([`KeyRef`]: a URL, what it serves, a key ID), after the URL passed the
//!    provider's `key_hosts` rule ([`UrlError`] explains the rule; a URL outside it is
//!    `invalid_signature` and is never returned, so never fetched).
//! 2. The server fetches the URL (or takes it from its cache) and parses the bytes with
//!    [`KeySet::parse`].
//! 3. [`crate::Unverified::with_keys`] hands the keys ([`FetchedKeys`]: the URL and its
//!    [`KeySet`]) to [`crate::Provider::receive`], which verifies with them. Keys fetched
//!    for another URL never verify anything.
//!
//! An SNS subscription message, once verified, is not an event but a
//! [`Subscription`]: the server confirms it with a GET of the (already checked)
//! `SubscribeURL`, or logs the unsubscription.
//!
//! - `url`: the URL rule and `key_hosts` patterns;
//! - `keyset`: certificates and JWKS into RSA keys, RSA PKCS#1 v1.5 with `ring`;
//! - `sns`, `pubsub`, `paypal`: one verifier each.

mod keyset;
mod paypal;
mod pubsub;
mod sns;
mod url;

use std::sync::Arc;

pub use keyset::{KeyError, KeyKind, KeySet};
pub use url::UrlError;

use crate::{
    config::{ConfigError, ProviderConfig, SchemeKind},
    handshake::HandshakeReply,
    scheme::Request,
    verify::Rejection,
};

/// The key a request needs: fetch `url` (it passed the provider's `key_hosts` rule),
/// which serves `kind`; for a JWKS, the token names key `kid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    pub(crate) url: String,
    pub(crate) kind: KeyKind,
    pub(crate) kid: Option<String>,
}

impl KeyRef {
    /// The URL to fetch (and the cache key).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the URL serves.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key ID the request's token names (JWKS only).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `set` holds the key this request needs: for a JWKS, the key `kid`; a
    /// certificate always holds its one key. A JWKS without the `kid` may have rotated.
    pub fn found_in(&self, set: &KeySet) -> bool {
        match &self.kid {
            Some(kid) => set.has_kid(kid),
            None => !set.is_empty(),
        }
    }
}

/// Keys the server fetched for a [`KeyRef`]: the URL they came from and what it served.
#[derive(Debug, Clone)]
pub struct FetchedKeys {
    url: String,
    set: Arc<KeySet>,
}

impl FetchedKeys {
    /// `set` as served by `url`.
    pub fn new(url: impl Into<String>, set: Arc<KeySet>) -> Self {
        Self {
            url: url.into(),
            set,
        }
    }

    /// Where they came from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The keys.
    pub fn set(&self) -> &KeySet {
        &self.set
    }
}

/// A verified SNS subscription message: neither stored nor published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subscription {
    /// A SubscriptionConfirmation: GET `confirm_url` (already checked against
    /// `key_hosts`, `Action=ConfirmSubscription`, the signed topic) to confirm, then
    /// answer [`Subscription::reply`].
    Confirm {
        /// The `SubscribeURL`.
        confirm_url: String,
        /// The topic subscribed to.
        topic_arn: String,
    },
    /// An UnsubscribeConfirmation: log it and answer [`Subscription::reply`]. Its
    /// `SubscribeURL` (which would subscribe again) is not fetched.
    Unsubscribed {
        /// The topic unsubscribed from.
        topic_arn: String,
    },
}

impl Subscription {
    /// The topic ARN.
    pub fn topic_arn(&self) -> &str {
        match self {
            Subscription::Confirm { topic_arn, .. } | Subscription::Unsubscribed { topic_arn } => {
                topic_arn
            }
        }
    }

    /// The answer once handled: 200 `{"status": "subscribed" | "unsubscribed"}`.
    pub fn reply(&self) -> HandshakeReply {
        let status = match self {
            Subscription::Confirm { .. } => "subscribed",
            Subscription::Unsubscribed { .. } => "unsubscribed",
        };
        HandshakeReply {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec(&serde_json::json!({ "status": status })).unwrap_or_default(),
        }
    }
}

/// A configured fetched-key scheme.
#[derive(Debug, Clone)]
pub(crate) enum FetchedScheme {
    Sns(sns::SnsScheme),
    Pubsub(pubsub::PubsubScheme),
    Paypal(paypal::PaypalScheme),
}

impl FetchedScheme {
    /// Step 1: the key the request needs.
    pub(crate) fn key_ref(&self, request: &Request<'_>) -> Result<KeyRef, Rejection> {
        match self {
            FetchedScheme::Sns(s) => s.key_ref(request),
            FetchedScheme::Pubsub(s) => s.key_ref(request),
            FetchedScheme::Paypal(s) => s.key_ref(request),
        }
    }

    /// Step 3: verify with the keys in `request.keys` (none: `invalid_signature`).
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        match self {
            FetchedScheme::Sns(s) => s.verify(request),
            FetchedScheme::Pubsub(s) => s.verify(request, now),
            FetchedScheme::Paypal(s) => s.verify(request),
        }
    }

    /// After verification: an SNS subscription message, if it is one.
    pub(crate) fn subscription(&self, body: &[u8]) -> Result<Option<Subscription>, Rejection> {
        match self {
            FetchedScheme::Sns(s) => s.subscription(body),
            FetchedScheme::Pubsub(_) | FetchedScheme::Paypal(_) => Ok(None),
        }
    }

    /// The event type when no `event_type` source is configured (SNS: the topic name).
    pub(crate) fn implied_event_type(&self, body: &[u8]) -> Option<String> {
        match self {
            FetchedScheme::Sns(_) => sns::topic_name(body),
            FetchedScheme::Pubsub(_) | FetchedScheme::Paypal(_) => None,
        }
    }
}

/// The fields only these schemes read, for the "set on another scheme" check.
pub(crate) const FIELDS: [&str; 6] = [
    "key_hosts",
    "key_fetch_insecure",
    "audience",
    "service_account_email",
    "jwks_url",
    "webhook_id",
];

/// Which of [`FIELDS`] `cfg` sets.
pub(crate) fn fields_set(cfg: &ProviderConfig) -> impl Iterator<Item = &'static str> {
    let set = [
        cfg.key_hosts.is_some(),
        cfg.key_fetch_insecure.is_some(),
        cfg.audience.is_some(),
        cfg.service_account_email.is_some(),
        cfg.jwks_url.is_some(),
        cfg.webhook_id.is_some(),
    ];
    FIELDS
        .into_iter()
        .zip(set)
        .filter(|(_, s)| *s)
        .map(|(f, _)| f)
}

/// Build the scheme of `kind` from a provider table (preset already applied).
pub(crate) fn resolve(
    kind: SchemeKind,
    cfg: &ProviderConfig,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<FetchedScheme, ConfigError> {
    let insecure = cfg.key_fetch_insecure.unwrap_or(false);
    let hosts = cfg.key_hosts.as_deref().unwrap_or_default();
    let urls = url::UrlRule::new(hosts, insecure).map_err(|r| invalid("key_hosts", r))?;
    let required = |field: &str, value: &Option<String>, what: &str| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(field, format!("required: {what}")))
    };
    Ok(match kind {
        SchemeKind::AwsSns => FetchedScheme::Sns(sns::SnsScheme { urls }),
        SchemeKind::GooglePubsub => {
            let jwks_url = required(
                "jwks_url",
                &cfg.jwks_url,
                "the JWKS URL of the token issuer",
            )?;
            urls.check(&jwks_url)
                .map_err(|e| invalid("jwks_url", format!("{e} ({jwks_url})")))?;
            FetchedScheme::Pubsub(pubsub::PubsubScheme {
                jwks_url,
                audience: required(
                    "audience",
                    &cfg.audience,
                    "the audience set on the push subscription (its push endpoint URL when none was set)",
                )?,
                email: cfg
                    .service_account_email
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned),
            })
        }
        SchemeKind::Paypal => FetchedScheme::Paypal(paypal::PaypalScheme {
            urls,
            webhook_id: required(
                "webhook_id",
                &cfg.webhook_id,
                "the webhook ID PayPal shows for this endpoint",
            )?,
        }),
        _ => return Err(invalid("scheme", "not a fetched-key scheme".into())),
    })
}
