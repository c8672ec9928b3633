"""Signed calls from a CRM: a Salesforce button or Named Credential (HMAC-SHA256 with a shared
secret per connection) and a HubSpot card (X-HubSpot-Signature-v3 with the app's client secret).

Salesforce (our scheme): `X-UPM-Timestamp` is Unix seconds and `X-UPM-Signature` is the hex
HMAC-SHA256 of `METHOD \\n PATH_WITH_QUERY \\n TIMESTAMP \\n BODY`. A plain link (a button opening a
page) carries them as the query parameters `upm_ts` and `upm_sig` instead, signed over the path and
the rest of the query in the order sent.

HubSpot: `X-HubSpot-Signature-v3` is base64 HMAC-SHA256 of `METHOD + URI + BODY + TIMESTAMP` with the
client secret, the URI URL-decoded, `X-HubSpot-Request-Timestamp` in milliseconds.

Both refuse a missing header, a timestamp more than the window off our clock either way, a
signature that does not match (compared in constant time) and a replay: each accepted signature is
remembered in the database until its timestamp leaves the window, so a replica that did not see it
first refuses it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, unquote, urlencode

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from connector.config.secrets import Secret
from connector.config.settings import SigningSettings
from connector.store.database import Database
from connector.store.web import SeenSignature

SF_TIMESTAMP, SF_SIGNATURE = "X-UPM-Timestamp", "X-UPM-Signature"
LINK_TIMESTAMP, LINK_SIGNATURE = "upm_ts", "upm_sig"
HS_SIGNATURE, HS_TIMESTAMP = "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"


class SignatureRefused(Exception):
    """A signed call that is not accepted; the message says why (never the secret or the digest)."""


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: `url` is the full URL as the caller sent it (scheme, host, path,
    query in its order); `headers` are looked up case-insensitively."""

    method: str
    url: str
    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def path_with_query(self) -> str:
        rest = self.url.split("://", 1)[-1]
        slash = rest.find("/")
        return "/" if slash < 0 else rest[slash:]


def salesforce_signature(secret: str, method: str, path_with_query: str, timestamp: str, body: bytes = b"") -> str:
    """The hex HMAC-SHA256 a Salesforce caller sends (what its Apex or Named Credential computes)."""
    message = f"{method.upper()}\n{path_with_query}\n{timestamp}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_link(secret: str, path_with_query: str, timestamp: int) -> str:
    """A signed GET link for a Salesforce button: the path and query with `upm_ts` and `upm_sig` added."""
    joiner = "&" if "?" in path_with_query else "?"
    unsigned = f"{path_with_query}{joiner}{urlencode({LINK_TIMESTAMP: timestamp})}"
    return f"{unsigned}&{urlencode({LINK_SIGNATURE: salesforce_signature(secret, 'GET', unsigned, str(timestamp))})}"


def hubspot_signature(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    """X-HubSpot-Signature-v3 for a request (HubSpot's algorithm, the URI URL-decoded)."""
    message = f"{method.upper()}{unquote(url)}".encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _link_parts(request: SignedRequest) -> tuple[str | None, str | None, str]:
    """A signed link's timestamp and signature, and what was signed: the path and query up to
    `upm_sig` (which must come last)."""
    path, _, query = request.path_with_query.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    found = dict(pairs)
    signed = request.path_with_query.rsplit(f"&{LINK_SIGNATURE}=", 1)[0] if LINK_SIGNATURE in found else path
    return found.get(LINK_TIMESTAMP), found.get(LINK_SIGNATURE), signed


class SignatureVerifier:
    """Checks signed calls for the configured connections and remembers those it accepted."""

    def __init__(self, db: Database, schemes: Mapping[str, tuple[str, Secret]], window_seconds: float = 300.0):
        self.db = db
        self.schemes = dict(schemes)
        self.window = timedelta(seconds=window_seconds)

    def verify(self, connection: str, request: SignedRequest, now: datetime) -> None:
        """Accept the request as signed by `connection`'s CRM, or raise SignatureRefused."""
        if connection not in self.schemes:
            raise SignatureRefused(f"connection '{connection}' has no signing secret configured (pages.signing)")
        scheme, secret = self.schemes[connection]
        if scheme == "hubspot":
            sent, stamp = request.header(HS_SIGNATURE), request.header(HS_TIMESTAMP)
            if not sent or not stamp:
                raise SignatureRefused(f"missing {HS_SIGNATURE} or {HS_TIMESTAMP}")
            at = self._instant(stamp, 1000)
            expected = hubspot_signature(secret.get(), request.method, request.url, request.body, stamp)
        else:
            sent, stamp = request.header(SF_SIGNATURE), request.header(SF_TIMESTAMP)
            signed = request.path_with_query
            if not sent and not stamp and request.method.upper() == "GET":
                stamp, sent, signed = _link_parts(request)
            if not sent or not stamp:
                raise SignatureRefused(f"missing {SF_SIGNATURE} or {SF_TIMESTAMP} (or {LINK_SIGNATURE}, {LINK_TIMESTAMP})")
            at = self._instant(stamp, 1)
            expected = salesforce_signature(secret.get(), request.method, signed, stamp, request.body)
        if abs(now - at) > self.window:
            raise SignatureRefused(f"timestamp is more than {self.window.total_seconds():.0f} s off the server's clock")
        if not hmac.compare_digest(expected.encode(), sent.strip().encode()):
            raise SignatureRefused("signature does not match")
        self._remember(connection, expected, at + self.window, now)

    @staticmethod
    def _instant(stamp: str, per_second: int) -> datetime:
        if not (stamp.strip().isascii() and stamp.strip().isdigit()) or len(stamp.strip()) > 20:
            raise SignatureRefused("timestamp is not a number")
        return datetime.fromtimestamp(int(stamp) / per_second, tz=timezone.utc)

    def _remember(self, connection: str, signature: str, expires_at: datetime, now: datetime) -> None:
        digest = hashlib.sha256(f"{connection}\n{signature}".encode()).hexdigest()
        try:
            with self.db.session() as session:
                session.execute(delete(SeenSignature).where(SeenSignature.expires_at < now))
                session.add(SeenSignature(digest=digest, connection=connection, expires_at=expires_at))
        except IntegrityError:
            raise SignatureRefused("this signed request was already used (replay)") from None


def verifier(db: Database, signing: Mapping[str, SigningSettings], window_seconds: float) -> SignatureVerifier:
    """The verifier for `pages.signing` (connection -> its scheme and secret)."""
    return SignatureVerifier(db, {name: (s.scheme, s.secret) for name, s in signing.items()}, window_seconds)
