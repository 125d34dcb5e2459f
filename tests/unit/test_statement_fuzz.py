"""Hostile input never crashes the parsers and never yields an unsafe path (hypothesis)."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import (
    BUNDLE_MEDIA_TYPE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    parse_bundle,
    parse_statement,
    safe_relative_path,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(st.binary(max_size=4096))
def test_parse_bundle_only_raises_verification_errors_on_bytes(raw: bytes) -> None:
    try:
        parse_bundle(raw)
    except VerificationError as exc:
        assert exc.reason == "MalformedSignature"


@given(json_values)
def test_parse_bundle_only_raises_verification_errors_on_json(doc: Any) -> None:
    wrapped = {"mediaType": BUNDLE_MEDIA_TYPE, "dsseEnvelope": doc}
    with contextlib.suppress(VerificationError):
        parse_bundle(json.dumps(wrapped).encode())


@settings(max_examples=300)
@given(json_values, json_values, json_values)
def test_parse_statement_only_raises_verification_errors(subject: Any, serialization: Any, resources: Any) -> None:
    doc = {
        "_type": STATEMENT_TYPE,
        "predicateType": PREDICATE_TYPE,
        "subject": subject,
        "predicate": {"serialization": serialization, "resources": resources},
    }
    with contextlib.suppress(VerificationError):
        parse_statement(json.dumps(doc).encode())


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list("ab./\\\x00:")), max_size=12))
def test_accepted_paths_stay_inside(name: str) -> None:
    try:
        accepted = safe_relative_path(name)
    except VerificationError as exc:
        assert exc.reason == "UnsafePath"
        return
    parts = accepted.split("/")
    assert not accepted.startswith("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert "\\" not in accepted and "\x00" not in accepted


def test_envelope_roundtrip_fields() -> None:
    payload = json.dumps({"_type": STATEMENT_TYPE}).encode()
    raw = json.dumps(
        {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": base64.b64encode(b"sig").decode()}],
            },
            "verificationMaterial": {"publicKey": {"hint": "abc"}},
        }
    ).encode()
    bundle = parse_bundle(raw)
    assert (bundle.payload, bundle.signature, bundle.key_hint) == (payload, b"sig", "abc")
