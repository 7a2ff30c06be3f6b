//! Google Cloud Pub/Sub push with authentication: `Authorization: Bearer <OIDC JWT>`,
//! RS256, keys from Google's JWKS (`jwks_url`).
//!
//! Checked, in order: the header carries a compact JWT whose header is `alg: RS256` with
//! a `kid`; the signature over `header.payload` with that key; `iss` is
//! `https://accounts.google.com` or `accounts.google.com` (Google issues both); `aud`
//! equals the configured `audience` exactly; `exp` (and `iat`, when present) within
//! [`LEEWAY_SECS`]; and, when `service_account_email` is configured, `email` equals it and
//! `email_verified` is true.
//!
//! The token authenticates the sender, not the body: Pub/Sub does not sign the message,
//! so body integrity rests on TLS. `alg: none`, HS256 and every other algorithm are
//! refused before any key is looked up.

use base64::Engine;
use serde::Deserialize;

use super::{KeyKind, KeyRef, keyset::Hash};
use crate::{scheme::Request, verify::Rejection};

/// Accepted clock difference for `exp` and `iat`.
pub(crate) const LEEWAY_SECS: i64 = 60;
/// Longest `Authorization` header considered (Google's tokens are about 1 KiB).
const MAX_TOKEN: usize = 8 * 1024;
/// The issuers Google's ID tokens carry.
const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// A configured Pub/Sub push scheme.
#[derive(Debug, Clone)]
pub(crate) struct PubsubScheme {
    pub(crate) jwks_url: String,
    pub(crate) audience: String,
    pub(crate) email: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: Audience,
    exp: i64,
    iat: Option<i64>,
    email: Option<String>,
    email_verified: Option<bool>,
}

/// The three parts of a compact JWT, still encoded.
struct Token<'a> {
    signing_input: &'a str,
    header: Header,
    payload: &'a str,
    signature: &'a str,
}

fn b64(text: &str) -> Result<Vec<u8>, Rejection> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Rejection::InvalidSignature)
}

fn token<'a>(request: &Request<'a>) -> Result<Token<'a>, Rejection> {
    let value = request
        .headers
        .get("authorization")
        .ok_or(Rejection::MissingSignature)?;
    if value.len() > MAX_TOKEN {
        return Err(Rejection::InvalidSignature);
    }
    let value = std::str::from_utf8(value).map_err(|_| Rejection::InvalidSignature)?;
    let jwt = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(Rejection::InvalidSignature)?;
    let (signing_input, signature) = jwt.rsplit_once('.').ok_or(Rejection::InvalidSignature)?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(Rejection::InvalidSignature)?;
    let header: Header =
        serde_json::from_slice(&b64(header)?).map_err(|_| Rejection::InvalidSignature)?;
    if header.alg != "RS256" || header.kid.is_none() {
        return Err(Rejection::InvalidSignature);
    }
    Ok(Token {
        signing_input,
        header,
        payload,
        signature,
    })
}

impl PubsubScheme {
    /// The JWKS and the key ID this request's token names.
    pub(crate) fn key_ref(&self, request: &Request<'_>) -> Result<KeyRef, Rejection> {
        let token = token(request)?;
        Ok(KeyRef {
            url: self.jwks_url.clone(),
            kind: KeyKind::Jwks,
            kid: token.header.kid,
        })
    }

    /// Verify the token's signature, then its claims.
    pub(crate) fn verify(&self, request: &Request<'_>, now: i64) -> Result<(), Rejection> {
        let token = token(request)?;
        let keys = request
            .keys
            .filter(|k| k.url() == self.jwks_url)
            .ok_or(Rejection::InvalidSignature)?;
        let kid = token.header.kid.as_deref();
        let signature = b64(token.signature)?;
        if !keys.set().verify(
            kid,
            Hash::Sha256,
            token.signing_input.as_bytes(),
            &signature,
        ) {
            return Err(Rejection::InvalidSignature);
        }
        let claims: Claims = serde_json::from_slice(&b64(token.payload)?)
            .map_err(|_| Rejection::InvalidSignature)?;
        self.check_claims(&claims, now)
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), Rejection> {
        if !ISSUERS.contains(&claims.iss.as_str()) {
            return Err(Rejection::InvalidSignature);
        }
        let audience_ok = match &claims.aud {
            Audience::One(aud) => *aud == self.audience,
            Audience::Many(auds) => auds.contains(&self.audience),
        };
        if !audience_ok {
            return Err(Rejection::InvalidSignature);
        }
        if now > claims.exp.saturating_add(LEEWAY_SECS)
            || claims
                .iat
                .is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECS))
        {
            return Err(Rejection::TimestampOutOfTolerance);
        }
        if let Some(expected) = &self.email
            && (claims.email.as_deref() != Some(expected.as_str())
                || claims.email_verified != Some(true))
        {
            return Err(Rejection::InvalidSignature);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(email: Option<&str>) -> PubsubScheme {
        PubsubScheme {
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            audience: "https://hooks.example.com/webhooks/pubsub".into(),
            email: email.map(str::to_owned),
        }
    }

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).expect("claims")
    }

    #[test]
    fn claims_rules() {
        let s = scheme(Some("push@p.iam.gserviceaccount.com"));
        let ok = r#"{"iss":"https://accounts.google.com","aud":"https://hooks.example.com/webhooks/pubsub",
            "exp":2000,"iat":1000,"email":"push@p.iam.gserviceaccount.com","email_verified":true}"#;
        assert_eq!(s.check_claims(&claims(ok), 1500), Ok(()));
        let legacy_iss = ok.replace("https://accounts.google.com", "accounts.google.com");
        assert_eq!(s.check_claims(&claims(&legacy_iss), 1500), Ok(()));
        for (name, bad) in [
            (
                "issuer",
                ok.replace("https://accounts.google.com", "https://evil.example"),
            ),
            (
                "audience",
                ok.replace("/webhooks/pubsub", "/webhooks/other"),
            ),
            ("email", ok.replace("push@", "other@")),
            (
                "unverified",
                ok.replace("\"email_verified\":true", "\"email_verified\":false"),
            ),
            (
                "no verified flag",
                ok.replace(",\"email_verified\":true", ""),
            ),
        ] {
            assert_eq!(
                s.check_claims(&claims(&bad), 1500),
                Err(Rejection::InvalidSignature),
                "{name}"
            );
        }
        assert_eq!(s.check_claims(&claims(ok), 2000 + LEEWAY_SECS), Ok(()));
        assert_eq!(
            s.check_claims(&claims(ok), 2001 + LEEWAY_SECS),
            Err(Rejection::TimestampOutOfTolerance)
        );
        assert_eq!(
            s.check_claims(&claims(ok), 1000 - LEEWAY_SECS - 1),
            Err(Rejection::TimestampOutOfTolerance)
        );
        // Without a configured service account, any verified Google token for the
        // audience passes.
        let any = scheme(None);
        assert_eq!(
            any.check_claims(&claims(&ok.replace("push@", "other@")), 1500),
            Ok(())
        );
    }

    #[test]
    fn only_rs256_bearer_tokens_with_a_kid() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let run = |auth: Option<String>| {
            let headers: Vec<(String, String)> = auth
                .map(|a| ("authorization".into(), a))
                .into_iter()
                .collect();
            let request = Request {
                headers: &headers,
                body: b"",
                method: "POST",
                query: "",
                keys: None,
            };
            token(&request).map(|t| t.header.kid)
        };
        let jwt = |header: &str| format!("Bearer {}.{}.c2ln", enc(header), enc("{}"));
        assert_eq!(
            run(Some(jwt(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#))),
            Ok(Some("k1".into()))
        );
        assert_eq!(run(None), Err(Rejection::MissingSignature));
        for bad in [
            jwt(r#"{"alg":"none","kid":"k1"}"#),
            jwt(r#"{"alg":"HS256","kid":"k1"}"#),
            jwt(r#"{"alg":"RS256"}"#),
            "Basic dXNlcjpwdw==".into(),
            "Bearer".into(),
            "Bearer a.b".into(),
            format!("Bearer {}", "a".repeat(MAX_TOKEN)),
        ] {
            assert_eq!(
                run(Some(bad.clone())),
                Err(Rejection::InvalidSignature),
                "{bad}"
            );
        }
    }
}
