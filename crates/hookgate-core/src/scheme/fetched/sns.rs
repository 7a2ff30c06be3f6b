//! Amazon SNS HTTP(S) subscriptions: the signature is inside the JSON body (`Signature`,
//! `SignatureVersion` 1 = RSA-SHA1, 2 = RSA-SHA256) over `Key\nValue\n` lines of fixed
//! fields, with the certificate at `SigningCertURL`.
//!
//! - The string to sign is built from the JSON-decoded values, per message type
//!   (Notification: `Message`, `MessageId`, `Subject` if present and not null,
//!   `Timestamp`, `TopicArn`, `Type`; SubscriptionConfirmation and
//!   UnsubscribeConfirmation: `Message`, `MessageId`, `SubscribeURL`, `Timestamp`,
//!   `Token`, `TopicArn`, `Type`). A duplicated field makes the body unparsable, so no
//!   two readers can see different values.
//! - `SigningCertURL` must pass the host rule and have the path
//!   `/SimpleNotificationService-<alphanumerics>.pem` without a query string.
//! - Raw message delivery carries no signature at all: such a body is
//!   `missing_signature`.
//! - A SubscriptionConfirmation is verified, then its `SubscribeURL` (same host rule,
//!   path `/`, `Action=ConfirmSubscription`, the signed `TopicArn`) is handed to the
//!   server to GET; an UnsubscribeConfirmation is verified and reported. Neither is an
//!   event.
//! - The event type defaults to the topic name (the last `:` field of `TopicArn`), which
//!   is signed; `event_type` sources replace it.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;

use super::{KeyKind, KeyRef, Subscription, keyset::Hash, url::UrlRule};
use crate::{
    scheme::Request,
    verify::{Headers, Rejection},
};

/// The header SNS sets to the message type.
const TYPE_HEADER: &str = "x-amz-sns-message-type";
/// Longest signature accepted (RSA-8192).
const MAX_SIGNATURE: usize = 1024;

/// A configured SNS scheme.
#[derive(Debug, Clone)]
pub(crate) struct SnsScheme {
    pub(crate) urls: UrlRule,
}

/// The fields of an SNS message that are read; the others (`UnsubscribeURL`,
/// `MessageAttributes`, ...) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Message<'a> {
    #[serde(rename = "Type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topic_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    #[serde(rename = "SubscribeURL", borrow)]
    subscribe_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    signature_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(rename = "SigningCertURL", borrow)]
    signing_cert_url: Option<Cow<'a, str>>,
}

/// The three message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Message<'_> {
    fn kind(&self) -> Option<Kind> {
        match self.kind.as_deref()? {
            "Notification" => Some(Kind::Notification),
            "SubscriptionConfirmation" => Some(Kind::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(Kind::UnsubscribeConfirmation),
            _ => None,
        }
    }
}

/// Parse the body; a body that is not a signed SNS message is a missing signature.
pub(crate) fn parse(body: &[u8]) -> Result<Message<'_>, Rejection> {
    let message: Message<'_> =
        serde_json::from_slice(body).map_err(|_| Rejection::MissingSignature)?;
    if message.signature.is_none() {
        return Err(Rejection::MissingSignature);
    }
    Ok(message)
}

/// The exact bytes SNS signs for `message`.
pub(crate) fn string_to_sign(message: &Message<'_>) -> Result<String, Rejection> {
    let kind = message.kind().ok_or(Rejection::InvalidSignature)?;
    let fields: [(&str, Option<&str>); 7] = match kind {
        Kind::Notification => [
            ("Message", message.message.as_deref()),
            ("MessageId", message.message_id.as_deref()),
            ("Subject", message.subject.as_deref()),
            ("Timestamp", message.timestamp.as_deref()),
            ("TopicArn", message.topic_arn.as_deref()),
            ("Type", message.kind.as_deref()),
            ("", None),
        ],
        Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => [
            ("Message", message.message.as_deref()),
            ("MessageId", message.message_id.as_deref()),
            ("SubscribeURL", message.subscribe_url.as_deref()),
            ("Timestamp", message.timestamp.as_deref()),
            ("Token", message.token.as_deref()),
            ("TopicArn", message.topic_arn.as_deref()),
            ("Type", message.kind.as_deref()),
        ],
    };
    // Every field but Subject is required by SNS.
    let mut out = String::new();
    for (name, value) in fields {
        match value {
            Some(value) => {
                out.push_str(name);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
            None if name.is_empty() || name == "Subject" => {}
            None => return Err(Rejection::InvalidSignature),
        }
    }
    Ok(out)
}

impl SnsScheme {
    /// The certificate this request names, once its URL passed the rule.
    pub(crate) fn key_ref(&self, request: &Request<'_>) -> Result<KeyRef, Rejection> {
        let message = parse(request.body)?;
        self.check_message(&message, request.headers)?;
        let url = message
            .signing_cert_url
            .as_deref()
            .ok_or(Rejection::InvalidSignature)?;
        self.check_cert_url(url)?;
        Ok(KeyRef {
            url: url.to_owned(),
            kind: KeyKind::Certificate,
            kid: None,
        })
    }

    /// Verify the signature with the certificate's key.
    pub(crate) fn verify(&self, request: &Request<'_>) -> Result<(), Rejection> {
        let message = parse(request.body)?;
        self.check_message(&message, request.headers)?;
        let url = message
            .signing_cert_url
            .as_deref()
            .ok_or(Rejection::InvalidSignature)?;
        self.check_cert_url(url)?;
        let keys = request
            .keys
            .filter(|k| k.url() == url)
            .ok_or(Rejection::InvalidSignature)?;
        let hash = match message.signature_version.as_deref() {
            Some("1") => Hash::Sha1,
            Some("2") => Hash::Sha256,
            _ => return Err(Rejection::InvalidSignature),
        };
        let signature = message.signature.as_deref().unwrap_or_default();
        let mut buf = [0u8; MAX_SIGNATURE];
        let len = base64::engine::general_purpose::STANDARD
            .decode_slice(signature.as_bytes(), &mut buf)
            .map_err(|_| Rejection::InvalidSignature)?;
        let signed = string_to_sign(&message)?;
        if keys
            .set()
            .verify(None, hash, signed.as_bytes(), &buf[..len])
        {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }

    /// For a verified SubscriptionConfirmation or UnsubscribeConfirmation, what the
    /// server must do instead of storing it.
    pub(crate) fn subscription(&self, body: &[u8]) -> Result<Option<Subscription>, Rejection> {
        let message = parse(body)?;
        let topic_arn = message.topic_arn.as_deref().unwrap_or_default().to_owned();
        match message.kind() {
            Some(Kind::SubscriptionConfirmation) => {
                let url = message.subscribe_url.as_deref().unwrap_or_default();
                self.check_subscribe_url(url, &topic_arn)?;
                Ok(Some(Subscription::Confirm {
                    confirm_url: url.to_owned(),
                    topic_arn,
                }))
            }
            Some(Kind::UnsubscribeConfirmation) => {
                Ok(Some(Subscription::Unsubscribed { topic_arn }))
            }
            _ => Ok(None),
        }
    }

    /// `x-amz-sns-message-type`, when sent, must name the signed `Type`.
    fn check_message(&self, message: &Message<'_>, headers: &dyn Headers) -> Result<(), Rejection> {
        let kind = message.kind.as_deref().ok_or(Rejection::InvalidSignature)?;
        match headers.get(TYPE_HEADER) {
            Some(header) if header != kind.as_bytes() => Err(Rejection::InvalidSignature),
            _ => Ok(()),
        }
    }

    fn check_cert_url(&self, url: &str) -> Result<(), Rejection> {
        let parsed = self
            .urls
            .check(url)
            .map_err(|_| Rejection::InvalidSignature)?;
        let name = parsed
            .path
            .strip_prefix("/SimpleNotificationService-")
            .and_then(|rest| rest.strip_suffix(".pem"));
        match (name, parsed.query) {
            (Some(name), None)
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Ok(())
            }
            _ => Err(Rejection::InvalidSignature),
        }
    }

    /// The confirmation URL: an allowlisted host, path `/`, and a query asking to confirm
    /// the very topic that was signed.
    fn check_subscribe_url(&self, url: &str, topic_arn: &str) -> Result<(), Rejection> {
        let parsed = self
            .urls
            .check(url)
            .map_err(|_| Rejection::InvalidSignature)?;
        let query = parsed.query.ok_or(Rejection::InvalidSignature)?;
        let (mut action, mut topic) = (None, None);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "Action" if action.is_none() => action = Some(v),
                "TopicArn" if topic.is_none() => topic = Some(v),
                "Action" | "TopicArn" => return Err(Rejection::InvalidSignature),
                _ => {}
            }
        }
        if parsed.path == "/"
            && action.as_deref() == Some("ConfirmSubscription")
            && topic.as_deref() == Some(topic_arn)
        {
            Ok(())
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}

/// The topic name of a verified message: the last `:` field of its `TopicArn`.
pub(crate) fn topic_name(body: &[u8]) -> Option<String> {
    let message = parse(body).ok()?;
    let arn = message.topic_arn?;
    let name = arn.rsplit(':').next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: &str) -> Message<'_> {
        parse(json.as_bytes()).expect("parses")
    }

    #[test]
    fn the_aws_documentation_example_string_to_sign() {
        let m = message(
            r#"{"Type":"Notification","MessageId":"4d4dc071-ddbf-465d-bba8-08f81c89da64",
            "Subject":"My subject","Message":"My Test Message","Timestamp":"2012-06-05T04:37:04.321Z",
            "TopicArn":"arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
            "Signature":"x","SignatureVersion":"1","UnsubscribeURL":"https://x","MessageAttributes":{}}"#,
        );
        assert_eq!(
            string_to_sign(&m).expect("sts"),
            "Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n\
             Subject\nMy subject\nTimestamp\n2012-06-05T04:37:04.321Z\n\
             TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn subject_absent_or_null_is_skipped_but_empty_is_signed() {
        let base = r#""Type":"Notification","MessageId":"m","Message":"hi","Timestamp":"t","TopicArn":"a","Signature":"x""#;
        let absent = string_to_sign(&message(&format!("{{{base}}}"))).expect("sts");
        let null = string_to_sign(&message(&format!("{{{base},\"Subject\":null}}"))).expect("sts");
        let empty = string_to_sign(&message(&format!("{{{base},\"Subject\":\"\"}}"))).expect("sts");
        assert_eq!(
            absent,
            "Message\nhi\nMessageId\nm\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
        );
        assert_eq!(null, absent);
        assert!(empty.contains("Subject\n\nTimestamp"));
    }

    #[test]
    fn confirmations_sign_subscribe_url_and_token_in_byte_order() {
        for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
            let json = format!(
                r#"{{"Type":"{kind}","MessageId":"m","Token":"tok","TopicArn":"a","Message":"line1\nline2 \u00e9",
                "SubscribeURL":"https://s/?Action=ConfirmSubscription","Timestamp":"t","Signature":"x"}}"#
            );
            let m = message(&json);
            assert_eq!(
                string_to_sign(&m).expect("sts"),
                format!(
                    "Message\nline1\nline2 é\nMessageId\nm\nSubscribeURL\nhttps://s/?Action=ConfirmSubscription\n\
                     Timestamp\nt\nToken\ntok\nTopicArn\na\nType\n{kind}\n"
                )
            );
            // Token is required for these types.
            let json = format!(
                r#"{{"Type":"{kind}","MessageId":"m","TopicArn":"a","Message":"x","SubscribeURL":"u","Timestamp":"t","Signature":"x"}}"#
            );
            let m = message(&json);
            assert_eq!(string_to_sign(&m), Err(Rejection::InvalidSignature));
        }
    }

    #[test]
    fn unsigned_unknown_and_ambiguous_bodies() {
        // Raw message delivery: no signature fields at all.
        assert_eq!(
            parse(b"hello").map(|_| ()),
            Err(Rejection::MissingSignature)
        );
        assert_eq!(
            parse(br#"{"a":1}"#).map(|_| ()),
            Err(Rejection::MissingSignature)
        );
        // A duplicated signed field cannot be read two ways.
        assert!(parse(br#"{"Signature":"x","Message":"a","Message":"b"}"#).is_err());
        let m = message(r#"{"Type":"Other","Signature":"x"}"#);
        assert_eq!(string_to_sign(&m), Err(Rejection::InvalidSignature));
    }

    fn scheme() -> SnsScheme {
        SnsScheme {
            urls: UrlRule::new(&["sns.{region}.amazonaws.com".into()], false).expect("rule"),
        }
    }

    #[test]
    fn certificate_paths_are_pinned() {
        let s = scheme();
        assert!(s
            .check_cert_url("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem")
            .is_ok());
        for bad in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/x?.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
            "https://sns.us-east-1.amazonaws.com/other/SimpleNotificationService-1.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem.txt",
            "https://sns.s3-eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        ] {
            assert_eq!(
                s.check_cert_url(bad),
                Err(Rejection::InvalidSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn subscribe_urls_must_confirm_the_signed_topic() {
        let s = scheme();
        let arn = "arn:aws:sns:us-west-2:123456789012:MyTopic";
        let ok = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336";
        assert!(s.check_subscribe_url(ok, arn).is_ok());
        for bad in [
            "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic",
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:Other",
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic",
            "https://sns.us-west-2.amazonaws.com/x?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic",
            "https://evil.example/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic",
            "https://sns.us-west-2.amazonaws.com/",
        ] {
            assert_eq!(
                s.check_subscribe_url(bad, arn),
                Err(Rejection::InvalidSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_topic_name_is_the_last_arn_field() {
        let body = br#"{"Signature":"x","TopicArn":"arn:aws:sns:us-east-2:1:orders.fifo"}"#;
        assert_eq!(topic_name(body).as_deref(), Some("orders.fifo"));
        assert_eq!(topic_name(br#"{"Signature":"x"}"#), None);
    }
}
