//! The `client-state` scheme (Microsoft Graph change notifications): there is no
//! signature per request; every notification in the body's `value[]` carries the
//! `clientState` given when the subscription was created, and each must equal a
//! configured secret (constant-time). Like `mailgun`, it reads the JSON body first,
//! because that is where the proof is.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Request, SecretToken};
use crate::verify::Rejection;

/// Most notifications checked in one request (Graph batches up to 1000 per request).
const MAX_NOTIFICATIONS: usize = 10_000;

/// A configured client-state scheme.
#[derive(Clone)]
pub(crate) struct ClientStateScheme {
    pub(crate) keys: Vec<SecretToken>,
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    value: Option<Vec<Notification<'a>>>,
}

#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(rename = "clientState", borrow)]
    client_state: Option<Cow<'a, str>>,
}

impl ClientStateScheme {
    pub(crate) fn verify(&self, request: &Request<'_>) -> Result<(), Rejection> {
        let batch: Batch<'_> =
            serde_json::from_slice(request.body).map_err(|_| Rejection::MissingSignature)?;
        let notifications = batch.value.ok_or(Rejection::MissingSignature)?;
        if notifications.is_empty() || notifications.len() > MAX_NOTIFICATIONS {
            return Err(Rejection::InvalidSignature);
        }
        let mut all = true;
        for n in &notifications {
            let state = n.client_state.as_deref().map(str::as_bytes);
            all &=
                state.is_some_and(|s| self.keys.iter().fold(false, |ok, key| ok | key.matches(s)));
        }
        if all {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}
