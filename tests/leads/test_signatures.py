"""Signed calls from a CRM: HubSpot's v3 signature (HubSpot's own test vector) and the Salesforce
HMAC, each refusing a changed byte, a wrong secret, a missing header, a stale or future timestamp
and a replay, the replay remembered in the database (a second verifier on it refuses it too)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import SHARED
from connector.auth.signatures import (HS_SIGNATURE, HS_TIMESTAMP, SF_SIGNATURE, SF_TIMESTAMP, SignatureRefused,
                                       SignatureVerifier, SignedRequest, hubspot_signature, salesforce_signature,
                                       sign_link)
from connector.config.secrets import Secret
from connector.store import Database

VECTOR = json.loads((SHARED / "crm-fixtures" / "hs_webhook_signature_v3_vector.json").read_text())
SF_SECRET = "salesforce-button-shared-secret"
URL = "https://upm.example/pages/crm/vendor-salesforce/leads/00Q5e00000AbCdE?view=full"


def verifiers(db: Database) -> tuple[SignatureVerifier, SignatureVerifier]:
    schemes = {"hs": ("hubspot", Secret(VECTOR["client_secret"], "test")),
               "sf": ("salesforce", Secret(SF_SECRET, "test"))}
    return SignatureVerifier(db, schemes), SignatureVerifier(db, schemes)


def vector_request(**changes: object) -> SignedRequest:
    fields: dict[str, object] = {"method": VECTOR["http_method"], "url": VECTOR["url"],
                                 "body": VECTOR["request_body"].encode(),
                                 "headers": {HS_SIGNATURE: VECTOR["signature"], HS_TIMESTAMP: VECTOR["timestamp"]}}
    fields.update(changes)
    return SignedRequest(**fields)  # type: ignore[arg-type]


VECTOR_AT = datetime.fromtimestamp(int(VECTOR["timestamp"]) / 1000, tz=timezone.utc)


def test_hubspot_v3_matches_hubspots_test_vector() -> None:
    assert hubspot_signature(VECTOR["client_secret"], VECTOR["http_method"], VECTOR["url"],
                             VECTOR["request_body"].encode(), VECTOR["timestamp"]) == VECTOR["signature"]


def test_hubspot_v3_accepted_once_then_a_replay_is_refused_on_any_replica(db: Database) -> None:
    first, second = verifiers(db)
    first.verify("hs", vector_request(), VECTOR_AT + timedelta(seconds=30))
    with pytest.raises(SignatureRefused, match="replay"):
        second.verify("hs", vector_request(), VECTOR_AT + timedelta(seconds=31))


@pytest.mark.parametrize("change, why", [
    ({"body": VECTOR["request_body"].replace("value", "valuf").encode()}, "does not match"),
    ({"url": VECTOR["url"] + "2"}, "does not match"),
    ({"method": "PUT"}, "does not match"),
    ({"headers": {HS_SIGNATURE: VECTOR["signature"]}}, "missing"),
    ({"headers": {HS_TIMESTAMP: VECTOR["timestamp"]}}, "missing"),
    ({"headers": {HS_SIGNATURE: VECTOR["signature"], HS_TIMESTAMP: str(int(VECTOR["timestamp"]) + 1)}}, "does not match"),
])
def test_hubspot_v3_refuses_a_changed_request(db: Database, change: dict[str, object], why: str) -> None:
    with pytest.raises(SignatureRefused, match=why):
        verifiers(db)[0].verify("hs", vector_request(**change), VECTOR_AT)


def test_hubspot_v3_refuses_a_wrong_secret_and_a_timestamp_out_of_the_window(db: Database) -> None:
    wrong = SignatureVerifier(db, {"hs": ("hubspot", Secret("zzzzzzzz-zzzz", "test"))})
    with pytest.raises(SignatureRefused, match="does not match"):
        wrong.verify("hs", vector_request(), VECTOR_AT)
    verifier = verifiers(db)[0]
    for off in (timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1)):
        with pytest.raises(SignatureRefused, match="off the server's clock"):
            verifier.verify("hs", vector_request(), VECTOR_AT + off)
    verifier.verify("hs", vector_request(), VECTOR_AT + timedelta(minutes=4, seconds=59))


def sf_request(now: datetime, body: bytes = b'{"to":"account:Alpha"}', secret: str = SF_SECRET,
               **changes: object) -> SignedRequest:
    stamp = str(int(now.timestamp()))
    path = URL.split("upm.example", 1)[1]
    headers = {SF_TIMESTAMP: stamp, SF_SIGNATURE: salesforce_signature(secret, "POST", path, stamp, body)}
    fields: dict[str, object] = {"method": "POST", "url": URL, "body": body, "headers": headers}
    fields.update(changes)
    return SignedRequest(**fields)  # type: ignore[arg-type]


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_salesforce_hmac_accepted_once(db: Database) -> None:
    first, second = verifiers(db)
    first.verify("sf", sf_request(NOW), NOW)
    with pytest.raises(SignatureRefused, match="replay"):
        second.verify("sf", sf_request(NOW), NOW + timedelta(seconds=2))
    second.verify("sf", sf_request(NOW + timedelta(seconds=1)), NOW + timedelta(seconds=2))


def test_salesforce_hmac_refusals(db: Database) -> None:
    verifier = verifiers(db)[0]
    signed = sf_request(NOW)
    cases = [
        (SignedRequest("POST", URL, signed.body.replace(b"Alpha", b"Alphb"), signed.headers), "does not match"),
        (SignedRequest("POST", URL.replace("full", "fulm"), signed.body, signed.headers), "does not match"),
        (SignedRequest("PATCH", URL, signed.body, signed.headers), "does not match"),
        (sf_request(NOW, secret="another-secret"), "does not match"),
        (SignedRequest("POST", URL, signed.body, {SF_TIMESTAMP: signed.headers[SF_TIMESTAMP]}), "missing"),
        (SignedRequest("POST", URL, signed.body, {SF_SIGNATURE: signed.headers[SF_SIGNATURE]}), "missing"),
        (sf_request(NOW - timedelta(minutes=5, seconds=1)), "off the server's clock"),
        (sf_request(NOW + timedelta(minutes=5, seconds=1)), "off the server's clock"),
    ]
    for request, why in cases:
        with pytest.raises(SignatureRefused, match=why):
            verifier.verify("sf", request, NOW)
    with pytest.raises(SignatureRefused, match="no signing secret"):
        verifier.verify("unknown", sf_request(NOW), NOW)


def test_salesforce_signed_link_in_the_query(db: Database) -> None:
    verifier = verifiers(db)[0]
    link = sign_link(SF_SECRET, "/pages/crm/sf/leads/00Q1?x=1", int(NOW.timestamp()))
    verifier.verify("sf", SignedRequest("GET", "https://upm.example" + link, b"", {}), NOW)
    with pytest.raises(SignatureRefused, match="replay"):
        verifier.verify("sf", SignedRequest("GET", "https://upm.example" + link, b"", {}), NOW)
    changed = sign_link(SF_SECRET, "/pages/crm/sf/leads/00Q1?x=1", int(NOW.timestamp()) + 1).replace("00Q1", "00Q2")
    with pytest.raises(SignatureRefused, match="does not match"):
        verifier.verify("sf", SignedRequest("GET", "https://upm.example" + changed, b"", {}), NOW)
    with pytest.raises(SignatureRefused, match="missing"):
        verifier.verify("sf", SignedRequest("GET", "https://upm.example/pages/crm/sf/leads/00Q1", b"", {}), NOW)
