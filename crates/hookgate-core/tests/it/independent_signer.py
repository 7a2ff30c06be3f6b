"""An independent signer for every preset, written from each provider's documentation with
Python's hmac/hashlib/base64 and the `cryptography` package (OpenSSL), not from hookgate.

Input (stdin): a JSON list of cases {"case", "now", "id", "url"}. Output (stdout): a JSON
list of {"case", "preset", "key", "other_key", "public_url", "method", "query", "headers",
"body", "tamper_headers", "body_signed", "url_signed", "method_signed"}.
"""

import base64
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def mac(key, msg, alg=hashlib.sha256):
    return hmac.new(key.encode() if isinstance(key, str) else key, msg, alg).digest()


def b64(data):
    return base64.b64encode(data).decode()


def ed_key(seed_byte):
    return ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)


def ed_public_raw(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ec_key(n):
    return ec.derive_private_key(n, ec.SECP256R1())


def ec_public_b64(key):
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64(der)


def body_json(**fields):
    fields.setdefault("data", {"note": "independent signer", "emoji": "\u00e9\u2713"})
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def simple_hmac(header, prefix, enc, alg=hashlib.sha256):
    """Presets that sign the body alone."""

    def sign(c, secret, body):
        digest = mac(secret, body.encode(), alg)
        value = digest.hex() if enc == "hex" else b64(digest)
        return {header: prefix + value}, [header]

    return sign


def run(case):
    name, now, eid, url = case["case"], case["now"], case["id"], case["url"]
    ts = str(now)
    out = {
        "case": name,
        "preset": name,
        "key": None,
        "other_key": "some-other-secret",
        "public_url": None,
        "method": "POST",
        "query": "",
        "body_signed": True,
        "url_signed": False,
        "method_signed": False,
    }
    secret = "independent-secret-x"
    out["key"] = secret
    body = body_json(id=eid, type="thing.happened")
    headers = {}
    tamper = []

    hmac_body = {
        "github": simple_hmac("X-Hub-Signature-256", "sha256=", "hex"),
        "shopify": simple_hmac("X-Shopify-Hmac-Sha256", "", "b64"),
        "bitbucket": simple_hmac("X-Hub-Signature", "sha256=", "hex"),
        "jira": simple_hmac("X-Hub-Signature", "sha256=", "hex"),
        "meta": simple_hmac("X-Hub-Signature-256", "sha256=", "hex"),
        "dropbox": simple_hmac("X-Dropbox-Signature", "", "hex"),
        "intercom": simple_hmac("X-Hub-Signature", "sha1=", "hex", hashlib.sha1),
        "typeform": simple_hmac("Typeform-Signature", "sha256=", "b64"),
        "sentry": simple_hmac("Sentry-Hook-Signature", "", "hex"),
        "vercel": simple_hmac("x-vercel-signature", "", "hex", hashlib.sha1),
        "coinbase": simple_hmac("X-CC-Webhook-Signature", "", "hex"),
        "x": simple_hmac("x-twitter-webhooks-signature", "sha256=", "b64"),
    }
    if name in hmac_body:
        if name == "coinbase":
            body = body_json(event={"id": eid, "type": "charge:created"})
        headers, tamper = hmac_body[name](case, secret, body)
    elif name == "groq":
        headers = {"X-Groq-Signature": mac(secret, f"{ts}.{body}".encode()).hex(), "X-Groq-Timestamp": ts}
        tamper = list(headers)
    elif name == "vastai":
        headers = {
            "X-Vast-Signature-256": "sha256=" + mac(secret, f"{ts}.{body}".encode()).hex(),
            "X-Vast-Timestamp": ts,
        }
        tamper = list(headers)
    elif name in ("standard-webhooks", "svix", "clerk", "resend"):
        raw = b"independent-signing-key-bytes!!"
        out["key"] = "whsec_" + b64(raw)
        out["other_key"] = "whsec_" + b64(b"another-key-entirely-0123456789")
        prefix = "svix-" if name in ("clerk", "resend") else "webhook-"
        sig = b64(mac(raw, f"{eid}.{ts}.{body}".encode()))
        headers = {prefix + "id": eid, prefix + "timestamp": ts, prefix + "signature": "v1,bm9wZQ== v1," + sig}
        tamper = list(headers)
    elif name == "standard-webhooks-v1a":
        out["preset"] = "standard-webhooks"
        key = ed_key(7)
        out["key"] = "whpk_" + b64(ed_public_raw(key))
        out["other_key"] = "whpk_" + b64(ed_public_raw(ed_key(8)))
        sig = b64(key.sign(f"{eid}.{ts}.{body}".encode()))
        headers = {"webhook-id": eid, "webhook-timestamp": ts, "webhook-signature": "v1a," + sig}
        tamper = list(headers)
    elif name == "stripe":
        sig = mac(secret, f"{ts}.{body}".encode()).hex()
        headers = {"Stripe-Signature": f"t={ts},v1={sig}"}
        tamper = list(headers)
    elif name == "calendly":
        sig = mac(secret, f"{ts}.{body}".encode()).hex()
        headers = {"Calendly-Webhook-Signature": f"t={ts},v1={sig}"}
        tamper = list(headers)
    elif name == "paddle":
        secret = "pdl_ntf_01independent_SeCrEt/xyz"
        out["key"] = secret
        sig = mac(secret, f"{ts}:{body}".encode()).hex()
        headers = {"Paddle-Signature": f"ts={ts};h1={'0' * 64};h1={sig}"}
        tamper = list(headers)
    elif name == "pagerduty":
        sig = mac(secret, body.encode()).hex()
        headers = {"X-PagerDuty-Signature": f"v1={'ab' * 32},v1={sig}", "X-Webhook-Id": eid}
        tamper = ["X-PagerDuty-Signature"]
    elif name == "slack":
        headers = {
            "X-Slack-Signature": "v0=" + mac(secret, f"v0:{ts}:{body}".encode()).hex(),
            "X-Slack-Request-Timestamp": ts,
        }
        tamper = list(headers)
    elif name == "zoom":
        headers = {
            "x-zm-signature": "v0=" + mac(secret, f"v0:{ts}:{body}".encode()).hex(),
            "x-zm-request-timestamp": ts,
        }
        tamper = list(headers)
    elif name == "twitch":
        import datetime

        rfc = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"
        sig = mac(secret, f"{eid}{rfc}{body}".encode()).hex()
        headers = {
            "Twitch-Eventsub-Message-Id": eid,
            "Twitch-Eventsub-Message-Timestamp": rfc,
            "Twitch-Eventsub-Message-Signature": "sha256=" + sig,
            "Twitch-Eventsub-Message-Type": "notification",
            "Twitch-Eventsub-Subscription-Type": "channel.follow",
        }
        tamper = ["Twitch-Eventsub-Message-Id", "Twitch-Eventsub-Message-Timestamp", "Twitch-Eventsub-Message-Signature"]
    elif name == "linear":
        body = body_json(type="Issue", action="create", webhookTimestamp=now * 1000)
        headers = {"Linear-Signature": mac(secret, body.encode()).hex(), "Linear-Delivery": eid}
        tamper = ["Linear-Signature"]
    elif name == "square":
        out["public_url"] = url
        out["url_signed"] = True
        headers = {"x-square-hmacsha256-signature": b64(mac(secret, (url + body).encode()))}
        tamper = list(headers)
    elif name == "hubspot":
        out["public_url"] = url
        out["url_signed"] = True
        out["method_signed"] = True
        body = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation"}])
        ms = str(now * 1000)
        sig = b64(mac(secret, ("POST" + url + body + ms).encode()))
        headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ms}
        tamper = list(headers)
    elif name in ("twilio", "twilio-json"):
        out["preset"] = "twilio"
        out["public_url"] = url
        out["url_signed"] = True
        if name == "twilio":
            from urllib.parse import urlencode

            params = {"MessageSid": eid, "SmsStatus": "delivered", "Body": "Hi + bye & é", "From": "+15551234567"}
            body = urlencode(params)
            s = url + "".join(k + params[k] for k in sorted(params))
        else:
            body = '{"MessageSid": "' + eid + '", "status": "delivered"}'
            out["query"] = "bodySHA256=" + hashlib.sha256(body.encode()).hexdigest()
            s = url + "?" + out["query"]
        headers = {"X-Twilio-Signature": b64(mac(secret, s.encode(), hashlib.sha1))}
        tamper = list(headers)
    elif name == "discord":
        key = ed_key(3)
        out["key"] = ed_public_raw(key).hex()
        out["other_key"] = ed_public_raw(ed_key(4)).hex()
        body = body_json(id=eid, type=2)
        headers = {"X-Signature-Ed25519": key.sign((ts + body).encode()).hex(), "X-Signature-Timestamp": ts}
        tamper = list(headers)
    elif name == "sendgrid":
        key = ec_key(0x1234567890ABCDEF)
        out["key"] = ec_public_b64(key)
        out["other_key"] = ec_public_b64(ec_key(0xFEDCBA0987654321))
        body = json.dumps([{"email": "a@example.com", "event": "delivered", "sg_event_id": eid}])
        sig = key.sign((ts + body).encode(), ec.ECDSA(hashes.SHA256()))
        headers = {
            "X-Twilio-Email-Event-Webhook-Signature": b64(sig),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        }
        tamper = list(headers)
    elif name == "mailgun":
        token = hashlib.sha256(eid.encode()).hexdigest()[:50]
        sig = mac(secret, (ts + token).encode()).hex()
        body = json.dumps(
            {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": {"id": eid, "event": "delivered"}}
        )
        out["body_signed"] = False
    elif name == "postmark":
        out["key"] = "hook-user:p4ss w0rd:é"
        out["other_key"] = "hook-user:wrong"
        headers = {"Authorization": "Basic " + b64(out["key"].encode())}
        body = json.dumps({"RecordType": "Delivery", "MessageID": eid})
        tamper = list(headers)
        out["body_signed"] = False
    elif name in ("gitlab", "okta"):
        header = "X-Gitlab-Token" if name == "gitlab" else "Authorization"
        headers = {header: secret}
        if name == "gitlab":
            headers["X-Gitlab-Event"] = "Push Hook"
            headers["Idempotency-Key"] = eid
        tamper = [header]
        out["body_signed"] = False
    elif name == "microsoft-graph":
        body = json.dumps({"value": [{"subscriptionId": eid, "changeType": "created", "clientState": secret}] * 2})
        out["body_signed"] = False
    else:
        raise SystemExit(f"no independent signer for {name}")
    out["headers"] = headers
    out["tamper_headers"] = tamper
    out["body"] = body
    return out


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)
